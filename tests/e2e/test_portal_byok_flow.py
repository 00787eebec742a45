"""The BYOK flow end to end, as a new tenant lives it, over HTTP only (SPEC §7, issue 6):
the platform admin creates the tenant and its access key; the tenant stores its OpenAI key,
chats through the official openai SDK (plain and streamed), rotates the key, revokes it and
falls back to the platform key once its settings allow it; the audit log shows every step in
order and its hash chain verifies, until a row is altered in Postgres."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import asyncpg
import httpx
import openai
import pytest

from tests.e2e.harness import RunningStack
from tests.e2e.providers import Fakes

pytestmark = pytest.mark.e2e
TENANT = "flow-acme"


def openai_key() -> str:
    return "sk-" + secrets.token_hex(24)  # obviously fake, generated


async def call(stack: RunningStack, method: str, path: str, token: str, **kw: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=stack.portal_url, timeout=30) as client:
        return await client.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kw)


async def test_a_new_tenant_brings_its_key_chats_rotates_revokes_and_audits(
    stack: RunningStack, fakes: Fakes
) -> None:
    admin = (stack.data_dir / "admin-token").read_text().strip()
    created = await call(
        stack, "POST", "/v1/admin/tenants", admin, json={"tenant_id": TENANT, "name": "Acme"}
    )
    assert created.status_code in (200, 201), created.text
    issued = await call(
        stack,
        "POST",
        f"/v1/admin/tenants/{TENANT}/access-keys",
        admin,
        json={"name": "acme-app", "role": "admin"},
    )
    access_key = issued.json()["key"]
    assert access_key.startswith("kr_")

    first = openai_key()
    stored = await call(
        stack,
        "POST",
        f"/api/brain/portal/tenant/{TENANT}/api-keys",
        access_key,
        json={"service_id": "openai", "key_value": first, "name": "prod"},
    )
    body = stored.json()
    assert stored.status_code in (200, 201) and body["status"] == "stored" and body["validation"]["is_valid"]
    assert first not in stored.text and body["masked_value"] == f"{first[:4]}...{first[-4:]}"
    key_id = body["key_id"]

    sdk = openai.AsyncOpenAI(base_url=f"{stack.portal_url}/v1", api_key=access_key)
    fakes.reset()
    answer = await sdk.chat.completions.create(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )
    assert answer.choices[0].message.content
    stream = await sdk.chat.completions.create(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    streamed = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert streamed == answer.choices[0].message.content
    assert [r["api_key"] for r in fakes.requests("openai")] == [first, first]

    second = openai_key()
    rotated = await call(
        stack,
        "POST",
        f"/api/brain/tenant/api-keys/{key_id}/rotate",
        access_key,
        json={"new_key_value": second},
    )
    assert rotated.status_code == 200 and second not in rotated.text
    await sdk.chat.completions.create(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "again"}]
    )
    assert fakes.requests("openai")[-1]["api_key"] == second, "the next call must use the rotated key"

    revoked = await call(stack, "DELETE", f"/api/brain/tenant/api-keys/{key_id}", access_key)
    assert revoked.status_code in (200, 204)
    with pytest.raises(openai.NotFoundError):  # no key of its own, platform keys not allowed
        await sdk.chat.completions.create(
            model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "x"}]
        )
    platform = openai_key()
    put_platform = await call(
        stack, "PUT", "/v1/admin/platform-keys/openai", admin, json={"key_value": platform}
    )
    assert put_platform.status_code == 200 and platform not in put_platform.text
    allowed = await call(
        stack, "PUT", "/api/brain/tenant/settings", access_key, json={"allow_platform_fallback": True}
    )
    assert allowed.status_code == 200
    await asyncio.sleep(5.5)  # the router caches tenant settings for 5 s
    await sdk.chat.completions.create(model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
    assert fakes.requests("openai")[-1]["api_key"] == platform

    # Resolved once, then served from the router's cache until the rotation invalidates it.
    wanted = ["key.created", "key.resolved", "key.rotated", "key.resolved", "key.revoked"]
    records: list[dict[str, Any]] = []
    for _ in range(50):  # the projector files events a moment later
        reply = await call(stack, "GET", "/v1/audit", access_key, params={"limit": 500})
        records = reply.json()["records"]
        actions = [r["action"] for r in records if r["action"] in set(wanted)]
        if actions[: len(wanted)] == wanted:
            break
        await asyncio.sleep(0.2)
    actions = [r["action"] for r in records if r["action"] in set(wanted)]
    assert actions[: len(wanted)] == wanted, actions
    assert all(first not in str(r) and second not in str(r) for r in records)
    verify = (await call(stack, "GET", "/v1/audit/verify", access_key)).json()
    assert verify["intact"] is True and verify["records"] == len(records)

    tampered = next(r for r in records if r["action"] == "key.rotated")
    db = await asyncpg.connect(stack.database_url.replace("+asyncpg", ""))
    try:
        await db.execute(
            "UPDATE portal_audit_log SET reason = 'nothing happened' WHERE tenant_id = $1 AND seq = $2",
            TENANT,
            tampered["seq"],
        )
    finally:
        await db.close()
    broken = (await call(stack, "GET", "/v1/audit/verify", access_key)).json()
    assert broken["intact"] is False and broken["first_broken"] == tampered["seq"]
