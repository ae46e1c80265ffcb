"""The authorisation matrix, continued: the admin's query strings.

A page that hides a field is not enough: a changelist that filters, searches
or sorts on it answers yes or no to a guess, and a name or a birth date falls
out in a few hundred requests. So, as the moderator, every guess at a private
value below is asked twice, once true and once false, and the two answers
must be the same (status, redirect, result rows, their order) and must not
show the private text. The superuser keeps full access: the same guesses do
find the rows for them (the control that the guesses are real).

Every case is generated from the admin registry and the models, not listed by
hand: each registered ModelAdmin's changelist with a lookup on every path
from its model to a private field (PRIVATE_FIELDS), its search box, its
sortable columns, its raw-id popups; the autocomplete view for every relation
to a registered model; the change and history page of every object. A new
ModelAdmin, a new relation or a new column is covered without touching this
file.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import quote, quote_plus, urlencode

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.options import IS_POPUP_VAR, TO_FIELD_VAR
from django.db import models
from django.db.models.expressions import F, OrderBy
from django.test import RequestFactory
from django.urls import NoReverseMatch, reverse

from tests.security.conftest import EMAILS, INMATE_X
from tests.security.private_facts import page_text, private_facts_in
from tests.security.test_authorisation_matrix import body_of, classify, client_for

pytestmark = pytest.mark.django_db

MOD, ADM = "moderator", "admin"

# The private fields of the project, by model: what a moderator may not read,
# and so may not filter, search or sort on. Every relation path to one of
# them is tried from every changelist.
PRIVATE_FIELDS = {
    "profiles.inmateprofile": ("legal_name", "date_of_birth", "inmate_number"),
    "penpals.user": ("email",),
    "account.emailaddress": ("email",),
}
# How far relation paths are followed from a changelist's model: forward
# relations this many hops (Letter -> correspondence -> profile -> legal_name),
# reverse relations one hop (Facility -> profiles -> legal_name).
FORWARD_DEPTH = 3
PROJECT_APPS = {"penpals", "profiles", "messaging", "moderation", "account", "mfa", "auth", "admin"}

# Guesses typed into a search box or an autocomplete: (what, true, false).
SEARCH_GUESSES = [
    ("inmate number", INMATE_X["inmate_number"], "INM-PRIV-0000"),
    ("legal name", INMATE_X["legal_name"], "Wilhelm Nobody-Private"),
    ("legal surname", INMATE_X["legal_name"].split()[-1], "Quxlez-Private"),
    ("date of birth", INMATE_X["date_of_birth"].isoformat(), "1980-01-06"),
    ("pen pal email", EMAILS["pen_pal_a"], "ada-inbox-nobody@example.org"),
    ("email of a pen pal without a name", EMAILS["suspended"], "suspended-nobody@example.org"),
    ("liaison email", EMAILS["liaison_x"], "liaison-x-nobody@example.org"),
]


# --- What an answer says -----------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """What a response tells the person who asked, with the guess itself
    (echoed back in the search box or the filter links) taken out."""

    outcome: int | str
    location: str
    rows: tuple[str, ...]  # the listed objects, in order
    counts: tuple[str, ...]  # "3 results", "(7 total)"...


ROW_LINK = re.compile(r'href="/admin/{app}/{model}/([^/"]+)/change/')
SELECTED = re.compile(r'name="_selected_action" value="([^"]+)"')
COUNTS = re.compile(r"(\d+)\s+(?:results?|total|\w+ selected|of \d+)", re.IGNORECASE)


def without_guess(text: str, guess: str) -> str:
    """`text` with the guess taken out wherever the page echoes it (the search
    box, the filter links), in any case and as the URL spells it."""
    if not guess:
        return text
    # The change links carry the list's query once more, encoded twice
    # (?_changelist_filters=q%3DZebulon%2BQuxley).
    variants = {guess, quote_plus(guess), quote(guess), html.escape(guess)}
    variants.add(quote(quote_plus(guess), safe=""))
    for variant in sorted(variants, key=len, reverse=True):
        text = re.sub(re.escape(variant), "<guess>", text, flags=re.IGNORECASE)
    return text


def answer(response, content: bytes, model, guess: str) -> Answer:
    location = response.get("Location", "") if response.status_code in (301, 302) else ""
    location = without_guess(location, guess)
    text = without_guess(page_text(response, content), guess)
    if response.get("Content-Type", "").startswith("application/json") and text:
        payload = json.loads(text)
        rows = tuple(str(result.get("id")) for result in payload.get("results", []))
        return Answer(classify(response), location, rows, (str(payload.get("pagination")),))
    opts = model._meta
    link = re.compile(ROW_LINK.pattern.format(app=opts.app_label, model=opts.model_name))
    rows = dict.fromkeys(link.findall(text) + SELECTED.findall(text))
    return Answer(classify(response), location, tuple(rows), tuple(COUNTS.findall(text)))


@dataclass(frozen=True)
class Guess:
    """One private value asked about twice: `true_query` matches the world's
    data, `false_query` does not."""

    what: str  # for the failure message
    model: type[models.Model]  # whose changelist (or autocomplete) answers
    url: str
    true_query: dict
    false_query: dict
    guess: str  # the varying text, taken out of both answers
    false_guess: str


def ask(client, guess: Guess) -> tuple[Answer, Answer, list]:
    answers, leaks = [], []
    for query, text in ((guess.true_query, guess.guess), (guess.false_query, guess.false_guess)):
        response = client.get(guess.url, query)
        content = body_of(response)
        answers.append(answer(response, content, guess.model, text))
        # What the page says beyond a private value it echoes from the query (a
        # row that shows the value searched for is caught on the plain list).
        shown = page_text(response, content)
        if private_facts_in(text, client.role, ""):
            shown = without_guess(shown, text)
        leaks += private_facts_in(shown, client.role, f"{guess.url}?{urlencode(query)}")
    return answers[0], answers[1], leaks


# --- Generating the cases from the registry ------------------------------------------------


def registered() -> list[tuple[type[models.Model], admin.ModelAdmin]]:
    return sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label_lower)


def changelist_url(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def private_paths(model) -> list[tuple[str, models.Field]]:
    """Every lookup path from `model` to a private field: its own private
    fields, forward relations FORWARD_DEPTH hops deep, reverse relations one."""
    found: list[tuple[str, models.Field]] = []

    def visit(current, prefix: str, depth: int, seen: frozenset, may_reverse: bool) -> None:
        for name in PRIVATE_FIELDS.get(current._meta.label_lower, ()):
            found.append((prefix + name, current._meta.get_field(name)))
        if depth == 0:
            return
        for field in current._meta.get_fields():
            related = field.related_model
            if not field.is_relation or related is None or related in seen:
                continue
            is_reverse = field.auto_created and not field.concrete
            if is_reverse and (not may_reverse or field.hidden):
                continue
            if related._meta.app_label not in PROJECT_APPS:
                continue
            visit(related, f"{prefix}{field.name}__", depth - 1, seen | {related}, False)

    visit(model, "", FORWARD_DEPTH, frozenset({model}), True)
    return found


def value_guesses(field: models.Field, true_value) -> list[tuple[str, str, str]]:
    """(lookup suffix, true guess, false guess) for one private value."""
    if isinstance(field, models.DateField):
        day: date = true_value
        return [
            ("", day.isoformat(), (day + timedelta(days=1)).isoformat()),
            ("__lte", day.isoformat(), (day - timedelta(days=1)).isoformat()),
        ]
    text = str(true_value)
    return [
        ("", text, f"nobody-{text}"),
        ("__istartswith", text[:4], "~~~"),
    ]


def lookup_guesses() -> list[Guess]:
    guesses = []
    for model, _model_admin in registered():
        url = changelist_url(model)
        for path, field in private_paths(model):
            values = model._default_manager.filter(**{f"{path}__isnull": False})
            true_value = values.values_list(path, flat=True).first()
            if true_value in (None, ""):
                continue  # no row to find (the row-less paths are in the count below)
            for suffix, yes, no in value_guesses(field, true_value):
                guesses.append(
                    Guess(
                        f"?{path}{suffix}=",
                        model,
                        url,
                        {path + suffix: yes},
                        {path + suffix: no},
                        yes,
                        no,
                    )
                )
            if isinstance(field, models.CharField) and not isinstance(field, models.EmailField):
                # The raw-id popup asked to hand back the private value itself.
                popup = {TO_FIELD_VAR: field.name, IS_POPUP_VAR: "1"}
                if path == field.name:
                    guesses.append(
                        Guess(
                            f"?{TO_FIELD_VAR}={field.name}&{IS_POPUP_VAR}=1&{path}=",
                            model,
                            url,
                            {**popup, path: str(true_value)},
                            {**popup, path: f"nobody-{true_value}"},
                            str(true_value),
                            f"nobody-{true_value}",
                        )
                    )
    return guesses


def search_guesses() -> list[Guess]:
    return [
        Guess(f"?q=<{what}>", model, changelist_url(model), {"q": yes}, {"q": no}, yes, no)
        for model, _model_admin in registered()
        for what, yes, no in SEARCH_GUESSES
    ]


def autocomplete_sources() -> list[tuple[models.Field, type[models.Model]]]:
    """One relation field of any model for each (registered remote model,
    limit_choices_to, to_field): the autocomplete view answers for any
    relation, whether or not an admin lists it in autocomplete_fields."""
    sources, seen = [], set()
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if not (field.is_relation and field.concrete and field.related_model):
                continue
            remote = field.related_model
            if remote not in admin.site._registry:
                continue
            key = (
                remote,
                repr(field.remote_field.limit_choices_to),
                getattr(field.remote_field, "field_name", None),
            )
            if key not in seen:
                seen.add(key)
                sources.append((field, remote))
    return sources


def autocomplete_guesses() -> list[Guess]:
    url = reverse("admin:autocomplete")
    guesses = []
    for field, remote in autocomplete_sources():
        base = {
            "app_label": field.model._meta.app_label,
            "model_name": field.model._meta.model_name,
            "field_name": field.name,
        }
        for what, yes, no in SEARCH_GUESSES:
            guesses.append(
                Guess(
                    f"autocomplete {field.model._meta.label}.{field.name} term=<{what}>",
                    remote,
                    url,
                    {**base, "term": yes},
                    {**base, "term": no},
                    yes,
                    no,
                )
            )
    return guesses


def private_order_field(model, order_field) -> str | None:
    """The private field an ordering (a column's) sorts by, following a
    relation to its model's Meta.ordering; None when it sorts by nothing private."""
    if isinstance(order_field, OrderBy):
        order_field = order_field.expression
    if isinstance(order_field, F):
        order_field = order_field.name
    if not isinstance(order_field, str):
        return None
    current, field = model, None
    for part in order_field.lstrip("-").split("__"):
        try:
            field = current._meta.get_field(part)
        except Exception:  # noqa: BLE001 - a transform, or a name the admin resolves
            return None
        if field.is_relation and field.related_model:
            current = field.related_model
    if field is None:
        return None
    if field.name in PRIVATE_FIELDS.get(field.model._meta.label_lower, ()):
        return f"{field.model._meta.label}.{field.name}"
    if field.is_relation and field.related_model:
        for inner in field.related_model._meta.ordering or ():
            if found := private_order_field(field.related_model, inner):
                return found
    return None


def sorting_cases(world, role: str) -> list[tuple[type[models.Model], int, str]]:
    """(model, column index, private field) for every changelist column that
    sorts by a private field, as the admin builds the list for `role`."""
    cases = []
    for model, model_admin in registered():
        request = RequestFactory().get(changelist_url(model))
        request.user = world.users[role]
        changelist = model_admin.get_changelist_instance(request)
        for index, name in enumerate(changelist.list_display):
            try:
                order_field = changelist.get_ordering_field(name)
            except AttributeError:
                continue
            if private := private_order_field(model, order_field):
                cases.append((model, index, private))
    return cases


def role_client(world, role):
    client = client_for(world, role)
    client.role = role
    return client


def differing(client, guesses: list[Guess]) -> tuple[list[str], list]:
    """The guesses whose true and false answers differ, and any private text shown."""
    differ, leaks = [], []
    for guess in guesses:
        true_answer, false_answer, found = ask(client, guess)
        leaks += found
        if true_answer != false_answer:
            differ.append(f"{guess.url} {guess.what}: {true_answer} != {false_answer}")
    return differ, leaks


def report(role: str, differ: list[str], leaks: list) -> str:
    lines = [f"As {role}, the answer depends on the private value:", *differ]
    lines += ["and private text was shown:", *map(str, leaks)] if leaks else []
    return "\n".join(lines[:80])


# --- The tests ------------------------------------------------------------------------------


def test_it_generates_a_guess_for_every_way_into_the_private_fields(world):
    """The generators reach what they must: the private fields of the profile
    list and of related lists, the search box of every list, autocomplete."""
    lookups = {(g.model._meta.label_lower, next(iter(g.true_query))) for g in lookup_guesses()}
    for expected in (
        ("profiles.inmateprofile", "legal_name__istartswith"),
        ("profiles.inmateprofile", "date_of_birth__lte"),
        ("profiles.inmateprofile", "inmate_number"),
        ("profiles.profilephoto", "profile__legal_name__istartswith"),
        ("messaging.letter", "correspondence__profile__date_of_birth"),
        ("messaging.correspondence", "pen_pal__email__istartswith"),
        ("moderation.writingsuspension", "user__email"),
        ("profiles.facility", "profiles__inmate_number"),
        ("penpals.user", "email__istartswith"),
    ):
        assert expected in lookups, expected
    assert len(search_guesses()) == len(SEARCH_GUESSES) * len(admin.site._registry)
    remotes = {remote._meta.label_lower for _field, remote in autocomplete_sources()}
    assert {"profiles.inmateprofile", "penpals.user", "profiles.facility"} <= remotes


@pytest.mark.parametrize(
    "kind", ["lookups", "search", "autocomplete"], ids=lambda kind: f"by_{kind}"
)
def test_it_answers_a_moderator_the_same_for_a_true_and_a_false_guess(world, kind):
    guesses = {
        "lookups": lookup_guesses,
        "search": search_guesses,
        "autocomplete": autocomplete_guesses,
    }[kind]()
    differ, leaks = differing(role_client(world, MOD), guesses)
    assert not differ and not leaks, report(MOD, differ, leaks)


def test_it_lets_the_superuser_filter_search_and_sort_on_private_fields(world):
    """The control: the same kind of guesses tell a superuser apart, so the
    moderator's equal answers mean the private value was not used."""
    client = role_client(world, ADM)
    by_what = {
        g.what: g for g in lookup_guesses() if g.model._meta.label_lower == "profiles.inmateprofile"
    }
    guesses = [
        by_what["?legal_name__istartswith="],
        by_what["?date_of_birth__lte="],
        by_what["?inmate_number="],
        next(
            g
            for g in search_guesses()
            if g.model._meta.label_lower == "profiles.inmateprofile" and "inmate number" in g.what
        ),
        next(
            g
            for g in lookup_guesses()
            if g.model._meta.label_lower == "penpals.user" and g.what == "?email="
        ),
    ]
    for guess in guesses:
        true_answer, false_answer, _ = ask(client, guess)
        assert true_answer.outcome == 200, guess
        assert true_answer.rows != false_answer.rows, guess
    # Sorting: the superuser's user list sorts by email both ways.
    [(model, index, _field)] = [
        c for c in sorting_cases(world, ADM) if c[2] == "penpals.User.email"
    ]
    up, down = (
        answer(r, r.content, model, "")
        for r in (client.get(changelist_url(model), {"o": o}) for o in (str(index), f"-{index}"))
    )
    assert up.rows and up.rows == tuple(reversed(down.rows))


def test_it_sorts_a_moderators_lists_by_no_private_column(world):
    """A column that sorts by a private field (its own, or a related model's
    Meta.ordering) must not sort for a moderator: ascending and descending
    come back in the same order."""
    client = role_client(world, MOD)
    wrong = []
    for model, index, private in sorting_cases(world, MOD):
        answers = []
        for o in (str(index), f"-{index}"):
            response = client.get(changelist_url(model), {"o": o})
            answers.append(answer(response, response.content, model, ""))
            wrong += private_facts_in(page_text(response, response.content), MOD, f"o={o}")
        if answers[0] != answers[1]:
            wrong.append(f"{model._meta.label} ?o={index} sorts by {private}: {answers}")
    assert not wrong, "\n".join(map(str, wrong))


def object_pages(world):
    """The change and history page of every object of every registered model
    (two per model), and every raw-id popup a change form links to."""
    urls = []
    for model, model_admin in registered():
        opts = model._meta
        for pk in model._default_manager.order_by("pk").values_list("pk", flat=True)[:2]:
            for page in ("change", "history"):
                try:
                    urls.append(
                        reverse(f"admin:{opts.app_label}_{opts.model_name}_{page}", args=[pk])
                    )
                except NoReverseMatch:
                    pass
        for name in model_admin.raw_id_fields:
            field = opts.get_field(name)
            remote = field.related_model
            if remote in admin.site._registry:
                to_field = getattr(field.remote_field, "field_name", None) or remote._meta.pk.name
                urls.append(f"{changelist_url(remote)}?{TO_FIELD_VAR}={to_field}&{IS_POPUP_VAR}=1")
    return urls


def test_it_shows_a_moderator_no_private_fact_on_any_object_page(world):
    """Change pages, history (object_repr written when the object changed),
    the index's recent actions, and the raw-id popups."""
    client = role_client(world, MOD)
    leaks, errors = [], []
    urls = [reverse("admin:index"), *object_pages(world)]
    for url in urls:
        response = client.get(url)
        if response.status_code >= 500:
            errors.append(url)
        leaks += private_facts_in(page_text(response, body_of(response)), MOD, url)
    assert not errors and not leaks, "\n".join([*errors, *map(str, leaks)])
    # The control: the admin reads the facts on the same pages (the profiles'
    # and the users' are enough).
    admin_client = role_client(world, ADM)
    shown = [
        finding
        for url in urls
        if url.startswith(("/admin/profiles/inmateprofile/", "/admin/penpals/user/"))
        for finding in private_facts_in(admin_client.get(url).content.decode(), "pen_pal_a", url)
    ]
    assert {f.needle.kind for f in shown} >= {
        "legal name",
        "inmate number",
        "date of birth",
        "email",
    }
