"""portal-api's provider-key, settings and platform admin endpoints on the real stack: the
platform admin creates tenants and access keys over HTTP; tenants store, list, test, rotate
and delete provider keys through the client portal, tenant and BYOK families; roles and
tenant isolation hold on every path; no answer ever carries a provider key's value."""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.harness import RunningStack

pytestmark = pytest.mark.e2e

A, B = "keys-a", "keys-b"


@dataclass
class World:
    stack: RunningStack
    admin: str
    a_full: str
    a_reader: str
    a_admin: str
    b_full: str

    def client(self, token: str, **headers: str) -> httpx.Client:
        headers["Authorization"] = f"Bearer {token}"
        return httpx.Client(base_url=self.stack.portal_url, headers=headers, timeout=60)


def provider_key() -> str:
    return "sk-" + secrets.token_hex(24)


def is_error(reply: httpx.Response, status: int, type_: str | None = None) -> bool:
    if reply.status_code != status:
        return False
    error = reply.json()["error"]
    assert set(error) == {"type", "message", "request_id"} and error["message"]
    assert error["request_id"] == reply.headers["x-request-id"]
    return type_ is None or error["type"] == type_


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    root = Path(tempfile.mkdtemp(prefix="keyrelay-e2e-keys-"))
    # Live checks reach nothing: they must say "unverified", never "invalid".
    env = {
        "KEYRELAY_PROVIDER_OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        "KEYRELAY_ROUTER_TIMEOUT_SECONDS": "2",
    }
    with RunningStack(root / "data", env=env) as stack:
        admin = (stack.data_dir / "admin-token").read_text().strip()
        keys: dict[str, str] = {}
        with httpx.Client(
            base_url=stack.portal_url, headers={"Authorization": f"Bearer {admin}"}, timeout=60
        ) as client:
            for tenant in (A, B):
                created = client.post("/v1/admin/tenants", json={"tenant_id": tenant, "name": tenant.upper()})
                assert created.status_code == 201, created.text
                assert created.json()["status"] == "active"
            for tenant, role in ((A, "full_access"), (A, "read_only"), (A, "admin"), (B, "full_access")):
                issued = client.post(
                    f"/v1/admin/tenants/{tenant}/access-keys", json={"name": "e2e", "role": role}
                )
                assert issued.status_code == 201, issued.text
                out = issued.json()
                assert out["key"].startswith("kr_") and out["role"] == role and out["expires_at"] is None
                keys[f"{tenant}:{role}"] = out["key"]
        yield World(
            stack,
            admin,
            keys[f"{A}:full_access"],
            keys[f"{A}:read_only"],
            keys[f"{A}:admin"],
            keys[f"{B}:full_access"],
        )
    shutil.rmtree(root, ignore_errors=True)


def test_tenants_are_registered_once_and_listed(world: World) -> None:
    with world.client(world.admin) as admin:
        again = admin.post("/v1/admin/tenants", json={"tenant_id": A, "name": "again"})
        assert is_error(again, 409, "already_exists")
        listed = admin.get("/v1/admin/tenants").json()
        assert {A, B} <= {t["tenant_id"] for t in listed["tenants"]}
        unknown = admin.post("/v1/admin/tenants/nobody/access-keys", json={"name": "x", "role": "admin"})
        assert is_error(unknown, 404, "not_found")


def test_a_provider_key_is_stored_listed_tested_rotated_and_deleted(world: World) -> None:
    value, rotated_value, byok_value = provider_key(), provider_key(), provider_key()
    seen: list[httpx.Response] = []
    with world.client(world.a_full) as client:
        stored = client.post(
            f"/api/brain/portal/tenant/{A}/api-keys",
            json={"service_id": "openai", "key_value": value, "name": "main", "rate_limit": 60},
        )
        seen.append(stored)
        assert stored.status_code == 200, stored.text
        out = stored.json()
        assert out["status"] == "stored" and out["key_id"] and out["created"] is True
        assert out["vault_path"].endswith(f"tenants/{A}/api-keys/openai/production")
        assert out["masked_value"] == value[:4] + "..." + value[-4:]
        validation = out["validation"]
        assert validation["is_valid"] is True and 0 <= validation["strength_score"] <= 100
        assert isinstance(validation["issues"], list) and isinstance(validation["recommendations"], list)
        key_id = out["key_id"]

        # The three families list the same key, masked.
        for path in (
            f"/api/brain/portal/tenant/{A}/api-keys",
            "/api/brain/tenant/api-keys",
            f"/api/brain/byok/tenant/{A}/keys",
        ):
            listed = client.get(path)
            seen.append(listed)
            assert listed.status_code == 200, listed.text
            (key,) = [k for k in listed.json()["keys"] if k["key_id"] == key_id]
            assert key["key_preview"] == key["masked_value"] == out["masked_value"]
            assert key["status"] == "active" and key["name"] == "main" and key["rate_limit"] == 60

        # A candidate key is validated, and its live check cannot reach the provider: unverified.
        tested = client.post(
            f"/api/brain/portal/tenant/{A}/api-keys/test", json={"service_id": "openai", "key_value": value}
        )
        seen.append(tested)
        assert tested.status_code == 200, tested.text
        assert tested.json()["validation"]["live_check"]["result"] == "unverified"
        weak = client.post(
            "/api/brain/byok/validate-key",
            json={"service_id": "openai", "key_value": "sk-short", "live_check": False},
        )
        seen.append(weak)
        assert weak.status_code == 200 and weak.json()["validation"]["is_valid"] is False

        rotated = client.post(
            f"/api/brain/tenant/api-keys/{key_id}/rotate",
            json={"new_key_value": rotated_value, "grace_period_seconds": 30},
        )
        seen.append(rotated)
        assert rotated.status_code == 200, rotated.text
        assert rotated.json()["status"] == "rotated" and rotated.json()["key_id"] == key_id
        assert rotated.json()["masked_value"] == rotated_value[:4] + "..." + rotated_value[-4:]
        assert rotated.json()["previous_version_expires_at"] is not None

        again = client.post(
            f"/api/brain/byok/tenant/{A}/keys/{key_id}/rotate", json={"new_key_value": byok_value}
        )
        seen.append(again)
        assert again.status_code == 200 and again.json()["version"] > rotated.json()["version"]

        deleted = client.delete(f"/api/brain/portal/tenant/{A}/api-keys/openai/production")
        seen.append(deleted)
        assert deleted.status_code == 200 and deleted.json()["status"] == "revoked"
        assert deleted.json()["key_id"] == key_id
        remaining = client.get("/api/brain/tenant/api-keys").json()["keys"]
        assert key_id not in {k["key_id"] for k in remaining}
        assert is_error(
            client.post(f"/api/brain/tenant/api-keys/{key_id}/rotate", json={"new_key_value": value}), 400
        )

    for reply in seen:
        for secret in (value, rotated_value, byok_value):
            assert secret not in reply.text


def test_byok_generate_keys_and_delete_by_id(world: World) -> None:
    value = provider_key()
    with world.client(world.a_full) as client:
        services = client.get("/api/brain/byok/services").json()
        assert services["count"] >= 40 and "openai" in {s["service_id"] for s in services["services"]}
        assert client.get("/api/brain/portal/services").json()["count"] == services["count"]
        made = client.post(
            "/api/brain/byok/generate-keys",
            json={
                "tenant_id": A,
                "service_id": "openai",
                "key_type": "development",
                "api_keys": {"api_key": value},
            },
        )
        assert made.status_code == 200, made.text
        assert (
            value not in made.text and made.json()["masked_fields"]["api_key"] == made.json()["masked_value"]
        )
        key_id = made.json()["key_id"]
        gone = client.delete(f"/api/brain/byok/tenant/{A}/keys/{key_id}")
        assert gone.status_code == 200 and gone.json()["status"] == "revoked"

        # The seed's rotate-key / revoke-key name a key by service_id and key_type.
        new_value = provider_key()
        client.post(
            "/api/brain/byok/generate-keys",
            json={
                "tenant_id": A,
                "service_id": "openai",
                "key_type": "development",
                "api_keys": {"api_key": value},
            },
        ).raise_for_status()
        rotated = client.post(
            "/api/brain/byok/rotate-key",
            json={
                "tenant_id": A,
                "service_id": "openai",
                "key_type": "development",
                "new_key_value": new_value,
            },
        )
        assert (
            rotated.status_code == 200
            and rotated.json()["status"] == "rotated"
            and new_value not in rotated.text
        )
        revoked = client.delete(
            "/api/brain/byok/revoke-key",
            params={"tenant_id": A, "service_id": "openai", "key_type": "development"},
        )
        assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
        assert is_error(client.delete("/api/brain/byok/revoke-key", params={"tenant_id": A}), 422)
        assert is_error(client.delete(f"/api/brain/byok/tenant/{A}/keys/k_{'0' * 24}"), 404)


def test_settings_round_trip_and_need_the_admin_role(world: World) -> None:
    body = {
        "budget_tier": "MEDIUM",
        "preferred_providers": ["anthropic", "openai"],
        "fallback_providers": ["groq"],
        "max_monthly_cost": 25.5,
        "on_budget_exceeded": "downgrade",
        "allow_platform_fallback": False,
        "region": "eu",
    }
    with world.client(world.a_admin) as client:
        put = client.put("/api/brain/tenant/settings", json=body)
        assert put.status_code == 200, put.text
        got = client.get("/api/brain/tenant/settings").json()
    assert {k: got[k] for k in body} == body and got["tenant_id"] == A
    with world.client(world.a_admin) as client:
        partial = client.put("/api/brain/tenant/settings", json={"budget_tier": "low"}).json()
    assert partial["budget_tier"] == "LOW" and partial["preferred_providers"] == ["anthropic", "openai"]
    with world.client(world.a_reader) as client:
        assert client.get("/api/brain/tenant/settings").json()["region"] == "eu"
        assert is_error(client.put("/api/brain/tenant/settings", json=body), 403, "permission_denied")
    with world.client(world.a_full) as client:
        assert is_error(client.put("/api/brain/tenant/settings", json=body), 403, "permission_denied")
    with world.client(world.admin, **{"X-Tenant-ID": A}) as client:
        assert client.get("/api/brain/tenant/settings").json()["budget_tier"] == "LOW"


def test_another_tenants_key_is_refused_on_every_tenant_a_path(world: World) -> None:
    value = provider_key()
    with world.client(world.a_full) as client:
        key_id = client.post(
            f"/api/brain/portal/tenant/{A}/api-keys", json={"service_id": "openai", "key_value": value}
        ).json()["key_id"]
    calls: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", f"/api/brain/portal/tenant/{A}/api-keys", None),
        (
            "POST",
            f"/api/brain/portal/tenant/{A}/api-keys",
            {"service_id": "openai", "key_value": provider_key()},
        ),
        ("DELETE", f"/api/brain/portal/tenant/{A}/api-keys/openai/production", None),
        ("POST", f"/api/brain/portal/tenant/{A}/api-keys/test", {"key_id": key_id}),
        (
            "POST",
            "/api/brain/byok/generate-keys",
            {"tenant_id": A, "service_id": "openai", "api_keys": {"api_key": provider_key()}},
        ),
        ("GET", f"/api/brain/byok/tenant/{A}/keys", None),
        ("POST", f"/api/brain/byok/tenant/{A}/keys/{key_id}/rotate", {"new_key_value": provider_key()}),
        ("DELETE", f"/api/brain/byok/tenant/{A}/keys/{key_id}", None),
        ("POST", "/api/brain/byok/validate-key", {"tenant_id": A, "key_id": key_id}),
        (
            "POST",
            "/api/brain/byok/rotate-key",
            {"tenant_id": A, "key_id": key_id, "new_key_value": provider_key()},
        ),
        ("DELETE", f"/api/brain/byok/revoke-key?tenant_id={A}&key_id={key_id}", None),
    ]
    with world.client(world.b_full) as client:
        for method, path, body in calls:
            reply = client.request(method, path, json=body)
            assert is_error(reply, 403, "permission_denied"), (method, path, reply.text)
        # By key id through B's own paths, A's key is simply not B's.
        assert is_error(client.delete(f"/api/brain/tenant/api-keys/{key_id}"), 404)
        assert is_error(
            client.post(
                f"/api/brain/tenant/api-keys/{key_id}/rotate", json={"new_key_value": provider_key()}
            ),
            404,
        )
        # X-Tenant-ID cannot switch tenants either.
        with world.client(world.b_full, **{"X-Tenant-ID": A}) as switched:
            assert is_error(switched.get("/api/brain/tenant/api-keys"), 403)
    with world.client(world.a_reader) as client:
        listed = client.get("/api/brain/tenant/api-keys")
    assert key_id in {k["key_id"] for k in listed.json()["keys"]} and value not in listed.text


def test_a_read_only_key_reads_but_cannot_change_keys(world: World) -> None:
    with world.client(world.a_reader) as client:
        assert client.get(f"/api/brain/portal/tenant/{A}/api-keys").status_code == 200
        writes = [
            client.post(
                f"/api/brain/portal/tenant/{A}/api-keys",
                json={"service_id": "openai", "key_value": provider_key()},
            ),
            client.post(
                "/api/brain/tenant/api-keys", json={"service_id": "openai", "key_value": provider_key()}
            ),
            client.post("/api/brain/tenant/api-keys/k_x/rotate", json={"new_key_value": provider_key()}),
            client.delete("/api/brain/tenant/api-keys/k_x"),
            client.delete(f"/api/brain/portal/tenant/{A}/api-keys/openai/production"),
            client.post(
                f"/api/brain/byok/tenant/{A}/keys/k_x/rotate", json={"new_key_value": provider_key()}
            ),
        ]
    for reply in writes:
        assert is_error(reply, 403, "permission_denied"), reply.text


def test_bad_bodies_get_422_with_the_error_shape(world: World) -> None:
    value = provider_key()
    with world.client(world.a_admin) as client:
        bad = [
            client.post(f"/api/brain/portal/tenant/{A}/api-keys", json={"service_id": "openai"}),
            client.post(
                f"/api/brain/portal/tenant/{A}/api-keys", json={"service_id": "Open AI", "key_value": value}
            ),
            client.post(
                f"/api/brain/portal/tenant/{A}/api-keys",
                content=b"not json",
                headers={"content-type": "application/json"},
            ),
            client.post("/api/brain/tenant/api-keys/k_x/rotate", json={}),
            client.put("/api/brain/tenant/settings", json={"budget_tier": "PLATINUM"}),
            client.post(
                "/api/brain/byok/generate-keys", json={"tenant_id": A, "service_id": "openai", "api_keys": {}}
            ),
            client.post(f"/api/brain/portal/tenant/{A}/api-keys/test", json={"service_id": "openai"}),
        ]
    with world.client(world.admin) as admin:
        bad.append(admin.post("/v1/admin/tenants", json={"tenant_id": "Bad Id!", "name": "x"}))
        bad.append(admin.post(f"/v1/admin/tenants/{A}/access-keys", json={"name": "x", "role": "owner"}))
    for reply in bad:
        assert is_error(reply, 422, "invalid_request"), reply.text
        assert value not in reply.text
    # A well-formed body with a key of the wrong format is refused by keyvault-svc: 400.
    with world.client(world.a_full) as client:
        wrong = client.post(
            "/api/brain/tenant/api-keys",
            json={"service_id": "openai", "key_value": "xx-" + secrets.token_hex(24)},
        )
    assert is_error(wrong, 400, "invalid_request")


def test_platform_keys_and_vault_health_are_for_the_platform_admin_only(world: World) -> None:
    value = provider_key()
    with world.client(world.a_admin) as tenant_admin:
        for reply in (
            tenant_admin.get("/v1/admin/tenants"),
            tenant_admin.post("/v1/admin/tenants", json={"tenant_id": "sneaky", "name": "x"}),
            tenant_admin.post(f"/v1/admin/tenants/{A}/access-keys", json={"name": "x", "role": "admin"}),
            tenant_admin.put("/v1/admin/platform-keys/openai", json={"key_value": value}),
            tenant_admin.get("/v1/admin/platform-keys/openai"),
            tenant_admin.get("/api/brain/vault/health"),
            tenant_admin.delete(f"/v1/admin/tenants/{B}"),
        ):
            assert is_error(reply, 403, "permission_denied"), reply.text
    with world.client(world.admin) as admin:
        health = admin.get("/api/brain/vault/health")
        assert health.status_code == 200 and health.json()["vault_unsealed"] is True
        put = admin.put("/v1/admin/platform-keys/openai", json={"key_value": value})
        assert put.status_code == 200, put.text
        assert put.json()["masked_value"] == value[:4] + "..." + value[-4:] and value not in put.text
        got = admin.get("/v1/admin/platform-keys/openai")
        assert got.status_code == 200 and value not in got.text
        assert [k["key_type"] for k in got.json()["keys"]] == ["production"]
        assert admin.delete("/v1/admin/platform-keys/openai").json()["deleted"] == ["production"]
        assert is_error(admin.get("/v1/admin/platform-keys/openai"), 404, "not_found")
        assert is_error(admin.put("/v1/admin/platform-keys/nosuchservice", json={"key_value": value}), 404)


def test_deleting_a_tenant_shreds_its_keys_and_access_keys(world: World) -> None:
    tenant = "keys-gone"
    with world.client(world.admin) as admin:
        assert admin.post("/v1/admin/tenants", json={"tenant_id": tenant, "name": "Gone"}).status_code == 201
        key = admin.post(
            f"/v1/admin/tenants/{tenant}/access-keys", json={"name": "x", "role": "full_access"}
        ).json()["key"]
    with world.client(key) as client:
        stored = client.post(
            "/api/brain/tenant/api-keys", json={"service_id": "openai", "key_value": provider_key()}
        )
        assert stored.status_code == 200, stored.text
    with world.client(world.admin) as admin:
        deleted = admin.delete(f"/v1/admin/tenants/{tenant}")
        assert deleted.status_code == 200, deleted.text
        assert deleted.json()["keys_deleted"] >= 1 and deleted.json()["access_keys_revoked"] == 1
        assert tenant not in {t["tenant_id"] for t in admin.get("/v1/admin/tenants").json()["tenants"]}
        assert is_error(admin.post("/v1/admin/tenants", json={"tenant_id": tenant, "name": "again"}), 409)
    with world.client(key) as client:
        assert is_error(client.get("/api/brain/tenant/api-keys"), 401, "unauthenticated")
