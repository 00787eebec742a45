"""Provider-key, settings and admin bodies to keyvault/router messages, and answers to JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from keyrelay.common.errors import PermissionDenied
from keyrelay.portal.domain import keys_wire as wire
from keyrelay.portal.domain.auth import Caller
from keyrelay.v1 import common_pb2, keyvault_pb2, router_pb2

SECRET = "sk-" + "a1b2c3d4" * 6
TENANT_A = Caller("access_key", "acme", "full_access", "ak_1")
ADMIN = Caller("admin", None, "admin")


def metadata(**fields: Any) -> keyvault_pb2.KeyMetadata:
    defaults: dict[str, Any] = {"status": keyvault_pb2.KEY_STATUS_ACTIVE}
    k = keyvault_pb2.KeyMetadata(
        key_id="k_1",
        tenant_id="acme",
        service_id="openai",
        service_name="OpenAI",
        key_type="production",
        name="main",
        masked_value="sk-a...c3d4",
        version=2,
        vault_path="keyrelay/tenants/acme/api-keys/openai/production",
        validation=keyvault_pb2.ValidationResult(
            is_valid=True, strength_score=88, issues=[], recommendations=["rotate every 90 days"]
        ),
        **{**defaults, **fields},
    )
    k.created_at.FromSeconds(1_700_000_000)
    return k


def test_a_path_tenant_must_be_the_callers_unless_the_platform_admin_calls() -> None:
    assert wire.tenant_in_path(TENANT_A, "acme") == "acme"
    assert wire.tenant_in_path(ADMIN, "other") == "other"
    with pytest.raises(PermissionDenied):
        wire.tenant_in_path(TENANT_A, "other")
    with pytest.raises(PermissionDenied):
        wire.require_platform_admin(Caller("access_key", "acme", "admin", "ak_2"))
    assert wire.require_platform_admin(ADMIN) is ADMIN


def test_store_body_defaults_to_production_and_becomes_put_key() -> None:
    body = wire.StoreKeyBody.model_validate({"service_id": "openai", "key_value": SECRET, "extra": 1})
    request = wire.put_key_request("acme", body)
    assert (request.tenant_id, request.service_id, request.key_type, request.value) == (
        "acme",
        "openai",
        "production",
        SECRET,
    )
    assert request.expires_in_days == 0 and not request.fields


@pytest.mark.parametrize(
    "fields",
    [
        {"key_value": SECRET},  # no service_id
        {"service_id": "openai"},  # no key_value
        {"service_id": "../etc", "key_value": SECRET},
        {"service_id": "openai", "key_value": SECRET, "rate_limit": -1},
        {"service_id": "openai", "key_value": SECRET, "key_type": "Prod"},
        {"service_id": "openai", "key_value": ""},
    ],
)
def test_bad_store_bodies_are_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        wire.StoreKeyBody.model_validate(fields)


def test_generate_keys_sends_every_field() -> None:
    body = wire.GenerateKeysBody.model_validate(
        {"tenant_id": "acme", "service_id": "stripe", "api_keys": {"secret_key": "sk_test_x", "pk": "pk_y"}}
    )
    request = wire.put_key_request("acme", body)
    assert dict(request.fields) == {"secret_key": "sk_test_x", "pk": "pk_y"} and request.value == ""
    with pytest.raises(ValidationError):
        wire.GenerateKeysBody.model_validate({"tenant_id": "acme", "service_id": "stripe", "api_keys": {}})


def test_a_test_body_names_a_candidate_or_a_stored_key() -> None:
    candidate = wire.validate_request(
        "acme", wire.TestKeyBody.model_validate({"service_id": "openai", "key_value": SECRET})
    )
    assert candidate.value == SECRET and candidate.live_check and not candidate.key.key_id
    stored = wire.validate_request(
        "acme", wire.TestKeyBody.model_validate({"key_id": "k_1", "live_check": False})
    )
    assert stored.key.key_id == "k_1" and not stored.value and not stored.live_check
    for bad in ({}, {"key_value": SECRET}, {"service_id": "openai", "key_value": SECRET, "key_id": "k_1"}):
        with pytest.raises(ValidationError):
            wire.TestKeyBody.model_validate(bad)


def test_key_json_carries_metadata_and_the_masked_value_only() -> None:
    out = wire.key_json(metadata())
    assert out["masked_value"] == out["key_preview"] == "sk-a...c3d4"
    assert out["status"] == "active" and out["version"] == 2
    assert out["created_at"] == "2023-11-14T22:13:20+00:00" and out["expires_at"] is None
    assert out["validation"]["strength_score"] == 88 and "live_check" not in out["validation"]
    assert "value" not in out and "fingerprint" not in out


def test_stored_json_has_the_seed_shape() -> None:
    out = wire.stored_json(keyvault_pb2.PutKeyResponse(key=metadata(), created=True))
    assert out["status"] == "stored" and out["key_id"] == "k_1"
    assert out["vault_path"] == "keyrelay/tenants/acme/api-keys/openai/production"
    assert {"is_valid", "strength_score", "issues", "recommendations"} <= set(out["validation"])
    json.dumps(out)


def test_live_check_result_is_reported_by_name() -> None:
    v = keyvault_pb2.ValidationResult(
        is_valid=True,
        live_check=common_pb2.LiveCheck(result=common_pb2.LIVE_CHECK_RESULT_UNVERIFIED, detail="timeout"),
    )
    live = wire.validation_json(v)["live_check"]
    assert live["result"] == "unverified" and live["upstream_status"] is None


def test_rotated_and_revoked_answers() -> None:
    reply = keyvault_pb2.RotateKeyResponse(key=metadata(), previous_version=1)
    rotated = wire.rotated_json(reply)
    assert rotated["status"] == "rotated" and rotated["previous_version"] == 1
    assert rotated["previous_version_expires_at"] is None
    revoked = wire.revoked_json(
        keyvault_pb2.DeleteKeyResponse(key=metadata(status=keyvault_pb2.KEY_STATUS_REVOKED))
    )
    assert revoked == {
        "key_id": "k_1",
        "service_id": "openai",
        "key_type": "production",
        "status": "revoked",
        "masked_value": "sk-a...c3d4",
    }


def current_settings() -> router_pb2.TenantSettings:
    s = router_pb2.TenantSettings(
        tenant_id="acme",
        budget_tier=common_pb2.BUDGET_TIER_LOW,
        preferred_providers=["openai"],
        allow_platform_fallback=True,
        tokens_per_minute=1000,
    )
    s.max_monthly_cost_usd = 50
    s.updated_at.FromSeconds(1_700_000_000)
    return s


def test_settings_put_replaces_only_the_fields_sent() -> None:
    body = wire.SettingsBody.model_validate(
        {"budget_tier": "high", "fallback_providers": ["anthropic"], "on_budget_exceeded": "downgrade"}
    )
    out = wire.settings_json(wire.merged_settings(current_settings(), body))
    assert out["budget_tier"] == "HIGH" and out["on_budget_exceeded"] == "downgrade"
    assert out["preferred_providers"] == ["openai"] and out["fallback_providers"] == ["anthropic"]
    assert out["max_monthly_cost"] == 50 and out["allow_platform_fallback"] is True
    assert out["tokens_per_minute"] == 1000 and out["updated_at"] is None


def test_a_null_max_monthly_cost_removes_the_limit() -> None:
    body = wire.SettingsBody.model_validate({"max_monthly_cost": None, "region": "eu"})
    merged = wire.merged_settings(current_settings(), body)
    assert not merged.HasField("max_monthly_cost_usd") and merged.region == "eu"
    assert wire.settings_json(merged)["max_monthly_cost"] is None


@pytest.mark.parametrize(
    "fields",
    [{"budget_tier": "PLATINUM"}, {"on_budget_exceeded": "ignore"}, {"max_monthly_cost": -1}],
)
def test_bad_settings_are_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        wire.SettingsBody.model_validate(fields)


def test_access_key_and_tenant_bodies() -> None:
    with pytest.raises(ValidationError):
        wire.AccessKeyBody.model_validate({"name": "ci", "role": "owner"})
    with pytest.raises(ValidationError):
        wire.CreateTenantBody.model_validate({"tenant_id": "Acme Corp", "name": "Acme"})
    meta = keyvault_pb2.AccessKeyMetadata(
        key_id="ak_1", tenant_id="acme", name="ci", role=keyvault_pb2.ACCESS_KEY_ROLE_READ_ONLY
    )
    out = wire.access_key_issued_json(keyvault_pb2.IssueAccessKeyResponse(key="kr_abc", metadata=meta))
    assert out["key"] == "kr_abc" and out["role"] == "read_only" and out["expires_at"] is None


def test_platform_key_json_is_masked_and_names_the_key_type() -> None:
    secret = keyvault_pb2.PlatformSecretMetadata(
        name="providers/openai/production", masked_fields={"api_key": "sk-p...9xyz"}, version=3
    )
    out = wire.platform_key_json("openai", secret)
    assert out["key_type"] == "production" and out["masked_value"] == "sk-p...9xyz" and out["version"] == 3
    assert wire.platform_secret_name("openai", "production") == "providers/openai/production"


def test_service_json_lists_fields_without_secrets() -> None:
    info = keyvault_pb2.ServiceInfo(
        service_id="stripe",
        name="Stripe",
        category="payment",
        key_types=["production", "test"],
        primary_field="secret_key",
        fields=[keyvault_pb2.KeyField(name="secret_key", pattern="^sk_", required=True, secret=True)],
        security_level=keyvault_pb2.SECURITY_LEVEL_CRITICAL,
    )
    out = wire.services_json(keyvault_pb2.ListServicesResponse(services=[info]))
    assert out["count"] == 1
    service = out["services"][0]
    assert service["security_level"] == "critical" and service["fields"][0]["pattern"] == "^sk_"
    assert service["protocol_family"] is None


def test_a_key_is_named_by_id_or_by_service_and_key_type() -> None:
    by_id = wire.KeyRefBody.model_validate({"tenant_id": "acme", "key_id": "k_1"}).ref()
    assert by_id.key_id == "k_1" and not by_id.service_id
    by_service = wire.ByokRotateBody.model_validate(
        {"tenant_id": "acme", "service_id": "openai", "new_key_value": SECRET}
    )
    assert (by_service.ref().service_id, by_service.ref().key_type) == ("openai", "production")
    for bad in ({"tenant_id": "acme"}, {"tenant_id": "acme", "key_id": "k_1", "service_id": "openai"}):
        with pytest.raises(ValidationError):
            wire.KeyRefBody.model_validate(bad)
