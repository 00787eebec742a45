"""Plain text out of an uploaded document (text, Markdown, HTML or PDF). Pure: no I/O."""

from __future__ import annotations

import io
import re

from bs4 import BeautifulSoup
from markdown_it import MarkdownIt
from pypdf import PasswordType, PdfReader
from pypdf.errors import PyPdfError

from keyrelay.common.errors import InvalidArgument

SUPPORTED_TYPES = ("text/plain", "text/markdown", "text/html", "application/pdf")

_DROPPED_TAGS = ("script", "style", "noscript", "template", "head")
# Elements after which the text starts a new paragraph; inline elements (b, a, span...) join
# their neighbours with no separator so "Hello <b>world</b>" stays "Hello world".
_BLOCK_TAGS = (
    "address article aside blockquote dd div dl dt figcaption figure footer form h1 h2 h3 h4 h5 h6 "
    "header hr li main nav ol p pre section table td th tr ul"
).split()
_SPACES = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def extract_text(content: bytes | str, content_type: str) -> str:
    """Return the document's text, normalised: runs of spaces collapsed, paragraphs
    separated by one blank line, no leading or trailing whitespace."""
    media_type, charset = _parse_content_type(content_type)
    if media_type == "text/plain":
        text = _decode(content, charset)
    elif media_type == "text/markdown":
        text = _html_text(MarkdownIt("commonmark").render(_decode(content, charset)))
    elif media_type == "text/html":
        text = _html_text(content if charset is None else _decode(content, charset))
    elif media_type == "application/pdf":
        text = _pdf_text(content)
    else:
        raise InvalidArgument(
            f"content type {content_type!r} is not supported; send one of {', '.join(SUPPORTED_TYPES)}"
        )
    text = normalize(text)
    if not text:
        raise InvalidArgument(
            "the document has no extractable text; if it is a scanned PDF or an image, "
            "run OCR first and upload the text"
        )
    return text


def normalize(text: str) -> str:
    """Collapse spaces and tabs, keep line and paragraph breaks, drop NUL (Postgres refuses it)."""
    text = text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _parse_content_type(content_type: str) -> tuple[str, str | None]:
    media_type, *params = content_type.split(";")
    charset = None
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"') or None
    return media_type.strip().lower(), charset


def _decode(content: bytes | str, charset: str | None) -> str:
    if isinstance(content, str):
        return content
    encoding = charset or "utf-8-sig"
    try:
        return content.decode(encoding)
    except LookupError:
        raise InvalidArgument(
            f"unknown charset {charset!r} in the content type; send the document as UTF-8"
        ) from None
    except UnicodeDecodeError as e:
        raise InvalidArgument(
            f"the document is not valid {encoding.removesuffix('-sig').upper()} (byte {e.start}); "
            "re-encode it as UTF-8 or name its charset in the content type"
        ) from None


def _html_text(html: bytes | str) -> str:
    # Bytes go to BeautifulSoup as is so it honours the page's own <meta charset>.
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(_DROPPED_TAGS):
        tag.decompose()
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for tag in soup.find_all(_BLOCK_TAGS):
        tag.insert_before("\n\n")
        tag.append("\n\n")
    return soup.get_text()


def _pdf_text(content: bytes | str) -> str:
    if isinstance(content, str):
        raise InvalidArgument("a PDF must be sent as raw bytes, not as text")
    try:
        reader = PdfReader(io.BytesIO(content))
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise InvalidArgument(
                "the PDF is password-protected; remove the password (or export an unprotected copy) "
                "and upload it again"
            )
        return "\n\n".join(page.extract_text() for page in reader.pages)
    except (PyPdfError, ValueError, KeyError, TypeError, IndexError) as e:
        raise InvalidArgument(
            f"the file could not be read as a PDF ({type(e).__name__}); check that it is a complete, "
            "valid PDF or upload its text instead"
        ) from None
