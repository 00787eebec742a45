"""What the gateway adds to a model call, against an instant upstream: llm-router-svc alone
over gRPC, and the full path through portal-api.

    .venv/bin/python bench/gateway_overhead.py [--seconds 5] [--concurrency 32]

Starts the real stack in a temporary data dir with OpenAI pointed at a local fake provider
that answers at once, stores a tenant key, then measures:
- the upstream alone (aiohttp client straight to the fake): p50 at concurrency 1;
- Complete through the router (mTLS gRPC, tenant key from keyvault-svc, cost accounting,
  budget reservation and settlement in Postgres, a usage event on NATS): p50 at
  concurrency 1 and calls/s at the given concurrency.
- the full path: `POST /v1/chat/completions` on the portal with a tenant access key (HTTP,
  access-key verification, then the router path above): p50 and calls/s likewise.
The added latency is the difference of the p50s. Everything shares the machine's cores; for
the HTTP measurements at the given concurrency, the CPU each process spent per call is
printed too (bench/cpu.py: the portal, the router, the fake upstream, this client, NATS, ...).

Then, once the stack has stopped, the architecture's floor (bench/gateway_floor.py): the
same hops (FastAPI edge, mTLS gRPC, aiohttp to the upstream) with none of keyrelay's work,
measured with the same client, so the full path's figures can be read against what Python
itself does on this machine.

With --litellm, LiteLLM proxy 1.100.5 (2 workers, own venv in .bench/, installed on first
use) is then measured in the same run against the same upstream with the same client, once
the stack has stopped, and compared with the full path (SPEC §10: ≥ 5x its calls/s at
concurrency 32).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import cpu, gateway_floor, litellm_proxy  # noqa: E402
from bench.stats import percentiles  # noqa: E402
from keyrelay.common.rpc import secure_channel  # noqa: E402
from keyrelay.v1 import keyvault_pb2, keyvault_pb2_grpc, router_pb2, router_pb2_grpc  # noqa: E402
from tests.e2e.harness import RunningStack  # noqa: E402
from tests.e2e.providers import running_fakes  # noqa: E402

TENANT = "bench"
META = (("x-keyrelay-tenant", TENANT),)
PROMPT = "Say hello in five words."


async def provision(stack: RunningStack) -> tuple[str, str]:
    """The bench tenant's OpenAI key (generated, fake) and a full_access `kr_` key."""
    key = "sk-" + secrets.token_hex(24)
    async with secure_channel(stack.grpc_addr("keyvault"), stack.tls_dir, "portal") as channel:
        vault = keyvault_pb2_grpc.KeyVaultStub(channel)
        put = keyvault_pb2.PutKeyRequest(tenant_id=TENANT, service_id="openai", value=key)
        await vault.PutKey(put, metadata=META, timeout=10)
        issue = keyvault_pb2.IssueAccessKeyRequest(
            tenant_id=TENANT, name="bench", role=keyvault_pb2.ACCESS_KEY_ROLE_FULL_ACCESS
        )
        access_key = (await vault.IssueAccessKey(issue, metadata=META, timeout=10)).key
    return key, access_key


async def timed(call, count: int) -> list[float]:  # type: ignore[no-untyped-def]
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        await call()
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


async def load(call, seconds: float, concurrency: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Calls/s and p50 latency (ms) with `concurrency` callers for `seconds`."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await call()
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies) / (time.perf_counter() - started), statistics.median(latencies)


# Sequential latencies (ms), calls/s at concurrency 1 and at the given one, p50 at the given
# one, and CPU ms per call by process at the given one (bench/cpu.py).
Measured = tuple[list[float], float, float, float, dict[str, float]]


async def measure_http(
    url: str, body: dict, headers: dict[str, str], seconds: float, concurrency: int
) -> Measured:
    """`POST url` with a JSON body, which must answer 200, after 200 warm-up calls."""
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def call() -> None:
            async with http.post(url, json=body, headers=headers) as r:
                await r.read()
                assert r.status == 200, r.status

        for _ in range(200):
            await call()
        latencies = await timed(call, 1000)
        rate_1, _ = await load(call, seconds, 1)
        before, started = cpu.snapshot(), time.perf_counter()
        rate_n, p50_n = await load(call, seconds, concurrency)
        calls = round(rate_n * (time.perf_counter() - started))
        cpu_split = cpu.ms_per_call(before, cpu.snapshot(), calls)
    return latencies, rate_1, rate_n, p50_n, cpu_split


def print_comparison(keyrelay: Measured, litellm: Measured, concurrency: int) -> None:
    """LiteLLM's figures, then side by side with keyrelay's full path."""
    litellm_latencies, litellm_rate_1, litellm_rate_n, litellm_p50_n, litellm_cpu = litellm
    litellm_p50 = statistics.median(litellm_latencies)
    print(f"LiteLLM proxy         p50 {litellm_p50:6.3f} ms   ({litellm_proxy.VERSION}, 2 workers)")
    print(f"throughput            {litellm_rate_1:7.0f} calls/s at concurrency 1")
    at_n = f"at concurrency {concurrency} (p50 {litellm_p50_n:.1f} ms)"
    print(f"throughput            {litellm_rate_n:7.0f} calls/s {at_n}")
    print(f"CPU per call          {cpu.describe(litellm_cpu)}")
    keyrelay_latencies, keyrelay_rate_1, keyrelay_rate_n, _, _ = keyrelay
    keyrelay_p50 = statistics.median(keyrelay_latencies)
    print()
    print(f"{'keyrelay (full path) vs LiteLLM':34}{'keyrelay':>12}{'LiteLLM':>12}")
    print(f"{'p50 at concurrency 1':34}{keyrelay_p50:9.3f} ms{litellm_p50:9.3f} ms")
    print(f"{'calls/s at concurrency 1':34}{keyrelay_rate_1:12.0f}{litellm_rate_1:12.0f}")
    print(f"{f'calls/s at concurrency {concurrency}':34}{keyrelay_rate_n:12.0f}{litellm_rate_n:12.0f}")
    ratio = keyrelay_rate_n / litellm_rate_n
    print(f"keyrelay/LiteLLM calls/s at concurrency {concurrency}: {ratio:.2f}x (SPEC target >= 5x)")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--litellm",
        action="store_true",
        help=f"also measure LiteLLM proxy {litellm_proxy.VERSION} (installs it on first use)",
    )
    args = parser.parse_args()
    if args.litellm:
        litellm_proxy.ensure_installed()  # before anything starts: the first install takes a while
    root = Path(tempfile.mkdtemp(prefix="keyrelay-bench-"))
    try:
        with running_fakes() as fakes:
            base = fakes.url("openai")
            with RunningStack(root / "data", env=fakes.base_url_env()) as stack:
                key, access_key = await provision(stack)
                body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": PROMPT}]}
                async with aiohttp.ClientSession() as http:

                    async def direct() -> None:
                        async with http.post(
                            f"{base}/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
                        ) as r:
                            await r.read()

                    for _ in range(200):
                        await direct()
                    upstream_p50 = statistics.median(await timed(direct, 1000))

                request = router_pb2.CompleteRequest(
                    tenant_id=TENANT,
                    model="openai/gpt-4o-mini",
                    messages=[router_pb2.ChatMessage(role="user", content=PROMPT)],
                    max_tokens=20,
                )
                async with secure_channel(stack.grpc_addr("router"), stack.tls_dir, "portal") as channel:
                    stub = router_pb2_grpc.RouterStub(channel)

                    async def through_router() -> None:
                        await stub.Complete(request, metadata=META, timeout=10)

                    for _ in range(200):
                        await through_router()
                    latencies = await timed(through_router, 1000)
                    rate_1, _ = await load(through_router, args.seconds, 1)
                    rate_n, p50_n = await load(through_router, args.seconds, args.concurrency)

                # The full path: HTTP to the portal with the tenant's access key, OpenAI format.
                openai_body = {**body, "model": "openai/gpt-4o-mini", "max_tokens": 20}
                portal = f"{stack.portal_url}/v1/chat/completions"
                auth = {"Authorization": f"Bearer {access_key}"}
                full_path = await measure_http(portal, openai_body, auth, args.seconds, args.concurrency)

            # The floor and LiteLLM once the stack has stopped, with the same upstream and client.
            with gateway_floor.running(base, root / "floor") as floor_url:
                floor_path = f"{floor_url}/v1/chat/completions"
                floor = await measure_http(floor_path, openai_body, {}, args.seconds, args.concurrency)
            litellm = None
            if args.litellm:
                with litellm_proxy.running(base, root / "litellm") as litellm_url:
                    litellm_body = {**openai_body, "model": "gpt-4o-mini"}
                    litellm = await measure_http(
                        f"{litellm_url}/v1/chat/completions", litellm_body, {}, args.seconds, args.concurrency
                    )
        p50, _, p99 = percentiles(latencies)
        print(f"upstream alone        p50 {upstream_p50:6.3f} ms")
        print(f"through the router    p50 {p50:6.3f} ms   p99 {p99:6.3f} ms")
        print(f"added by the gateway  p50 {p50 - upstream_p50:6.3f} ms")
        print(f"throughput            {rate_1:7.0f} calls/s at concurrency 1")
        at_n = f"at concurrency {args.concurrency} (p50 {p50_n:.1f} ms)"
        print(f"throughput            {rate_n:7.0f} calls/s {at_n}")
        portal_latencies, portal_rate_1, portal_rate_n, portal_p50_n, portal_cpu = full_path
        portal_p50 = statistics.median(portal_latencies)
        print(f"through the portal    p50 {portal_p50:6.3f} ms   (HTTP, access key, then the router path)")
        print(f"added by the gateway  p50 {portal_p50 - upstream_p50:6.3f} ms (full path)")
        print(f"throughput            {portal_rate_1:7.0f} calls/s at concurrency 1")
        at_n = f"at concurrency {args.concurrency} (p50 {portal_p50_n:.1f} ms)"
        print(f"throughput            {portal_rate_n:7.0f} calls/s {at_n}")
        print(f"CPU per call          {cpu.describe(portal_cpu)}")
        floor_p50 = statistics.median(floor[0])
        print(f"architecture floor    p50 {floor_p50:6.3f} ms   (same hops, no keyrelay work)")
        print(f"added by the floor    p50 {floor_p50 - upstream_p50:6.3f} ms")
        at_n = f"at concurrency {args.concurrency} (p50 {floor[3]:.1f} ms)"
        print(f"throughput            {floor[2]:7.0f} calls/s {at_n}")
        print(f"CPU per call          {cpu.describe(floor[4])}")
        print(f"full path / floor     {portal_rate_n / floor[2]:.2f} of the floor's calls/s")
        if litellm is None:
            print("LiteLLM comparison skipped (run with --litellm; the first run installs it in .bench/)")
        else:
            print_comparison(full_path, litellm, args.concurrency)
            ratio = floor[2] / litellm[2]
            what = "(the same hops with nothing on them)"
            print(f"floor/LiteLLM calls/s at concurrency {args.concurrency}: {ratio:.2f}x {what}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    uvloop.run(main())
