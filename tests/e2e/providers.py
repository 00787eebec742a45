"""The fake AI providers as their own process, and a stack pointed at them, for whole-stack
tests that make model calls. The router reaches the fakes over HTTP as it would reach
api.openai.com; tests script them through their control endpoints."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from keyrelay.launcher.process import ManagedProcess
from tests.e2e.harness import RunningStack, free_port_block, serving

PROVIDERS = (
    "openai",
    "anthropic",
    "gemini",
    "cohere",
    "mistral",
    "deepseek",
    "openrouter",
    "groq",
    "together",
)


class Fakes:
    def __init__(self, base: str) -> None:
        self.base = base

    def url(self, provider: str) -> str:
        return {
            "anthropic": f"{self.base}/anthropic",
            "gemini": f"{self.base}/gemini",
            "cohere": f"{self.base}/cohere",
            "azure-openai": f"{self.base}/azure",
        }.get(provider, f"{self.base}/{provider}/v1")

    def script(self, provider: str, *behaviours: dict[str, Any]) -> None:
        body = {"provider": provider, "behaviours": list(behaviours)}
        httpx.post(f"{self.base}/_control/script", json=body).raise_for_status()

    def requests(self, provider: str) -> list[dict[str, Any]]:
        return [r for r in httpx.get(f"{self.base}/_control/requests").json() if r["provider"] == provider]

    def reset(self) -> None:
        httpx.post(f"{self.base}/_control/reset").raise_for_status()

    def base_url_env(self) -> dict[str, str]:
        """`KEYRELAY_PROVIDER_<NAME>_BASE_URL` for every provider, pointing here."""
        return {f"KEYRELAY_PROVIDER_{p.upper()}_BASE_URL": self.url(p) for p in PROVIDERS}


@contextmanager
def running_fakes(echo: bool = False) -> Iterator[Fakes]:
    """The fake providers; with `echo` they answer with the texts of the messages sent."""
    root = Path(tempfile.mkdtemp(prefix="keyrelay-fakes-"))
    port = free_port_block(1, 20000, 24000)
    command = [sys.executable, "-m", "keyrelay.common.testing.fake_providers", "--port", str(port)]
    process = ManagedProcess("fake-providers", command + (["--echo"] if echo else []), root / "fakes.log")
    try:
        with serving(process, port):
            yield Fakes(f"http://127.0.0.1:{port}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def stack_with_fakes(fakes: Fakes, prefix: str) -> Iterator[RunningStack]:
    """The whole stack, every provider at the fakes, provider timeouts short (2 s)."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    env = fakes.base_url_env()
    env.update(KEYRELAY_ROUTER_TIMEOUT_SECONDS="2", KEYRELAY_ROUTER_FIRST_BYTE_TIMEOUT_SECONDS="2")
    try:
        with RunningStack(root / "data", env=env) as running:
            yield running
    finally:
        shutil.rmtree(root, ignore_errors=True)
