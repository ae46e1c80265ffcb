"""The languages Penpals can tell letters apart by: moderation's screening
detects these (moderation/languages.py), and moderators list which of them
they read. One list, so the two can never disagree; names translatable."""

from __future__ import annotations

from django.utils.translation import gettext_lazy

# (ISO 639-1 code, name), sorted by English name.
READABLE_LANGUAGES = [
    ("ar", gettext_lazy("Arabic")),
    ("zh", gettext_lazy("Chinese")),
    ("nl", gettext_lazy("Dutch")),
    ("en", gettext_lazy("English")),
    ("fr", gettext_lazy("French")),
    ("de", gettext_lazy("German")),
    ("el", gettext_lazy("Greek")),
    ("he", gettext_lazy("Hebrew")),
    ("hi", gettext_lazy("Hindi")),
    ("it", gettext_lazy("Italian")),
    ("ja", gettext_lazy("Japanese")),
    ("ko", gettext_lazy("Korean")),
    ("la", gettext_lazy("Latin")),
    ("fa", gettext_lazy("Persian")),
    ("pl", gettext_lazy("Polish")),
    ("pt", gettext_lazy("Portuguese")),
    ("ru", gettext_lazy("Russian")),
    ("so", gettext_lazy("Somali")),
    ("es", gettext_lazy("Spanish")),
    ("sw", gettext_lazy("Swahili")),
    ("tl", gettext_lazy("Tagalog")),
    ("tr", gettext_lazy("Turkish")),
    ("uk", gettext_lazy("Ukrainian")),
    ("ur", gettext_lazy("Urdu")),
    ("vi", gettext_lazy("Vietnamese")),
    ("yo", gettext_lazy("Yoruba")),
]
LANGUAGE_NAMES = dict(READABLE_LANGUAGES)
