"""Resident memory of each service: idle, and over a long load through the portal.

    .venv/bin/python bench/memory.py [--minutes 10] [--concurrency 32] [--every 30]

SPEC §10: keyvault-svc, llm-router-svc and portal-api each idle under 150 MB RSS and stay
flat (growth under 10%) over a 10-minute load at concurrency 32; rag-svc with the local model
loaded stays under 1 GB. Starts the real stack (rag-svc preloading its model, as in
production) with OpenAI pointed at the instant fake provider, then:
- idle: RSS of each service after 20 warm-up chat completions, a RAG collection, one
  ingested document and one hybrid search (the model has run), then 5 s of quiet;
- load: `POST /v1/chat/completions` with a tenant access key at the given concurrency for
  --minutes, plus one RAG search a second; RSS sampled every --every seconds.
Growth is the last sample against the first one taken under load (a process grows once
while its pools, caches and allocator arenas fill; "flat" is about what comes after).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import psutil
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.gateway_overhead import PROMPT, provision  # noqa: E402
from tests.e2e.harness import RunningStack  # noqa: E402
from tests.e2e.providers import running_fakes  # noqa: E402

SERVICES = ("keyvault", "router", "rag", "portal")
LIMIT_MB = {"keyvault": 150, "router": 150, "portal": 150, "rag": 1024}
CHAT = {
    "model": "openai/gpt-4o-mini",
    "messages": [{"role": "user", "content": PROMPT}],
    "max_tokens": 20,
}
DOCUMENT = (
    "Parcels to Iceland leave the Rotterdam hub on Tuesdays and Fridays. Customs forms "
    "CN23 are required above 2 kg. Returns go back through the same hub within 14 days."
)


def service_processes(stack: RunningStack) -> dict[str, psutil.Process]:
    assert stack.proc is not None
    found = {}
    for child in psutil.Process(stack.proc.pid).children(recursive=True):
        command = " ".join(child.cmdline())
        for service in SERVICES:
            if f"keyrelay.{service}.main" in command:
                found[service] = child
    missing = set(SERVICES) - set(found)
    if missing:
        raise SystemExit(f"service processes not found: {sorted(missing)}")
    return found


def rss_mb(processes: dict[str, psutil.Process]) -> dict[str, float]:
    return {name: p.memory_info().rss / 2**20 for name, p in processes.items()}


class Portal:
    def __init__(self, http: aiohttp.ClientSession, url: str, access_key: str) -> None:
        self.http, self.url = http, url
        self.headers = {"Authorization": f"Bearer {access_key}"}

    async def post(self, path: str, body: dict) -> dict:
        async with self.http.post(f"{self.url}{path}", json=body, headers=self.headers) as r:
            data = await r.json()
            if r.status not in (200, 201):
                raise SystemExit(f"POST {path} answered {r.status}: {data}")
            return data  # type: ignore[no-any-return]


async def warm_up(portal: Portal) -> str:
    """Every service has done its work once; returns the RAG collection's id."""
    for _ in range(20):
        await portal.post("/v1/chat/completions", CHAT)
    collection = await portal.post("/v1/rag/collections", {"name": "memory-bench"})
    collection_id = collection["collection_id"]
    await portal.post(
        f"/v1/rag/collections/{collection_id}/documents",
        {"content": DOCUMENT, "title": "shipping", "content_type": "text/plain"},
    )
    await search(portal, collection_id)
    return collection_id


async def search(portal: Portal, collection_id: str) -> None:
    body = {"collection_id": collection_id, "query": "when do Iceland parcels leave", "top_k": 3}
    await portal.post("/v1/rag/search", body)


async def run_load(portal: Portal, collection_id: str, seconds: float, concurrency: int) -> int:
    deadline = time.monotonic() + seconds
    done = 0

    async def chatter() -> None:
        nonlocal done
        while time.monotonic() < deadline:
            await portal.post("/v1/chat/completions", CHAT)
            done += 1

    async def searcher() -> None:
        while time.monotonic() < deadline:
            await search(portal, collection_id)
            await asyncio.sleep(1)

    await asyncio.gather(searcher(), *(chatter() for _ in range(concurrency)))
    return done


def row(label: str, sample: dict[str, float]) -> str:
    return f"{label:<18}" + "".join(f"{sample[s]:>11.1f}" for s in SERVICES)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--every", type=float, default=30.0, help="seconds between RSS samples")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="keyrelay-bench-"))
    env_extra = {"KEYRELAY_RAG_PRELOAD_MODEL": "true"}
    try:
        with (
            running_fakes() as fakes,
            RunningStack(root / "data", env={**fakes.base_url_env(), **env_extra}) as stack,
        ):
            _, access_key = await provision(stack)
            processes = service_processes(stack)
            connector = aiohttp.TCPConnector(limit=args.concurrency + 1)
            async with aiohttp.ClientSession(connector=connector) as http:
                portal = Portal(http, stack.portal_url, access_key)
                collection_id = await warm_up(portal)
                await asyncio.sleep(5)
                idle = rss_mb(processes)
                print(f"{'RSS (MB)':<18}" + "".join(f"{s:>11}" for s in SERVICES))
                print(row("idle", idle), flush=True)
                samples: list[dict[str, float]] = []
                calls = 0
                started = time.monotonic()
                while (elapsed := time.monotonic() - started) < args.minutes * 60:
                    span = min(args.every, args.minutes * 60 - elapsed)
                    calls += await run_load(portal, collection_id, span, args.concurrency)
                    samples.append(rss_mb(processes))
                    print(row(f"load {time.monotonic() - started:5.0f} s", samples[-1]), flush=True)
        first, last = samples[0], samples[-1]
        peak = {s: max(sample[s] for sample in samples) for s in SERVICES}
        print(row("peak under load", peak))
        print(f"\n{calls:,} chat completions in {args.minutes:g} min at concurrency {args.concurrency}")
        for s in SERVICES:
            growth = 100 * (last[s] - first[s]) / first[s]
            verdict = "ok" if idle[s] < LIMIT_MB[s] and peak[s] < LIMIT_MB[s] * 1.1 else "over"
            print(
                f"{s:<9} idle {idle[s]:6.1f} MB (limit {LIMIT_MB[s]})  first/last under load "
                f"{first[s]:6.1f} / {last[s]:6.1f} MB  growth {growth:+5.1f}% (limit +10%)  {verdict}"
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    uvloop.run(main())
