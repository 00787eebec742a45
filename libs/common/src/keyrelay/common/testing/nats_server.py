"""A real ``nats-server`` with JetStream for tests, started as a child process.

Tests of the event publisher need to stop NATS and start it again on the same port and store
directory (the client reconnects to the URL it knows, and JetStream must keep what it
stored), so ``start()`` and ``stop()`` can be called repeatedly on one instance.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

_HOST = "127.0.0.1"


def nats_server_binary() -> str:
    """The ``nats-server`` executable: on PATH, or in the running venv's bin directory."""
    found = shutil.which("nats-server")
    if found:
        return found
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.exists():
        return str(candidate)
    raise FileNotFoundError("nats-server not found on PATH or next to the Python executable")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_HOST, 0))
        return int(sock.getsockname()[1])


class NatsServer:
    """``nats-server -js`` on 127.0.0.1 with its JetStream store in ``store_dir``.

    The port is chosen once (a free one unless given) and kept across restarts. The server's
    output goes to ``store_dir/nats-server.log``; its tail is in the error if it fails to start.
    """

    def __init__(self, store_dir: Path, port: int | None = None) -> None:
        self.store_dir = store_dir
        self.port = port if port is not None else _free_port()
        self.log_path = store_dir / "nats-server.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{_HOST}:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 10.0) -> None:
        """Launch the server and return once it accepts TCP connections."""
        if self.running:
            return
        self.store_dir.mkdir(parents=True, exist_ok=True)
        cmd = [nats_server_binary(), "-js", "-sd", str(self.store_dir)]
        cmd += ["-a", _HOST, "-p", str(self.port)]
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError(f"nats-server exited with {self._proc.returncode}:\n{self._log_tail()}")
            try:
                with socket.create_connection((_HOST, self.port), timeout=0.2):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"nats-server did not listen in {timeout}s:\n{self._log_tail()}")
            time.sleep(0.02)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the server and wait for it to exit (SIGKILL if it does not)."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> NatsServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
