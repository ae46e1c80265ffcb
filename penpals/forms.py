from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from penpals.languages import READABLE_LANGUAGES
from penpals.models import User
from penpals.text import NameField


class SignupForm(forms.Form):
    """Extra fields on allauth's sign-up form."""

    display_name = NameField(
        label=_("Display name"),
        max_length=60,
        required=False,
        help_text=_("The name other people see. Please do not use your full legal name."),
    )

    def signup(self, request, user: User) -> None:
        user.display_name = self.cleaned_data["display_name"].strip()
        user.save(update_fields=["display_name"])


class AccountSettingsForm(forms.ModelForm):
    class Meta:
        model = User
        fields = [
            "display_name",
            "language",
            "has_letter_status_emails",
            "has_reply_emails",
            "has_digest_emails",
            "reads_languages",
        ]
        help_texts = {"display_name": _("The name other people see. Not your legal name.")}
        field_classes = {"display_name": NameField}

    reads_languages = forms.MultipleChoiceField(
        label=_("Languages I read"),
        choices=READABLE_LANGUAGES,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("For moderation: none ticked counts as English only."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A post without the field leaves the saved language as it is.
        self.fields["language"].required = False
        # Only moderators and admins read letters.
        if not self.instance.is_staff:
            del self.fields["reads_languages"]

    def clean_display_name(self) -> str:
        return self.cleaned_data["display_name"].strip()

    def clean_language(self) -> str:
        return self.cleaned_data["language"] or self.instance.language


class DeleteAccountForm(forms.Form):
    confirm = forms.BooleanField(
        label=_(
            "I understand that my account and personal data will be deleted and cannot be restored."
        ),
        required=True,
    )


class ResendVerificationForm(forms.Form):
    email = forms.EmailField(
        label=_("Email"),
        help_text=_("The address you signed up with."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
