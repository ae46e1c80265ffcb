"""Reading a page image with Tesseract (English and Spanish): pure image
work, no database and no Django models.

The result is the `ocr` JSON of a LetterScan:

    {"text": str, "mean_confidence": float, "languages": ["en", "es"],
     "words": [{"text", "confidence", "box": [x, y, w, h], "start", "end"}]}

`start`/`end` index `text` (text[start:end] is the word) and boxes are pixels
of the image given to ocr_image, whatever size Tesseract was shown. Words of
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
# A page wider than this (a phone photo, a 600 DPI scan) is read reduced to
# OCR_TARGET_WIDTH, about 300 DPI across a letter-size page, and its boxes
# scaled back. Narrower pages are read as they are: enlarging a 150-200 DPI
# scan read worse on our test pages (see the module's tests).
OCR_MAX_WIDTH = 3600
OCR_TARGET_WIDTH = 2550
PARAGRAPH_BREAK = "\n\n"
LINE_BREAK = "\n"


class OcrFailed(Exception):
    """Tesseract is missing, crashed or timed out: the page was not read."""


def ocr_image(image: Image.Image) -> dict:
    """Read `image` (any mode); return the `ocr` JSON. Raises OcrFailed."""
    width, height = image.size
    prepared, scale = prepare(image)
    try:
        rows = pytesseract.image_to_data(
            prepared,
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
    return _reading(rows, scale, width, height)


def prepare(image: Image.Image) -> tuple[Image.Image, float]:
    """`image` as Tesseract reads it best: grey, contrast stretched, at most
    OCR_MAX_WIDTH wide. Returns it and the scale applied (boxes are divided by it)."""
    grey = ImageOps.grayscale(image) if image.mode != "L" else image
    # Pale pencil on grey paper gets the full range. Nothing is clipped: with
    # a cutoff, paper noise was stretched into specks Tesseract read as text.
    grey = ImageOps.autocontrast(grey)
    if grey.width <= OCR_MAX_WIDTH:
        return grey, 1.0
    scale = OCR_TARGET_WIDTH / grey.width
    size = (OCR_TARGET_WIDTH, max(1, round(grey.height * scale)))
    return grey.resize(size, Image.Resampling.LANCZOS), scale


def _reading(rows: dict, scale: float, width: int, height: int) -> dict:
    """The `ocr` JSON from image_to_data's columns, boxes back in the caller's pixels."""
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
        box = _box_in_caller_pixels(rows, index, scale, width, height)
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


def _box_in_caller_pixels(
    rows: dict, index: int, scale: float, width: int, height: int
) -> list[int]:
    left = rows["left"][index] / scale
    top = rows["top"][index] / scale
    right = (rows["left"][index] + rows["width"][index]) / scale
    bottom = (rows["top"][index] + rows["height"][index]) / scale
    x, y = max(0, int(left)), max(0, int(top))
    # Rounded outwards, so the box still covers the whole word.
    x2, y2 = min(width, -int(-right // 1)), min(height, -int(-bottom // 1))
    return [x, y, max(1, x2 - x), max(1, y2 - y)]


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
