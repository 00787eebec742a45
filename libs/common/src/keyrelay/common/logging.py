"""Structured JSON logging with one redaction filter for every service.

`configure_logging("router")` sends JSON lines to stderr with `service`, `request_id` and
`tenant_id`. Every record passes `redact()`, which masks anything shaped like a provider
key, an access key, a Vault token, a JWT or a bearer credential, plus any exact value
registered with `register_secret()` (the launcher registers the admin token, for example).
The filter works on the final message and on exception text, so a secret cannot leak
through `%s` arguments or a traceback.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Iterable

from keyrelay.common.context import request_id_var, tenant_id_var

REDACTED = "[REDACTED]"

# Shapes of credentials we know. Prefixes are kept so a log still says *what* it was.
_PATTERNS: list[re.Pattern[str]] = [
    re.compile(r"\b(sk-(?:ant-|or-v1-|proj-)?)[A-Za-z0-9_\-]{8,}"),  # OpenAI, Anthropic, OpenRouter
    re.compile(r"\b(kr_)[A-Za-z0-9_\-]{8,}"),  # keyrelay access keys
    re.compile(r"\b([sr]k_(?:live|test)_)[A-Za-z0-9]{8,}"),  # Stripe secret/restricted
    re.compile(r"\b(pk_(?:live|test)_)[A-Za-z0-9]{8,}"),
    re.compile(r"\b(whsec_)[A-Za-z0-9]{8,}"),
    re.compile(r"\b(rzp_(?:live|test)_)[A-Za-z0-9]{6,}"),
    re.compile(r"\b(gh[pousr]_)[A-Za-z0-9]{16,}"),
    re.compile(r"\b(xox[abposr]-)[A-Za-z0-9\-]{8,}"),
    re.compile(r"\b(AKIA)[0-9A-Z]{12,}"),
    re.compile(r"\b(AIza)[0-9A-Za-z_\-]{20,}"),
    re.compile(r"\b(SG\.)[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}"),
    re.compile(r"\b((?:hv|hvs|s|b)\.)[A-Za-z0-9]{20,}"),  # Vault/OpenBao tokens
    re.compile(r"\b(eyJ)[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]*"),  # JWT
    re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9_\-\.=]{8,}"),
    re.compile(
        r"(?i)((?:api[_-]?key|secret(?:_id)?|token|password|authorization)[\"']?\s*[:=]\s*[\"']?)"
        r"[^\s\"',}]{6,}"
    ),
]

_exact_secrets: set[str] = set()


def register_secret(value: str) -> None:
    """Mask this exact value wherever it appears in a log line from now on."""
    if value and len(value) >= 6:
        _exact_secrets.add(value)


def redact(text: str) -> str:
    for secret in _exact_secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    return text


class RedactingFilter(logging.Filter):
    """Renders the message once, redacted, so handlers never see raw arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if (request_id := request_id_var.get()) is not None:
            entry["request_id"] = request_id
        if (tenant_id := tenant_id_var.get()) is not None:
            entry["tenant_id"] = tenant_id
        for key in getattr(record, "fields", None) or {}:
            entry[key] = record.fields[key]  # type: ignore[attr-defined]
        if record.exc_text:
            entry["exception"] = record.exc_text
        return redact(json.dumps(entry, default=str))


def configure_logging(
    service: str, level: str = "INFO", json_lines: bool = True, quiet: Iterable[str] = ()
) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    if json_lines:
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(logging.Formatter(f"%(asctime)s {service} %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("httpx", "httpcore", "hpack", "nats", "asyncio", *quiet):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
