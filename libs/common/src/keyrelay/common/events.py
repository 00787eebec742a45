"""CloudEvents 1.0 envelopes (structured JSON mode) for keyrelay's audit and usage feeds.

Every event is one JSON object carrying both the CloudEvents context attributes and the
payload under ``data`` (structured mode), so a subscriber needs no header conventions and no
code of ours: the message body alone is the event. The ``subject`` attribute is the NATS
subject the event is published on, and ``id`` doubles as the JetStream ``Nats-Msg-Id``, so a
replayed event (see ``nats_helpers.EventPublisher``) is stored once.

Subjects put the tenant in a fixed position so subscribers can filter by tenant with NATS
wildcards (``keyrelay.audit.acme.>``, ``keyrelay.usage.*``). The identifiers that go into a
subject are therefore checked here: a dot, space or wildcard in a tenant id would let one
tenant's events land under another subject (``keyrelay.audit.a.b`` for tenant ``a.b``).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

SPEC_VERSION = "1.0"
PLATFORM_TENANT = "_platform"
"""Tenant id of platform-level events (platform secrets, tenant management, ...)."""

AUDIT_SUBJECT_PREFIX = "keyrelay.audit"
USAGE_SUBJECT_PREFIX = "keyrelay.usage"
AUDIT_TYPE_PREFIX = "keyrelay.audit"
USAGE_TYPE = "keyrelay.usage.recorded"

Outcome = Literal["success", "denied", "error"]
OUTCOMES: frozenset[str] = frozenset({"success", "denied", "error"})

# Tenant ids follow the platform-wide id rule (SPEC 4.1) and are one subject token.
TENANT_ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
# An action is one or more lowercase tokens joined by dots ("key.created", "key.resolved"):
# the dots are deliberate, they let subscribers filter on "keyrelay.audit.*.key.>".
_ACTION_RE = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*")
_REQUIRED = ("id", "source", "type", "time", "subject", "tenantid", "specversion")


def _now_rfc3339() -> str:
    """The current UTC time as RFC 3339 with microseconds and a ``Z`` suffix."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _new_id() -> str:
    return uuid.uuid4().hex


def validate_tenant_id(tenant_id: str) -> str:
    """Return ``tenant_id`` if it is a subject-safe tenant id, else raise ``ValueError``."""
    if tenant_id != PLATFORM_TENANT and not TENANT_ID_PATTERN.fullmatch(tenant_id):
        raise ValueError(f"invalid tenant id for an event subject: {tenant_id!r}")
    return tenant_id


def validate_action(action: str) -> str:
    """Return ``action`` if it is dot-separated subject-safe tokens, else raise ``ValueError``."""
    if not _ACTION_RE.fullmatch(action):
        raise ValueError(f"invalid audit action for an event subject: {action!r}")
    return action


def audit_subject(tenant_id: str, action: str) -> str:
    """``keyrelay.audit.{tenant_id}.{action}``, the subject of an audit event."""
    return f"{AUDIT_SUBJECT_PREFIX}.{validate_tenant_id(tenant_id)}.{validate_action(action)}"


def usage_subject(tenant_id: str) -> str:
    """``keyrelay.usage.{tenant_id}``, the subject of a usage event."""
    return f"{USAGE_SUBJECT_PREFIX}.{validate_tenant_id(tenant_id)}"


@dataclass(frozen=True, kw_only=True)
class CloudEvent:
    """A CloudEvents 1.0 event; ``to_json`` gives the structured-mode body.

    ``tenantid`` is a CloudEvents extension attribute (lowercase alphanumerics, as the spec
    requires for extension names). Attributes this class does not know are dropped by
    ``from_json``.
    """

    source: str
    type: str
    subject: str
    tenantid: str
    data: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=_new_id)
    time: str = field(default_factory=_now_rfc3339)
    specversion: str = SPEC_VERSION
    datacontenttype: str = "application/json"

    def to_json(self) -> bytes:
        """Compact UTF-8 JSON on one line (the spool relies on there being no newline)."""
        envelope = {
            "specversion": self.specversion,
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "time": self.time,
            "subject": self.subject,
            "tenantid": self.tenantid,
            "datacontenttype": self.datacontenttype,
            "data": self.data,
        }  # built by hand: dataclasses.asdict deep-copies and costs ~4x more on the hot path
        return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> CloudEvent:
        """Parse a structured-mode event; ``ValueError`` if it is not a CloudEvents 1.0 one."""
        obj = json.loads(raw)  # json.JSONDecodeError is a ValueError
        if not isinstance(obj, dict):
            raise ValueError("a CloudEvent must be a JSON object")
        missing = [name for name in _REQUIRED if not isinstance(obj.get(name), str)]
        if missing:
            raise ValueError(f"CloudEvent without string attribute(s): {', '.join(missing)}")
        if obj["specversion"] != SPEC_VERSION:
            raise ValueError(f"unsupported CloudEvents specversion {obj['specversion']!r}")
        data = obj.get("data", {})
        if not isinstance(data, dict):
            raise ValueError("CloudEvent data must be a JSON object")
        return cls(
            id=obj["id"],
            source=obj["source"],
            type=obj["type"],
            time=obj["time"],
            subject=obj["subject"],
            tenantid=obj["tenantid"],
            data=data,
            specversion=obj["specversion"],
            datacontenttype=obj.get("datacontenttype", "application/json"),
        )


def audit_event(
    source: str,
    tenant_id: str,
    action: str,
    actor: dict[str, Any],
    resource: dict[str, Any],
    outcome: Outcome,
    reason: str | None,
    request_id: str | None,
) -> CloudEvent:
    """An audit event (SPEC 8): type ``keyrelay.audit.<action>``.

    ``actor`` is ``{"kind": ..., "id": ...}`` (access key id, admin, service) and ``resource``
    names what was acted on (service_id, key_type, key_id). Callers must never put a key
    value or a token in any of them.
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"invalid audit outcome {outcome!r}; expected one of {sorted(OUTCOMES)}")
    return CloudEvent(
        source=source,
        type=f"{AUDIT_TYPE_PREFIX}.{validate_action(action)}",
        subject=audit_subject(tenant_id, action),
        tenantid=tenant_id,
        data={
            "actor": actor,
            "action": action,
            "resource": resource,
            "outcome": outcome,
            "reason": reason,
            "request_id": request_id,
        },
    )


def usage_event(source: str, tenant_id: str, data: dict[str, Any], request_id: str | None) -> CloudEvent:
    """A usage event (one per AI call): type ``keyrelay.usage.recorded``.

    ``request_id`` is added to ``data`` so the ledger and the audit trail can be joined.
    """
    return CloudEvent(
        source=source,
        type=USAGE_TYPE,
        subject=usage_subject(tenant_id),
        tenantid=tenant_id,
        data={**data, "request_id": request_id},
    )
