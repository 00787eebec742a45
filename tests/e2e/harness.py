"""Start and stop the real stack (`keyrelay up`) for whole-system tests.

`RunningStack` runs the launcher as a subprocess in its own data dir on free ports, waits
for `/readyz`, and stops it with SIGTERM as an operator's Ctrl-C would. Tests talk to it
only through its public surfaces: HTTP, gRPC over mTLS, and Vault with the files the
launcher wrote.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from keyrelay.launcher.process import ManagedProcess, port_accepts
from keyrelay.launcher.stack import SERVICE_MODULES, SERVICES

READY_TIMEOUT = 120.0


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_block(size: int, start: int = 20000, stop: int = 32000) -> int:
    """First port of `size` consecutive free ports, below the kernel's ephemeral range
    (32768+) so that no outgoing connection can take one between the probe and its use."""
    for port in range(start + random.randrange(0, stop - start - 100, size), stop - size, size):
        if all(_free(p) for p in range(port, port + size)):
            return port
    raise RuntimeError("no block of free ports found")


@contextmanager
def serving(process: ManagedProcess, port: int, timeout: float = 30) -> Iterator[None]:
    """Start `process`, wait until it accepts connections on `port`, stop it on exit."""
    process.start()
    try:
        process.wait_until(lambda: port_accepts(port), timeout, "listening")
        yield
    finally:
        process.stop()


# rag-svc loads its embedding model on first use rather than at startup: most stacks in the
# suite never embed, and loading torch costs every one of them seconds of CPU and ~800 MB.
TEST_DEFAULTS = {"KEYRELAY_RAG_PRELOAD_MODEL": "false"}


@dataclass
class RunningStack:
    data_dir: Path
    portal_port: int = field(default_factory=lambda: free_port_block(1, 20000, 24000))
    grpc_base_port: int = field(default_factory=lambda: free_port_block(3, 24000, 28000))
    infra_base_port: int = field(default_factory=lambda: free_port_block(4, 28000, 32000))
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[str] | None = None
    startup_seconds: float = 0.0

    @property
    def portal_url(self) -> str:
        return f"http://127.0.0.1:{self.portal_port}"

    @property
    def tls_dir(self) -> Path:
        return self.data_dir / "tls"

    @property
    def vault_addr(self) -> str:
        return f"https://127.0.0.1:{self.infra_base_port}"

    def grpc_addr(self, service: str) -> str:
        return f"127.0.0.1:{self.grpc_base_port + list(SERVICES).index(service)}"

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "keyrelay.launcher.cli",
            "up",
            "--data-dir",
            str(self.data_dir),
            "--portal-port",
            str(self.portal_port),
            "--grpc-base-port",
            str(self.grpc_base_port),
            "--infra-base-port",
            str(self.infra_base_port),
        ]

    def start(self) -> RunningStack:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        seen = len(self.output())  # the log is appended to across restarts
        out = open(self.data_dir / "launcher.out", "a")  # noqa: SIM115 - the child owns it
        started = time.monotonic()
        self.proc = subprocess.Popen(
            self.command(),
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **TEST_DEFAULTS, **self.env},
        )
        out.close()
        deadline = started + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"keyrelay up exited with {self.proc.returncode}:\n{self.output()}")
            # The launcher prints this once /readyz answered 200 and it supervises.
            if "keyrelay is ready in" in self.output()[seen:]:
                self.startup_seconds = time.monotonic() - started
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"stack not ready after {READY_TIMEOUT}s:\n{self.output()}")

    def stop(self, timeout: float = 60) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise

    def service_env(self, **overrides: str) -> dict[str, str]:
        """The environment the launcher gives its services, for starting extra replicas."""
        approle = self.data_dir / "bao" / "approle"
        env = {
            **os.environ,
            "KEYRELAY_DATA_DIR": str(self.data_dir),
            "KEYRELAY_TLS_DIR": str(self.tls_dir),
            "KEYRELAY_VAULT_ADDR": self.vault_addr,
            "KEYRELAY_VAULT_CACERT": str(self.tls_dir / "ca.pem"),
            "KEYRELAY_NATS_URL": self.nats_url,
            "KEYRELAY_DATABASE_URL": self.database_url,
            "KEYRELAY_KEYVAULT_ROLE_ID_FILE": str(approle / "role-id"),
            "KEYRELAY_KEYVAULT_SECRET_ID_FILE": str(approle / "secret-id"),
            **{f"KEYRELAY_{s.upper()}_ADDR": self.grpc_addr(s) for s in ("keyvault", "router", "rag")},
        }
        env.update(overrides)
        return env

    @property
    def database_url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.infra_base_port + 3}/keyrelay"

    @property
    def nats_url(self) -> str:
        return f"nats://127.0.0.1:{self.infra_base_port + 2}"

    @contextmanager
    def replica(self, service: str, name: str, **env: str) -> Iterator[str]:
        """Another replica of `service` (keyvault, router, rag, portal) on a free port, on this
        stack's infrastructure, until the block ends; yields its address (host:port)."""
        port = free_port_block(1, 24000, 28000)
        listen = (
            {"KEYRELAY_PORTAL_PORT": str(port)}
            if service == "portal"
            else {f"KEYRELAY_{service.upper()}_LISTEN": f"127.0.0.1:{port}"}
        )
        process = ManagedProcess(
            name,
            [sys.executable, "-m", SERVICE_MODULES[service]],
            self.data_dir / "logs" / f"{name}.log",
            env=self.service_env(**listen, KEYRELAY_REPLICA_ID=name, **env),
        )
        with serving(process, port):
            yield f"127.0.0.1:{port}"

    def vault_init(self) -> dict[str, object]:
        """Unseal key and root token, as the launcher keeps them (tests seal and unseal)."""
        return json.loads((self.data_dir / "bao" / "init.json").read_text())  # type: ignore[no-any-return]

    def output(self) -> str:
        path = self.data_dir / "launcher.out"
        return path.read_text() if path.exists() else ""

    def __enter__(self) -> RunningStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
