"""The translation catalogues are complete, valid and in step with the code.

`make test` compiles them first (scripts/lib.sh compile_messages, which stops
on an invalid catalogue); these tests fail when a string marked in the code
has no entry, when an entry is untranslated or fuzzy, or when a translation
drops a placeholder.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import translation

ROOT = Path(settings.BASE_DIR)
OURS = ["penpals", "profiles", "messaging", "moderation", "templates", "manage.py"]
CATALOGUES = sorted((ROOT / "locale").glob("*/LC_MESSAGES/django.po"))
SPOKEN = [code for code, _name in settings.LANGUAGES if code != settings.LANGUAGE_CODE]


def test_gettext_is_installed():
    """scripts/lib.sh installs GNU gettext: without it nothing here could check."""
    assert shutil.which("msgfmt") and shutil.which("msgcat"), "apt-get install gettext"


def statistics(po: Path) -> str:
    result = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", "/dev/null", str(po)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stderr


def entries(po: Path) -> set[tuple[str, str]]:
    """(context, msgid) of every live entry, as msgcat normalises them."""
    result = subprocess.run(
        ["msgcat", "--no-wrap", "--no-location", str(po)],
        capture_output=True,
        text=True,
        check=True,
    )
    found = set()
    for block in result.stdout.split("\n\n"):
        if block.lstrip().startswith("#~"):
            continue
        context = re.search(r'^msgctxt "(.*)"$', block, re.MULTILINE)
        msgid = re.search(r'^msgid "(.*)"$', block, re.MULTILINE)
        if msgid and msgid.group(1):
            found.add((context.group(1) if context else "", msgid.group(1)))
    return found


def test_there_is_a_catalogue_for_every_language_but_the_code_s():
    assert SPOKEN, "LANGUAGES lists only the default language"
    assert [po.parts[-3] for po in CATALOGUES] == sorted(SPOKEN)


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda po: po.parts[-3])
def test_every_entry_is_translated_and_none_is_fuzzy(po):
    figures = statistics(po)
    assert "translated message" in figures
    assert "untranslated" not in figures, figures
    assert "fuzzy" not in figures, figures


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda po: po.parts[-3])
def test_the_catalogue_holds_every_string_marked_in_the_code_and_no_other(po, tmp_path):
    """makemessages over a copy of the code gives exactly the catalogue's entries."""
    for name in OURS:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, tmp_path / name)
    (tmp_path / "locale").mkdir()
    language = po.parts[-3]
    subprocess.run(
        [
            str(ROOT / ".venv/bin/python"),
            "manage.py",
            "makemessages",
            "--locale",
            language,
            "--verbosity",
            "0",
        ],
        cwd=tmp_path,
        env={"DJANGO_DEBUG": "true", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)},
        check=True,
    )
    made = tmp_path / "locale" / language / "LC_MESSAGES" / "django.po"
    missing = entries(made) - entries(po)
    stale = entries(po) - entries(made)
    assert not missing, f"marked in the code but not in {po}: {sorted(missing)[:20]}"
    assert not stale, f"in {po} but no longer in the code: {sorted(stale)[:20]}"


def test_a_translation_that_drops_a_placeholder_is_refused(tmp_path):
    """The check the catalogue passes is real: msgfmt refuses a broken entry."""
    broken = tmp_path / "django.po"
    broken.write_text(
        'msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        '#, python-format\nmsgid "Hello %(name)s"\nmsgstr "Hola"\n',
        encoding="utf-8",
    )
    result = subprocess.run(
        ["msgfmt", "--check", "-o", "/dev/null", str(broken)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0


def test_the_compiled_catalogue_is_the_one_django_reads():
    with translation.override("es"):
        assert translation.gettext("Find a pen pal") == "Buscar corresponsal"
        assert translation.ngettext(
            "Deleted after %(days)s day (retention schedule)",
            "Deleted after %(days)s days (retention schedule)",
            2,
        ) != ("Deleted after %(days)s days (retention schedule)")


@pytest.mark.django_db
def test_a_spanish_reader_gets_the_home_page_in_spanish(client: Client):
    response = client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="es-MX,es;q=0.9")
    assert response["Content-Language"] == "es"
    with translation.override("es"):
        expected = translation.gettext("Change language")
    assert expected != "Change language"
    assert expected in response.content.decode()
