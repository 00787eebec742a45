"""Provider keys, tenant settings and platform administration on the HTTP wire. No I/O.

Request bodies of the client portal, tenant, BYOK and platform admin families (SPEC §7),
their translation to keyvault-svc and llm-router-svc messages, and the JSON answers. An
answer is built from metadata only: nothing here ever receives a stored key's value, so no
answer can carry one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from google.protobuf.message import Message
from pydantic import BaseModel, Field, field_validator, model_validator

from keyrelay.common.errors import InvalidArgument, PermissionDenied
from keyrelay.portal.domain.auth import Caller
from keyrelay.v1 import common_pb2, keyvault_pb2, router_pb2

ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
DEFAULT_KEY_TYPE = "production"
PLATFORM_PROVIDER_PREFIX = "providers/"

_STATUS = {
    keyvault_pb2.KEY_STATUS_ACTIVE: "active",
    keyvault_pb2.KEY_STATUS_ROTATING: "rotating",
    keyvault_pb2.KEY_STATUS_REVOKED: "revoked",
    keyvault_pb2.KEY_STATUS_EXPIRED: "expired",
}
_LEVEL = {
    keyvault_pb2.SECURITY_LEVEL_STANDARD: "standard",
    keyvault_pb2.SECURITY_LEVEL_HIGH: "high",
    keyvault_pb2.SECURITY_LEVEL_CRITICAL: "critical",
}
_LIVE = {
    common_pb2.LIVE_CHECK_RESULT_VALID: "valid",
    common_pb2.LIVE_CHECK_RESULT_INVALID: "invalid",
    common_pb2.LIVE_CHECK_RESULT_UNVERIFIED: "unverified",
}
ROLES: dict[str, int] = {
    "read_only": keyvault_pb2.ACCESS_KEY_ROLE_READ_ONLY,
    "full_access": keyvault_pb2.ACCESS_KEY_ROLE_FULL_ACCESS,
    "admin": keyvault_pb2.ACCESS_KEY_ROLE_ADMIN,
}
_ROLE_NAMES = {v: k for k, v in ROLES.items()}
BudgetTier = Literal["FREE", "LOW", "MEDIUM", "HIGH", "UNLIMITED"]
_TIERS: dict[str, int] = {
    "FREE": common_pb2.BUDGET_TIER_FREE,
    "LOW": common_pb2.BUDGET_TIER_LOW,
    "MEDIUM": common_pb2.BUDGET_TIER_MEDIUM,
    "HIGH": common_pb2.BUDGET_TIER_HIGH,
    "UNLIMITED": common_pb2.BUDGET_TIER_UNLIMITED,
}
_TIER_NAMES = {v: k for k, v in _TIERS.items()}
_ON_EXCEEDED = {
    "reject": router_pb2.ON_BUDGET_EXCEEDED_REJECT,
    "downgrade": router_pb2.ON_BUDGET_EXCEEDED_DOWNGRADE,
}

# -- who may act for which tenant --------------------------------------------------------


def tenant_in_path(caller: Caller, tenant_id: str) -> str:
    """The tenant a path (or body) names, when the caller may act for it: its own tenant, or
    any tenant for the platform admin. Anything else is 403, before any call is made."""
    if caller.kind == "admin" or caller.tenant_id == tenant_id:
        return tenant_id
    raise PermissionDenied(f"this access key belongs to another tenant; it may not act for '{tenant_id}'")


def require_platform_admin(caller: Caller) -> Caller:
    if caller.kind != "admin":
        raise PermissionDenied("only the platform admin may manage tenants and platform keys")
    return caller


# -- request bodies -------------------------------------------------------------------------

_KEY_VALUE = Field(min_length=1, max_length=8192)


class StoreKeyBody(BaseModel):
    """`POST .../api-keys`: a key stored (or, for an existing service/key_type, a new version)."""

    service_id: str = Field(pattern=ID_PATTERN)
    key_type: str = Field(default=DEFAULT_KEY_TYPE, pattern=ID_PATTERN)
    key_value: str = _KEY_VALUE
    name: str = Field(default="", max_length=200)
    permissions: list[str] = Field(default_factory=list, max_length=100)
    rate_limit: int = Field(default=0, ge=0, le=10_000_000)
    expires_in_days: int | None = Field(default=None, ge=0, le=36_500)


class GenerateKeysBody(BaseModel):
    """`POST /api/brain/byok/generate-keys`: one key of a (possibly multi-field) service."""

    tenant_id: str = Field(pattern=ID_PATTERN)
    service_id: str = Field(pattern=ID_PATTERN)
    api_keys: dict[str, str] = Field(min_length=1, max_length=20)
    key_type: str = Field(default=DEFAULT_KEY_TYPE, pattern=ID_PATTERN)
    name: str = Field(default="", max_length=200)
    permissions: list[str] = Field(default_factory=list, max_length=100)
    rate_limit: int = Field(default=0, ge=0, le=10_000_000)
    expires_in_days: int | None = Field(default=None, ge=0, le=36_500)

    @field_validator("api_keys")
    @classmethod
    def _fields(cls, value: dict[str, str]) -> dict[str, str]:
        for name, secret in value.items():
            if not name or len(name) > 63 or not secret or len(secret) > 8192:
                raise ValueError("each api_keys entry needs a field name and a non-empty value")
        return value


class RotateKeyBody(BaseModel):
    new_key_value: str = _KEY_VALUE
    grace_period_seconds: int = Field(default=0, ge=0, le=30 * 86_400)


class KeyRefBody(BaseModel):
    """A tenant's key named by `key_id`, or by `service_id` and `key_type`."""

    tenant_id: str = Field(pattern=ID_PATTERN)
    key_id: str | None = Field(default=None, min_length=1, max_length=100)
    service_id: str | None = Field(default=None, pattern=ID_PATTERN)
    key_type: str = Field(default=DEFAULT_KEY_TYPE, pattern=ID_PATTERN)

    @model_validator(mode="after")
    def _named(self) -> KeyRefBody:
        if (self.key_id is None) == (self.service_id is None):
            raise ValueError("name the key by key_id, or by service_id (and key_type)")
        return self

    def ref(self) -> keyvault_pb2.KeyRef:
        if self.key_id is not None:
            return keyvault_pb2.KeyRef(key_id=self.key_id)
        return keyvault_pb2.KeyRef(service_id=self.service_id or "", key_type=self.key_type)


class ByokRotateBody(KeyRefBody, RotateKeyBody):
    """`POST /api/brain/byok/rotate-key`."""


class TestKeyBody(BaseModel):
    """A candidate key (`key_value` / `api_keys`) or a stored one (`key_id`) to validate."""

    service_id: str | None = Field(default=None, pattern=ID_PATTERN)
    key_type: str = Field(default=DEFAULT_KEY_TYPE, pattern=ID_PATTERN)
    key_value: str | None = Field(default=None, min_length=1, max_length=8192)
    api_keys: dict[str, str] | None = Field(default=None, max_length=20)
    key_id: str | None = Field(default=None, min_length=1, max_length=100)
    tenant_id: str | None = Field(default=None, pattern=ID_PATTERN)
    live_check: bool = True

    @model_validator(mode="after")
    def _one_key(self) -> TestKeyBody:
        candidate = self.key_value is not None or bool(self.api_keys)
        if candidate == (self.key_id is not None):
            raise ValueError("give either key_value (or api_keys) with service_id, or key_id")
        if candidate and self.service_id is None:
            raise ValueError("service_id is required with key_value or api_keys")
        return self


class SettingsBody(BaseModel):
    """`PUT /api/brain/tenant/settings`: the fields sent replace the current ones."""

    budget_tier: BudgetTier | None = None
    preferred_providers: list[str] | None = Field(default=None, max_length=50)
    fallback_providers: list[str] | None = Field(default=None, max_length=50)
    max_monthly_cost: float | None = Field(default=None, ge=0, le=1_000_000_000)
    on_budget_exceeded: Literal["reject", "downgrade"] | None = None
    allow_platform_fallback: bool | None = None
    region: str | None = Field(default=None, max_length=32)

    @field_validator("budget_tier", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("preferred_providers", "fallback_providers")
    @classmethod
    def _providers(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not all(0 < len(p) <= 63 for p in value):
            raise ValueError("provider names are 1 to 63 characters")
        return value


class CreateTenantBody(BaseModel):
    tenant_id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)


class AccessKeyBody(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    role: Literal["read_only", "full_access", "admin"]
    permissions: list[str] = Field(default_factory=list, max_length=100)
    rate_limit: int = Field(default=0, ge=0, le=10_000_000)
    expires_in_days: int | None = Field(default=None, ge=0, le=36_500)


class PlatformKeyBody(BaseModel):
    key_value: str = _KEY_VALUE
    key_type: str = Field(default=DEFAULT_KEY_TYPE, pattern=ID_PATTERN)


# -- requests to keyvault-svc and llm-router-svc ---------------------------------------------


def put_key_request(tenant_id: str, body: StoreKeyBody | GenerateKeysBody) -> keyvault_pb2.PutKeyRequest:
    request = keyvault_pb2.PutKeyRequest(
        tenant_id=tenant_id,
        service_id=body.service_id,
        key_type=body.key_type,
        name=body.name,
        permissions=body.permissions,
        rate_limit=body.rate_limit,
        expires_in_days=body.expires_in_days or 0,
    )
    if isinstance(body, StoreKeyBody):
        request.value = body.key_value
    else:
        request.fields.update(body.api_keys)
    return request


def validate_request(tenant_id: str, body: TestKeyBody) -> keyvault_pb2.ValidateKeyRequest:
    request = keyvault_pb2.ValidateKeyRequest(
        tenant_id=tenant_id, key_type=body.key_type, live_check=body.live_check
    )
    if body.key_id is not None:
        request.key.key_id = body.key_id
    else:
        request.service_id = body.service_id or ""
        request.value = body.key_value or ""
        request.fields.update(body.api_keys or {})
    return request


def merged_settings(current: router_pb2.TenantSettings, body: SettingsBody) -> router_pb2.TenantSettings:
    """The settings to store: the current ones with the fields the body sent replaced."""
    out = router_pb2.TenantSettings()
    out.CopyFrom(current)
    out.ClearField("updated_at")
    sent = body.model_fields_set
    if "budget_tier" in sent:
        if body.budget_tier is None:
            raise InvalidArgument("budget_tier may not be null")
        out.budget_tier = _TIERS[body.budget_tier]  # type: ignore[assignment]
    for name in ("preferred_providers", "fallback_providers"):
        if name in sent:
            getattr(out, name)[:] = getattr(body, name) or []
    if "max_monthly_cost" in sent:
        if body.max_monthly_cost is None:
            out.ClearField("max_monthly_cost_usd")
        else:
            out.max_monthly_cost_usd = body.max_monthly_cost
    if "on_budget_exceeded" in sent and body.on_budget_exceeded is not None:
        out.on_budget_exceeded = _ON_EXCEEDED[body.on_budget_exceeded]  # type: ignore[assignment]
    if "allow_platform_fallback" in sent and body.allow_platform_fallback is not None:
        out.allow_platform_fallback = body.allow_platform_fallback
    if "region" in sent:
        out.region = body.region or ""
    return out


def platform_secret_name(service_id: str, key_type: str) -> str:
    return f"{PLATFORM_PROVIDER_PREFIX}{service_id}/{key_type}"


# -- answers -------------------------------------------------------------------------------


def timestamp(message: Message, field: str) -> str | None:
    """An ISO 8601 UTC time, or None when the field is unset ("none" / "never")."""
    if not message.HasField(field):
        return None
    return getattr(message, field).ToDatetime(tzinfo=UTC).isoformat()  # type: ignore[no-any-return]


def validation_json(v: keyvault_pb2.ValidationResult) -> dict[str, Any]:
    out: dict[str, Any] = {
        "is_valid": v.is_valid,
        "strength_score": v.strength_score,
        "issues": list(v.issues),
        "recommendations": list(v.recommendations),
        "pattern_matched": v.pattern_matched,
        "length": v.length,
        "entropy_bits_per_char": round(v.entropy_bits_per_char, 3),
        "compliance_checks": [
            {"name": c.name, "passed": c.passed, "message": c.message, "tag": c.tag}
            for c in v.compliance_checks
        ],
    }
    if v.live_check.result != common_pb2.LIVE_CHECK_RESULT_UNSPECIFIED:
        out["live_check"] = {
            "result": _LIVE.get(v.live_check.result, "unverified"),
            "upstream_status": v.live_check.upstream_status or None,
            "detail": v.live_check.detail,
            "latency_ms": round(v.live_check.latency_ms, 1),
        }
    return out


def key_json(k: keyvault_pb2.KeyMetadata) -> dict[str, Any]:
    """A stored key's metadata: masked, never a value."""
    return {
        "key_id": k.key_id,
        "tenant_id": k.tenant_id,
        "service_id": k.service_id,
        "service_name": k.service_name,
        "key_type": k.key_type,
        "name": k.name,
        "masked_value": k.masked_value,
        "key_preview": k.masked_value,
        "masked_fields": dict(k.masked_fields),
        "status": _STATUS.get(k.status, "active"),
        "created_at": timestamp(k, "created_at"),
        "updated_at": timestamp(k, "updated_at"),
        "expires_at": timestamp(k, "expires_at"),
        "last_used_at": timestamp(k, "last_used_at"),
        "usage_count": k.usage_count,
        "permissions": list(k.permissions),
        "rate_limit": k.rate_limit,
        "security_level": _LEVEL.get(k.security_level, "standard"),
        "compliance_tags": list(k.compliance_tags),
        "version": k.version,
        "vault_path": k.vault_path,
        "validation": validation_json(k.validation),
    }


def stored_json(reply: keyvault_pb2.PutKeyResponse) -> dict[str, Any]:
    k = reply.key
    return {
        "key_id": k.key_id,
        "tenant_id": k.tenant_id,
        "service_id": k.service_id,
        "key_type": k.key_type,
        "vault_path": k.vault_path,
        "status": "stored",
        "created": reply.created,
        "version": k.version,
        "masked_value": k.masked_value,
        "masked_fields": dict(k.masked_fields),
        "expires_at": timestamp(k, "expires_at"),
        "validation": validation_json(k.validation),
    }


def keys_json(tenant_id: str, reply: keyvault_pb2.ListKeysResponse) -> dict[str, Any]:
    keys = [key_json(k) for k in reply.keys]
    return {"tenant_id": tenant_id, "keys": keys, "count": len(keys)}


def rotated_json(reply: keyvault_pb2.RotateKeyResponse) -> dict[str, Any]:
    return {
        "key_id": reply.key.key_id,
        "status": "rotated",
        "masked_value": reply.key.masked_value,
        "version": reply.key.version,
        "previous_version": reply.previous_version,
        "previous_version_expires_at": timestamp(reply, "previous_version_expires_at"),
        "key": key_json(reply.key),
    }


def revoked_json(reply: keyvault_pb2.DeleteKeyResponse) -> dict[str, Any]:
    k = reply.key
    return {
        "key_id": k.key_id,
        "service_id": k.service_id,
        "key_type": k.key_type,
        "status": "revoked",
        "masked_value": k.masked_value,
    }


def tested_json(reply: keyvault_pb2.ValidateKeyResponse) -> dict[str, Any]:
    return {
        "validation": validation_json(reply.validation),
        "validated_at": timestamp(reply.validation, "validated_at"),
    }


def service_json(s: keyvault_pb2.ServiceInfo) -> dict[str, Any]:
    return {
        "service_id": s.service_id,
        "name": s.name,
        "category": s.category,
        "key_types": list(s.key_types),
        "primary_field": s.primary_field,
        "fields": [
            {
                "name": f.name,
                "description": f.description,
                "pattern": f.pattern or None,
                "min_length": f.min_length,
                "required": f.required,
                "secret": f.secret,
            }
            for f in s.fields
        ],
        "min_length": s.min_length,
        "compliance_tags": list(s.compliance_tags),
        "rotation_period_days": s.rotation_period_days,
        "security_level": _LEVEL.get(s.security_level, "standard"),
        "protocol_family": s.protocol_family or None,
        "live_check": s.live_check or None,
    }


def services_json(reply: keyvault_pb2.ListServicesResponse) -> dict[str, Any]:
    services = [service_json(s) for s in reply.services]
    return {"services": services, "count": len(services)}


def settings_json(s: router_pb2.TenantSettings) -> dict[str, Any]:
    return {
        "tenant_id": s.tenant_id,
        "budget_tier": _TIER_NAMES.get(s.budget_tier, "LOW"),
        "preferred_providers": list(s.preferred_providers),
        "fallback_providers": list(s.fallback_providers),
        "max_monthly_cost": s.max_monthly_cost_usd if s.HasField("max_monthly_cost_usd") else None,
        "on_budget_exceeded": "downgrade"
        if s.on_budget_exceeded == router_pb2.ON_BUDGET_EXCEEDED_DOWNGRADE
        else "reject",
        "allow_platform_fallback": s.allow_platform_fallback,
        "region": s.region,
        "tokens_per_minute": s.tokens_per_minute,
        "updated_at": timestamp(s, "updated_at"),
    }


def access_key_issued_json(reply: keyvault_pb2.IssueAccessKeyResponse) -> dict[str, Any]:
    """The one answer that carries a secret: the new `kr_...` key, shown once."""
    m = reply.metadata
    return {
        "key": reply.key,
        "key_id": m.key_id,
        "tenant_id": m.tenant_id,
        "name": m.name,
        "role": _ROLE_NAMES.get(m.role, "read_only"),
        "permissions": list(m.permissions),
        "rate_limit": m.rate_limit,
        "expires_at": timestamp(m, "expires_at"),
        "key_preview": m.key_preview,
    }


def platform_key_json(service_id: str, s: keyvault_pb2.PlatformSecretMetadata) -> dict[str, Any]:
    key_type = s.name.rsplit("/", 1)[-1]
    masked = dict(s.masked_fields)
    return {
        "service_id": service_id,
        "key_type": key_type,
        "masked_value": next(iter(masked.values()), ""),
        "masked_fields": masked,
        "version": s.version,
        "created_at": timestamp(s, "created_at"),
        "updated_at": timestamp(s, "updated_at"),
    }


def vault_health_json(h: keyvault_pb2.HealthResponse) -> dict[str, Any]:
    return {
        "status": "healthy" if h.ok else "unhealthy",
        "ok": h.ok,
        "vault_reachable": h.vault_reachable,
        "vault_unsealed": h.vault_unsealed,
        "vault_authenticated": h.vault_authenticated,
        "token_ttl_seconds": h.token_ttl_seconds,
        "message": h.message,
    }


def tenant_json(row: Any) -> dict[str, Any]:
    return {
        "tenant_id": row.tenant_id,
        "name": row.name,
        "status": row.status,
        "created_at": _iso(row.created_at),
        "deleted_at": _iso(row.deleted_at),
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None
