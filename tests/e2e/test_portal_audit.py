"""The audit projector and `/v1/audit` on the real stack: keyvault-svc's audit events reach
Postgres through the durable consumer, each tenant sees only its own, in order, and
`/v1/audit/verify` notices a record changed behind the projector's back."""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import httpx
import pytest

from keyrelay.common.rpc import secure_channel
from keyrelay.v1 import keyvault_pb2, keyvault_pb2_grpc
from tests.e2e.harness import RunningStack

pytestmark = pytest.mark.e2e

A, B = "audit-a", "audit-b"


@pytest.fixture(scope="module")
def stack() -> Iterator[RunningStack]:
    root = Path(tempfile.mkdtemp(prefix="keyrelay-e2e-audit-"))
    with RunningStack(root / "data") as running:
        yield running
    shutil.rmtree(root, ignore_errors=True)


async def kv(stack: RunningStack, rpc: str, request: Any, tenant: str, request_id: str | None = None) -> Any:
    metadata = [("x-keyrelay-tenant", tenant)]
    if request_id is not None:
        metadata.append(("x-request-id", request_id))
    async with secure_channel(stack.grpc_addr("keyvault"), stack.tls_dir, "portal") as channel:
        return await getattr(keyvault_pb2_grpc.KeyVaultStub(channel), rpc)(
            request, metadata=tuple(metadata), timeout=10
        )


async def access_key(stack: RunningStack, tenant: str, role: int) -> str:
    request = keyvault_pb2.IssueAccessKeyRequest(tenant_id=tenant, name="audit-e2e", role=role)
    return (await kv(stack, "IssueAccessKey", request, tenant)).key  # type: ignore[no-any-return]


def portal(stack: RunningStack, token: str, **headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=stack.portal_url, headers={"Authorization": f"Bearer {token}", **headers}, timeout=30
    )


async def audit(stack: RunningStack, token: str, path: str = "", **params: Any) -> dict[str, Any]:
    async with portal(stack, token) as client:
        reply = await client.get(f"/v1/audit{path}", params=params)
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


async def wait_for(stack: RunningStack, token: str, want: int, **params: Any) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 30
    while True:
        records = (await audit(stack, token, limit=500, **params))["records"]
        if len(records) >= want or time.monotonic() > deadline:
            return records  # type: ignore[no-any-return]
        await asyncio.sleep(0.2)


@pytest.fixture(scope="module")
def keys(stack: RunningStack) -> dict[str, str]:
    """Each tenant's read-only access key, after a few key operations on both tenants."""

    async def setup() -> dict[str, str]:
        reader_a = await access_key(stack, A, keyvault_pb2.ACCESS_KEY_ROLE_READ_ONLY)
        reader_b = await access_key(stack, B, keyvault_pb2.ACCESS_KEY_ROLE_READ_ONLY)
        put = keyvault_pb2.PutKeyRequest(tenant_id=A, service_id="openai", value="sk-" + "x1Y2z3" * 8)
        await kv(stack, "PutKey", put, A, request_id="audit-e2e-put")
        await kv(stack, "ListKeys", keyvault_pb2.ListKeysRequest(tenant_id=A), A)
        # Acting for B while naming A: denied, and filed under A (A sees attempts on its keys).
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await kv(stack, "ListKeys", keyvault_pb2.ListKeysRequest(tenant_id=A), B)
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
        put_b = keyvault_pb2.PutKeyRequest(tenant_id=B, service_id="openai", value="sk-" + "b4C5d6" * 8)
        await kv(stack, "PutKey", put_b, B)
        return {A: reader_a, B: reader_b}

    return asyncio.run(setup())


async def test_a_tenant_sees_its_key_operations_in_order(stack: RunningStack, keys: dict[str, str]) -> None:
    records = await wait_for(stack, keys[A], 3, action="key")
    assert [(r["action"], r["outcome"]) for r in records] == [
        ("key.created", "success"),
        ("key.listed", "success"),
        ("key.listed", "denied"),
    ]
    created, listed, denied = records
    assert created["resource"]["service_id"] == "openai" and created["resource"]["key_id"]
    assert created["request_id"] == "audit-e2e-put" and created["reason"] is None
    assert created["actor"] == {"kind": "service", "id": "portal"}
    assert denied["reason"] and denied["request_id"]
    assert created["seq"] < listed["seq"] < denied["seq"]
    assert all(len(r["hash"]) == 64 and r["time"].endswith("Z") for r in records)
    everything = await wait_for(stack, keys[A], 4)
    seqs = [r["seq"] for r in everything]
    assert seqs == list(range(1, len(seqs) + 1))  # one linear chain for the tenant
    assert {r["action"] for r in everything} >= {"access_key.issued", "key.created", "key.listed"}
    assert "x1Y2z3" not in str(everything)  # never a key value


async def test_filters_and_paging(stack: RunningStack, keys: dict[str, str]) -> None:
    await wait_for(stack, keys[A], 3, action="key")
    only_denied = (await audit(stack, keys[A], outcome="denied", action="key.listed"))["records"]
    assert [(r["action"], r["outcome"]) for r in only_denied] == [("key.listed", "denied")]
    full = (await audit(stack, keys[A], limit=500))["records"]
    paged, cursor = [], None
    while True:
        page = await audit(stack, keys[A], limit=2, **({"cursor": cursor} if cursor else {}))
        paged.extend(page["records"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [r["seq"] for r in paged][: len(full)] == [r["seq"] for r in full]
    future = (await audit(stack, keys[A], since="2999-01-01T00:00:00Z"))["records"]
    past = (await audit(stack, keys[A], until="2000-01-01T00:00:00Z"))["records"]
    assert future == [] and past == []
    async with portal(stack, keys[A]) as client:
        assert (await client.get("/v1/audit", params={"limit": 501})).status_code == 422
        assert (await client.get("/v1/audit", params={"cursor": "x"})).status_code == 400


async def test_tenants_see_only_their_own_records(stack: RunningStack, keys: dict[str, str]) -> None:
    a_records = await wait_for(stack, keys[A], 3, action="key")
    b_records = await wait_for(stack, keys[B], 1, action="key")
    assert [(r["action"], r["outcome"]) for r in b_records] == [("key.created", "success")]
    b_all = (await audit(stack, keys[B], limit=500))["records"]
    assert not {r["event_id"] for r in a_records} & {r["event_id"] for r in b_all}
    async with portal(stack, keys[B], **{"X-Tenant-ID": A}) as client:
        assert (await client.get("/v1/audit")).status_code == 403
    admin = (stack.data_dir / "admin-token").read_text().strip()
    async with portal(stack, admin) as client:
        assert (await client.get("/v1/audit")).status_code == 400  # the admin must name a tenant
    async with portal(stack, admin, **{"X-Tenant-ID": A}) as client:
        as_admin = (await client.get("/v1/audit", params={"action": "key"})).json()["records"]
    assert [r["event_id"] for r in as_admin][:3] == [r["event_id"] for r in a_records]


async def test_verify_then_tamper(stack: RunningStack, keys: dict[str, str]) -> None:
    records = await wait_for(stack, keys[A], 3, action="key")
    verdict = await audit(stack, keys[A], "/verify")
    assert verdict["intact"] is True and verdict["first_broken"] is None and verdict["records"] >= 4
    denied = records[2]
    conn = await asyncpg.connect(stack.database_url.replace("+asyncpg", ""))
    try:
        where = "WHERE tenant_id = $1 AND seq = $2"
        original = await conn.fetchrow(f"SELECT reason, raw FROM portal_audit_log {where}", A, denied["seq"])
        await conn.execute(
            f"UPDATE portal_audit_log SET reason = 'nothing happened' {where}", A, denied["seq"]
        )
        changed_column = await audit(stack, keys[A], "/verify")
        assert changed_column["intact"] is False and changed_column["first_broken"] == denied["seq"]
        await conn.execute(
            "UPDATE portal_audit_log SET reason = $3, "
            f"raw = replace(raw, '\"denied\"', '\"success\"') {where}",
            A,
            denied["seq"],
            original["reason"],
        )
        tampered = await audit(stack, keys[A], "/verify")
        assert tampered["intact"] is False and tampered["first_broken"] == denied["seq"]
        # B's chain is untouched.
        assert (await audit(stack, keys[B], "/verify"))["intact"] is True
        await conn.execute(f"UPDATE portal_audit_log SET raw = $3 {where}", A, denied["seq"], original["raw"])
        assert (await audit(stack, keys[A], "/verify"))["intact"] is True
        await conn.execute(f"DELETE FROM portal_audit_log {where}", A, records[0]["seq"])
        deleted = await audit(stack, keys[A], "/verify")
        assert deleted["intact"] is False and deleted["first_broken"] == records[0]["seq"]
    finally:
        await conn.close()


async def test_two_replicas_keep_one_linear_chain_per_tenant(stack: RunningStack) -> None:
    with stack.replica("portal", "portal-2", KEYRELAY_LOG_LEVEL="DEBUG"):
        log = stack.data_dir / "logs" / "portal-2.log"
        deadline = time.monotonic() + 30
        while "audit projector consuming" not in log.read_text():
            assert time.monotonic() < deadline, "the second replica's audit projector never started"
            time.sleep(0.1)
        tenants = ("audit-r1", "audit-r2")
        readers = {t: await access_key(stack, t, keyvault_pb2.ACCESS_KEY_ROLE_READ_ONLY) for t in tenants}
        per_tenant = 60

        async def lists(tenant: str) -> None:
            for _ in range(per_tenant // 10):
                await asyncio.gather(
                    *(
                        kv(stack, "ListKeys", keyvault_pb2.ListKeysRequest(tenant_id=tenant), tenant)
                        for _ in range(10)
                    )
                )

        await asyncio.gather(*(lists(t) for t in tenants))
        for tenant in tenants:
            records = await wait_for(stack, readers[tenant], per_tenant, action="key.listed")
            assert len(records) == per_tenant
            everything = (await audit(stack, readers[tenant], limit=500))["records"]
            assert [r["seq"] for r in everything] == list(range(1, len(everything) + 1))
            assert len({r["event_id"] for r in everything}) == len(everything)
            assert (await audit(stack, readers[tenant], "/verify"))["intact"] is True
        # The second replica did file some of them (the durable consumer split the stream).
        assert re.search(r"audit: filed [1-9][0-9]* new", log.read_text()), "the replica filed nothing"
