"""Forms of the moderation admin."""

from __future__ import annotations

from django import forms
from django.db.models import Model
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from moderation.models import ModerationItem, ScreeningRule
from moderation.screening import TEXT_SCOPES
from penpals.text import grouped_lazy, interpolate_lazy

TRY_TEXT_MAX_LENGTH = 20_000


class TryRulesForm(forms.Form):
    """Text to screen against the active rules, as a letter or profile would be."""

    text = forms.CharField(
        label=_("Text"),
        widget=forms.Textarea(attrs={"rows": 10, "cols": 80}),
        max_length=TRY_TEXT_MAX_LENGTH,
        # Screen exactly what was pasted: hit positions count every character.
        strip=False,
        error_messages={
            "max_length": interpolate_lazy(
                _("Paste at most %(limit)s characters (this text has %%(show_value)s)."),
                {"limit": grouped_lazy(TRY_TEXT_MAX_LENGTH)},
            )
        },
    )
    scope = forms.ChoiceField(
        label=_("Screen it as"),
        choices=[(s, ScreeningRule.Scope(s).label) for s in TEXT_SCOPES],
        initial="outbound",
    )
    facility: forms.ModelChoiceField[Model] = forms.ModelChoiceField(
        queryset=None,  # set in __init__
        label=_("Facility"),
        required=False,
        empty_label=_("No facility (global rules only)"),
        help_text=_("A facility's own rules add to the global ones."),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Facilities are profiles' model: moderation reaches it through its own
        # foreign key, never by importing a domain app.
        facility_model = ScreeningRule._meta.get_field("facility").related_model
        assert isinstance(facility_model, type)  # resolved once the apps are loaded
        field = self.fields["facility"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = facility_model._default_manager.order_by("name")


class DecisionForm(forms.Form):
    """A moderator's decision on one item: approve, or reject with a reason the sender sees.

    The item page submits `decision` with the button pressed (Approve, Reject,
    Escalate), so the form needs no script and no second choice."""

    decision = forms.ChoiceField(
        choices=[
            ("approve", _("Approve")),
            ("reject", _("Reject")),
            ("escalate", _("Escalate to an admin")),
        ],
        error_messages={"required": _("Choose Approve, Reject or Escalate.")},
    )
    # Numbered on the page: the keyboard picks a reason by its number.
    reason_code = forms.ChoiceField(
        choices=ModerationItem.Reason.choices,
        required=False,
        widget=forms.RadioSelect,
        label=_("Reason (for a rejection)"),
    )
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        required=False,
        max_length=2000,
        label=_("Note"),
        help_text=_(
            "A rejection's note is shown to the person whose content is rejected (optional). "
            "An escalation's note tells the admin why (required)."
        ),
    )
    # The version of the content the page showed (moderation.services.
    # current_version): a decision on anything newer is refused as stale.
    seen_version = forms.CharField(widget=forms.HiddenInput, required=False, max_length=128)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("decision") == "reject" and not cleaned.get("reason_code"):
            self.add_error("reason_code", gettext("Choose the reason for the rejection."))
        if cleaned.get("decision") == "escalate" and not cleaned.get("note", "").strip():
            self.add_error("note", gettext("Say why you escalate the item."))
        return cleaned


class BulkDecisionForm(forms.Form):
    """The confirmation page of a bulk approval or rejection."""

    reason_code = forms.ChoiceField(
        choices=[("", "—"), *ModerationItem.Reason.choices],
        required=False,
        label=_("Reason"),
    )
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        required=False,
        max_length=2000,
        label=_("Note to the senders"),
        help_text=_("Optional. Shown to every person whose content is rejected."),
    )

    def __init__(self, *args, is_rejection: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.is_rejection = is_rejection
        if not is_rejection:
            # Approving needs no reason: the page only confirms the list.
            del self.fields["reason_code"]
            del self.fields["note"]

    def clean(self):
        cleaned = super().clean()
        if self.is_rejection and not cleaned.get("reason_code"):
            self.add_error("reason_code", gettext("Choose the reason for the rejection."))
        return cleaned
