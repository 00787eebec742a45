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
from dataclasses import dataclass
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


async def load(call, seconds: float, concurrency: int) -> tuple[int, float, float]:  # type: ignore[no-untyped-def]
    """Calls made, calls/s and p50 latency (ms) with `concurrency` callers for `seconds`."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await call()
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies), len(latencies) / (time.perf_counter() - started), statistics.median(latencies)


@dataclass
class Measured:
    latencies: list[float]  # sequential calls (ms)
    rate_1: float  # calls/s at concurrency 1
    rate_n: float  # calls/s at the given concurrency
    p50_n: float  # p50 (ms) at the given concurrency
    cpu: dict[str, float]  # CPU ms per call by process at the given concurrency (bench/cpu.py)

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies)


async def measure(call, seconds: float, concurrency: int) -> Measured:  # type: ignore[no-untyped-def]
    """200 warm-up calls, 1000 timed one after another, then `seconds` at concurrency 1 and
    at `concurrency`."""
    for _ in range(200):
        await call()
    latencies = await timed(call, 1000)
    _, rate_1, _ = await load(call, seconds, 1)
    before = cpu.snapshot()
    calls, rate_n, p50_n = await load(call, seconds, concurrency)
    return Measured(latencies, rate_1, rate_n, p50_n, cpu.ms_per_call(before, cpu.snapshot(), calls))


async def measure_http(
    url: str, body: dict, headers: dict[str, str], seconds: float, concurrency: int
) -> Measured:
    """`POST url` with a JSON body, which must answer 200."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:

        async def call() -> None:
            async with http.post(url, json=body, headers=headers) as r:
                await r.read()
                assert r.status == 200, r.status

        return await measure(call, seconds, concurrency)


def report(name: str, what: str, m: Measured, upstream_p50: float, concurrency: int) -> None:
    _, _, p99 = percentiles(m.latencies)
    print(f"{name:22}p50 {m.p50:6.3f} ms   p99 {p99:6.3f} ms   ({what})")
    print(f"{'  added':22}p50 {m.p50 - upstream_p50:6.3f} ms")
    print(f"{'  throughput':22}{m.rate_1:7.0f} calls/s at concurrency 1")
    print(f"{'  throughput':22}{m.rate_n:7.0f} calls/s at concurrency {concurrency} (p50 {m.p50_n:.1f} ms)")
    print(f"{'  CPU per call':22}{cpu.describe(m.cpu)}")


def print_comparison(keyrelay: Measured, floor: Measured, litellm: Measured, concurrency: int) -> None:
    """keyrelay's full path and the floor side by side with LiteLLM."""
    print()
    print(f"{'vs LiteLLM':30}{'keyrelay':>12}{'floor':>12}{'LiteLLM':>12}")
    print(f"{'p50 at concurrency 1 (ms)':30}{keyrelay.p50:12.3f}{floor.p50:12.3f}{litellm.p50:12.3f}")
    print(f"{'calls/s at concurrency 1':30}{keyrelay.rate_1:12.0f}{floor.rate_1:12.0f}{litellm.rate_1:12.0f}")
    at_n = f"calls/s at concurrency {concurrency}"
    print(f"{at_n:30}{keyrelay.rate_n:12.0f}{floor.rate_n:12.0f}{litellm.rate_n:12.0f}")
    for name, m, note in (
        ("keyrelay", keyrelay, "SPEC target >= 5x"),
        ("floor", floor, "nothing on the hops"),
    ):
        print(
            f"{name}/LiteLLM calls/s at concurrency {concurrency}: {m.rate_n / litellm.rate_n:.2f}x ({note})"
        )


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
    n = args.concurrency
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

                    router = await measure(through_router, args.seconds, args.concurrency)

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
        print(f"{'upstream alone':22}p50 {upstream_p50:6.3f} ms")
        report(
            "through the router", "mTLS gRPC, BYOK key, cost, budget, usage event", router, upstream_p50, n
        )
        report("through the portal", "HTTP, access key, then the router path", full_path, upstream_p50, n)
        report("architecture floor", "the same hops, none of keyrelay's work", floor, upstream_p50, n)
        print(f"full path / floor     {full_path.rate_n / floor.rate_n:.2f} of the floor's calls/s")
        if litellm is None:
            print("LiteLLM comparison skipped (run with --litellm; the first run installs it in .bench/)")
        else:
            report(f"LiteLLM {litellm_proxy.VERSION}", "2 workers", litellm, upstream_p50, n)
            print_comparison(full_path, floor, litellm, n)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    uvloop.run(main())
