"""The one check every uploaded PDF passes (consent forms, scanned replies).

A PDF is accepted when pypdf can read it within a time and memory budget and
none of its objects can make a viewer do anything by itself. Refused, each
with a reason the uploader can act on:

- cut short (no %%EOF near the end), damaged beyond repair, or without pages;
- encrypted or password-protected (it cannot be checked);
- JavaScript anywhere (/JS, /JavaScript actions or name trees), launch
  actions, embedded or attached files, additional actions (/AA on the
  catalog, a page, an annotation or a form field: they run on open, close,
  focus or keystrokes), an /OpenAction that is anything but "go to a page",
  form submission (/SubmitForm), /ImportData, links into other files
  (/GoToR, /GoToE), XFA forms and embedded media (sound, movies, 3D, rich
  media). Ordinary links (/URI) and page navigation are fine;
- more than PDF_MAX_PAGES pages or PDF_MAX_OBJECTS objects, or more than
  PDF_CHECK_SECONDS of work or PDF_CHECK_MEMORY_BYTES of memory.

Every object is read twice: as the file's cross-reference table says, and as
a repairing viewer would find it by scanning the file for objects. An object
the table hides (or points at wrongly) is still checked, so a file cannot
show us one document and a forgiving viewer another.

pypdf runs in a child process (this file run as a script, without Django),
so a file that makes the parser loop, recurse or allocate without end costs
one bounded child, never a web worker: the child is killed at the deadline,
has an address-space and CPU limit, and whatever it raises or however it
dies, the upload is refused with a message. Names are compared after pypdf
has undone #xx escapes (/J#61vaScript is /JavaScript), and objects inside
compressed object streams are read like any other.
"""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from pathlib import Path

from django.utils.translation import gettext_lazy as _

# The child check runs this file as a script, importing nothing of ours: the
# signature is penpals.filetypes.PDF's, repeated (tests/penpals/test_filetypes.py).
PDF_MAGIC = b"%PDF-"
# Where %%EOF must appear: a few trailing bytes (line ends, padding) are usual.
PDF_TRAILER_WINDOW = 1024
# Wall-clock budget for one file, start-up of the child included (about 0.3 s).
PDF_CHECK_SECONDS = 6.0
PDF_CHECK_MEMORY_BYTES = 1_500_000_000
PDF_MAX_PAGES = 2_000
PDF_MAX_OBJECTS = 200_000
# Dictionaries, arrays and values visited across all objects.
PDF_MAX_NODES = 5_000_000

logger = logging.getLogger(__name__)

# Shown to the uploader in the active language (str() of a PdfRefused). Django's
# translation is the one import of the child check beyond the standard library.
REFUSALS = {
    "incomplete": _("this PDF looks incomplete; upload it again."),
    "damaged": _(
        "this PDF is damaged and cannot be read. Save or export it again, or upload the pages as images."
    ),
    "no_pages": _(
        "this PDF has no pages we can read. Save or export it again, or upload the pages as images."
    ),
    "encrypted": _(
        "this PDF is encrypted or password-protected, so it cannot be checked. Save it without a password, or upload the pages as images."
    ),
    "javascript": _(
        "this PDF contains JavaScript, which we do not accept. Print it and scan the paper, or upload the pages as images."
    ),
    "launch": _(
        "this PDF contains a launch action, which we do not accept. Print it and scan the paper, or upload the pages as images."
    ),
    "embedded": _(
        "this PDF contains embedded files, which we do not accept. Print it and scan the paper, or upload the pages as images."
    ),
    "additional_actions": _(
        "this PDF contains actions that run when it is opened or used (/AA), which we do not accept. Print it and scan the paper, or upload the pages as images."
    ),
    "open_action": _(
        "this PDF contains an action that runs when it is opened, which we do not accept. Print it and scan the paper, or upload the pages as images."
    ),
    "submit_form": _(
        "this PDF contains a form that sends data elsewhere, which we do not accept. Print it and scan the paper, or upload the pages as images."
    ),
    "import_data": _(
        "this PDF contains a form that imports data, which we do not accept. Print it and scan the paper, or upload the pages as images."
    ),
    "remote_goto": _(
        "this PDF contains links that open other files, which we do not accept. Print it and scan the paper, or upload the pages as images."
    ),
    "xfa": _(
        "this PDF contains an XFA form, which we do not accept. Print it and scan the paper, or upload the pages as images."
    ),
    "media": _(
        "this PDF contains embedded media, which we do not accept. Print it and scan the paper, or upload the pages as images."
    ),
    # %(pages)s is filled in by PdfRefused.
    "too_many_pages": _(
        "this PDF has more than %(pages)s pages. Split it into smaller files, "
        "or upload the pages as images."
    ),
    "too_complex": _(
        "this PDF is built in a way too large or complex for us to check. Save or export it again, or upload the pages as images."
    ),
    "timeout": _(
        "this PDF took too long to check, so it was not accepted. Save or export it again, or upload the pages as images."
    ),
    "not_checked": _(
        "this PDF could not be checked. Save or export it again, or upload the pages as images."
    ),
}


class PdfRefused(Exception):
    """The PDF is not accepted; `reason` is a key of REFUSALS, str() its message."""

    def __init__(self, reason: str):
        super().__init__(str(REFUSALS[reason]) % {"pages": PDF_MAX_PAGES})
        self.reason = reason


# --- The parent side: what callers use ----------------------------------------------------


def check_pdf(content: bytes) -> int:
    """The number of pages of an acceptable PDF, or PdfRefused.

    `content` is the whole file (the caller has bounded its size). Blocks for
    at most PDF_CHECK_SECONDS.
    """
    if not content.startswith(PDF_MAGIC) or b"%%EOF" not in content[-PDF_TRAILER_WINDOW:]:
        raise PdfRefused("incomplete")
    outcome = run_inspection(content)
    if outcome.get("verdict") != "ok":
        raise PdfRefused(outcome.get("verdict", "not_checked"))
    return int(outcome["pages"])


def run_inspection(content: bytes) -> dict:
    """`inspect_pdf(content)`, run in a child process within the budget."""
    try:
        completed = subprocess.run(  # noqa: S603 (our own interpreter and script, no shell)
            [sys.executable, "-I", str(Path(__file__).resolve())],
            input=content,
            capture_output=True,
            timeout=PDF_CHECK_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        # subprocess.run has killed and reaped the child.
        return {"verdict": "timeout"}
    except OSError:
        logger.exception("Could not start the PDF check")
        return {"verdict": "not_checked"}
    try:
        outcome = json.loads(completed.stdout.decode())
    except ValueError:
        outcome = None
    if completed.returncode != 0 or not isinstance(outcome, dict):
        # Killed by the CPU or memory limit, or a crash in the parser.
        logger.warning(
            "The PDF check ended with code %s: %s",
            completed.returncode,
            completed.stderr[-2000:].decode(errors="replace"),
        )
        return {"verdict": "not_checked"}
    if outcome.get("verdict") not in REFUSALS and outcome.get("verdict") != "ok":
        return {"verdict": "not_checked"}
    return outcome


# --- The child side: pypdf, without Django -----------------------------------------------

# Appended to make pypdf rebuild the cross-reference table from the objects it
# finds in the file, as a repairing viewer does.
_FORCE_REPAIR = b"\nstartxref\n0\n%%EOF\n"

_FORBIDDEN_ACTIONS = {
    "/JavaScript": "javascript",
    "/Launch": "launch",
    "/SubmitForm": "submit_form",
    "/ImportData": "import_data",
    "/GoToR": "remote_goto",
    "/GoToE": "remote_goto",
    "/Rendition": "media",
    "/Movie": "media",
    "/Sound": "media",
    "/RichMediaExecute": "media",
    "/GoTo3DView": "media",
}
_FORBIDDEN_KEYS = {
    "/JS": "javascript",
    "/JavaScript": "javascript",
    "/AA": "additional_actions",
    "/EmbeddedFiles": "embedded",
    "/EF": "embedded",
    "/XFA": "xfa",
    "/RichMediaContent": "media",
    # Only meaningful in the trailer, where it is checked first; anywhere else
    # it is a sign of a file built to confuse.
    "/Encrypt": "encrypted",
}
_FORBIDDEN_TYPES = {
    "/EmbeddedFile": "embedded",
    "/FileAttachment": "embedded",
    "/RichMedia": "media",
    "/3D": "media",
    "/Movie": "media",
    "/Sound": "media",
    "/Screen": "media",
}
# What an /OpenAction may do: show a page (a destination array, or a GoTo action).
_HARMLESS_OPEN_ACTIONS = {"/GoTo"}


class _Verdict(Exception):
    def __init__(self, verdict: str):
        super().__init__(verdict)
        self.verdict = verdict


def inspect_pdf(content: bytes) -> dict:
    """{"verdict": "ok", "pages": n} or {"verdict": <key of REFUSALS>}. Never raises."""
    try:
        return {"verdict": "ok", "pages": _inspect(content)}
    except _Verdict as verdict:
        return {"verdict": verdict.verdict}
    except (MemoryError, RecursionError):
        return {"verdict": "too_complex"}
    except Exception:  # any parser error means the file cannot be read
        return {"verdict": "damaged"}


def _inspect(content: bytes) -> int:
    # pypdf loads in the child process only (see above).
    from pypdf import PdfReader

    readers = []
    for data in (content, content + _FORCE_REPAIR):
        try:
            readers.append(PdfReader(io.BytesIO(data), strict=False))
        except (MemoryError, RecursionError):
            raise
        except Exception:  # noqa: S112 (the other reading may still work)
            continue
    if not readers:
        raise _Verdict("damaged")
    for reader in readers:
        if "/Encrypt" in reader.trailer:
            raise _Verdict("encrypted")
    nodes = 0
    for reader in readers:
        nodes = _check_objects(reader, nodes)
    for reader in readers:
        try:
            pages = len(reader.pages)
        except (MemoryError, RecursionError):
            raise
        except Exception:  # noqa: S112 (try the repaired reading)
            continue
        if pages > PDF_MAX_PAGES:
            raise _Verdict("too_many_pages")
        if pages > 0:
            return pages
    raise _Verdict("no_pages")


def _object_references(reader) -> list[tuple[int, int]]:
    references = [
        (number, generation)
        for generation, entries in reader.xref.items()
        for number in entries
        if generation != 65535
    ]
    references += [(number, 0) for number in reader.xref_objStm]
    if len(references) > PDF_MAX_OBJECTS:
        raise _Verdict("too_complex")
    return references


def _check_objects(reader, nodes: int) -> int:
    """Walk the trailer and every object the reader knows of; the running node count."""
    # pypdf loads in the child process only (see above).
    from pypdf.generic import IndirectObject

    roots = [reader.trailer]
    for number, generation in _object_references(reader):
        try:
            roots.append(reader.get_object(IndirectObject(number, generation, reader)))
        except (MemoryError, RecursionError):
            raise
        except Exception:  # noqa: S112
            # Not an object (a repair scan also finds "1 0 obj" in text); a
            # viewer cannot use it either.
            continue
    for root in roots:
        nodes = _walk(reader, root, nodes)
    return nodes


def _walk(reader, root, nodes: int) -> int:
    """Check every dictionary inside `root`, iteratively (no recursion limit to meet).

    Indirect references are not followed: every object is walked on its own.
    """
    # pypdf loads in the child process only (see above).
    from pypdf.generic import ArrayObject, DictionaryObject

    stack = [root]
    while stack:
        value = stack.pop()
        nodes += 1
        if nodes > PDF_MAX_NODES:
            raise _Verdict("too_complex")
        if isinstance(value, DictionaryObject):
            _check_dictionary(reader, value)
            stack.extend(dict.values(value))
        elif isinstance(value, ArrayObject):
            stack.extend(list.__iter__(value))
    return nodes


def _name(reader, value) -> str | None:
    """A name value (followed through one indirect reference), else None."""
    # pypdf loads in the child process only (see above).
    from pypdf.generic import IndirectObject, NameObject

    if isinstance(value, IndirectObject):
        try:
            value = reader.get_object(value)
        except Exception:
            return None
    return str(value) if isinstance(value, NameObject) else None


def _check_dictionary(reader, dictionary) -> None:
    # pypdf loads in the child process only (see above).
    from pypdf.generic import DictionaryObject, IndirectObject

    for key in dict.keys(dictionary):
        if key in _FORBIDDEN_KEYS:
            raise _Verdict(_FORBIDDEN_KEYS[key])
    action = _name(reader, dict.get(dictionary, "/S"))
    if action in _FORBIDDEN_ACTIONS:
        raise _Verdict(_FORBIDDEN_ACTIONS[action])
    for key in ("/Type", "/Subtype"):
        kind = _name(reader, dict.get(dictionary, key))
        if kind in _FORBIDDEN_TYPES:
            raise _Verdict(_FORBIDDEN_TYPES[kind])
    open_action = dict.get(dictionary, "/OpenAction")
    if isinstance(open_action, IndirectObject):
        try:
            open_action = reader.get_object(open_action)
        except Exception:
            raise _Verdict("damaged") from None
    if isinstance(open_action, DictionaryObject):
        kind = _name(reader, dict.get(open_action, "/S"))
        if kind in _FORBIDDEN_ACTIONS:
            raise _Verdict(_FORBIDDEN_ACTIONS[kind])
        if kind not in _HARMLESS_OPEN_ACTIONS:
            raise _Verdict("open_action")


def _limit_resources() -> None:
    # Unix only, and needed in the child alone.
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (PDF_CHECK_MEMORY_BYTES, PDF_CHECK_MEMORY_BYTES))
    seconds = int(PDF_CHECK_SECONDS) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds))


def main() -> None:
    """Read a PDF on standard input, write inspect_pdf's outcome as JSON."""
    _limit_resources()
    # pypdf reports what it repairs through logging; nobody reads it here.
    logging.disable(logging.CRITICAL)
    # pypdf would import the cryptography package for encrypted files, which
    # are refused unread: skip the import time.
    sys.modules["cryptography"] = None  # type: ignore[assignment]
    content = sys.stdin.buffer.read()
    sys.stdout.write(json.dumps(inspect_pdf(content)))


if __name__ == "__main__":
    main()
