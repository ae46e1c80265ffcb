"""Forms a pen pal fills in: a letter, and a report about a letter."""

from __future__ import annotations

import uuid

from django import forms
from django.conf import settings
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from messaging.limits import letter_too_long
from penpals.text import grouped


class LetterForm(forms.Form):
    """A letter and the key that makes a second submit of this form harmless.

    The key is made when the form is first shown and travels in a hidden
    field, so two clicks (or a browser retrying the POST) send the same key.
    """

    body = forms.CharField(
        label=_("Your letter"),
        error_messages={"required": _("Write something before you send the letter.")},
        widget=forms.Textarea(attrs={"rows": 18, "data-letter-count": ""}),
    )
    idempotency_key = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        limit = settings.LETTER_MAX_LENGTH
        body = self.fields["body"]
        # The browser stops typing at the limit; the server checks again (clean_body).
        body.widget.attrs["maxlength"] = str(limit)
        body.help_text = gettext(
            "Up to %(limit)s characters. Write in plain words: our team reads every "
            "letter before the facility prints it."
        ) % {"limit": grouped(limit)}
        if not self.is_bound:
            self.initial.setdefault("idempotency_key", uuid.uuid4())

    def clean_body(self) -> str:
        # Browsers send line breaks as CRLF but count them as one character
        # (maxlength); count them the same way, so the limit means one thing.
        body = self.cleaned_data["body"].replace("\r\n", "\n").replace("\r", "\n")
        if too_long := letter_too_long(body):
            raise forms.ValidationError(too_long)
        return body

    def with_fresh_key(self) -> LetterForm:
        """The same text in a form with a new key: for when the posted key was
        missing or malformed (a page kept open across a deploy, a tampered form)."""
        return LetterForm(
            initial={"body": self.data.get("body", ""), "idempotency_key": uuid.uuid4()}
        )
