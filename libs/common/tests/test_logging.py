"""The redaction filter: no secret shape survives a log line."""

from __future__ import annotations

import json
import logging

import pytest

from keyrelay.common.context import request_id_var
from keyrelay.common.logging import JsonFormatter, RedactingFilter, redact, register_secret

# Obviously fake values shaped like real credentials.
CANARIES = [
    "sk-FAKEfakeFAKEfake0123456789abcdef",
    "sk-ant-api03-FAKEfakeFAKEfake0123456789",
    "sk-or-v1-0000fake0000fake0000fake0000fake",
    "kr_FAKEfakeFAKEfake0123",
    "sk_test_FAKEfakeFAKEfake01",
    "whsec_FAKEfakeFAKEfake01",
    "ghp_FAKEfakeFAKEfakeFAKEfake01",
    "AKIA" + "FAKE" * 4,  # built, so the file holds nothing shaped like a credential
    "AIzaFAKEfakeFAKEfakeFAKEfake012",
    "s.FAKEfakeFAKEfakeFAKEfake",
    "eyJhbGciOiJIUzI1NiJ9.eyJ0ZW5hbnRfaWQiOiJ0MSJ9.c2lnbmF0dXJlZmFrZQ",
]


@pytest.mark.parametrize("secret", CANARIES)
def test_known_credential_shapes_are_masked(secret: str) -> None:
    out = redact(f"calling upstream with {secret} now")
    assert secret not in out
    assert "[REDACTED]" in out
    assert out.startswith("calling upstream with ")


def test_key_value_pairs_and_bearer_headers_are_masked() -> None:
    out = redact('{"api_key": "plainvalue123", "Authorization": "Bearer abcdefgh12345"}')
    assert "plainvalue123" not in out and "abcdefgh12345" not in out


def test_registered_exact_secret_is_masked() -> None:
    register_secret("admin-token-that-has-no-shape")
    assert "no-shape" not in redact("token admin-token-that-has-no-shape used")


def test_log_record_arguments_and_tracebacks_are_redacted() -> None:
    secret = CANARIES[0]
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "key=%s", (secret,), None)
    try:
        raise ValueError(f"bad key {secret}")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    RedactingFilter().filter(record)
    request_id_var.set("req-1")
    line = JsonFormatter("router").format(record)
    assert secret not in line
    entry = json.loads(line)
    assert entry["service"] == "router" and entry["request_id"] == "req-1"
    assert "ValueError" in entry["exception"]


def test_ordinary_text_is_untouched() -> None:
    text = "routed openai/gpt-4o-mini for tenant acme in 12 ms"
    assert redact(text) == text
