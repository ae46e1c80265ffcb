"""The directory's query string as a form: what each filter and sort order
accepts, the facilities offered, and widgets that draw the form quickly.

The rules that turn these filters into SQL are in profiles.directory.query.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any, ClassVar

from django import forms
from django.db.models import F, OrderBy
from django.forms.renderers import BaseRenderer
from django.forms.utils import flatatt
from django.http import QueryDict
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

from penpals.text import interpolate_lazy
from profiles.models import Facility, InmateProfile

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

MAX_PAGE = 250
NEW_PROFILE_DAYS = 30

Gender = InmateProfile.Gender

# The states and territories facilities are in, named in the reader's language
# ("Nueva York").
US_STATES = {
    "AL": _("Alabama"), "AK": _("Alaska"), "AZ": _("Arizona"), "AR": _("Arkansas"),
    "CA": _("California"), "CO": _("Colorado"), "CT": _("Connecticut"), "DE": _("Delaware"),
    "DC": _("District of Columbia"), "FL": _("Florida"), "GA": _("Georgia"), "HI": _("Hawaii"),
    "ID": _("Idaho"), "IL": _("Illinois"), "IN": _("Indiana"), "IA": _("Iowa"), "KS": _("Kansas"),
    "KY": _("Kentucky"), "LA": _("Louisiana"), "ME": _("Maine"), "MD": _("Maryland"),
    "MA": _("Massachusetts"), "MI": _("Michigan"), "MN": _("Minnesota"), "MS": _("Mississippi"),
    "MO": _("Missouri"), "MT": _("Montana"), "NE": _("Nebraska"), "NV": _("Nevada"),
    "NH": _("New Hampshire"), "NJ": _("New Jersey"), "NM": _("New Mexico"), "NY": _("New York"),
    "NC": _("North Carolina"), "ND": _("North Dakota"), "OH": _("Ohio"), "OK": _("Oklahoma"),
    "OR": _("Oregon"), "PA": _("Pennsylvania"), "PR": _("Puerto Rico"), "RI": _("Rhode Island"),
    "SC": _("South Carolina"), "SD": _("South Dakota"), "TN": _("Tennessee"), "TX": _("Texas"),
    "UT": _("Utah"), "VT": _("Vermont"), "VA": _("Virginia"), "WA": _("Washington"),
    "WV": _("West Virginia"), "WI": _("Wisconsin"), "WY": _("Wyoming"), "GU": _("Guam"),
    "VI": _("U.S. Virgin Islands"),
}  # fmt: skip


class Sort:
    RELEVANCE = "relevance"
    NEWEST = "newest"
    UPDATED = "updated"
    RELEASE = "release"
    NAME = "name"

    CHOICES = [
        (RELEVANCE, _("Best match")),
        (NEWEST, _("Newest")),
        (UPDATED, _("Recently updated")),
        (RELEASE, _("Release soonest")),
        (NAME, _("Name")),
    ]
    # Each ordering matches one of the partial indexes on published profiles
    # (profiles_pub_newest, _updated, _release, _name), column directions included.
    ORDERINGS: ClassVar[dict[str, tuple[OrderBy | str, str]]] = {
        NEWEST: (F("published_at").desc(), "id"),
        UPDATED: (F("public_updated_at").desc(), "id"),
        RELEASE: (F("release_date").asc(), "id"),
        NAME: ("display_name", "id"),
    }


RELEASE_WITHIN_CHOICES = [
    ("1", _("Within 1 year")),
    ("2", _("Within 2 years")),
    ("5", _("Within 5 years")),
    ("unknown", _("Release not set")),
]


# --- The filter form ------------------------------------------------------------------------


@dataclass(frozen=True)
class FacilityOption:
    pk: int
    slug: str
    name: str
    state: str


def listed_facilities() -> list[FacilityOption]:
    """Facilities offered as filters (one query)."""
    return [
        FacilityOption(*row)
        for row in Facility.objects.filter(is_active=True)
        .order_by("state", "name")
        .values_list("pk", "slug", "name", "state")
    ]


# A choice: (value, label), or (group label, choices) for an <optgroup>.
Choices = Iterable[tuple[Any, Any]]


def _with_blank(choices: Choices, blank: StrOrPromise) -> list[tuple[Any, Any]]:
    return [("", blank), *choices]


# The filter form is drawn on every directory page. Django renders each widget,
# label and <option> through a template, which costs several milliseconds per
# page here; these widgets render the same HTML in Python.


def _as_tuples(choices: Choices) -> tuple[tuple[Any, Any], ...]:
    return tuple(
        (value, _as_tuples(label)) if isinstance(label, list | tuple) else (value, label)
        for value, label in choices
    )


@functools.lru_cache(maxsize=512)
def _options_html(choices: tuple[tuple[Any, Any], ...], selected: str, language: str) -> str:
    """<option>s (and <optgroup>s) for `choices`, `selected` marked. Cached: the
    facility list is the same on every page. Labels may be lazy translations:
    `language` (the active one) keeps each language's HTML apart."""

    def option(value: object, label: object) -> str:
        text = str(value)
        mark = " selected" if text == selected else ""
        return f'<option value="{escape(text)}"{mark}>{escape(str(label))}</option>'

    parts = []
    for value_or_group, label in choices:
        if isinstance(label, tuple):
            options = "".join(option(*choice) for choice in label)
            parts.append(f'<optgroup label="{escape(str(value_or_group))}">{options}</optgroup>')
        else:
            parts.append(option(value_or_group, label))
    return "".join(parts)


class QuickSelect(forms.Select):
    """Options come from `option_tuples` (nested tuples) when given, else
    `choices`. (Assigning `choices` normalises the list on every form:
    milliseconds for the facilities.)"""

    def __init__(
        self,
        attrs: dict[str, Any] | None = None,
        option_tuples: tuple[tuple[Any, Any], ...] | None = None,
    ) -> None:
        super().__init__(attrs)
        self.option_tuples = option_tuples

    def render(
        self,
        name: str,
        value: Any,
        attrs: dict[str, Any] | None = None,
        renderer: BaseRenderer | None = None,
    ) -> SafeString:
        choices = self.option_tuples
        if choices is None:
            choices = _as_tuples(self.choices)
        selected = "" if value is None else str(value)
        final_attrs = flatatt(self.build_attrs(self.attrs, {**(attrs or {}), "name": name}))
        options = _options_html(choices, selected, get_language())
        return mark_safe(f"<select{final_attrs}>{options}</select>")  # noqa: S308 - escaped


def _choice_field(label: StrOrPromise, choices: Choices, blank: StrOrPromise) -> forms.ChoiceField:
    with_blank = _with_blank(choices, blank)
    return forms.ChoiceField(
        label=label,
        required=False,
        choices=with_blank,
        widget=QuickSelect(option_tuples=_as_tuples(with_blank)),
    )


class QuickNumberInput(forms.NumberInput):
    def render(
        self,
        name: str,
        value: Any,
        attrs: dict[str, Any] | None = None,
        renderer: BaseRenderer | None = None,
    ) -> SafeString:
        final_attrs = self.build_attrs(
            self.attrs, {**(attrs or {}), "type": self.input_type, "name": name}
        )
        if value not in (None, ""):
            final_attrs["value"] = self.format_value(value)
        return mark_safe(f"<input{flatatt(final_attrs)}>")  # noqa: S308 - flatatt escapes


class QuickCheckbox(forms.CheckboxInput):
    def render(
        self,
        name: str,
        value: Any,
        attrs: dict[str, Any] | None = None,
        renderer: BaseRenderer | None = None,
    ) -> SafeString:
        final_attrs = self.build_attrs(
            self.attrs, {**(attrs or {}), "type": "checkbox", "name": name}
        )
        if self.check_test(value):
            final_attrs["checked"] = True
        return mark_safe(f"<input{flatatt(final_attrs)}>")  # noqa: S308 - flatatt escapes


class DirectoryFilterForm(forms.Form):
    """The directory's query string. Every field is optional; an invalid value
    is reported and left out, and the remaining filters still apply."""

    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=100,
        help_text=_("Names, interests or words from the profile."),
    )
    gender = _choice_field(_("Gender"), Gender.choices, _("Any gender"))
    age_min = forms.IntegerField(
        label=_("Age from"), required=False, min_value=18, max_value=120, widget=QuickNumberInput
    )
    age_max = forms.IntegerField(
        label=_("Age to"), required=False, min_value=18, max_value=120, widget=QuickNumberInput
    )
    # Choices come from the facility list; validated in clean_state / clean_facility.
    state = forms.CharField(label=_("State"), required=False, widget=QuickSelect)
    facility = forms.CharField(label=_("Facility"), required=False, widget=QuickSelect)
    release = _choice_field(_("Release"), RELEASE_WITHIN_CHOICES, _("Any time"))
    seeking = _choice_field(_("Looking for"), InmateProfile.Seeking.choices, _("Anything"))
    language = _choice_field(_("Writes in"), InmateProfile.Language.choices, _("Any language"))
    photo = forms.BooleanField(label=_("Has a photo"), required=False, widget=QuickCheckbox)
    new = forms.BooleanField(
        label=interpolate_lazy(_("New in the last %(days)s days"), {"days": NEW_PROFILE_DAYS}),
        required=False,
        widget=QuickCheckbox,
    )
    accepting = forms.BooleanField(
        label=_("Accepting letters now"), required=False, widget=QuickCheckbox
    )
    sort = forms.ChoiceField(label=_("Sort by"), required=False, choices=Sort.CHOICES)
    page = forms.IntegerField(required=False, min_value=1, max_value=MAX_PAGE)

    # Everything but `sort` and `page` narrows the results.
    FILTER_FIELDS = (
        "q", "gender", "age_min", "age_max", "state", "facility", "release", "seeking",
        "language", "photo", "new", "accepting",
    )  # fmt: skip

    def __init__(self, data: QueryDict, facilities: list[FacilityOption]) -> None:
        super().__init__(data, label_suffix="")
        self.facilities = {facility.slug: facility for facility in facilities}
        self.states = sorted({facility.state for facility in facilities})
        # Plain fields with QuickSelect options, validated in clean_state and
        # clean_facility: a ChoiceField would normalise the nested list each time.
        self.fields["state"].widget.option_tuples = _as_tuples(
            _with_blank(
                [(code, US_STATES.get(code, code)) for code in self.states], gettext("Any state")
            )
        )
        by_state: dict[str, list[tuple[str, str]]] = {}
        for facility in facilities:
            by_state.setdefault(facility.state, []).append((facility.slug, facility.name))
        self.fields["facility"].widget.option_tuples = _as_tuples(
            _with_blank(
                [(US_STATES.get(code, code), options) for code, options in by_state.items()],
                gettext("Any facility"),
            )
        )
        self.fields["page"].error_messages["max_value"] = gettext(
            "Only the first %(pages)s pages can be shown. Add a filter or change the sort "
            "order to see other profiles."
        ) % {"pages": MAX_PAGE}
        self.fields["page"].error_messages["min_value"] = gettext("Page numbers start at 1.")

    def clean_state(self) -> str:
        state = self.cleaned_data["state"].upper()
        if state and state not in self.states:
            raise forms.ValidationError(gettext("No facility listed here is in that state."))
        return state

    def clean_facility(self) -> str:
        slug = self.cleaned_data["facility"]
        if slug and slug not in self.facilities:
            raise forms.ValidationError(gettext("There is no facility with that name here."))
        return slug

    def clean_q(self) -> str:
        q = " ".join(self.cleaned_data["q"].split())
        if q and not any(character.isalnum() for character in q):
            raise forms.ValidationError(gettext("Search for letters or numbers."))
        return q

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        age_min, age_max = cleaned.get("age_min"), cleaned.get("age_max")
        if age_min is not None and age_max is not None and age_min > age_max:
            self.add_error("age_max", gettext("“Age to” must not be lower than “Age from”."))
        return cleaned

    def facility_ids_in(self, state: str) -> list[int]:
        return [facility.pk for facility in self.facilities.values() if facility.state == state]

    def error_messages(self) -> list[str]:
        """One readable line per rejected value, naming the filter."""
        lines: list[str] = []
        for name, errors in self.errors.items():
            label = self.fields[name].label if name in self.fields else None
            if name == "page":
                label = gettext("Page")
            lines.extend(f"{label}: {error}" if label else str(error) for error in errors)
        return lines
