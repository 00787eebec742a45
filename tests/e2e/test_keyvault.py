"""keyvault-svc on the real stack: OpenBao, NATS, the service over mTLS.

The module shares one stack. Every key operation goes through `call()`, which gives it a
fresh request id; the last test checks that each of them left exactly one audit event and
that no stored key value appears in any log line, event or error.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import hvac
import nats
import pytest

from keyrelay.common.platform_secrets import KeyvaultConnection, PlatformSecretSource
from keyrelay.common.rpc import secure_channel
from keyrelay.launcher.process import ManagedProcess, port_accepts
from keyrelay.v1 import common_pb2, keyvault_pb2, keyvault_pb2_grpc
from tests.e2e.harness import RunningStack, free_port_block

pytestmark = pytest.mark.e2e

AUDITED: list[str] = []  # request ids of every key operation made in this module
STORED: list[str] = []  # every key value stored: none may leak anywhere


def fake_openai_key() -> str:
    value = "sk-" + secrets.token_hex(24)  # obviously fake, generated
    STORED.append(value)
    return value


@pytest.fixture(scope="module")
def stack() -> Iterator[RunningStack]:
    root = Path(tempfile.mkdtemp(prefix="keyrelay-e2e-kv-"))
    env = {
        "KEYRELAY_KEYVAULT_CACHE_TTL_SECONDS": "60",
        "KEYRELAY_KEYVAULT_SECRET_READERS": json.dumps({"services/crm/": ["launcher"]}),
    }
    with RunningStack(root / "data", env=env) as running:
        yield running
    shutil.rmtree(root, ignore_errors=True)


async def call(
    stack: RunningStack,
    rpc: str,
    request: Any,
    *,
    tenant: str | None = None,
    identity: str = "portal",
    address: str | None = None,
    audited: bool = True,
) -> Any:
    request_id = uuid.uuid4().hex
    if audited:
        AUDITED.append(request_id)
    metadata = [("x-request-id", request_id)]
    if tenant is not None:
        metadata.append(("x-keyrelay-tenant", tenant))
    async with secure_channel(address or stack.grpc_addr("keyvault"), stack.tls_dir, identity) as channel:
        stub = keyvault_pb2_grpc.KeyVaultStub(channel)
        return await getattr(stub, rpc)(request, metadata=metadata, timeout=15)


async def put(
    stack: RunningStack, tenant: str, value: str, service: str = "openai"
) -> keyvault_pb2.KeyMetadata:
    reply = await call(
        stack,
        "PutKey",
        keyvault_pb2.PutKeyRequest(tenant_id=tenant, service_id=service, value=value),
        tenant=tenant,
    )
    return reply.key


async def resolve(stack: RunningStack, tenant: str, *, platform: bool = False, address: str | None = None):  # noqa: ANN201
    request = keyvault_pb2.ResolveKeyRequest(
        tenant_id=tenant, service_id="openai", purpose="chat", allow_platform_fallback=platform
    )
    return await call(stack, "ResolveKey", request, tenant=tenant, identity="router", address=address)


async def code_of(awaitable: Any) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await awaitable
    return info.value.code()


def root_vault(stack: RunningStack) -> hvac.Client:
    return hvac.Client(
        url=stack.vault_addr,
        token=str(stack.vault_init()["root_token"]),
        verify=str(stack.tls_dir / "ca.pem"),
    )


# -- custody ------------------------------------------------------------------------------


async def test_store_list_resolve_rotate_revoke_for_two_tenants(stack: RunningStack) -> None:
    a1, b1 = fake_openai_key(), fake_openai_key()
    key_a = await put(stack, "tenant-a", a1)
    await put(stack, "tenant-b", b1)
    assert key_a.masked_value == f"{a1[:4]}...{a1[-4:]}"
    assert key_a.validation.is_valid and key_a.status == keyvault_pb2.KEY_STATUS_ACTIVE

    listed = await call(
        stack, "ListKeys", keyvault_pb2.ListKeysRequest(tenant_id="tenant-a"), tenant="tenant-a"
    )
    assert [k.key_id for k in listed.keys] == [key_a.key_id]
    assert a1.encode() not in listed.SerializeToString(), "a listing must never carry a key value"

    resolved = await resolve(stack, "tenant-a")
    assert (resolved.value, resolved.source, resolved.key_id) == (
        a1,
        common_pb2.KEY_SOURCE_TENANT,
        key_a.key_id,
    )
    assert (await resolve(stack, "tenant-b")).value == b1

    a2 = fake_openai_key()
    rotated = await call(
        stack,
        "RotateKey",
        keyvault_pb2.RotateKeyRequest(
            tenant_id="tenant-a", key=keyvault_pb2.KeyRef(key_id=key_a.key_id), new_value=a2
        ),
        tenant="tenant-a",
    )
    assert rotated.key.version == key_a.version + 1 and rotated.previous_version == key_a.version
    assert (await resolve(stack, "tenant-a")).value == a2

    revoked = await call(
        stack,
        "DeleteKey",
        keyvault_pb2.DeleteKeyRequest(tenant_id="tenant-a", key=keyvault_pb2.KeyRef(key_id=key_a.key_id)),
        tenant="tenant-a",
    )
    assert revoked.key.status == keyvault_pb2.KEY_STATUS_REVOKED
    assert await code_of(resolve(stack, "tenant-a")) == grpc.StatusCode.NOT_FOUND
    assert (await resolve(stack, "tenant-b")).value == b1


async def test_tenant_b_can_never_reach_tenant_a_keys(stack: RunningStack) -> None:
    a_value = fake_openai_key()
    a_key = await put(stack, "iso-a", a_value)
    await put(stack, "iso-b", fake_openai_key())
    by_id = keyvault_pb2.KeyRef(key_id=a_key.key_id)
    by_name = keyvault_pb2.KeyRef(service_id="openai", key_type="production")
    attempts = {
        "GetKeyMetadata": lambda t, ref: keyvault_pb2.GetKeyMetadataRequest(tenant_id=t, key=ref),
        "RotateKey": lambda t, ref: keyvault_pb2.RotateKeyRequest(
            tenant_id=t, key=ref, new_value=fake_openai_key()
        ),
        "DeleteKey": lambda t, ref: keyvault_pb2.DeleteKeyRequest(tenant_id=t, key=ref),
    }
    for rpc, build in attempts.items():
        # B names A in the body: refused, whatever the key reference.
        for ref in (by_id, by_name):
            assert (
                await code_of(call(stack, rpc, build("iso-a", ref), tenant="iso-b"))
                == grpc.StatusCode.PERMISSION_DENIED
            )
        # B names itself and sends A's key id: not found in B's keys.
        assert (
            await code_of(call(stack, rpc, build("iso-b", by_id), tenant="iso-b"))
            == grpc.StatusCode.NOT_FOUND
        )
    listing = keyvault_pb2.ListKeysRequest(tenant_id="iso-a")
    assert (
        await code_of(call(stack, "ListKeys", listing, tenant="iso-b")) == grpc.StatusCode.PERMISSION_DENIED
    )
    own = await call(stack, "ListKeys", keyvault_pb2.ListKeysRequest(tenant_id="iso-b"), tenant="iso-b")
    assert a_key.key_id not in {k.key_id for k in own.keys}
    wrong = keyvault_pb2.ResolveKeyRequest(tenant_id="iso-a", service_id="openai")
    assert (
        await code_of(call(stack, "ResolveKey", wrong, tenant="iso-b", identity="router"))
        == grpc.StatusCode.PERMISSION_DENIED
    )
    assert (await resolve(stack, "iso-b")).value != a_value
    assert (await resolve(stack, "iso-a")).value == a_value  # A's key is untouched


@pytest.mark.parametrize(
    "field,bad",
    [
        ("tenant_id", ".."),
        ("tenant_id", "../other"),
        ("tenant_id", "a/b"),
        ("tenant_id", "%2e%2e"),
        ("tenant_id", "nul\x00byte"),
        ("tenant_id", "Acme"),
        ("tenant_id", ""),
        ("tenant_id", "x" * 64),
        ("service_id", "../openai"),
        ("service_id", "OpenAI"),
        ("key_type", "prod/../x"),
        ("key_type", "%2e"),
    ],
)
async def test_unsafe_ids_are_rejected_before_vault(stack: RunningStack, field: str, bad: str) -> None:
    body = {"tenant_id": "ids-ok", "service_id": "openai", "key_type": "production", field: bad}
    request = keyvault_pb2.PutKeyRequest(value=fake_openai_key(), **body)
    tenant = body["tenant_id"] if "\x00" not in body["tenant_id"] else "ids-ok"
    code = await code_of(call(stack, "PutKey", request, tenant=tenant))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    # Nothing was written anywhere but under valid ids.
    tenants = root_vault(stack).secrets.kv.v2.list_secrets("tenants", mount_point="keyrelay")["data"]["keys"]
    assert all(t.rstrip("/").islower() or t.rstrip("/").replace("-", "").isalnum() for t in tenants)
    assert not any(".." in t or "%" in t or t.rstrip("/") == bad for t in tenants)


async def test_raw_vault_entries_hold_no_plaintext_and_tenant_deletion_shreds(stack: RunningStack) -> None:
    value = fake_openai_key()
    await put(stack, "shred-me", value)
    root = root_vault(stack)
    raw = root.secrets.kv.v2.read_secret_version(
        "tenants/shred-me/api-keys/openai/production", mount_point="keyrelay", raise_on_deleted_version=True
    )
    entry = json.dumps(raw)
    assert value not in entry and value[3:20] not in entry
    ciphertext = raw["data"]["data"]["ciphertext"]["api_key"]
    assert ciphertext.startswith("vault:v1:")

    reply = await call(
        stack, "DeleteTenant", keyvault_pb2.DeleteTenantRequest(tenant_id="shred-me"), tenant="shred-me"
    )
    assert reply.keys_deleted == 1
    with pytest.raises(hvac.exceptions.VaultError):
        root.secrets.transit.decrypt_data("tenant-shred-me", ciphertext=ciphertext, mount_point="transit")
    assert await code_of(resolve(stack, "shred-me")) == grpc.StatusCode.NOT_FOUND


async def test_resolving_while_rotating_sees_only_old_or_new_values(stack: RunningStack) -> None:
    values = [fake_openai_key()]
    key = await put(stack, "rot", values[0])
    seen: list[str] = []
    stop = asyncio.Event()

    async def resolver() -> None:
        while not stop.is_set():
            seen.append((await resolve(stack, "rot")).value)

    async def rotator() -> None:
        for _ in range(5):
            values.append(fake_openai_key())
            await call(
                stack,
                "RotateKey",
                keyvault_pb2.RotateKeyRequest(
                    tenant_id="rot",
                    key=keyvault_pb2.KeyRef(key_id=key.key_id),
                    new_value=values[-1],
                    grace_period_seconds=60,
                ),
                tenant="rot",
            )
            await asyncio.sleep(0.05)
        stop.set()

    await asyncio.gather(rotator(), resolver(), resolver(), resolver())
    assert len(seen) > 20
    assert set(seen) <= set(values), "a resolver saw a value that was never stored"
    assert seen[-1] == values[-1] or (await resolve(stack, "rot")).value == values[-1]


async def test_revocation_reaches_another_replica_through_nats(stack: RunningStack) -> None:
    with stack.replica("keyvault", "keyvault-2", KEYRELAY_KEYVAULT_CACHE_TTL_SECONDS="60") as other:
        key = await put(stack, "replicas", fake_openai_key())
        await resolve(stack, "replicas", address=other)  # now cached in the other replica (TTL 60 s)
        await asyncio.sleep(0.5)  # let its invalidation subscription settle
        await call(
            stack,
            "DeleteKey",
            keyvault_pb2.DeleteKeyRequest(tenant_id="replicas", key=keyvault_pb2.KeyRef(key_id=key.key_id)),
            tenant="replicas",
        )
        revoked_at = time.monotonic()
        while True:
            try:
                await resolve(stack, "replicas", address=other)
            except grpc.aio.AioRpcError as err:
                assert err.code() == grpc.StatusCode.NOT_FOUND
                break
            assert time.monotonic() - revoked_at < 10, "the other replica kept serving a revoked key"
        print(f"revocation reached the other replica after {1000 * (time.monotonic() - revoked_at):.1f} ms")


# -- access keys and platform secrets ------------------------------------------------------


async def test_access_keys_are_issued_once_verified_and_revoked(stack: RunningStack) -> None:
    issued = await call(
        stack,
        "IssueAccessKey",
        keyvault_pb2.IssueAccessKeyRequest(
            tenant_id="ak", name="ci", role=keyvault_pb2.ACCESS_KEY_ROLE_FULL_ACCESS
        ),
        tenant="ak",
    )
    STORED.append(issued.key)
    assert issued.key.startswith("kr_") and issued.metadata.role == keyvault_pb2.ACCESS_KEY_ROLE_FULL_ACCESS
    verified = await call(stack, "VerifyAccessKey", keyvault_pb2.VerifyAccessKeyRequest(key=issued.key))
    assert verified.metadata.tenant_id == "ak" and verified.metadata.key_id == issued.metadata.key_id
    listed = await call(
        stack, "ListAccessKeys", keyvault_pb2.ListAccessKeysRequest(tenant_id="ak"), tenant="ak"
    )
    assert [k.key_preview for k in listed.access_keys] == [issued.metadata.key_preview]
    assert issued.key.encode() not in listed.SerializeToString()
    raw = json.dumps(root_vault(stack).secrets.kv.v2.list_secrets("access-keys", mount_point="keyrelay"))
    assert issued.key not in raw

    await call(
        stack,
        "RevokeAccessKey",
        keyvault_pb2.RevokeAccessKeyRequest(tenant_id="ak", key_id=issued.metadata.key_id),
        tenant="ak",
    )
    verify = call(stack, "VerifyAccessKey", keyvault_pb2.VerifyAccessKeyRequest(key=issued.key))
    assert await code_of(verify) == grpc.StatusCode.UNAUTHENTICATED
    forged = call(
        stack, "VerifyAccessKey", keyvault_pb2.VerifyAccessKeyRequest(key="kr_" + secrets.token_urlsafe(32))
    )
    assert await code_of(forged) == grpc.StatusCode.UNAUTHENTICATED


async def test_platform_keys_follow_the_tenant_setting_and_secrets_their_readers(stack: RunningStack) -> None:
    platform_value = fake_openai_key()
    put_secret = keyvault_pb2.PutPlatformSecretRequest(
        name="providers/openai/production", fields={"api_key": platform_value}
    )
    await call(stack, "PutPlatformSecret", put_secret)
    resolved = await resolve(stack, "no-own-key", platform=True)
    assert (resolved.value, resolved.source) == (platform_value, common_pb2.KEY_SOURCE_PLATFORM)
    assert await code_of(resolve(stack, "no-own-key", platform=False)) == grpc.StatusCode.NOT_FOUND
    provider_read = call(
        stack, "GetPlatformSecret", keyvault_pb2.GetPlatformSecretRequest(name="providers/openai/production")
    )
    assert await code_of(provider_read) == grpc.StatusCode.PERMISSION_DENIED, (
        "provider keys are readable by nobody"
    )

    crm_password = "crm-" + secrets.token_hex(12)
    STORED.append(crm_password)
    crm = keyvault_pb2.PutPlatformSecretRequest(
        name="services/crm/db", fields={"database_password": crm_password}
    )
    await call(stack, "PutPlatformSecret", crm)
    by_rag = call(
        stack,
        "GetPlatformSecret",
        keyvault_pb2.GetPlatformSecretRequest(name="services/crm/db"),
        identity="rag",
    )
    assert await code_of(by_rag) == grpc.StatusCode.PERMISSION_DENIED

    from pydantic_settings import BaseSettings, SettingsConfigDict

    class CrmSettings(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="E2E_CRM_")
        database_password: str = ""
        database_host: str = "localhost"

        @classmethod
        def settings_customise_sources(cls, settings_cls, init_settings, env_settings, **_):  # type: ignore[no-untyped-def]
            conn = KeyvaultConnection(stack.grpc_addr("keyvault"), stack.tls_dir, "launcher")
            return (init_settings, PlatformSecretSource(settings_cls, "services/crm/db", conn), env_settings)

    import os

    os.environ["E2E_CRM_DATABASE_HOST"] = "db.internal"
    os.environ["E2E_CRM_DATABASE_PASSWORD"] = "from-env-loses"
    try:
        settings = await asyncio.to_thread(CrmSettings)
    finally:
        del os.environ["E2E_CRM_DATABASE_HOST"], os.environ["E2E_CRM_DATABASE_PASSWORD"]
    assert settings.database_password == crm_password and settings.database_host == "db.internal"


# -- faults, then the audit trail of everything above --------------------------------------


async def test_service_logs_in_again_when_its_vault_token_is_revoked(stack: RunningStack) -> None:
    value = fake_openai_key()
    await put(stack, "relogin", value)
    root = root_vault(stack)
    accessors = root.adapter.list("/v1/auth/token/accessors")["data"]["keys"]
    revoked = 0
    for accessor in accessors:
        info = root.auth.token.lookup_accessor(accessor)["data"]
        if "keyvault-svc" in (info.get("policies") or []):
            root.auth.token.revoke_accessor(accessor)
            revoked += 1
    assert revoked >= 1
    # The next operation meets a 403, logs in again with its AppRole and succeeds.
    listed = await call(
        stack, "ListKeys", keyvault_pb2.ListKeysRequest(tenant_id="relogin"), tenant="relogin"
    )
    assert len(listed.keys) == 1


async def test_operation_is_refused_when_its_audit_event_cannot_be_recorded(stack: RunningStack) -> None:
    """Fail closed: NATS unreachable and the spool unusable, so PutKey must not happen."""
    port = free_port_block(1, 24000, 28000)
    data_dir = stack.data_dir / "blind-replica"
    data_dir.mkdir()
    (data_dir / "spool").write_text("a file where the spool directory should be")
    replica = ManagedProcess(
        "keyvault-blind",
        [sys.executable, "-m", "keyrelay.keyvault.main"],
        stack.data_dir / "logs" / "keyvault-blind.log",
        env=stack.service_env(
            KEYRELAY_KEYVAULT_LISTEN=f"127.0.0.1:{port}",
            KEYRELAY_REPLICA_ID="blind",
            KEYRELAY_DATA_DIR=str(data_dir),
            KEYRELAY_TLS_DIR=str(stack.tls_dir),
            KEYRELAY_NATS_URL="nats://127.0.0.1:1",  # nothing listens there
        ),
    )
    replica.start()
    try:
        replica.wait_until(lambda: port_accepts(port), 30, "listening")
        request = keyvault_pb2.PutKeyRequest(tenant_id="blind", service_id="openai", value=fake_openai_key())
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await call(stack, "PutKey", request, tenant="blind", address=f"127.0.0.1:{port}", audited=False)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "audit trail" in info.value.details()
        tenants = root_vault(stack).secrets.kv.v2.list_secrets("tenants", mount_point="keyrelay")["data"][
            "keys"
        ]
        assert "blind/" not in tenants, "the refused operation must not have been carried out"
    finally:
        replica.stop()


async def test_sealed_vault_gives_unavailable_and_service_resumes_after_unseal(stack: RunningStack) -> None:
    value = fake_openai_key()
    await put(stack, "sealing", value)
    root = root_vault(stack)
    root.sys.seal()
    try:
        deadline = time.monotonic() + 15
        while True:  # the health loop drops caches within a couple of seconds
            try:
                await resolve(stack, "sealing")
            except grpc.aio.AioRpcError as err:
                assert err.code() == grpc.StatusCode.UNAVAILABLE
                assert "sealed" in err.details()
                break
            assert time.monotonic() < deadline, "keys were still served from a sealed vault"
            await asyncio.sleep(0.2)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await put(stack, "sealing", fake_openai_key())
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE and "unseal" in info.value.details()
    finally:
        root.sys.submit_unseal_keys(list(stack.vault_init()["unseal_keys_b64"]))  # type: ignore[arg-type]
    deadline = time.monotonic() + 30
    while True:
        try:
            assert (await resolve(stack, "sealing")).value == value  # nothing lost
            break
        except grpc.aio.AioRpcError:
            assert time.monotonic() < deadline, "the service did not resume after unseal"
            await asyncio.sleep(0.3)


async def test_every_operation_has_exactly_one_audit_event_and_no_value_leaks(stack: RunningStack) -> None:
    await asyncio.sleep(1.5)  # background (ResolveKey) audit events are published asynchronously
    nc = await nats.connect(stack.nats_url)
    try:
        js = nc.jetstream()
        events: list[dict[str, Any]] = []
        sub = await js.pull_subscribe("keyrelay.audit.>", durable=None, stream="KEYRELAY_AUDIT")
        while True:
            try:
                batch = await sub.fetch(500, timeout=1)
            except nats.errors.TimeoutError:
                break
            events += [json.loads(m.data) for m in batch]
    finally:
        await nc.close()
    by_request: dict[str, int] = {}
    for event in events:
        rid = event["data"]["request_id"]
        by_request[rid] = by_request.get(rid, 0) + 1
    missing = [r for r in AUDITED if by_request.get(r, 0) != 1]
    assert not missing, f"{len(missing)} of {len(AUDITED)} operations do not have exactly one audit event"
    assert all(e["type"].startswith("keyrelay.audit.") and e["specversion"] == "1.0" for e in events)

    haystacks = [json.dumps(events)]
    haystacks += [p.read_text(errors="replace") for p in (stack.data_dir / "logs").glob("*.log")]
    haystacks.append(stack.output())
    for value in STORED:
        for text in haystacks:
            assert value not in text, "a stored key value leaked into a log line or an event"
