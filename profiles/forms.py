"""Forms of the liaison portal.

ProfileForm is the one statement of what a valid inmate profile is: the
portal's create/edit page uses it, and so does every row of a CSV import
(profiles.csv_import), so the two can never disagree.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any, cast

from django import forms
from django.conf import settings
from django.core.validators import RegexValidator
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from penpals.dates import years_before
from penpals.filetypes import HEAD_BYTES, JPEG, PDF, PNG, sniff
from penpals.scans import scan_kind
from penpals.text import NameField, clean_name, interpolate_lazy, refuse_nul_characters
from penpals.uploads import megabytes, too_big
from profiles.limits import photo_refusal
from profiles.models import Facility, InmateProfile
from profiles.services import LIFECYCLE_FROM, Action

Profile = InmateProfile

MINIMUM_AGE = 18
MAXIMUM_AGE = 120
BIO_MAX_LENGTH = 4000
INTEREST_MAX_LENGTH = 40
INTERESTS_MAX_COUNT = 20
# Paperwork lags: a release date this many days in the past is still accepted.
RELEASE_DATE_GRACE_DAYS = 90
RELEASE_DATE_MAX_YEARS = 100
# Dates are ISO 8601 everywhere: the browser's date picker sends it, and a
# CSV cell like 03/04/1980 would be ambiguous.
DATE_FORMATS = ["%Y-%m-%d"]
PHOTOS_PER_UPLOAD = 10


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class InterestsField(forms.Field):
    """Short free-text tags: "chess, poetry" from the browser, or a list
    (a CSV import splits its cell on semicolons). Cleans to a list of unique tags."""

    widget = forms.TextInput

    def to_python(self, value) -> list[str]:
        if value in self.empty_values:
            return []
        parts = value if isinstance(value, (list, tuple)) else str(value).split(",")
        tags: list[str] = []
        seen: set[str] = set()
        for part in parts:
            tag = clean_name(str(part))
            if tag and tag.casefold() not in seen:
                seen.add(tag.casefold())
                tags.append(tag)
        return tags

    def validate(self, value: list[str]) -> None:
        super().validate(value)
        for tag in value:
            refuse_nul_characters(tag)
        too_long = [tag for tag in value if len(tag) > INTEREST_MAX_LENGTH]
        if too_long:
            raise forms.ValidationError(
                _("Each interest may be at most %(limit)d characters; “%(tag)s” is longer."),
                code="interest_too_long",
                params={"limit": INTEREST_MAX_LENGTH, "tag": too_long[0]},
            )
        if len(value) > INTERESTS_MAX_COUNT:
            raise forms.ValidationError(
                _("List at most %(limit)d interests (there are %(count)d)."),
                code="too_many_interests",
                params={"limit": INTERESTS_MAX_COUNT, "count": len(value)},
            )

    def prepare_value(self, value):
        if isinstance(value, (list, tuple)):
            return ", ".join(value)
        return value


class ProfileForm(forms.Form):
    """An inmate profile's fields, with every rule a liaison must meet.

    `facility` is where the profile lives (inmate numbers are unique per
    facility); `profile` is the one being edited, or None for a new one.
    """

    display_name = NameField(
        label=_("Display name"),
        max_length=80,
        help_text=_("Shown in the directory: a first name or nickname, not the legal name."),
    )
    legal_name = NameField(
        label=_("Legal name"),
        max_length=200,
        help_text=_("Private: printed on letters only, never shown to pen pals."),
    )
    inmate_number = forms.CharField(
        label=_("Inmate number"),
        max_length=40,
        validators=[
            RegexValidator(
                r"^[A-Za-z0-9][A-Za-z0-9 ./-]*$",
                _("Use letters, digits, spaces, dots, slashes and hyphens only."),
            )
        ],
        help_text=_("The facility's number for this person. Private: printed on letters only."),
    )
    date_of_birth = forms.DateField(
        label=_("Date of birth"),
        input_formats=DATE_FORMATS,
        widget=DateInput(),
        help_text=_("Private: only the age is shown. Format YYYY-MM-DD."),
    )
    gender = forms.ChoiceField(
        label=_("Gender"), choices=[("", _("Choose…")), *Profile.Gender.choices]
    )
    release_kind = forms.ChoiceField(
        label=_("Release kind"),
        choices=Profile.ReleaseKind.choices,
        initial=Profile.ReleaseKind.UNKNOWN,
    )
    release_date = forms.DateField(
        label=_("Release date"),
        required=False,
        input_formats=DATE_FORMATS,
        widget=DateInput(),
        help_text=_("Only when the release kind is “Release date”."),
    )
    bio = forms.CharField(
        label=_("Bio"),
        required=False,
        max_length=BIO_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=interpolate_lazy(
            _(
                "In the person's own words, at most %(limit)s characters. "
                "No addresses, phone numbers or requests for money."
            ),
            {"limit": BIO_MAX_LENGTH},
        ),
    )
    interests = InterestsField(
        label=_("Interests"),
        required=False,
        help_text=interpolate_lazy(
            _("Separated by commas, at most %(count)s, each at most %(limit)s characters."),
            {"count": INTERESTS_MAX_COUNT, "limit": INTEREST_MAX_LENGTH},
        ),
    )
    seeking = forms.MultipleChoiceField(
        label=_("Seeking"),
        required=False,
        choices=Profile.Seeking.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    languages = forms.MultipleChoiceField(
        label=_("Languages"),
        choices=Profile.Language.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("The languages this person reads and writes letters in."),
        error_messages={"required": _("Choose at least one language.")},
    )
    is_accepting_letters = forms.BooleanField(
        required=False, initial=True, label=_("Accepting new letters")
    )

    def __init__(
        self,
        *args,
        facility: Facility,
        profile: InmateProfile | None = None,
        check_inmate_number: bool = True,
        **kwargs,
    ):
        # A CSV import matches rows to profiles by inmate number, so a clash
        # cannot happen there; it turns the uniqueness query off.
        self.facility = facility
        self.profile = profile
        self.check_inmate_number = check_inmate_number
        if profile is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_for(profile)
        super().__init__(*args, **kwargs)

    @staticmethod
    def initial_for(profile: InmateProfile) -> dict:
        """The profile as its liaison last left it: public text still waiting
        for review shows the edited version."""
        initial = {name: getattr(profile, name) for name in ProfileForm.base_fields}
        if profile.is_listed:
            for name, value in profile.pending_changes.items():
                if name in Profile.REVIEWED_FIELDS:
                    initial[name] = value
        return initial

    def clean_inmate_number(self) -> str:
        number = self.cleaned_data["inmate_number"]
        if self.check_inmate_number:
            clashes = InmateProfile.objects.filter(facility=self.facility, inmate_number=number)
            if self.profile is not None:
                clashes = clashes.exclude(pk=self.profile.pk)
            if clashes.exists():
                raise forms.ValidationError(
                    _("Another profile at %(facility)s already has inmate number %(number)s."),
                    code="duplicate_inmate_number",
                    params={"facility": self.facility.name, "number": number},
                )
        return number

    def clean_date_of_birth(self) -> date:
        born = self.cleaned_data["date_of_birth"]
        today = timezone.localdate()
        if born > today:
            raise forms.ValidationError(gettext("The date of birth cannot be in the future."))
        if born > years_before(today, MINIMUM_AGE):
            raise forms.ValidationError(
                _("Only adults can be listed: the person must be at least %(age)d years old."),
                code="too_young",
                params={"age": MINIMUM_AGE},
            )
        if born < years_before(today, MAXIMUM_AGE):
            raise forms.ValidationError(
                gettext("Check the year of birth: it is more than 120 years ago.")
            )
        return born

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        kind = cleaned.get("release_kind")
        release_date = cleaned.get("release_date")
        if kind is None or "release_date" in self.errors:
            return cleaned
        if kind == Profile.ReleaseKind.DATE:
            today = timezone.localdate()
            if release_date is None:
                self.add_error(
                    "release_date",
                    gettext("Enter the release date, or choose another release kind."),
                )
            elif release_date < today - timedelta(days=RELEASE_DATE_GRACE_DAYS):
                self.add_error(
                    "release_date",
                    gettext(
                        "This release date is more than %(days)s days ago. "
                        "If the person has been released, mark the profile released instead."
                    )
                    % {"days": RELEASE_DATE_GRACE_DAYS},
                )
            elif release_date.year > today.year + RELEASE_DATE_MAX_YEARS:
                self.add_error("release_date", gettext("Check the year of the release date."))
        elif release_date is not None:
            self.add_error(
                "release_date",
                gettext("Leave the release date empty unless the release kind is “Release date”."),
            )
        return cleaned


# --- Files ------------------------------------------------------------------------


def sniff_consent_type(uploaded_file) -> str | None:
    """'pdf', 'jpeg' or 'png' from the file's content (never its name), else None."""
    uploaded_file.seek(0)
    head = uploaded_file.read(HEAD_BYTES)
    uploaded_file.seek(0)
    found = sniff(head)
    return found.name if found in (PDF, JPEG, PNG) else None


class ConsentForm(forms.Form):
    consent_form = forms.FileField(
        label=_("Signed consent form"),
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,image/jpeg,image/png"}),
    )
    is_confirmed = forms.BooleanField(
        label=_("I confirm this form is signed by the person named on this profile."),
        error_messages={"required": _("Confirm that the form is signed by the person named.")},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["consent_form"].help_text = gettext(
            "A scan or photo of the signed form: PDF, JPEG or PNG, at most %(size)s. "
            "It is stored privately."
        ) % {"size": megabytes(settings.CONSENT_FORM_MAX_UPLOAD_BYTES)}

    def clean_consent_form(self):
        uploaded = self.cleaned_data["consent_form"]
        if refusal := too_big(
            gettext("This file"), uploaded.size, settings.CONSENT_FORM_MAX_UPLOAD_BYTES
        ):
            raise forms.ValidationError(refusal)
        if sniff_consent_type(uploaded) is None:
            raise forms.ValidationError(
                gettext(
                    "This file is not a PDF, JPEG or PNG. Scan the signed form to one of those."
                )
            )
        # The checks a scanned reply page passes (penpals.scans, the one home of
        # that rule): images are decoded within the pixel limit, so a JPEG cut
        # short or a decompression bomb is refused (a multi-picture JPEG is a
        # JPEG), and a PDF passes penpals.pdfs.check_pdf (parsed within a time
        # budget, nothing in it that runs by itself).
        uploaded.seek(0)
        content = uploaded.read()
        uploaded.seek(0)
        try:
            kind = scan_kind(content)
        except forms.ValidationError as error:
            raise forms.ValidationError([capfirst(message) for message in error.messages]) from None
        # Stored under a name that matches its content, whatever it was called.
        uploaded.name = f"consent{kind.extension}"
        return uploaded


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files from one <input type=file multiple>; cleans to a list."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/*"}))
        # Empty files pass here so the form's own check can name which one is
        # empty ("The submitted file is empty." does not, among ten files).
        kwargs.setdefault("allow_empty_file", True)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None) -> list:
        files = [item for item in (data if isinstance(data, (list, tuple)) else [data]) if item]
        if not files and self.required:
            raise forms.ValidationError(self.error_messages["required"], code="required")
        return [super(MultipleFileField, self).clean(item, initial) for item in files]


class PhotoUploadForm(forms.Form):
    photos = MultipleFileField(
        label=_("Photos"),
        error_messages={"required": _("Choose at least one photo.")},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["photos"].help_text = gettext(
            "Up to %(count)s photos at once, each at most %(size)s. They are checked, "
            "cleaned of location data and resized before a moderator reviews them."
        ) % {"count": PHOTOS_PER_UPLOAD, "size": megabytes(settings.PHOTO_MAX_UPLOAD_BYTES)}

    def clean_photos(self) -> list:
        photos = self.cleaned_data["photos"]
        if len(photos) > PHOTOS_PER_UPLOAD:
            raise forms.ValidationError(
                gettext("Upload at most %(limit)s photos at once (%(count)s chosen).")
                % {"limit": PHOTOS_PER_UPLOAD, "count": len(photos)}
            )
        errors = [
            refusal
            for photo in photos
            if (refusal := photo_refusal(photo.size, Path(photo.name).name))
        ]
        if errors:
            raise forms.ValidationError(errors)
        return photos


# --- Lifecycle and import -----------------------------------------------------------

OUTSIDE_THE_SERVICE = "outside"

LIFECYCLE_LABELS = {
    Action.PAUSED: _("Pause the listing: it leaves the directory until resumed."),
    Action.RESUMED: _("Resume the listing: it returns to the directory."),
    Action.RENEWED: _("Renew the listing for another year."),
    Action.RELEASED: _("Mark released: the profile leaves the directory for good."),
    Action.TRANSFERRED: _("Mark transferred: the profile leaves the directory for good."),
}


def choice_field(form: forms.BaseForm, name: str) -> forms.ChoiceField:
    """form.fields[name], which the caller knows the form declares as a ChoiceField
    (form.fields is typed as holding plain Fields)."""
    return cast(forms.ChoiceField, form.fields[name])


def lifecycle_actions_for(profile: InmateProfile) -> list[Action]:
    """The lifecycle actions the profile's current status allows, in display order
    (a liaison cannot resume a profile staff paused)."""
    return [
        action
        for action, statuses in LIFECYCLE_FROM.items()
        if profile.status in statuses
        and not (action == Action.RESUMED and profile.is_paused_by_staff)
    ]


class LifecycleForm(forms.Form):
    """Pause, resume, renew, release or transfer one profile.

    Only the actions its current status allows are offered; a transfer names
    the destination, another active facility on the service or none.
    """

    action = forms.ChoiceField(widget=forms.RadioSelect, label=_("What happened?"))
    destination = forms.ChoiceField(
        required=False,
        label=_("Transferred to"),
        help_text=_("Only for a transfer."),
    )

    def __init__(self, *args, profile: InmateProfile, **kwargs):
        super().__init__(*args, **kwargs)
        self.profile = profile
        choice_field(self, "action").choices = [
            (action.value, LIFECYCLE_LABELS[action]) for action in lifecycle_actions_for(profile)
        ]
        self.destinations = {
            str(facility.pk): facility
            for facility in Facility.objects.filter(is_active=True)
            .exclude(pk=profile.facility_id)
            .order_by("name")
        }
        choice_field(self, "destination").choices = [
            ("", gettext("Choose…")),
            (OUTSIDE_THE_SERVICE, gettext("A facility not on Penpals, or unknown")),
            *[(pk, str(facility)) for pk, facility in self.destinations.items()],
        ]

    @property
    def allows_anything(self) -> bool:
        return bool(choice_field(self, "action").choices)

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        cleaned["transferred_to"] = None
        if cleaned.get("action") == Action.TRANSFERRED:
            destination = cleaned.get("destination")
            if not destination:
                self.add_error(
                    "destination", gettext("Choose where the person was transferred to.")
                )
            elif destination != OUTSIDE_THE_SERVICE:
                cleaned["transferred_to"] = self.destinations[destination]
        return cleaned


class ProfileFilterForm(forms.Form):
    """The profile list's search box and status filter (GET)."""

    q = forms.CharField(
        required=False,
        max_length=100,
        label=_("Name or inmate number"),
    )
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("Any status")), *Profile.Status.choices]
    )
