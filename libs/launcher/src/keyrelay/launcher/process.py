"""One supervised child process: started with its output in a log file, checked for
readiness, stopped with SIGTERM then SIGKILL. Failures quote the tail of the log, since
that is where OpenBao, NATS and Postgres say what went wrong."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


class LaunchError(RuntimeError):
    """The stack cannot start; the message says why and what to do."""


def as_user(user: str | None) -> dict[str, object]:
    """Popen arguments that run a child as `user` with only that user's group.

    Setting the uid alone would keep root's group, and a directory whose group is root
    would then be judged by its (closed) group bits.
    """
    if user is None:
        return {}
    import pwd

    return {"user": user, "group": pwd.getpwnam(user).pw_gid, "extra_groups": []}


def log_tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return "(no log written)"
    return "\n".join(text[-lines:]) or "(log is empty)"


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def port_accepts(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


@dataclass
class ManagedProcess:
    name: str
    argv: list[str]
    log_path: Path
    env: dict[str, str] | None = None
    user: str | None = None
    cwd: Path | None = None
    stop_signal: int = signal.SIGTERM
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child, closed below
        try:
            self.proc = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                **as_user(self.user),
                cwd=self.cwd,
                start_new_session=True,  # Ctrl-C reaches the launcher only; it stops us in order
            )
        except OSError as exc:
            raise LaunchError(f"{self.name}: cannot execute {self.argv[0]}: {exc}") from exc
        finally:
            log.close()

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_until(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                code = self.proc.returncode if self.proc else None
                raise LaunchError(
                    f"{self.name} exited (code {code}) before it was {what}. "
                    f"Last lines of {self.log_path}:\n{log_tail(self.log_path)}"
                )
            if ready():
                return
            time.sleep(0.05)
        raise LaunchError(
            f"{self.name} was not {what} after {timeout:.0f}s. "
            f"Last lines of {self.log_path}:\n{log_tail(self.log_path)}"
        )

    def signal_stop(self) -> None:
        """Ask the process to stop without waiting (stop() then waits)."""
        if self.running():
            assert self.proc is not None
            self.proc.send_signal(self.stop_signal)

    def stop(self, timeout: float = 10.0) -> None:
        if not self.running():
            return
        assert self.proc is not None
        self.proc.send_signal(self.stop_signal)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
