"""Private facts in the admin: one rule for every ModelAdmin.

The admin lets whoever may view a model test any of its fields through the
query string (`?legal_name__istartswith=`), the search box, the sort
parameter, autocomplete, raw-id popups (`?_to_field=`) and its history, so
hiding a field on the change page is not enough: each request that filters on
it answers yes or no. Here each app declares its private fields once
(`declare_private_fields`), and `PrivateFieldsMixin` takes them out of every
one of those paths for anyone who may not see them, whatever model the admin
is for: a lookup that reaches a private field through a relation
(`profile__legal_name`, `user__email`) is refused as well.

Who may see private facts in the admin: superusers only. Liaisons, the other
people who see them, work in the liaison portal, never here.

A refused lookup raises DisallowedModelAdminLookup (a 400, as the admin does
for lookups it does not allow); a refused search field, sort column or list
filter is left out, so the answer never depends on a private value.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from typing import cast

from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models.constants import LOOKUP_SEP
from django.db.models.expressions import F
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils import translation
from django.utils.text import capfirst, get_text_list
from django.utils.translation import gettext

_PRIVATE_FIELDS: dict[type[models.Model], frozenset[str]] = {}


def declare_private_fields(model: type[models.Model], *names: str) -> None:
    """Declare fields of `model` that only superusers may see or test in the admin.

    Called by each app's admin module at import (the admin's autodiscovery
    imports them all before the first request); names must be model fields.
    """
    for name in names:
        model._meta.get_field(name)  # a typo fails at start-up, not silently
    model = _concrete_model(model)
    _PRIVATE_FIELDS[model] = _PRIVATE_FIELDS.get(model, frozenset()) | frozenset(names)


def _concrete_model(model: type[models.Model]) -> type[models.Model]:
    # Django sets concrete_model on every model class's Options as the class is
    # created; the stubs allow None only for an Options not yet attached to one.
    return cast(type[models.Model], model._meta.concrete_model)


def private_fields_of(model: type[models.Model]) -> frozenset[str]:
    return _PRIVATE_FIELDS.get(_concrete_model(model), frozenset())


def may_see_private_facts(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_active and user.is_superuser)


def touches_private_field(model: type[models.Model], path: str) -> bool:
    """Whether the lookup, search or ordering `path` (from `model`) tests a
    private field, on `model` or on any model its relations reach.

    A path that ends on a relation orders by the related model's default
    ordering, so that ordering is checked too.
    """
    path = path.lstrip("-^=@")
    parts = path.split(LOOKUP_SEP)
    for index, part in enumerate(parts):
        if part == "pk":
            part = model._meta.pk.name
        if part in private_fields_of(model):
            return True
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            return False  # a lookup or transform: the fields end here
        related = field.related_model if field.is_relation else None
        if related is None or isinstance(related, str):
            return False
        model = related
        if index == len(parts) - 1:
            return any(
                isinstance(name, str) and touches_private_field(model, name)
                for name in model._meta.ordering or ()
            )
    return False


def _order_field_names(order_field) -> list[str]:
    """The field paths an admin_order_field (a name or an expression) sorts by."""
    if isinstance(order_field, str):
        return [order_field]
    if hasattr(order_field, "flatten"):
        return [node.name for node in order_field.flatten() if isinstance(node, F)]
    return []


def _without_private(model, names: Iterable) -> list:
    return [
        name for name in names if not (isinstance(name, str) and touches_private_field(model, name))
    ]


def _all_private_labels() -> set[str]:
    """Every private field's label, as a change message stores it (in English
    and in the current language), casefolded."""
    labels = set()
    for model, names in _PRIVATE_FIELDS.items():
        for name in names:
            # Private fields are concrete model fields (declare_private_fields),
            # never reverse relations, so each has a verbose_name.
            field = cast(models.Field, model._meta.get_field(name))
            labels.add(str(capfirst(field.verbose_name)).casefold())
            with translation.override("en"):
                labels.add(str(capfirst(field.verbose_name)).casefold())
    return labels


def safe_change_message(entry) -> str:
    """A LogEntry's change message without what may not be shown: no stored
    object names (they were rendered when the entry was written, perhaps with
    an inmate number) and no private field names."""
    try:
        parts = json.loads(entry.change_message) if entry.change_message else []
    except json.JSONDecodeError:
        parts = None
    if not isinstance(parts, list):
        # A free-text message may say anything: only its kind is shown.
        if entry.is_addition():
            return gettext("Added.")
        if entry.is_deletion():
            return gettext("Deleted.")
        return gettext("Changed.")
    private_labels = _all_private_labels()
    sentences = []
    for part in parts:
        if not isinstance(part, dict):
            continue
        if "added" in part:
            name = (part["added"] or {}).get("name")
            sentences.append(
                gettext("Added %(name)s.") % {"name": name} if name else gettext("Added.")
            )
        elif "changed" in part:
            fields = (part["changed"] or {}).get("fields", [])
            shown = [str(label) for label in fields if str(label).casefold() not in private_labels]
            if len(shown) < len(fields):
                shown.append(gettext("private details"))
            text = get_text_list(shown, gettext("and"))
            name = part["changed"].get("name")
            sentences.append(
                gettext("Changed %(fields)s for %(name)s.") % {"fields": text, "name": name}
                if name
                else gettext("Changed %(fields)s.") % {"fields": text}
            )
        elif "deleted" in part:
            name = (part["deleted"] or {}).get("name")
            sentences.append(
                gettext("Deleted %(name)s.") % {"name": name} if name else gettext("Deleted.")
            )
    return " ".join(sentences) or gettext("No fields changed.")


class PrivateFieldsChangeList(ChangeList):
    """A changelist whose `?o=` sorts only by the columns get_sortable_by allows
    (Django renders only those as sortable, but accepts any column index)."""

    def __init__(self, request, model, list_display, list_display_links, list_filter,
                 date_hierarchy, *args, **kwargs):  # fmt: skip
        if (
            date_hierarchy
            and not may_see_private_facts(request)
            and touches_private_field(model, date_hierarchy)
        ):
            date_hierarchy = None
        super().__init__(
            request, model, list_display, list_display_links, list_filter, date_hierarchy,
            *args, **kwargs,
        )  # fmt: skip

    def get_ordering_field(self, field_name):
        if self.sortable_by is not None and field_name not in self.sortable_by:
            return None
        return super().get_ordering_field(field_name)


@cache
def _private_changelist(base: type[ChangeList]) -> type[ChangeList]:
    if issubclass(base, PrivateFieldsChangeList):
        return base
    return type(f"PrivateFields{base.__name__}", (PrivateFieldsChangeList, base), {})


class PrivateFieldsMixin:
    """For every ModelAdmin and inline: private fields (declare_private_fields)
    are neither shown, nor filtered, searched, sorted, referenced by
    `_to_field`, nor named in the history, for anyone but superusers.

    Put it first among the bases, so its methods wrap the admin's own.
    """

    # Provided by the ModelAdmin or InlineModelAdmin it is mixed into.
    model: type[models.Model]

    def may_see_private_facts(self, request: HttpRequest) -> bool:
        return may_see_private_facts(request)

    # --- Lookups: the query string, popups, autocomplete ---

    def lookup_allowed(self, lookup, value, request=None):
        if (request is None or not self.may_see_private_facts(request)) and touches_private_field(
            self.model, lookup
        ):
            return False
        return super().lookup_allowed(lookup, value, request)

    def to_field_allowed(self, request, to_field):
        if not self.may_see_private_facts(request) and touches_private_field(self.model, to_field):
            return False
        return super().to_field_allowed(request, to_field)

    def get_search_fields(self, request):
        search_fields = super().get_search_fields(request)
        if self.may_see_private_facts(request):
            return search_fields
        return _without_private(self.model, search_fields)

    def get_list_filter(self, request):
        list_filter = super().get_list_filter(request)
        if self.may_see_private_facts(request):
            return list_filter
        kept = []
        for item in list_filter:
            name = item[0] if isinstance(item, (list, tuple)) else item
            if isinstance(name, str) and touches_private_field(self.model, name):
                continue
            kept.append(item)
        return kept

    # --- Sorting ---

    def get_ordering(self, request):
        ordering = list(super().get_ordering(request) or self.model._meta.ordering or [])
        if not self.may_see_private_facts(request):
            ordering = _without_private(self.model, ordering)
        # A stable order for every list and autocomplete page (a paginated
        # unordered queryset warns, and its pages may overlap).
        pk_names = {"pk", self.model._meta.pk.name, self.model._meta.pk.attname}
        if not any(isinstance(name, str) and name.lstrip("-") in pk_names for name in ordering):
            ordering.append("-pk")
        return ordering

    def get_sortable_by(self, request):
        sortable_by = super().get_sortable_by(request)
        if self.may_see_private_facts(request):
            return sortable_by
        return [column for column in sortable_by if not self._sorts_by_private(column)]

    def _sorts_by_private(self, column) -> bool:
        if isinstance(column, str):
            try:
                self.model._meta.get_field(column)
            except FieldDoesNotExist:
                attr = getattr(self, column, None) or getattr(self.model, column, None)
                if attr is None:
                    return touches_private_field(self.model, column)
                if isinstance(attr, property):
                    attr = attr.fget
                order_field = getattr(attr, "admin_order_field", None)
                return any(
                    touches_private_field(self.model, name)
                    for name in _order_field_names(order_field)
                )
            return touches_private_field(self.model, column)
        order_field = getattr(column, "admin_order_field", None)
        return any(
            touches_private_field(self.model, name) for name in _order_field_names(order_field)
        )

    def get_changelist(self, request, **kwargs):
        return _private_changelist(super().get_changelist(request, **kwargs))

    # --- What the pages show ---

    def get_list_display(self, request):
        list_display = super().get_list_display(request)
        if self.may_see_private_facts(request):
            return list_display
        return _without_private(self.model, list_display)

    def get_list_display_links(self, request, list_display):
        links = super().get_list_display_links(request, list_display)
        if links is None or self.may_see_private_facts(request):
            return links
        return _without_private(self.model, links)

    def get_exclude(self, request, obj=None):
        exclude = super().get_exclude(request, obj)
        if self.may_see_private_facts(request):
            return exclude
        form_exclude = getattr(getattr(self.form, "_meta", None), "exclude", None) or []
        # Returning a list stops the admin from adding the form's own Meta.exclude.
        return [*(exclude or []), *form_exclude, *sorted(private_fields_of(self.model))]

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if self.may_see_private_facts(request):
            return fields
        return self._strip_names(fields)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if self.may_see_private_facts(request):
            return fieldsets
        return [
            (title, {**options, "fields": self._strip_names(options.get("fields", ()))})
            for title, options in fieldsets
        ]

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        if self.may_see_private_facts(request):
            return readonly
        return self._strip_names(readonly)

    def _strip_names(self, names) -> list:
        private = private_fields_of(self.model)
        kept = []
        for name in names:
            if isinstance(name, (list, tuple)):  # fields shown on one line
                line = [each for each in name if each not in private]
                if line:
                    kept.append(tuple(line))
            elif name not in private:
                kept.append(name)
        return kept

    # --- History ---

    def history_view(self, request, object_id, extra_context=None):
        """For anyone but superusers, each entry names its author by their
        label (never an email) and says what changed without the object
        names stored when it was written (they may hold an inmate number)."""
        response = super().history_view(request, object_id, extra_context)
        if self.may_see_private_facts(request) or not isinstance(response, TemplateResponse):
            return response
        for entry in response.context_data["action_list"]:
            entry.author_label = str(entry.user)
            entry.safe_message = safe_change_message(entry)
        response.template_name = "admin/privacy_object_history.html"
        return response
