"""What rag-svc accepts, checked before anything is stored or searched. Every refusal says
what was wrong and what to send instead."""

from __future__ import annotations

import re
from collections.abc import Mapping

from keyrelay.common.errors import InvalidArgument

DEFAULT_TOP_K = 10
DEFAULT_ANSWER_TOP_K = 5
MAX_TOP_K = 100
MAX_QUERY_CHARS = 4_000
MAX_TITLE_CHARS = 500
MAX_METADATA_ENTRIES = 32
MAX_METADATA_CHARS = 512
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.-]{0,99}")
_MODEL = re.compile(r"[a-z0-9][a-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.:/-]{0,150}")


def collection_name(name: str) -> str:
    if not _NAME.fullmatch(name or ""):
        raise InvalidArgument(
            "collection name must be 1 to 100 characters of letters, digits, space, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    return name


def embedding_model(model: str) -> str:
    if not _MODEL.fullmatch(model):
        raise InvalidArgument(
            f"embedding_model '{model[:80]}' is not a model id: use 'local/all-MiniLM-L6-v2' or a "
            "router embedding model such as 'openai/text-embedding-3-small'"
        )
    return model


def top_k(value: int, default: int = DEFAULT_TOP_K) -> int:
    if value < 0:
        raise InvalidArgument(f"top_k must be between 1 and {MAX_TOP_K} (0 means {default})")
    return min(value or default, MAX_TOP_K)


def query(text: str, field: str = "query") -> str:
    text = (text or "").strip()
    if not text:
        raise InvalidArgument(f"{field} is empty: send the text to search for")
    if len(text) > MAX_QUERY_CHARS:
        raise InvalidArgument(f"{field} is {len(text)} characters; the limit is {MAX_QUERY_CHARS}")
    if "\x00" in text:
        raise InvalidArgument(f"{field} contains a NUL character; remove it")
    return text


def string_map(values: Mapping[str, str], field: str) -> dict[str, str]:
    """Document metadata and search filters: a few short string pairs."""
    if len(values) > MAX_METADATA_ENTRIES:
        raise InvalidArgument(f"{field} has {len(values)} entries; the limit is {MAX_METADATA_ENTRIES}")
    for key, value in values.items():
        if not key or len(key) > MAX_METADATA_CHARS or len(value) > MAX_METADATA_CHARS:
            raise InvalidArgument(
                f"{field} keys must be 1 to {MAX_METADATA_CHARS} characters and values at most "
                f"{MAX_METADATA_CHARS}"
            )
        if "\x00" in key or "\x00" in value:
            raise InvalidArgument(f"{field} contains a NUL character; remove it")
    return dict(values)


def title(text: str) -> str:
    text = (text or "").strip()
    if len(text) > MAX_TITLE_CHARS or "\x00" in text:
        raise InvalidArgument(f"title must be at most {MAX_TITLE_CHARS} characters, without NUL")
    return text


def page(size: int, token: str) -> tuple[int, int]:
    """(limit, offset) of a page request; tokens are the offsets this service handed out."""
    if size < 0:
        raise InvalidArgument("page_size must be between 1 and 1000 (0 means 50)")
    try:
        offset = int(token or 0)
    except ValueError as exc:
        raise InvalidArgument("page_token is not one this service issued; start without one") from exc
    if offset < 0:
        raise InvalidArgument("page_token is not one this service issued; start without one")
    return min(size or 50, 1000), offset
