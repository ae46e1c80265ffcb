"""Reading a page image with Tesseract (English and Spanish): pure image
work, no database and no Django models.

The result is the `ocr` JSON of a LetterScan:

    {"text": str, "mean_confidence": float, "languages": ["en", "es"],
     "words": [{"text", "confidence", "box": [x, y, w, h], "start", "end"}]}

`start`/`end` index `text` (text[start:end] is the word) and boxes are pixels
of the image given to ocr_image. Words of
a line are joined by a space, lines by a newline and paragraphs by a blank
line, so a screening hit's span in the text leads back to its words' boxes
(boxes_for_span).

Handwriting reads poorly: the result helps a moderator, it never replaces
reading the page.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytesseract
from PIL import Image, ImageOps

# Tesseract's trained data for the two languages letters are written in
# (Debian's tesseract-ocr-eng and tesseract-ocr-spa), and the ISO 639-1 codes
# the rest of the project names languages by.
TESSERACT_LANGUAGES = "eng+spa"
LANGUAGES = ["en", "es"]
# One page never takes longer than this; a hung Tesseract is killed.
OCR_TIMEOUT_SECONDS = 120
PARAGRAPH_BREAK = "\n\n"
LINE_BREAK = "\n"


class OcrFailed(Exception):
    """Tesseract is missing, crashed or timed out: the page was not read."""


def ocr_image(image: Image.Image) -> dict:
    """Read `image` (any mode); return the `ocr` JSON. Raises OcrFailed."""
    try:
        rows = pytesseract.image_to_data(
            prepare(image),
            lang=TESSERACT_LANGUAGES,
            config="--psm 3",
            output_type=pytesseract.Output.DICT,
            timeout=OCR_TIMEOUT_SECONDS,
        )
    except pytesseract.TesseractNotFoundError as exc:
        raise OcrFailed("Tesseract is not installed") from exc
    except (pytesseract.TesseractError, RuntimeError, OSError) as exc:
        # RuntimeError is pytesseract's timeout; OSError a failed subprocess.
        raise OcrFailed(f"Tesseract failed: {exc}") from exc
    return _reading(rows, *image.size)


def prepare(image: Image.Image) -> Image.Image:
    """`image` as Tesseract reads it best: grey, its contrast stretched.

    Measured on typed and handwriting-font pages at 150-200 DPI with noise,
    blur and JPEG artefacts: the stretch read a few more words right on
    average. Enlarging to 300 DPI read fewer, and reducing a 400 DPI page
    read the same, so pages are read at their own size (page images are
    already at most messaging.reading.PAGE_IMAGE_MAX_SIDE)."""
    grey = ImageOps.grayscale(image) if image.mode != "L" else image
    # Nothing is clipped: with a cutoff, paper noise was stretched into
    # specks that Tesseract took minutes to read as text.
    return ImageOps.autocontrast(grey)


def _reading(rows: dict, width: int, height: int) -> dict:
    """The `ocr` JSON from image_to_data's columns."""
    text: list[str] = []
    words: list[dict] = []
    length = 0
    previous: tuple[int, int, int, int] | None = None
    for index, word in enumerate(rows["text"]):
        word = (word or "").strip()
        if rows["level"][index] != 5 or not word:
            continue
        line = (
            rows["page_num"][index],
            rows["block_num"][index],
            rows["par_num"][index],
            rows["line_num"][index],
        )
        if previous is not None:
            if line[:3] != previous[:3]:
                separator = PARAGRAPH_BREAK
            elif line != previous:
                separator = LINE_BREAK
            else:
                separator = " "
            text.append(separator)
            length += len(separator)
        previous = line
        box = _box(rows, index, width, height)
        words.append(
            {
                "text": word,
                "confidence": round(max(0.0, float(rows["conf"][index])), 1),
                "box": box,
                "start": length,
                "end": length + len(word),
            }
        )
        text.append(word)
        length += len(word)
    return {
        "text": "".join(text),
        "mean_confidence": mean_confidence(words),
        "languages": list(LANGUAGES),
        "words": words,
    }


def _box(rows: dict, index: int, width: int, height: int) -> list[int]:
    """The word's [x, y, w, h], kept inside the image."""
    x = min(max(0, rows["left"][index]), width - 1)
    y = min(max(0, rows["top"][index]), height - 1)
    w = max(1, min(rows["width"][index], width - x))
    h = max(1, min(rows["height"][index], height - y))
    return [x, y, w, h]


def mean_confidence(words: Iterable[dict]) -> float:
    """The words' mean confidence (0-100), 0 when there are none."""
    confidences = [word["confidence"] for word in words]
    if not confidences:
        return 0.0
    return round(sum(confidences) / len(confidences), 1)


def words_for_span(ocr: dict, start: int, end: int) -> list[dict]:
    """The words of `ocr` that overlap text[start:end], in reading order."""
    return [
        word
        for word in ocr.get("words", [])
        if (word["start"] < end and start < word["end"])
        # An empty span (a hit at one position) still names the word it is in.
        or (start == end and word["start"] <= start < word["end"])
    ]


def boxes_for_span(ocr: dict, start: int, end: int) -> list[list[int]]:
    """The boxes ([x, y, w, h], pixels of the page image) of the words
    covering text[start:end]: what a highlight of that span draws."""
    return [list(word["box"]) for word in words_for_span(ocr, start, end)]


def stack_readings(readings: list[tuple[dict, int, int]]) -> dict:
    """One `ocr` JSON for images stacked vertically (the pages of a PDF on one
    page image): each reading with the x and y where its image was placed.
    Texts are joined by a blank line; offsets and boxes are moved to match."""
    text: list[str] = []
    words: list[dict] = []
    length = 0
    for reading, x_offset, y_offset in readings:
        if not reading["text"]:
            continue
        if text:
            text.append(PARAGRAPH_BREAK)
            length += len(PARAGRAPH_BREAK)
        for word in reading["words"]:
            x, y, w, h = word["box"]
            words.append(
                {
                    **word,
                    "box": [x + x_offset, y + y_offset, w, h],
                    "start": word["start"] + length,
                    "end": word["end"] + length,
                }
            )
        text.append(reading["text"])
        length += len(reading["text"])
    return {
        "text": "".join(text),
        "mean_confidence": mean_confidence(words),
        "languages": list(LANGUAGES),
        "words": words,
    }
