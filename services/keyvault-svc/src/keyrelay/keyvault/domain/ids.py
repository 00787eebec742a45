"""Identifier rules. Every id that becomes part of a Vault path is checked here first, so
nothing like `..`, `/`, `%2e`, NUL or upper case can ever reach Vault (SPEC §4.1)."""

from __future__ import annotations

import re
import secrets

from keyrelay.common.errors import InvalidArgument
from keyrelay.common.events import TENANT_ID_PATTERN

ID_PATTERN = TENANT_ID_PATTERN  # tenant ids and every other path segment share one rule
KEY_ID_PATTERN = re.compile(r"(k|ak)_[a-z0-9]{24}")
DEFAULT_KEY_TYPE = "production"
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def _shown(value: str) -> str:
    """The rejected value as it may appear in an error: short and printable."""
    text = value[:40].encode("unicode_escape").decode("ascii")
    return text + ("..." if len(value) > 40 else "")


def check_id(kind: str, value: str) -> str:
    if not ID_PATTERN.fullmatch(value):
        raise InvalidArgument(
            f"{kind} '{_shown(value)}' is invalid: use 1 to 63 characters of a-z, 0-9, '-' or '_', "
            "starting with a letter or digit"
        )
    return value


def check_key_type(value: str) -> str:
    return check_id("key_type", value or DEFAULT_KEY_TYPE)


def check_key_id(value: str) -> str:
    if not KEY_ID_PATTERN.fullmatch(value):
        raise InvalidArgument(f"key_id '{_shown(value)}' is not a keyrelay key id (k_... or ak_...)")
    return value


def check_secret_name(value: str) -> str:
    """Platform secret names: id segments joined by '/', e.g. providers/openai/production."""
    segments = value.split("/")
    if not value or len(segments) > 8 or not all(ID_PATTERN.fullmatch(s) for s in segments):
        raise InvalidArgument(
            f"secret name '{_shown(value)}' is invalid: use segments of a-z, 0-9, '-' or '_' "
            "separated by '/', for example providers/openai/production"
        )
    return value


def new_key_id(prefix: str = "k") -> str:
    return prefix + "_" + "".join(secrets.choice(_ALPHABET) for _ in range(24))
