"""LiteLLM proxy as the comparison point of bench/gateway_overhead.py (SPEC §10).

LiteLLM lives in its own virtualenv, `.bench/litellm-venv` under the repo, created with
python3.11 and installed on first use, then reused. The proxy runs with a config of one model
pointed at the benchmark's fake upstream, no database, no master key, no callbacks, no
telemetry and no access log.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from keyrelay.launcher.process import ManagedProcess
from tests.e2e.harness import free_port_block

VERSION = "1.100.5"
VENV = Path(__file__).resolve().parents[1] / ".bench" / "litellm-venv"

# Uvicorn's default logging minus the per-request access log: LiteLLM keeps only warnings.
LOG_CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(levelname)s %(name)s: %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "uvicorn.access": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
    },
}


def installed_version() -> str | None:
    python = VENV / "bin" / "python"
    if not python.exists():
        return None
    probe = [str(python), "-c", "import importlib.metadata as m; print(m.version('litellm'))"]
    found = subprocess.run(probe, capture_output=True, text=True, check=False)
    return found.stdout.strip() if found.returncode == 0 else None


def ensure_installed() -> Path:
    """The `litellm` executable of the benchmark's venv, installing LiteLLM there if needed."""
    if installed_version() != VERSION:
        python311 = shutil.which("python3.11")
        if python311 is None:
            raise SystemExit("--litellm needs python3.11 on PATH to create " + str(VENV))
        print(f"installing LiteLLM proxy {VERSION} into {VENV} (once; downloads a lot)", flush=True)
        if not (VENV / "bin" / "python").exists():
            subprocess.run([python311, "-m", "venv", str(VENV)], check=True)
        pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, f"litellm[proxy]=={VERSION}"], check=True)
    return VENV / "bin" / "litellm"


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - local http URL
            return response.status == 200
    except OSError:
        return False


@contextlib.contextmanager
def running(upstream_base: str, workdir: Path, workers: int = 2) -> Iterator[str]:
    """Run the proxy with `workers` workers in front of the OpenAI-format `upstream_base`;
    yields its base URL once it answers, and stops it (workers included) on exit."""
    executable = ensure_installed()
    workdir.mkdir(parents=True, exist_ok=True)
    model = {
        "model_name": "gpt-4o-mini",
        "litellm_params": {
            "model": "openai/gpt-4o-mini",
            "api_base": upstream_base,
            "api_key": "sk-" + secrets.token_hex(24),
        },
    }
    config = {"model_list": [model], "litellm_settings": {"telemetry": False, "drop_params": True}}
    (workdir / "config.yaml").write_text(json.dumps(config, indent=2))  # JSON is valid YAML
    (workdir / "log_config.json").write_text(json.dumps(LOG_CONFIG))
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "LITELLM_MASTER_KEY")},
        "LITELLM_LOG": "ERROR",
        "LITELLM_TELEMETRY": "False",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no fetch of the price list at startup
    }
    port = free_port_block(1, 24000, 28000)
    argv = [str(executable), "--config", str(workdir / "config.yaml"), "--port", str(port)]
    argv += ["--num_workers", str(workers), "--log_config", str(workdir / "log_config.json")]
    proxy = ManagedProcess("litellm", argv, workdir / "litellm.log", env=env, cwd=workdir)
    proxy.start()
    base = f"http://127.0.0.1:{port}"
    try:
        proxy.wait_until(lambda: answers(f"{base}/health/liveliness"), 120, "answering")
        yield base
    finally:
        proxy.stop()
        if proxy.proc is not None:  # its own session: reap any worker the parent left behind
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proxy.proc.pid, signal.SIGKILL)
