"""Forms of the facility side of letters: print batches, delivery, reply uploads,
returned letters.

The reply form is shared by the liaison portal (one facility's
correspondences) and the staff admin (any correspondence, by code only).
Forms check the shape of the input; messaging.replies checks the files'
content and the rules.
"""

from __future__ import annotations

import uuid

from django import forms
from django.conf import settings
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from messaging.limits import too_many_scans, transcription_too_long
from messaging.models import Correspondence, Letter, normalise_code
from messaging.returns import NOTE_MAX_LENGTH, ReturnRefused, clean_return
from penpals.scans import ScanKind, check_scan
from penpals.uploads import megabytes
from profiles.forms import MultipleFileField, MultipleFileInput
from profiles.models import Facility

SCAN_ACCEPT = "image/jpeg,image/png,application/pdf"


class IdListField(forms.Field):
    """Letter ids from ticked checkboxes (or hidden inputs): a list of ints."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {"invalid": _("Choose letters from the list.")}

    def to_python(self, value) -> list[int]:
        if not value:
            return []
        values = value if isinstance(value, (list, tuple)) else [value]
        try:
            ids = [int(item) for item in values]
        except (TypeError, ValueError):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None
        if any(item <= 0 for item in ids):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return sorted(set(ids))


class PrintBatchForm(forms.Form):
    """_("Print selected") (the ticked letters) or _("Print all") (the whole queue)."""

    SELECTED = "selected"
    ALL = "all"

    idempotency_key = forms.UUIDField(widget=forms.HiddenInput)
    scope = forms.ChoiceField(choices=[(SELECTED, _("Print selected")), (ALL, _("Print all"))])
    letters = IdListField(required=False)

    def __init__(self, *args, **kwargs):
        # A fresh key each time the page is shown: one click, one batch.
        kwargs.setdefault("initial", {}).setdefault("idempotency_key", uuid.uuid4())
        super().__init__(*args, **kwargs)

    def clean(self):
        cleaned = super().clean()
        if (
            cleaned.get("scope") == self.SELECTED
            and "letters" not in self.errors
            and not cleaned.get("letters")
        ):
            raise forms.ValidationError(
                gettext("Tick the letters to print, or choose “Print all”.")
            )
        return cleaned

    def letter_ids(self) -> list[int] | None:
        """None means the whole queue."""
        if self.cleaned_data["scope"] == self.ALL:
            return None
        return self.cleaned_data["letters"]


class DeliveredForm(forms.Form):
    """Mark one letter (`letter` given) or the whole batch delivered."""

    letter = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)


def correspondence_label(correspondence: Correspondence) -> str:
    profile = correspondence.profile
    return (
        f"{profile.display_name} #{profile.inmate_number} — "
        f"{correspondence.pen_pal.display_name} — {correspondence.code}"
    )


class CorrespondenceChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return correspondence_label(obj)


class ReplyUploadForm(forms.Form):
    """Which correspondence (typed reply reference, or chosen from a list),
    the scanned pages, and an optional transcription.

    `correspondences` are the ones the uploader may reach (a liaison: their
    facility's). With `choices` (the facility's open correspondences) the
    form also offers a list to choose from instead of typing the reference.
    """

    code = forms.CharField(
        label=_("Reply reference"),
        required=False,
        max_length=30,
        help_text=_("As written on the reply, e.g. PP-7K3M-9QX2 (any case, dashes optional)."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    correspondence = CorrespondenceChoiceField(
        label=_("Or choose the correspondence"),
        queryset=Correspondence.objects.none(),
        required=False,
        empty_label="—",
    )
    scans = MultipleFileField(
        label=_("Scanned pages"),
        required=False,
        widget=MultipleFileInput(attrs={"accept": SCAN_ACCEPT}),
    )
    transcription = forms.CharField(
        label=_("Transcription (optional)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("Type out the reply if you can: it helps the moderator and the reader."),
    )
    idempotency_key = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args, correspondences, choices=None, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("idempotency_key", uuid.uuid4())
        super().__init__(*args, **kwargs)
        self.correspondences = correspondences
        if choices is None:
            del self.fields["correspondence"]
            self.fields["code"].required = True
            self.fields["code"].error_messages["required"] = gettext("Enter the reply reference.")
        else:
            self.fields["correspondence"].queryset = choices
        self.fields["scans"].help_text = ngettext(
            "JPEG, PNG or PDF; up to %(count)s file, each at most %(size)s. "
            "Choose them in page order.",
            "JPEG, PNG or PDF; up to %(count)s files, each at most %(size)s. "
            "Choose them in page order.",
            settings.SCAN_MAX_PAGES,
        ) % {"count": settings.SCAN_MAX_PAGES, "size": megabytes(settings.SCAN_MAX_UPLOAD_BYTES)}

    def clean_code(self) -> str:
        typed = self.cleaned_data["code"].strip()
        if not typed:
            return ""
        code = normalise_code(typed)
        if not code:
            raise forms.ValidationError(
                gettext(
                    "This is not a reply reference: it looks like PP-7K3M-9QX2 (eight letters and digits)."
                )
            )
        return code

    def clean_transcription(self) -> str:
        text = self.cleaned_data["transcription"]
        if too_long := transcription_too_long(text):
            raise forms.ValidationError(too_long)
        return text

    def clean_scans(self) -> list:
        scans = self.cleaned_data["scans"]
        if not scans:
            raise forms.ValidationError(gettext("Choose the scanned pages of the reply."))
        if too_many := too_many_scans(len(scans)):
            raise forms.ValidationError(too_many)
        return scans

    def clean(self):
        cleaned = super().clean()
        if "idempotency_key" in self.errors:
            # A hidden field shows no error of its own; say it at the top, and
            # give the page a fresh key so sending it again works.
            self.data = self.data.copy()
            self.data["idempotency_key"] = str(uuid.uuid4())
            raise forms.ValidationError(
                gettext("This form was damaged or has expired; please send it again.")
            )
        code = cleaned.get("code")
        chosen = cleaned.get("correspondence")
        if "code" in self.errors or "correspondence" in self.errors:
            return cleaned
        if not code and chosen is None:
            raise forms.ValidationError(
                gettext("Enter the reply reference or choose the correspondence.")
            )
        if code:
            found = self.correspondences.filter(code=code).first()
            if found is None:
                self.add_error(
                    "code",
                    gettext("No correspondence you can reach has the reference %(code)s.")
                    % {"code": code},
                )
                return cleaned
            if chosen is not None and chosen.pk != found.pk:
                raise forms.ValidationError(
                    gettext("The reference and the chosen correspondence differ; use one of them.")
                )
            cleaned["correspondence"] = found
        return cleaned


# --- Returned letters (messaging.returns) -------------------------------------------


class ReturnForm(forms.Form):
    """Why a printed letter came back, and a note the pen pal reads."""

    reason = forms.ChoiceField(
        label=_("Why did the letter come back?"),
        choices=Letter.ReturnReason.choices,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose why the letter came back.")},
    )
    note = forms.CharField(
        label=_("Note for the pen pal"),
        required=False,
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            "The pen pal reads this as you write it. Say what to fix (which mail rule, "
            "for example), never where the person is now. Needed for “Another reason”."
        ),
    )

    def clean(self):
        cleaned = super().clean()
        if "reason" in cleaned and "note" in cleaned:
            try:
                cleaned["reason"], cleaned["note"] = clean_return(
                    cleaned["reason"], cleaned["note"]
                )
            except ReturnRefused as refused:
                self.add_error("note", refused)
        return cleaned


# How much of a letter's opening the choice shows: enough to match the paper.
LETTER_OPENING_LENGTH = 60


class ReturnedLetterChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        opening = " ".join(obj.body.split())
        if len(opening) > LETTER_OPENING_LENGTH:
            opening = opening[:LETTER_OPENING_LENGTH].rsplit(" ", 1)[0] + "…"
        # Translators: a letter a liaison may record as returned: when it was
        # printed, its print batch, its status ("Delivered") and its first words.
        return gettext("Printed %(date)s, batch %(batch)s (%(status)s): “%(opening)s”") % {
            "date": date_format(localtime(obj.printed_at), "SHORT_DATE_FORMAT")
            if obj.printed_at
            else "—",
            "batch": obj.print_batch_id or "—",
            "status": obj.get_status_display(),
            "opening": opening,
        }


class ChooseReturnForm(ReturnForm):
    """A return found from the paper: which of the correspondence's printed
    letters (`letters`, newest first) it is, then why."""

    letter = ReturnedLetterChoiceField(
        label=_("Which letter came back?"),
        queryset=Letter.objects.none(),
        widget=forms.RadioSelect,
        empty_label=None,
        error_messages={
            "required": _("Choose the letter that came back."),
            "invalid_choice": _("Choose one of the letters listed."),
        },
    )
    field_order = ["letter", "reason", "note"]

    def __init__(self, *args, letters, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["letter"].queryset = letters


class FindReturnForm(forms.Form):
    """The returned paper: its reply reference typed, or one scan of it."""

    code = forms.CharField(
        label=_("Reply reference"),
        required=False,
        max_length=30,
        help_text=_("As printed at the foot of each page of the letter, e.g. PP-7K3M-9QX2."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    scan = forms.FileField(
        label=_("Or a scan of the returned letter"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": SCAN_ACCEPT}),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.scan_kind: ScanKind | None = None
        self.fields["scan"].help_text = gettext(
            "One JPEG, PNG or PDF of at most %(size)s. Include the reply sheet, the page with "
            "the square code. The scan is only read to find the letter; it is not kept."
        ) % {"size": megabytes(settings.SCAN_MAX_UPLOAD_BYTES)}

    def clean_code(self) -> str:
        typed = self.cleaned_data["code"].strip()
        if not typed:
            return ""
        code = normalise_code(typed)
        if not code:
            raise forms.ValidationError(
                gettext(
                    "This is not a reply reference: it looks like PP-7K3M-9QX2 (eight letters and digits)."
                )
            )
        return code

    def clean(self):
        cleaned = super().clean()
        if "code" in self.errors or "scan" in self.errors:
            return cleaned
        # A typed reference is enough: the scan is then not read at all.
        if cleaned.get("code"):
            return cleaned
        scan = cleaned.get("scan")
        if not scan:
            raise forms.ValidationError(
                gettext("Type the reply reference, or choose a scan of the returned letter.")
            )
        try:
            self.scan_kind = check_scan(scan)
        except forms.ValidationError as error:
            self.add_error("scan", error)
        return cleaned


RUN_ACCEPT = "application/pdf,image/jpeg,image/png,application/zip,.zip"


class ScanRunForm(forms.Form):
    """The files of one scanning run (and, for staff, its facility). Their
    content and pages are checked by messaging.intake; the form checks that
    there are some, within the size limit."""

    facility = forms.ModelChoiceField(
        label=_("Facility"),
        queryset=Facility.objects.none(),
        help_text=_("Where the replies come from: their pages are matched to its correspondences."),
    )
    scans = MultipleFileField(
        label=_("Files of the scanning run"),
        required=False,
        widget=MultipleFileInput(attrs={"accept": RUN_ACCEPT}),
    )
    idempotency_key = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args, facilities=None, **kwargs):
        # A fresh key each time the page is shown: a double submit makes one run.
        kwargs.setdefault("initial", {}).setdefault("idempotency_key", uuid.uuid4())
        super().__init__(*args, **kwargs)
        # Staff (replies that came by post) choose the facility; a liaison's
        # page already names it.
        if facilities is None:
            del self.fields["facility"]
        else:
            self.fields["facility"].queryset = facilities
        self.fields["scans"].help_text = gettext(
            "One PDF of the whole run, the page images (JPEG or PNG), or a ZIP of them: "
            "up to %(pages)s pages and %(size)s in all. Choose images in page order."
        ) % {
            "pages": settings.SCAN_RUN_MAX_PAGES,
            "size": megabytes(settings.SCAN_RUN_MAX_BYTES),
        }

    def clean_scans(self) -> list:
        files = self.cleaned_data["scans"]
        if not files:
            raise forms.ValidationError(gettext("Choose the files of the scanning run."))
        total = sum(uploaded.size or 0 for uploaded in files)
        if total > settings.SCAN_RUN_MAX_BYTES:
            raise forms.ValidationError(
                gettext(
                    "These files add up to %(size)s; one scanning run may be at most "
                    "%(limit)s. Upload the run in parts."
                )
                % {"size": megabytes(total), "limit": megabytes(settings.SCAN_RUN_MAX_BYTES)}
            )
        return files

    def clean(self):
        cleaned = super().clean()
        if "idempotency_key" in self.errors:
            # A hidden field shows no error of its own; say it at the top, and
            # give the page a fresh key so sending it again works.
            self.data = self.data.copy()
            self.data["idempotency_key"] = str(uuid.uuid4())
            raise forms.ValidationError(
                gettext("This form was damaged or has expired; please send it again.")
            )
        return cleaned


class TriagePageForm(forms.Form):
    """Assign a page waiting in triage to a reply reference, or discard it."""

    ASSIGN = "assign"
    DISCARD = "discard"

    reference = forms.CharField(
        label=_("Reply reference"),
        required=False,
        max_length=30,
        help_text=_("As written on the reply, e.g. PP-7K3M-9QX2 (any case, dashes optional)."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    action = forms.ChoiceField(
        choices=[(ASSIGN, _("Put in this reply")), (DISCARD, _("Discard the page"))],
        widget=forms.HiddenInput,
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("action") == self.ASSIGN:
            typed = (cleaned.get("reference") or "").strip()
            if not typed:
                self.add_error("reference", gettext("Enter the reply reference."))
            elif not normalise_code(typed):
                self.add_error(
                    "reference",
                    gettext(
                        "This is not a reply reference: it looks like PP-7K3M-9QX2 "
                        "(eight letters and digits)."
                    ),
                )
        return cleaned
