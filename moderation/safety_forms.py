"""Forms of the victim-protection page, the liaison's no-contact orders and the
staff actions on reports."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from moderation.models import NoContactOrder, ProtectionRequest
from penpals.text import NameField, grouped_lazy, interpolate_lazy

DETAILS_MAX_LENGTH = 4000


class ProtectionRequestForm(forms.Form):
    """What a person asking for protection tells us: no more than a no-contact
    order or a review needs. `profile` is set by the view (from the profile
    page's link), never taken from the form."""

    profile_description = forms.CharField(
        label=_("Who is it about?"),
        max_length=300,
        required=False,
        help_text=_("Their name as listed and the facility, if you know it."),
    )
    relationship = forms.ChoiceField(
        label=_("Who is asking?"),
        choices=ProtectionRequest.Relationship.choices,
        widget=forms.RadioSelect,
    )
    ask = forms.ChoiceField(
        label=_("What do you ask?"),
        choices=ProtectionRequest.Ask.choices,
        widget=forms.RadioSelect,
    )
    requester_name = NameField(label=_("Your name"), max_length=200)
    requester_email = forms.EmailField(
        label=_("Your email address"),
        help_text=_("We send you a confirmation, and write only if we need to ask you something."),
    )
    protected_name = NameField(
        label=_("Name of the person you are asking for"),
        max_length=200,
        required=False,
        help_text=_("Only if you are asking for someone else."),
    )
    protected_email = forms.EmailField(
        label=_("Their email address"),
        required=False,
        help_text=_(
            "Only if you are asking for someone else; it lets us block letters from it too."
        ),
    )
    details = forms.CharField(
        label=_("Anything else we should know (optional)"),
        max_length=DETAILS_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("You do not need to explain what happened."),
        error_messages={
            "max_length": interpolate_lazy(
                _("Please keep this under %(limit)s characters."),
                {"limit": grouped_lazy(DETAILS_MAX_LENGTH)},
            )
        },
    )
    # A honeypot: a hidden input no person sees or fills, which form-filling bots do.
    website = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, profile=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.profile = profile
        if profile is not None:
            # The profile page said who it is about.
            del self.fields["profile_description"]

    @property
    def is_bot(self) -> bool:
        return bool(self.cleaned_data.get("website"))

    def clean_details(self) -> str:
        return self.cleaned_data["details"].replace("\x00", "").strip()

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if self.profile is None and not cleaned.get("profile_description", "").strip():
            self.add_error(
                "profile_description",
                gettext("Tell us the person's name and, if you know it, the facility."),
            )
        if (
            cleaned.get("relationship") == ProtectionRequest.Relationship.ADVOCATE
            and cleaned.get("ask") == ProtectionRequest.Ask.NO_CONTACT
            and not cleaned.get("protected_name", "").strip()
            and not cleaned.get("protected_email")
        ):
            self.add_error(
                "protected_name",
                gettext("Give the name (or email address) of the person the order should protect."),
            )
        return cleaned

    def request_fields(self) -> dict:
        """The model fields of the request, from the cleaned data."""
        fields = {
            name: self.cleaned_data[name]
            for name in (
                "relationship", "ask", "requester_name", "requester_email", "protected_name",
                "protected_email", "details",
            )
        }  # fmt: skip
        fields["requester_email"] = fields["requester_email"].lower()
        fields["protected_email"] = fields["protected_email"].lower()
        if self.profile is not None:
            fields["profile"] = self.profile
        else:
            fields["profile_description"] = self.cleaned_data["profile_description"].strip()
        return fields


class LiaisonNoContactOrderForm(forms.ModelForm):
    class Meta:
        model = NoContactOrder
        fields = ["name", "email", "note"]
        # Cleaned like every name (penpals.text), so the near-match check
        # compares it with display names cleaned the same way.
        field_classes = {"name": NameField}
        labels = {
            "name": _("Name of the person who must not write"),
            "email": _("Their email address"),
            "note": _("Why (seen only by the Penpals team and your facility)"),
        }
        widgets = {"note": forms.Textarea(attrs={"rows": 3})}

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if not cleaned.get("name", "").strip() and not cleaned.get("email"):
            raise forms.ValidationError(gettext("Give a name, an email address, or both."))
        return cleaned


class SuspensionReasonForm(forms.Form):
    """The intermediate page of the "suspend the writer" admin action."""

    reason = forms.CharField(
        label=_("Why is this account suspended from writing? (staff only)"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
    )
