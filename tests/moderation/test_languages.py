"""A language for every letter: only letters in a language the rules are
written for may be approved without a person."""

from __future__ import annotations

import pytest
from django.urls import reverse

from messaging.models import Letter
from messaging.services import screen_letter
from moderation import languages
from moderation.alerts import alert_text
from moderation.models import ModerationItem, ScreeningRule
from moderation.screening import RuleSet, RuleSpec, default_ruleset, load_default_rule_specs
from profiles.models import Facility
from tests.factories import InmateProfileFactory, write_letter

ENGLISH = (
    "Dear Sam, thank you for your letter. The weather has turned cold here and I have "
    "been reading the books you recommended, one chapter every night."
)
SPANISH = (
    "Querido Samuel, gracias por tu carta. Aquí ya empezó el frío y he estado leyendo "
    "los libros que me recomendaste, un capítulo cada noche."
)
SPANGLISH = (
    "Hey mija, como estas? Aqui todo bien, el mailroom se tardo dos semanas con tu carta. "
    "Watched the game en el dayroom, estuvo bien loco."
)
FRENCH = (
    "Cher Samuel, merci pour ta lettre. Ici il commence à faire froid et je lis les livres "
    "que tu m'as conseillés, un chapitre chaque soir."
)
PORTUGUESE = (
    "Querido Samuel, obrigado pela tua carta. Aqui já começou o frio e tenho lido os "
    "livros que você me recomendou, um capítulo cada noite."
)
VIETNAMESE = "Anh Samuel thân mến, cảm ơn thư của anh. Ở đây trời đã bắt đầu lạnh rồi."


@pytest.mark.parametrize(
    ("text", "code"),
    [(ENGLISH, "en"), (SPANISH, "es"), (FRENCH, "fr"), (PORTUGUESE, "pt"), (VIETNAMESE, "vi")],
)
def test_it_detects_the_language_of_a_letter(text, code):
    assert languages.detect(text, frozenset({"en", "es"})).code == code


def test_a_letter_mixing_english_and_spanish_counts_as_one_of_them():
    assert languages.detect(SPANGLISH, frozenset({"en", "es"})).code in {"en", "es"}


def test_a_text_too_short_to_judge_has_no_language():
    assert languages.detect("ok!! :)", frozenset({"en", "es"})) == languages.UNDETERMINED


def test_a_long_letter_that_switches_language_part_way_is_not_machine_screened():
    letter = (ENGLISH + " ") * 10 + (FRENCH + " ") * 3 + (ENGLISH + " ") * 10
    result = default_ruleset().screen(letter)
    assert result.language.code == "fr"
    assert not result.machine_screened
    assert result.needs_a_person


def test_the_default_rules_are_written_for_english_and_spanish():
    assert default_ruleset().languages == {"en", "es"}
    written_for = {spec.language for spec in load_default_rule_specs()}
    assert written_for == {"", "en", "es"}


@pytest.mark.parametrize("text", [ENGLISH, SPANISH])
def test_a_clean_letter_in_a_language_with_rules_needs_no_person(text):
    result = default_ruleset().screen(text)
    assert result.machine_screened
    assert not result.needs_a_person


@pytest.mark.parametrize(("text", "name"), [(FRENCH, "French"), (PORTUGUESE, "Portuguese")])
def test_a_letter_in_a_language_without_rules_is_marked_not_machine_screened(text, name):
    result = default_ruleset().screen(text)
    assert not result.machine_screened
    assert result.needs_a_person
    assert alert_text(result.not_screened_alert) == f"Not machine-screened: {name}"


def test_a_facility_that_writes_rules_for_a_language_gets_its_letters_screened():
    french_rules = RuleSpec(
        name="Argent (French)", category="money", pattern_type="keywords",
        pattern="envoie-moi de l'argent", language="fr",
    )  # fmt: skip
    rules = RuleSet([*load_default_rule_specs(), french_rules])
    assert rules.screen(FRENCH).machine_screened
    assert rules.screen("Envoie-moi de l'argent, s'il te plaît, mon ami.").categories == ["money"]


# --- Through the service, with the rules in the database ---------------------------


@pytest.fixture
def flagged_only_profile(db):
    return InmateProfileFactory.published(
        facility__screening_mode=Facility.ScreeningMode.FLAGGED_ONLY
    )


def screened(writer, profile, body: str) -> Letter:
    """A letter written and screened, as the screening task leaves it."""
    letter = write_letter(writer, profile, body)
    screen_letter(letter.pk)
    letter.refresh_from_db()
    return letter


@pytest.mark.parametrize("body", [FRENCH, VIETNAMESE, "ok :)"])
def test_a_flagged_only_facility_never_approves_a_letter_no_rule_could_read(
    alice, flagged_only_profile, default_screening_rules, body
):
    letter = screened(alice, flagged_only_profile, body)
    assert letter.status == Letter.Status.IN_REVIEW
    assert any(
        alert_text(alert).startswith("Not machine-screened:")
        for alert in letter.screening["alerts"]
    )
    item = ModerationItem.objects.for_object(letter).get()
    assert item.status == ModerationItem.Status.PENDING


@pytest.mark.parametrize("body", [ENGLISH, SPANISH])
def test_a_flagged_only_facility_approves_a_clean_letter_in_english_or_spanish(
    alice, flagged_only_profile, default_screening_rules, body
):
    letter = screened(alice, flagged_only_profile, body)
    assert letter.status == Letter.Status.APPROVED
    assert letter.screening["language"] in {"en", "es"}


@pytest.mark.parametrize(
    "body",
    [
        "Hola mija, ¿me echas la mano con algo para la tiendita? Lo que sea es bienvenido.",
        "Oye, ya sé por dónde anda tu familia. Mis compas de afuera te van a hacer una visita.",
        "Las hojas van rociadas con lo que ya sabes, córtalas en cuadritos.",
    ],
)
def test_a_flagged_only_facility_holds_a_harmful_spanish_letter(
    alice, flagged_only_profile, default_screening_rules, body
):
    letter = screened(alice, flagged_only_profile, body)
    assert letter.status == Letter.Status.IN_REVIEW
    assert letter.screening["hits"]


def test_the_migrated_rules_carry_their_language(default_screening_rules):
    assert set(ScreeningRule.objects.values_list("language", flat=True)) == {"", "en", "es"}


def test_the_moderator_sees_the_language_and_why_no_machine_read_the_letter(
    client, moderator_with_mfa, alice, flagged_only_profile, default_screening_rules
):
    letters = {}
    for body in (SPANISH, FRENCH):
        letter = screened(alice, flagged_only_profile, body)
        letters[body] = ModerationItem.objects.for_object(letter).first()
    client.force_login(moderator_with_mfa)
    spanish = client.get(
        reverse("admin:moderation_moderationitem_change", args=[letters[SPANISH].pk])
    ).content.decode()
    assert "written in Spanish" in spanish
    french = client.get(
        reverse("admin:moderation_moderationitem_change", args=[letters[FRENCH].pk])
    ).content.decode()
    assert "written in French" in french
    assert "Not machine-screened: French" in french
