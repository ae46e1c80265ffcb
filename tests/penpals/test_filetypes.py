import pytest

from penpals import filetypes, pdfs


@pytest.mark.parametrize(
    ("head", "name"),
    [
        (b"%PDF-1.7\n%\xe2\xe3", "pdf"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "png"),
        (b"GIF89a\x01\x00", "gif"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "webp"),
        (b"\x00\x00\x00\x18ftypheic", "heic"),
        (b"PK\x03\x04", None),
        (b"", None),
    ],
)
def test_it_types_a_file_by_its_first_bytes(head, name):
    found = filetypes.sniff(head)
    assert (found.name if found else None) == name


def test_the_pdf_check_uses_the_same_signature():
    # penpals/pdfs.py runs as a standalone child script and keeps its own copy.
    assert pdfs.PDF_MAGIC == filetypes.PDF.signature
