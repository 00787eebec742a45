"""Text extraction from plain text, Markdown, HTML and PDF."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader, PdfWriter

from keyrelay.common.errors import InvalidArgument
from keyrelay.common.testing.documents import pdf_with_pages
from keyrelay.rag.domain.extract import SUPPORTED_TYPES, extract_text


def encrypted(pdf: bytes, user_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.encrypt(user_password, owner_password="owner")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_plain_text_is_decoded_and_whitespace_normalised() -> None:
    raw = "\ufeff  Hello\t\t  world  \r\n\r\n\r\n\r\nSecond   paragraph\x00.\n  next line  \n".encode()
    assert extract_text(raw, "text/plain") == "Hello world\n\nSecond paragraph.\nnext line"


def test_str_content_is_accepted() -> None:
    assert extract_text("café  au lait", "text/plain") == "café au lait"


def test_invalid_utf8_is_refused_with_advice() -> None:
    with pytest.raises(InvalidArgument, match="not valid UTF-8.*re-encode"):
        extract_text(b"caf\xe9", "text/plain")


def test_charset_parameter_is_honoured_and_type_is_case_insensitive() -> None:
    assert extract_text("café".encode("latin-1"), "Text/Plain; charset=ISO-8859-1") == "café"
    with pytest.raises(InvalidArgument, match="unknown charset 'nope'"):
        extract_text(b"x", "text/plain; charset=nope")


def test_markdown_markers_vanish_and_code_keeps_its_text() -> None:
    md = "# Title\n\nSome **bold** and _it_ text, a [link](http://x.test).\n\n```\nx = 1\n```\n\n- a\n- b\n"
    text = extract_text(md.encode(), "text/markdown")
    assert text == "Title\n\nSome bold and it text, a link.\n\nx = 1\n\na\n\nb"


def test_html_drops_scripts_and_head_and_keeps_paragraphs() -> None:
    html = (
        "<html><head><title>Page title</title><style>p {color: red}</style></head><body>"
        "<script>alert('x')</script><noscript>enable js</noscript><template><p>tpl</p></template>"
        "<h1>Heading</h1><p>Hello <b>world</b>,&nbsp;&nbsp;again.</p><p>Line one<br>line two</p>"
        "</body></html>"
    )
    text = extract_text(html.encode(), "text/html; charset=utf-8")
    assert text == "Heading\n\nHello world, again.\n\nLine one\nline two"


def test_html_bytes_use_the_pages_own_charset() -> None:
    html = "<html><head><meta charset='windows-1252'></head><body><p>café</p></body></html>"
    assert extract_text(html.encode("cp1252"), "text/html") == "café"


def test_pdf_pages_are_joined_as_paragraphs() -> None:
    text = extract_text(pdf_with_pages("Hello PDF world", "Second page here"), "application/pdf")
    assert text == "Hello PDF world\n\nSecond page here"


def test_pdf_with_only_an_owner_password_is_read() -> None:
    pdf = encrypted(pdf_with_pages("Readable without a password"), user_password="")
    assert extract_text(pdf, "application/pdf") == "Readable without a password"


def test_password_protected_pdf_is_refused() -> None:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.encrypt("pw")
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(InvalidArgument, match="password-protected"):
        extract_text(out.getvalue(), "application/pdf")


@pytest.mark.parametrize("garbage", [b"", b"not a pdf at all", b"%PDF-1.4\n1 0 obj\n<< /Type"])
def test_unreadable_pdf_is_refused(garbage: bytes) -> None:
    with pytest.raises(InvalidArgument, match="could not be read as a PDF"):
        extract_text(garbage, "application/pdf")


def test_pdf_sent_as_text_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="raw bytes"):
        extract_text("%PDF-1.4", "application/pdf")


def test_unknown_type_names_the_supported_ones() -> None:
    with pytest.raises(InvalidArgument) as info:
        extract_text(b"x", "image/png")
    assert "image/png" in info.value.message
    assert all(t in info.value.message for t in SUPPORTED_TYPES)


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"  \n\t ", "text/plain"),
        (b"<script>x()</script><p> </p>", "text/html"),
        (b"<!-- only a comment -->", "text/markdown"),
    ],
)
def test_document_without_text_is_refused(content: bytes, content_type: str) -> None:
    with pytest.raises(InvalidArgument, match="no extractable text"):
        extract_text(content, content_type)


def test_pdf_without_text_is_refused() -> None:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(InvalidArgument, match="no extractable text.*OCR"):
        extract_text(out.getvalue(), "application/pdf")
