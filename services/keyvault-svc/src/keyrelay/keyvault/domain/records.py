"""What keyvault-svc stores in Vault KV, as plain dataclasses (no I/O).

A tenant key entry holds non-secret metadata beside `ciphertext` (Transit ciphertext per
field); the plaintext never reaches Vault's storage. Status is derived, not stored, except
for revocation: expiry and the rotation grace period follow from timestamps.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    ACTIVE = "active"
    ROTATING = "rotating"
    REVOKED = "revoked"
    EXPIRED = "expired"


def now_utc() -> datetime:
    return datetime.now(UTC)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def fingerprint(pepper: bytes, value: str) -> str:
    """HMAC-SHA256 with the platform pepper: equal values match, values cannot be guessed."""
    return hmac.new(pepper, value.encode(), hashlib.sha256).hexdigest()


@dataclass
class KeyRecord:
    key_id: str
    tenant_id: str
    service_id: str
    service_name: str
    key_type: str
    name: str
    ciphertext: dict[str, str]
    masked_fields: dict[str, str]
    primary_field: str
    fingerprint: str
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None = None
    permissions: list[str] = field(default_factory=list)
    rate_limit: int = 0
    security_level: str = "standard"
    compliance_tags: list[str] = field(default_factory=list)
    validation: dict[str, Any] = field(default_factory=dict)
    revoked_at: datetime | None = None
    revoke_reason: str = ""
    grace_until: datetime | None = None
    previous_version: int | None = None

    @property
    def masked_value(self) -> str:
        return self.masked_fields.get(self.primary_field, "")

    def status(self, at: datetime | None = None) -> Status:
        at = at or now_utc()
        if self.revoked_at:
            return Status.REVOKED
        if self.expires_at and self.expires_at <= at:
            return Status.EXPIRED
        if self.grace_until and self.grace_until > at:
            return Status.ROTATING
        return Status.ACTIVE

    def usable(self, at: datetime | None = None) -> bool:
        return self.status(at) in (Status.ACTIVE, Status.ROTATING)

    def to_kv(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for name in ("created_at", "updated_at", "expires_at", "revoked_at", "grace_until"):
            data[name] = _iso(getattr(self, name))
        return data

    @classmethod
    def from_kv(cls, data: dict[str, Any]) -> KeyRecord:
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for name in ("created_at", "updated_at", "expires_at", "revoked_at", "grace_until"):
            values[name] = _dt(values.get(name))
        return cls(**values)


@dataclass
class AccessKeyRecord:
    key_id: str
    tenant_id: str
    name: str
    role: str  # read_only | full_access | admin
    key_hash: str
    key_preview: str
    created_at: datetime
    permissions: list[str] = field(default_factory=list)
    rate_limit: int = 0
    expires_at: datetime | None = None
    revoked_at: datetime | None = None

    def status(self, at: datetime | None = None) -> Status:
        at = at or now_utc()
        if self.revoked_at:
            return Status.REVOKED
        if self.expires_at and self.expires_at <= at:
            return Status.EXPIRED
        return Status.ACTIVE

    def to_kv(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for name in ("created_at", "expires_at", "revoked_at"):
            data[name] = _iso(getattr(self, name))
        return data

    @classmethod
    def from_kv(cls, data: dict[str, Any]) -> AccessKeyRecord:
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for name in ("created_at", "expires_at", "revoked_at"):
            values[name] = _dt(values.get(name))
        return cls(**values)


def access_key_preview(key: str) -> str:
    return f"{key[:6]}...{key[-4:]}"
