"""Disguised words and numbers: screening sees through them, names the disguise,
and a facility that reviews flagged letters only never approves them unread.

The disguises are of kinds, not a list of examples: every default-ignorable or
format character, every lookalike letter in Unicode's confusables data, every
run of single digits however it is spaced."""

from __future__ import annotations

import pytest
from django.urls import reverse

from messaging.models import Letter
from messaging.services import screen_letter
from moderation.alerts import alert_text
from moderation.models import ModerationItem
from moderation.screening import default_ruleset, disguises, leet_views, normalise
from profiles.models import Facility
from tests.factories import InmateProfileFactory, write_letter

# Characters that show nothing; none of them is among the six stripped before.
HIDDEN = ["\u2063", "\u200e", "\u200f", "\ufe0f", "\u034f", "\u180e", "\u2061", "\U000e0041"]
# Letters of other scripts that Unicode's confusables data says look Latin.
LOOKALIKES = {"e": ["\u0435", "\u04bd"], "o": ["\u043e", "\u03bf", "\u0585"], "m": ["\u217f"]}

DISGUISED = [
    *[f"Put it on my ven{hidden}mo tonight." for hidden in HIDDEN],
    *[f"Put it on my venm{o} tonight." for o in LOOKALIKES["o"]],
    *[f"Put it on my v{e}nmo tonight." for e in LOOKALIKES["e"]],
    "Put it on my vеnmо tonight.",  # two Cyrillic letters
]
SPACED_NUMBERS = [
    "Call me at 5 5 5 8 6 7 5 3 0 9 when you can.",
    "Call me at 5-5-5-8-6-7-5-3-0-9 when you can.",
    "Call me at 5. 5. 5. 8. 6. 7. 5. 3. 0. 9 when you can.",
    "Call me at 5 - 5 - 5 - 8 - 6 - 7 - 5 - 3 - 0 - 9 when you can.",
]
HIDDEN_AROUND_AT = [f"Write to tom.keys{h}@{h}example.com soon." for h in HIDDEN[:4]]

CLEAN = [
    "I love you all \u2764\ufe0f and the kids \U0001f468\u200d\U0001f469\u200d\U0001f467.",
    "Привет! Как дела? Я читаю книгу.",  # all Cyrillic: not mixed
    "Un café con leche y una canción en el corazón.",
    "Η θάλασσα είναι ήσυχη σήμερα.",  # all Greek
    "The score was 3 - 1 at half time, and 2 - 2 at the end.",
    "Chapter 1, 2 and 3 were the best.",
]


@pytest.mark.parametrize("text", DISGUISED)
def test_it_reads_a_disguised_word_and_says_it_was_disguised(text):
    result = default_ruleset().screen(text)
    [hit] = [hit for hit in result.hits if hit.category == "money"]
    # The hit is the word as written, invisible characters and lookalikes included.
    assert text[hit.start : hit.end] == hit.match
    assert hit.match.startswith("v") and hit.match.endswith(("o", text[hit.end - 1]))
    assert result.disguises


@pytest.mark.parametrize("text", SPACED_NUMBERS)
def test_it_reads_a_phone_number_spaced_digit_by_digit(text):
    result = default_ruleset().screen(text)
    [hit] = [hit for hit in result.hits if hit.category == "contact"]
    assert hit.match.startswith("5") and hit.match.endswith("9")
    assert text[hit.start : hit.end] == hit.match


@pytest.mark.parametrize("text", HIDDEN_AROUND_AT)
def test_it_reads_an_email_address_with_invisible_characters_around_the_at(text):
    result = default_ruleset().screen(text)
    assert any(hit.category == "contact" and "@" in hit.match for hit in result.hits)
    assert result.disguises


@pytest.mark.parametrize("text", CLEAN)
def test_it_finds_no_disguise_in_emoji_other_scripts_or_accents(text):
    result = default_ruleset().screen(text)
    assert result.disguises == ()
    assert not result.hits


def test_every_default_ignorable_character_vanishes_from_the_matched_text():
    for hidden in HIDDEN:
        assert normalise(f"ca{hidden}sh").text == "cash"


def test_a_word_mixing_scripts_is_named():
    (found,) = disguises("my v\u0435nmo")
    assert alert_text(found) == "a word mixing scripts: 'v\u0435nmo'"
    assert disguises("plain ascii text") == []


@pytest.fixture
def flagged_only_profile(db):
    return InmateProfileFactory.published(
        facility__screening_mode=Facility.ScreeningMode.FLAGGED_ONLY
    )


@pytest.mark.parametrize(
    "body",
    [
        *DISGUISED[:3],
        DISGUISED[-1],
        *SPACED_NUMBERS[:2],
        HIDDEN_AROUND_AT[0],
        # Hidden characters inside a harmless word: nothing for the rules, but
        # made to hide something, so a person reads it.
        "I read a lovely bo\u2063ok about gardening this week.",
        "I read a lovely b\u043eok about gardening this week.",
    ],
)
def test_a_flagged_only_facility_never_approves_a_disguised_letter_unread(
    alice, flagged_only_profile, default_screening_rules, body
):
    letter = write_letter(alice, flagged_only_profile, body)
    screen_letter(letter.pk)
    letter.refresh_from_db()
    assert letter.status == Letter.Status.IN_REVIEW
    item = ModerationItem.objects.for_object(letter).get()
    assert item.status == ModerationItem.Status.PENDING
    assert item.risk_score > 0


def test_a_flagged_only_facility_still_approves_a_clean_letter_with_emoji(
    alice, flagged_only_profile, default_screening_rules
):
    letter = write_letter(alice, flagged_only_profile, CLEAN[0])
    screen_letter(letter.pk)
    letter.refresh_from_db()
    assert letter.status == Letter.Status.APPROVED


def test_the_moderator_is_told_what_was_disguised(
    alice, flagged_only_profile, default_screening_rules
):
    letter = write_letter(alice, flagged_only_profile, DISGUISED[0])
    screen_letter(letter.pk)
    letter.refresh_from_db()
    assert any("invisible characters" in alert_text(a) for a in letter.screening["alerts"])


LEET = [
    ("Put it on my c4$h app.", "money", "c4$h app"),
    ("Just v3nm0 me.", "money", "v3nm0"),
    ("Send m0n3y through western uni0n.", "money", "western uni0n"),
    ("I will k1ll you.", "threat", "I will k1ll you"),
    ("I will ki11 you.", "threat", "I will ki11 you"),
    ("We have an 3sc4pe plan.", "escape", "3sc4pe plan"),
]
# Digits and symbols that are numbers, prices and addresses, not disguised words.
NOT_LEET = [
    "See you at 10am on the 4th, or the 1st of May.",
    "I have 3 kids and 5 cats, born in the 1990s.",
    "Stamps cost $5 and the book $12.50.",
]


@pytest.mark.parametrize(("text", "category", "match"), LEET)
def test_it_reads_leetspeak_and_symbol_swaps(text, category, match):
    hits = [hit for hit in default_ruleset().screen(text).hits if hit.category == category]
    assert match in [hit.match for hit in hits]


@pytest.mark.parametrize("text", NOT_LEET)
def test_it_reads_numbers_and_prices_as_they_are(text):
    assert not default_ruleset().screen(text).hits


def test_leet_views_swap_only_inside_words_with_letters():
    assert leet_views("k1ll 1990 $5 c4$h") == [(0, "kill 1990 $5 cash"), (0, "klll 1990 $5 cash")]
    assert leet_views("nothing to swap here 2024, on the 4th at 10am") == []


def test_leet_views_hold_only_the_stretch_around_a_swapped_word():
    text = "a lovely day " * 50 + "c4$h app " + "kind regards " * 50
    [(offset, view)] = leet_views(text)
    assert "cash app" in view and len(view) < 200
    assert text[offset : offset + len(view)] == view.replace("cash", "c4$h")


SPELLED_NUMBERS = [
    "Call me at five five five, eight six seven, five three oh nine.",
    "Llámame al cinco cinco cinco ocho seis siete cinco tres cero nueve.",
    "My number is 5 5 5 eight six 7 5 3 0 9.",
    "Ring one-two-three, four-five-six, seven-eight-nine-oh.",
]


@pytest.mark.parametrize("text", SPELLED_NUMBERS)
def test_it_reads_a_number_spelled_out_in_words(text):
    [hit] = [hit for hit in default_ruleset().screen(text).hits if hit.rule == "Phone numbers"]
    # The whole number as written, its last word included.
    assert text[hit.start : hit.end] == hit.match
    assert hit.match.endswith(("nine", "nueve", "9", "oh"))


def test_it_leaves_counting_in_words_alone():
    text = "I read one or two books, then three, four, five, six chapters."
    assert not default_ruleset().screen(text).hits


SPELLED_ADDRESSES = [
    ("Write to tom arroba gmail punto com please.", "tom arroba gmail punto com"),
    (
        "Escríbeme: maria.lopez arroba yahoo punto com punto mx",
        "maria.lopez arroba yahoo punto com punto mx",
    ),
    ("Mail ana [at] example (dot) org today.", "ana [at] example (dot) org"),
    ("It is tom at gmail dot com.", "tom at gmail dot com"),
]


@pytest.mark.parametrize(("text", "address"), SPELLED_ADDRESSES)
def test_it_reads_an_email_address_with_at_and_dot_spelled_out(text, address):
    hits = default_ruleset().screen(text).hits
    assert address in [hit.match for hit in hits if hit.rule == "Email addresses"]


@pytest.mark.parametrize("text", ["Look at this dot painting.", "Nos vemos a las tres en punto."])
def test_it_leaves_at_and_dot_in_prose_alone(text):
    assert not default_ruleset().screen(text).hits


def test_a_hit_says_what_a_disguised_word_was_read_as():
    [lookalike] = default_ruleset().screen("my v\u0435nmo").hits
    assert lookalike.read_as == "venmo, read through CYRILLIC SMALL LETTER IE"
    [greek] = default_ruleset().screen("V\u0395NMO me").hits
    assert greek.read_as == "venmo, read through GREEK CAPITAL LETTER EPSILON"
    [hidden] = default_ruleset().screen("ven\u2063mo").hits
    assert hidden.read_as == "venmo, read through INVISIBLE SEPARATOR"
    [leet] = [h for h in default_ruleset().screen("c4$h app").hits if h.category == "money"]
    assert leet.read_as == "cash app, read through DIGIT FOUR, DOLLAR SIGN"
    [spelled] = default_ruleset().screen("tom arroba gmail punto com").hits[:1]
    assert spelled.read_as == "tom@gmail.com"
    # Written plainly (case, accents and spacing aside): nothing to say.
    for plain in ("Venmo", "cash-app", "c a s h a p p", "call 614-555-0199"):
        assert all(hit.read_as == "" for hit in default_ruleset().screen(plain).hits), plain


def test_the_moderator_sees_what_a_disguised_word_was_read_as(
    client, moderator_with_mfa, alice, flagged_only_profile, default_screening_rules
):
    letter = write_letter(alice, flagged_only_profile, "Put it on my v\u0435nmo tonight.")
    screen_letter(letter.pk)
    item = ModerationItem.objects.for_object(letter).get()
    client.force_login(moderator_with_mfa)
    html = client.get(
        reverse("admin:moderation_moderationitem_change", args=[item.pk])
    ).content.decode()
    assert "read as “venmo, read through CYRILLIC SMALL LETTER IE”" in html
    assert "Possibly disguised to slip past screening" in html
