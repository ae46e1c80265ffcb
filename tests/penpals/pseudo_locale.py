"""Finding text shown to people that is not marked for translation.

A pseudo-locale, for what pages and emails show:

The pseudo catalogue has every message of the Spanish catalogues Django would
load (ours in locale/, Django's own, each installed app's: admin, auth,
allauth...), each "translated" to itself between markers: "Sign in" becomes
"⟦Sign in⟧", with its placeholders and HTML kept inside. A page rendered in
the pseudo language then shows every marked string between markers; what is
left once the marked text and the data of the page are taken out was never
marked (or is marked but missing from the Spanish catalogue, which is the same
bug to a Spanish reader).

Two checks of the source, for what no rendered page of a test reaches: the
names of our models and their fields (the admin's labels and columns), and
the Python literals handed to people (messages, form labels, validation
errors, the admin's descriptions).
"""

from __future__ import annotations

import array
import ast
import re
import struct
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from django.conf import settings
from django.utils.functional import Promise
from django.utils.translation import trans_real

OPEN, CLOSE = "⟦", "⟧"
# A code from ISO 639's range for local use (qaa-qtz; "qps" as in Windows'
# pseudo-locales): no catalogue of Django's or of any app exists for it, so
# all it shows comes from the pseudo catalogue or was never translated.
PSEUDO_LANGUAGE = "qps"
# The catalogues whose messages the pseudo catalogue marks.
SOURCE_LANGUAGE = "es"

# Words that are no translation's business, each with why.
UNTRANSLATABLE = {
    "Penpals",  # the service's name, the same in every language
    "English",  # the language switcher names each language in itself
    "Español",
}

# --- Reading catalogues -------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    msgid: str
    msgid_plural: str = ""
    msgctxt: str | None = None


def _unquote(line: str) -> str:
    # A PO string is a C string literal; its escapes are a subset of Python's.
    return ast.literal_eval(line)


def read_po(path: Path) -> list[Message]:
    """The messages of a .po file (fuzzy and untranslated ones too; not obsolete ones)."""
    messages: list[Message] = []
    fields: dict[str, str] = {}
    current = ""

    def flush() -> None:
        if "msgid" in fields and fields["msgid"]:  # "" is the header
            messages.append(
                Message(fields["msgid"], fields.get("msgid_plural", ""), fields.get("msgctxt"))
            )
        fields.clear()

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith('"'):
            fields[current] += _unquote(line)
            continue
        keyword, _, rest = line.partition(" ")
        # A new entry starts at its msgctxt or msgid, once the last has its msgstr.
        if keyword in ("msgctxt", "msgid") and any(k.startswith("msgstr") for k in fields):
            flush()
        current = keyword
        fields[current] = _unquote(rest.strip())
    flush()
    return messages


def source_catalogues() -> list[Path]:
    """Every Spanish django.po that Django would merge for this project: its
    own (django/conf/locale), LOCALE_PATHS and each installed app's locale/."""
    found = []
    for base in trans_real.all_locale_paths():
        po = Path(base) / SOURCE_LANGUAGE / "LC_MESSAGES" / "django.po"
        if po.exists() and po not in found:
            found.append(po)
    return found


# --- Writing the pseudo catalogue ------------------------------------------------------------


def mark(text: str) -> str:
    # Django's yesno filter splits its default ("yes,no,maybe") at the commas.
    if text == "yes,no,maybe":
        return ",".join(OPEN + part + CLOSE for part in text.split(","))
    return OPEN + text + CLOSE


def pseudo_translations(messages: list[Message]) -> dict[str, str]:
    """The .mo entries (key -> translation) that mark every message."""
    entries = {
        "": "Content-Type: text/plain; charset=UTF-8\nPlural-Forms: nplurals=2; plural=(n != 1);\n"
    }
    for message in messages:
        key = message.msgid
        value = mark(message.msgid)
        if message.msgid_plural:
            key += "\0" + message.msgid_plural
            value += "\0" + mark(message.msgid_plural)
        if message.msgctxt is not None:
            key = message.msgctxt + "\x04" + key
        entries[key] = value
    return entries


def write_mo(entries: dict[str, str], path: Path) -> None:
    """A GNU .mo file (the format msgfmt writes and Python's gettext reads)."""
    keys = sorted(entries, key=lambda key: key.encode())
    ids = strs = b""
    offsets = []
    for key in keys:
        key_bytes, value_bytes = key.encode(), entries[key].encode()
        offsets.append((len(ids), len(key_bytes), len(strs), len(value_bytes)))
        ids += key_bytes + b"\0"
        strs += value_bytes + b"\0"
    key_start = 7 * 4 + 16 * len(keys)
    value_start = key_start + len(ids)
    key_table, value_table = [], []
    for id_offset, id_length, str_offset, str_length in offsets:
        key_table += [id_length, id_offset + key_start]
        value_table += [str_length, str_offset + value_start]
    header = struct.pack(
        "Iiiiiii", 0x950412DE, 0, len(keys), 7 * 4, 7 * 4 + len(keys) * 8, 0, 0
    )  # magic, revision, count, ids table, strings table, no hash table
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + array.array("i", key_table + value_table).tobytes() + ids + strs)


def build_pseudo_locale(directory: Path) -> Path:
    """Write <directory>/qps/LC_MESSAGES/django.mo; returns `directory`, a
    locale path to put first in LOCALE_PATHS."""
    messages = [message for po in source_catalogues() for message in read_po(po)]
    write_mo(
        pseudo_translations(messages), directory / PSEUDO_LANGUAGE / "LC_MESSAGES" / "django.mo"
    )
    return directory


def activate_pseudo_locale(settings_fixture, locale_dir: Path, monkeypatch) -> None:
    """Make the pseudo language the site's default and one it offers.

    Changing these settings through pytest-django's `settings` resets Django's
    translation caches (django.test.signals.language_changed and
    trans_real.reset_cache), so no catalogue loaded before is used.
    """
    from django.conf import locale

    monkeypatch.setitem(
        locale.LANG_INFO,
        PSEUDO_LANGUAGE,
        {"bidi": False, "code": PSEUDO_LANGUAGE, "name": "Pseudo", "name_local": mark("Pseudo")},
    )
    settings_fixture.LOCALE_PATHS = [str(locale_dir), *settings.LOCALE_PATHS]
    settings_fixture.LANGUAGES = [*settings.LANGUAGES, (PSEUDO_LANGUAGE, mark("Pseudo"))]
    # The default too: pages for a visitor who asks for nothing, emails to an
    # address without an account, and what is printed for a person whose
    # language the site does not speak fall back to it.
    settings_fixture.LANGUAGE_CODE = PSEUDO_LANGUAGE


# --- What people see -----------------------------------------------------------------------

# Attributes shown on screen or read out by screen readers.
SPOKEN_ATTRIBUTES = (
    "title",
    "alt",
    "placeholder",
    "aria-label",
    "aria-description",
    "aria-roledescription",
    "aria-valuetext",
    "label",
    # Stacked tables on phones show each cell's column name from it (site.css).
    "data-label",
)
BUTTON_INPUT_TYPES = {"submit", "button", "reset"}


class _VisibleText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.in_code = 0  # inside <script> or <style>
        # Inside <code>: identifiers typed exactly as shown (CSV column names,
        # reply references, commands), the same in every language; inside
        # <textarea>: what people typed, like the value of any other field.
        self.in_identifier = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "img" and "/admin/img/icon-" in attributes.get("src", ""):
            # The admin's yes/no/unknown icons: Django writes Python's "True",
            # "False" or "None" as their alt text, untranslated (admin_list._boolean_icon).
            attributes.pop("alt", None)
        # In document order, so an attribute inside a marked HTML message is
        # between that message's markers.
        self.parts += [attributes[name] for name in SPOKEN_ATTRIBUTES if attributes.get(name)]
        if tag == "input" and attributes.get("type", "").lower() in BUTTON_INPUT_TYPES:
            self.parts.append(attributes.get("value", ""))
        if tag in ("script", "style"):
            self.in_code += 1
        elif tag in ("code", "textarea"):
            self.in_identifier += 1

    def handle_startendtag(self, tag: str, attrs) -> None:
        self.handle_starttag(tag, attrs)
        if tag in ("script", "style"):
            self.in_code -= 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self.in_code:
            self.in_code -= 1
        elif tag in ("code", "textarea") and self.in_identifier:
            self.in_identifier -= 1

    def handle_data(self, data: str) -> None:
        if not self.in_code and not self.in_identifier:
            self.parts.append(data)


def visible_text(html: str) -> str:
    """The text of an HTML page a person reads or hears, one piece a line."""
    parser = _VisibleText()
    parser.feed(html)
    parser.close()
    return "\n".join(parser.parts)


# --- Finding unmarked text -----------------------------------------------------------------

_INNERMOST_MARKED = re.compile(f"{OPEN}[^{OPEN}{CLOSE}]*{CLOSE}")
_WORD = re.compile(r"[^\W\d_]{2,}")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"\b(?:https?|mailto):\S+")
# Generated secrets and codes (a TOTP secret, recovery codes): capitals and
# digits, long, with a digit somewhere.
_GENERATED = re.compile(r"\b(?=[A-Z0-9]*[0-9])[A-Z0-9]{12,}\b")


def without_marked(text: str) -> str:
    """`text` with each marked message (nested ones too) made a line break."""
    while True:
        shorter = _INNERMOST_MARKED.sub("\n", text)
        if shorter == text:
            break
        text = shorter
    # A marker without its pair (a marked message cut short by a filter):
    # what follows it is checked like any other text.
    return text.replace(OPEN, "\n").replace(CLOSE, "\n")


def unmarked_fragments(
    text: str, data_values: tuple[str, ...] = (), data_word: re.Pattern | None = None
) -> list[str]:
    """The pieces of `text` that hold words and were not translated.

    `data_values` (whole strings, longest first) and words matching
    `data_word` are the fixture's data: what people typed, not the site.
    """
    remaining = without_marked(text)
    for value in sorted(data_values, key=len, reverse=True):
        if value:
            remaining = remaining.replace(value, " ")
    remaining = _GENERATED.sub(" ", _URL.sub(" ", _EMAIL.sub(" ", remaining)))
    fragments = []
    for line in remaining.splitlines():
        words = [
            word
            for word in _WORD.findall(line if data_word is None else data_word.sub(" ", line))
            if word not in UNTRANSLATABLE
        ]
        if words:
            fragments.append(" ".join(line.split()))
    return fragments


# --- Names of models and fields ------------------------------------------------------------


def unmarked_model_names(models) -> list[str]:
    """The names people read in the admin (a model's verbose names, each
    field's verbose name, help text and choice labels) that are not lazily
    translated. A name Django makes up from the class or field name is not."""
    found = []
    for model in models:
        label = model._meta.label
        for option in ("verbose_name", "verbose_name_plural"):
            if not isinstance(model._meta.original_attrs.get(option), Promise):
                found.append(f"{label}: Meta.{option} ({getattr(model._meta, option)!r})")
        for field in [*model._meta.local_fields, *model._meta.local_many_to_many]:
            if field.auto_created:
                continue
            where = f"{label}.{field.name}"
            if not isinstance(field.verbose_name, Promise):
                found.append(f"{where}: verbose_name ({field.verbose_name!r})")
            if field.help_text and not isinstance(field.help_text, Promise):
                found.append(f"{where}: help_text ({field.help_text!r})")
            for value, choice_label in field.flatchoices if field.choices else []:
                if not isinstance(choice_label, Promise) and (value, choice_label) not in (
                    settings.LANGUAGES
                ):  # the language names, each written in its own language
                    found.append(f"{where}: choice {value!r} ({choice_label!r})")
    return found


# --- Python literals handed to people -------------------------------------------------------

_MESSAGE_LEVELS = {"debug", "info", "success", "warning", "error"}
# Keyword arguments whose value people read: form fields, model fields,
# @admin.display(description=...).
_SHOWN_KEYWORDS = {"label", "help_text", "verbose_name", "verbose_name_plural", "empty_label"}
_SHOWN_KEYWORDS |= {"description"}
# Widget attributes people read or hear.
_SHOWN_WIDGET_ATTRIBUTES = {"placeholder", "aria-label", "title", "alt"}
# Attributes of the admin site and of ModelAdmins that are shown.
_SHOWN_ASSIGNMENTS = {"site_header", "site_title", "index_title", "empty_value_display"}
_SHOWN_ASSIGNMENTS |= {"short_description"}


def _plain_text(node: ast.AST) -> bool:
    """Whether `node` is text written in the source and not translated: a
    string literal with words, an f-string, or a concatenation with one."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and bool(_WORD.search(node.value))
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp):
        return _plain_text(node.left) or _plain_text(node.right)
    return False


def _shown_arguments(call: ast.Call) -> list[ast.AST]:
    function = call.func
    name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
    owner = getattr(function.value, "id", "") if isinstance(function, ast.Attribute) else ""
    shown = []
    if owner == "messages" and name in _MESSAGE_LEVELS and len(call.args) >= 2:
        shown.append(call.args[1])  # messages.success(request, message)
    if name == "add_message" and len(call.args) >= 3:
        shown.append(call.args[2])
    if name == "ValidationError" and call.args:
        shown.append(call.args[0])
    for keyword in call.keywords:
        if keyword.arg in _SHOWN_KEYWORDS:
            shown.append(keyword.value)
        elif keyword.arg == "attrs" and isinstance(keyword.value, ast.Dict):
            shown += [
                value
                for key, value in zip(keyword.value.keys, keyword.value.values, strict=True)
                if isinstance(key, ast.Constant) and key.value in _SHOWN_WIDGET_ATTRIBUTES
            ]
        elif keyword.arg == "error_messages" and isinstance(keyword.value, ast.Dict):
            shown += keyword.value.values
    return shown


def unmarked_literals(source: str, filename: str) -> list[str]:
    """The plain-text literals in `source` that a person is shown: messages
    of django.contrib.messages, ValidationErrors, labels, help texts, verbose
    names, widget placeholders, the admin's titles and descriptions."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source, filename)):
        shown: list[ast.AST] = []
        if isinstance(node, ast.Call):
            shown = _shown_arguments(node)
        elif isinstance(node, ast.Assign) and any(
            (target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", ""))
            in _SHOWN_ASSIGNMENTS
            for target in node.targets
        ):
            shown = [node.value]
        found += [(text.lineno, ast.unparse(text)[:120]) for text in shown if _plain_text(text)]
    return [f"{filename}:{line}: {text}" for line, text in sorted(found)]
