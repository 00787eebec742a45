"""ResolveKey latency and throughput over mTLS, cached and uncached (Transit decrypt).

    .venv/bin/python bench/keyvault_resolve.py [--seconds 5] [--concurrency 32]

Starts the real stack in a temporary data dir, stores a tenant key, and calls ResolveKey
as llm-router-svc does (router certificate, gRPC aio, one channel). "Uncached" runs
against a second keyvault-svc replica started with a cache TTL of 0, so every call reads
KV and decrypts with Transit. Prints p50/p99 latency at concurrency 1 and calls/s at the
given concurrency. The client shares the machine's cores with the server. "Uncached"
means no plaintext cache (KEYRELAY_KEYVAULT_CACHE_TTL_SECONDS=0): each call decrypts with
Transit; the entry's ciphertext comes from the record cache. "Floor" is a bare gRPC aio
server over the same mTLS answering a fixed ResolveKeyResponse: the cost of Python gRPC
itself on this machine, for calibration.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import grpc  # noqa: E402

from bench.stats import percentiles  # noqa: E402
from keyrelay.common.rpc import secure_channel, server_credentials  # noqa: E402
from keyrelay.v1 import keyvault_pb2, keyvault_pb2_grpc  # noqa: E402
from tests.e2e.harness import RunningStack  # noqa: E402

TENANT = "bench"
META = (("x-keyrelay-tenant", TENANT),)


async def store_key(stack: RunningStack) -> None:
    async with secure_channel(stack.grpc_addr("keyvault"), stack.tls_dir, "portal") as channel:
        request = keyvault_pb2.PutKeyRequest(
            tenant_id=TENANT, service_id="openai", value="sk-" + secrets.token_hex(24)
        )
        await keyvault_pb2_grpc.KeyVaultStub(channel).PutKey(request, metadata=META, timeout=10)


async def measure(address: str, tls_dir: Path, seconds: float, concurrency: int) -> tuple[list[float], float]:
    request = keyvault_pb2.ResolveKeyRequest(tenant_id=TENANT, service_id="openai", purpose="bench")
    async with secure_channel(address, tls_dir, "router") as channel:
        stub = keyvault_pb2_grpc.KeyVaultStub(channel)
        for _ in range(200):  # warm up: connection, cache, code paths
            await stub.ResolveKey(request, metadata=META)
        latencies: list[float] = []
        for _ in range(1000):
            started = time.perf_counter()
            await stub.ResolveKey(request, metadata=META)
            latencies.append((time.perf_counter() - started) * 1000)
        done = 0
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                await stub.ResolveKey(request, metadata=META)
                done += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return latencies, done / (time.perf_counter() - started)


class _Fixed(keyvault_pb2_grpc.KeyVaultServicer):
    async def ResolveKey(self, request, context):  # type: ignore[no-untyped-def]  # noqa: N802
        return keyvault_pb2.ResolveKeyResponse(value="sk-" + "0" * 48, source=1, key_id="k_" + "0" * 24)


async def measure_floor(tls_dir: Path, seconds: float, concurrency: int) -> tuple[list[float], float]:
    server = grpc.aio.server()
    keyvault_pb2_grpc.add_KeyVaultServicer_to_server(_Fixed(), server)
    port = server.add_secure_port("127.0.0.1:0", server_credentials(tls_dir, "keyvault"))
    await server.start()
    try:
        return await measure(f"127.0.0.1:{port}", tls_dir, seconds, concurrency)
    finally:
        await server.stop(None)


def report(label: str, latencies: list[float], rate: float, concurrency: int) -> None:
    p50, _, p99 = percentiles(latencies)
    print(
        f"{label:<9} p50 {p50:6.3f} ms   p99 {p99:6.3f} ms   {rate:8.0f} calls/s at concurrency {concurrency}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="keyrelay-bench-"))
    try:
        with RunningStack(root / "data") as stack:
            await store_key(stack)
            no_cache = {"KEYRELAY_KEYVAULT_CACHE_TTL_SECONDS": "0"}
            with stack.replica("keyvault", "keyvault-uncached", **no_cache) as uncached:
                cached = await measure(
                    stack.grpc_addr("keyvault"), stack.tls_dir, args.seconds, args.concurrency
                )
                report("cached", *cached, args.concurrency)
                slow = await measure(uncached, stack.tls_dir, args.seconds, args.concurrency)
                report("uncached", *slow, args.concurrency)
                floor = await measure_floor(stack.tls_dir, args.seconds, args.concurrency)
                report("floor", *floor, args.concurrency)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    uvloop.run(main())
