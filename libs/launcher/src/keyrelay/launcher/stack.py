"""`keyrelay up`: the whole suite on one machine, from nothing but Python packages.

Order: data dir checks, certificates, OpenBao (init/unseal/bootstrap), NATS, Postgres, then
the four services, each its own process. Infrastructure given by URL
(`KEYRELAY_VAULT_ADDR`, `KEYRELAY_NATS_URL`, `KEYRELAY_DATABASE_URL`) is used instead of
started. The stack is ready when the portal's `/readyz` answers 200. Services that crash
are restarted (with a limit); infrastructure that dies stops everything with its log tail.
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from keyrelay.common.tls import ensure_certificates
from keyrelay.launcher.nats import EmbeddedNats
from keyrelay.launcher.openbao import AppRoleCredentials, EmbeddedOpenBao
from keyrelay.launcher.postgres import EmbeddedPostgres
from keyrelay.launcher.process import LaunchError, ManagedProcess, log_tail, port_is_free

log = logging.getLogger("keyrelay.launcher")

DATA_LAYOUT_VERSION = 1
SERVICES = ("keyvault", "router", "rag", "portal")
SERVICE_MODULES = {
    "keyvault": "keyrelay.keyvault.main",
    "router": "keyrelay.router.main",
    "rag": "keyrelay.rag.main",
    "portal": "keyrelay.portal.main",
}
MAX_RESTARTS = 5


@dataclass
class StackConfig:
    data_dir: Path
    portal_port: int = 8001
    grpc_base_port: int = 50051
    infra_base_port: int = 18200
    vault_addr: str | None = None
    nats_url: str | None = None
    database_url: str | None = None
    admin_token: str | None = None
    ready_timeout: float = 90.0

    @property
    def grpc_ports(self) -> dict[str, int]:
        return {name: self.grpc_base_port + i for i, name in enumerate(SERVICES[:3])}

    @property
    def infra_ports(self) -> dict[str, int]:
        # OpenBao takes two ports (API and cluster).
        base = self.infra_base_port
        return {"openbao": base, "nats": base + 2, "postgres": base + 3}

    @classmethod
    def from_env(cls, data_dir: Path, **overrides: object) -> StackConfig:
        env = os.environ
        config = cls(
            data_dir=data_dir,
            vault_addr=env.get("KEYRELAY_VAULT_ADDR"),
            nats_url=env.get("KEYRELAY_NATS_URL"),
            database_url=env.get("KEYRELAY_DATABASE_URL"),
            admin_token=env.get("KEYRELAY_ADMIN_TOKEN"),
        )
        for key, value in overrides.items():
            if value is not None:
                setattr(config, key, value)
        return config


@dataclass
class Stack:
    config: StackConfig
    bao: EmbeddedOpenBao | None = None
    nats: EmbeddedNats | None = None
    postgres: EmbeddedPostgres | None = None
    services: dict[str, ManagedProcess] = field(default_factory=dict)
    restarts: dict[str, list[float]] = field(default_factory=dict)

    @property
    def data_dir(self) -> Path:
        return self.config.data_dir

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def tls_dir(self) -> Path:
        return self.data_dir / "tls"

    @property
    def portal_url(self) -> str:
        return f"http://127.0.0.1:{self.config.portal_port}"

    @property
    def admin_token_file(self) -> Path:
        return self.data_dir / "admin-token"

    # -- start -------------------------------------------------------------------------

    def start(self) -> None:
        started = time.monotonic()
        try:
            self._prepare_data_dir()
            self._check_ports()
            ensure_certificates(self.tls_dir, [*SERVICES, "launcher", "vault"])
            self._ensure_admin_token()
            approle = self._start_infrastructure()
            env = self._service_env(approle)
            for name in SERVICES:
                self.services[name] = ManagedProcess(
                    name, [sys.executable, "-m", SERVICE_MODULES[name]], self.log_dir / f"{name}.log", env=env
                )
                self.services[name].start()
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        log.info("keyrelay is ready in %.1fs", time.monotonic() - started)

    def _prepare_data_dir(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(exist_ok=True)
        version_file = self.data_dir / "VERSION"
        if version_file.exists():
            found = int(version_file.read_text().strip() or 0)
            if found > DATA_LAYOUT_VERSION:
                raise LaunchError(
                    f"{self.data_dir} was written by a newer keyrelay (data layout {found}, this one "
                    f"understands {DATA_LAYOUT_VERSION}). Upgrade keyrelay or use another --data-dir."
                )
        else:
            version_file.write_text(f"{DATA_LAYOUT_VERSION}\n")

    def _check_ports(self) -> None:
        wanted = {f"{name}-svc gRPC": port for name, port in self.config.grpc_ports.items()}
        wanted["portal HTTP"] = self.config.portal_port
        infra = self.config.infra_ports
        if not self.config.vault_addr:
            wanted["openbao"], wanted["openbao cluster"] = infra["openbao"], infra["openbao"] + 1
        if not self.config.nats_url:
            wanted["nats"] = infra["nats"]
        if not self.config.database_url:
            wanted["postgres"] = infra["postgres"]
        busy = [f"{what} port {port}" for what, port in wanted.items() if not port_is_free(port)]
        if busy:
            raise LaunchError(
                "these ports are in use: " + ", ".join(busy) + ". Stop what holds them or choose "
                "others with --portal-port, --grpc-base-port and --infra-base-port."
            )

    def _ensure_admin_token(self) -> None:
        token = self.config.admin_token
        if token:
            self._write_private(self.admin_token_file, token)
        elif not self.admin_token_file.exists():
            self._write_private(self.admin_token_file, "kra_" + secrets.token_urlsafe(32))

    def _start_infrastructure(self) -> AppRoleCredentials | None:
        ports = self.config.infra_ports
        approle = None
        if not self.config.vault_addr:
            self.bao = EmbeddedOpenBao(self.data_dir, self.tls_dir, ports["openbao"], self.log_dir)
            approle = self.bao.start()
        if not self.config.nats_url:
            self.nats = EmbeddedNats(self.data_dir, ports["nats"], self.log_dir)
            self.nats.start()
        if not self.config.database_url:
            self.postgres = EmbeddedPostgres(self.data_dir, ports["postgres"], self.log_dir)
            self.postgres.start()
        return approle

    def _service_env(self, approle: AppRoleCredentials | None) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("KEYRELAY_ADMIN_TOKEN", None)  # services read the 0600 file instead
        env.update(
            KEYRELAY_DATA_DIR=str(self.data_dir),
            KEYRELAY_TLS_DIR=str(self.tls_dir),
            KEYRELAY_VAULT_ADDR=self.config.vault_addr or (self.bao.addr if self.bao else ""),
            KEYRELAY_NATS_URL=self.config.nats_url or (self.nats.url if self.nats else ""),
            KEYRELAY_DATABASE_URL=self.config.database_url or (self.postgres.url if self.postgres else ""),
            KEYRELAY_PORTAL_PORT=str(self.config.portal_port),
            KEYRELAY_ADMIN_TOKEN_FILE=str(self.admin_token_file),
            PYTHONUNBUFFERED="1",
        )
        for name, port in self.config.grpc_ports.items():
            env[f"KEYRELAY_{name.upper()}_ADDR"] = f"127.0.0.1:{port}"
            env[f"KEYRELAY_{name.upper()}_LISTEN"] = f"127.0.0.1:{port}"
        if self.bao:
            env["KEYRELAY_VAULT_CACERT"] = str(self.tls_dir / "ca.pem")
        if approle:
            env["KEYRELAY_KEYVAULT_ROLE_ID_FILE"] = str(approle.role_id_file)
            env["KEYRELAY_KEYVAULT_SECRET_ID_FILE"] = str(approle.secret_id_file)
        return env

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.config.ready_timeout
        last = "no answer yet"
        with httpx.Client(timeout=2) as client:
            while time.monotonic() < deadline:
                self._check_children()
                try:
                    reply = client.get(f"{self.portal_url}/readyz")
                    if reply.status_code == 200:
                        return
                    last = reply.text
                except httpx.HTTPError as exc:
                    last = type(exc).__name__
                time.sleep(0.1)
        raise LaunchError(f"the stack did not become ready in {self.config.ready_timeout:.0f}s: {last}")

    # -- supervise and stop ----------------------------------------------------------------

    def _check_children(self) -> None:
        for infra in (self.bao, self.nats, self.postgres):
            if infra and not infra.process.running():
                p = infra.process
                raise LaunchError(
                    f"{p.name} stopped unexpectedly. Last lines of {p.log_path}:\n{log_tail(p.log_path)}"
                )
        for name, proc in self.services.items():
            if not proc.running():
                self._restart(name, proc)

    def _restart(self, name: str, proc: ManagedProcess) -> None:
        now = time.monotonic()
        recent = [t for t in self.restarts.get(name, []) if now - t < 60] + [now]
        self.restarts[name] = recent
        if len(recent) > MAX_RESTARTS:
            raise LaunchError(
                f"{name} crashed {MAX_RESTARTS} times within a minute. Last lines of {proc.log_path}:\n"
                f"{log_tail(proc.log_path)}"
            )
        log.warning("%s exited (code %s); restarting", name, proc.proc.returncode if proc.proc else None)
        proc.start()

    def supervise(self, should_stop: Callable[[], bool]) -> None:
        while not should_stop():
            self._check_children()
            time.sleep(0.5)

    def stop(self) -> None:
        """Services first (they drain their NATS and DB connections), then infrastructure."""
        for proc in self.services.values():
            proc.signal_stop()
        for proc in self.services.values():
            proc.stop()
        for infra in (self.postgres, self.nats, self.bao):
            if infra:
                infra.stop()

    @staticmethod
    def _write_private(path: Path, text: str) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
