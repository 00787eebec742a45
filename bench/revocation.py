"""How long a revocation takes to reach the caches that could still serve the revoked key.

    .venv/bin/python bench/revocation.py [--rounds 100]

SPEC §10: revocation reaches every replica's cache in <= 200 ms p99. Starts the real stack
and a second keyvault-svc replica whose caches keep entries for 60 s, so only the
invalidation event on NATS can make it refuse in time. Each round:
- provider key: store a key, resolve it through the second replica (now cached there),
  delete it through the first, then call ResolveKey on the second replica back to back
  until it answers NOT_FOUND;
- access key: issue a `kr_` key, use it on the portal (now in the portal's 10 s cache and
  keyvault's), revoke it through keyvault, then call `GET /v1/models` back to back until the
  portal answers 401.
The delay runs from the revoking call's reply to the first refusal, so it includes one
probe's round trip (under a millisecond for gRPC, about two for HTTP).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc
import httpx
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stats import percentiles  # noqa: E402
from keyrelay.common.rpc import secure_channel  # noqa: E402
from keyrelay.v1 import keyvault_pb2, keyvault_pb2_grpc  # noqa: E402
from tests.e2e.harness import RunningStack  # noqa: E402

TENANT = "bench-revoke"
META = (("x-keyrelay-tenant", TENANT),)
GIVE_UP_SECONDS = 5.0


async def first_refusal(probe: Callable[[], Awaitable[bool]]) -> float:
    """Milliseconds until `probe` reports a refusal (True), probing back to back."""
    started = time.perf_counter()
    while not await probe():
        if time.perf_counter() - started > GIVE_UP_SECONDS:
            raise SystemExit(f"still served {GIVE_UP_SECONDS:.0f} s after the revocation")
    return (time.perf_counter() - started) * 1000


async def provider_key_round(
    portal_kv: keyvault_pb2_grpc.KeyVaultStub, router_b: keyvault_pb2_grpc.KeyVaultStub
) -> float:
    put = keyvault_pb2.PutKeyRequest(
        tenant_id=TENANT, service_id="openai", value="sk-" + secrets.token_hex(24)
    )
    key = (await portal_kv.PutKey(put, metadata=META, timeout=10)).key
    resolve = keyvault_pb2.ResolveKeyRequest(tenant_id=TENANT, service_id="openai", purpose="bench")
    await router_b.ResolveKey(resolve, metadata=META, timeout=10)  # cached on replica B now
    delete = keyvault_pb2.DeleteKeyRequest(tenant_id=TENANT, key=keyvault_pb2.KeyRef(key_id=key.key_id))
    await portal_kv.DeleteKey(delete, metadata=META, timeout=10)

    async def refused() -> bool:
        try:
            await router_b.ResolveKey(resolve, metadata=META, timeout=10)
        except grpc.aio.AioRpcError as err:
            if err.code() != grpc.StatusCode.NOT_FOUND:
                raise
            return True
        return False

    return await first_refusal(refused)


async def access_key_round(portal_kv: keyvault_pb2_grpc.KeyVaultStub, http: httpx.AsyncClient) -> float:
    issue = keyvault_pb2.IssueAccessKeyRequest(
        tenant_id=TENANT, name="bench", role=keyvault_pb2.ACCESS_KEY_ROLE_READ_ONLY
    )
    issued = await portal_kv.IssueAccessKey(issue, metadata=META, timeout=10)
    headers = {"Authorization": f"Bearer {issued.key}"}
    assert (await http.get("/v1/models", headers=headers)).status_code == 200  # cached now
    revoke = keyvault_pb2.RevokeAccessKeyRequest(
        tenant_id=TENANT, key_id=issued.metadata.key_id, reason="bench"
    )
    await portal_kv.RevokeAccessKey(revoke, metadata=META, timeout=10)

    async def refused() -> bool:
        return (await http.get("/v1/models", headers=headers)).status_code == 401

    return await first_refusal(refused)


def report(label: str, delays: list[float]) -> None:
    p50, p95, p99 = percentiles(delays)
    print(
        f"{label:<38} p50 {p50:6.1f}  p95 {p95:6.1f}  "
        f"p99 {p99:6.1f}  max {max(delays):6.1f} ms  (n={len(delays)}, target p99 <= 200 ms)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="keyrelay-bench-"))
    try:
        with RunningStack(root / "data") as stack:
            ttl = {"KEYRELAY_KEYVAULT_CACHE_TTL_SECONDS": "60"}
            with stack.replica("keyvault", "keyvault-b", **ttl) as replica_b:
                async with (
                    secure_channel(stack.grpc_addr("keyvault"), stack.tls_dir, "portal") as as_portal,
                    secure_channel(replica_b, stack.tls_dir, "router") as as_router,
                    httpx.AsyncClient(base_url=stack.portal_url, timeout=10) as http,
                ):
                    portal_kv = keyvault_pb2_grpc.KeyVaultStub(as_portal)
                    router_b = keyvault_pb2_grpc.KeyVaultStub(as_router)
                    await asyncio.sleep(1)  # replica B's invalidation subscription is up
                    keys = [await provider_key_round(portal_kv, router_b) for _ in range(args.rounds)]
                    access = [await access_key_round(portal_kv, http) for _ in range(args.rounds)]
        report("provider key, keyvault replica B", keys)
        report("access key, portal-api", access)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    uvloop.run(main())
