"""PDFs for the upload tests: ordinary ones (as pypdf, Pillow and WeasyPrint
write them) and ones carrying what penpals.pdfs refuses, each a complete file
with a cross-reference table, as a real attacker's tool would write it."""

from __future__ import annotations

import io

from PIL import Image
from pypdf import PdfWriter
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    FloatObject,
    NameObject,
    NumberObject,
    TextStringObject,
)


def name(value: str) -> NameObject:
    return NameObject(value)


def action(kind: str, **entries) -> DictionaryObject:
    """An action dictionary: /S kind, and entries given as /Key: value."""
    dictionary = DictionaryObject({name("/S"): name(kind)})
    for key, value in entries.items():
        dictionary[name(f"/{key}")] = value
    return dictionary


def javascript(code: str = "app.alert(1)") -> DictionaryObject:
    return action("/JavaScript", JS=TextStringObject(code))


def written(writer: PdfWriter) -> bytes:
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def blank_writer(pages: int = 1) -> PdfWriter:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(612, 792)
    return writer


def pypdf_pdf(pages: int = 1) -> bytes:
    return written(blank_writer(pages))


def pillow_pdf(pages: int = 2) -> bytes:
    """Scanned pages saved as a PDF, as a scanner's software does."""
    images = [Image.new("RGB", (850, 1100), (250, 250, 245)) for _ in range(pages)]
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=100)
    return out.getvalue()


def weasyprint_pdf() -> bytes:
    # Through the project's import, which keeps WeasyPrint from switching on
    # Pillow's LOAD_TRUNCATED_IMAGES for the rest of the test process.
    from messaging.printing import import_weasyprint

    return (
        import_weasyprint()
        .HTML(string="<h1>Consent</h1><p>Signed.</p><a href='https://example.org'>x</a>")
        .write_pdf()
    )


def link_annotation(link_action: DictionaryObject) -> DictionaryObject:
    return DictionaryObject(
        {
            name("/Type"): name("/Annot"),
            name("/Subtype"): name("/Link"),
            name("/Rect"): ArrayObject([NumberObject(n) for n in (72, 72, 200, 100)]),
            name("/A"): link_action,
        }
    )


def pdf_with_page_annotation(annotation: DictionaryObject) -> bytes:
    writer = blank_writer()
    page = writer.pages[0]
    page[name("/Annots")] = ArrayObject([writer._add_object(annotation)])
    return written(writer)


def pdf_with_catalog(**entries) -> bytes:
    writer = blank_writer()
    for key, value in entries.items():
        writer._root_object[name(f"/{key}")] = value
    return written(writer)


def pdf_with_page(**entries) -> bytes:
    writer = blank_writer()
    for key, value in entries.items():
        writer.pages[0][name(f"/{key}")] = value
    return written(writer)


def pdf_with_form_field(**field_entries) -> bytes:
    writer = blank_writer()
    field = DictionaryObject(
        {
            name("/FT"): name("/Tx"),
            name("/T"): TextStringObject("signature_date"),
            name("/Type"): name("/Annot"),
            name("/Subtype"): name("/Widget"),
            name("/Rect"): ArrayObject(
                [FloatObject(72), FloatObject(72), FloatObject(300), FloatObject(90)]
            ),
        }
    )
    for key, value in field_entries.items():
        field[name(f"/{key}")] = value
    reference = writer._add_object(field)
    writer.pages[0][name("/Annots")] = ArrayObject([reference])
    writer._root_object[name("/AcroForm")] = DictionaryObject(
        {name("/Fields"): ArrayObject([reference])}
    )
    return written(writer)


def open_action(target) -> bytes:
    return pdf_with_catalog(OpenAction=target)


def encrypted_pdf() -> bytes:
    writer = blank_writer()
    writer.encrypt("secret")
    return written(writer)


def pdf_hiding_an_object(hidden: bytes) -> bytes:
    """The catalog's /OpenAction points at object 4, whose cross-reference
    entry is wrong: a reader that trusts the table finds nothing there, a
    viewer that repairs the table finds `hidden`."""
    objects = [
        b"<</Type/Catalog/Pages 2 0 R/OpenAction 4 0 R>>",
        b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
        b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>",
        hidden,
    ]
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    offsets[3] = 3  # inside the header: not an object
    table = len(out)
    out += b"xref\n0 5\n0000000000 65535 f \n"
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<</Size 5/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % table
    return bytes(out)


def pdf_with_digit_runs(size: int, *, in_content: bool = True, with_xref: bool = True) -> bytes:
    """A one-page PDF of about `size` bytes, nearly all of it one run of
    digits: inside the page's content stream (`in_content`), or loose between
    the header and the first object, where a regular expression over the file
    would meet it."""
    filler_size = max(size - 600, 0)
    content = b"1" * filler_size if in_content else b""
    objects = [
        b"<</Type/Catalog/Pages 2 0 R>>",
        b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
        b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]/Contents 4 0 R>>",
        b"<</Length %d>>stream\n" % len(content) + content + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    if not in_content:
        out += b"1" * filler_size + b"\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    if with_xref:
        table = len(out)
        out += b"xref\n0 5\n0000000000 65535 f \n"
        out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
        out += b"trailer\n<</Size 5/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % table
    else:
        out += b"trailer\n<</Root 1 0 R>>\n%%EOF\n"
    return bytes(out)


def mpo_jpeg() -> bytes:
    """A multi-picture JPEG as some phones and cameras write (two pictures)."""
    first = Image.new("RGB", (120, 90), (200, 120, 40))
    second = Image.new("RGB", (120, 90), (40, 120, 200))
    out = io.BytesIO()
    first.save(out, "MPO", save_all=True, append_images=[second])
    content = out.getvalue()
    assert Image.open(io.BytesIO(content)).format == "MPO"
    return content
