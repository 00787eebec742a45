"""`keyrelay up` fails with a message that says what is wrong and what to do."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from keyrelay.launcher.process import LaunchError, ManagedProcess
from tests.e2e.harness import free_port_block


@pytest.fixture
def data_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="keyrelay-launch-"))
    yield path / "data"
    shutil.rmtree(path, ignore_errors=True)


def _up(data_dir: Path, *extra: str, portal_port: int | None = None) -> subprocess.CompletedProcess[str]:
    portal = portal_port or free_port_block(1, 20000, 24000)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "keyrelay.launcher.cli",
            "up",
            "--data-dir",
            str(data_dir),
            "--portal-port",
            str(portal),
            "--grpc-base-port",
            str(free_port_block(3, 24000, 28000)),
            "--infra-base-port",
            str(free_port_block(4, 28000, 32000)),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_port_in_use_is_named(data_dir: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _up(data_dir, portal_port=port)
    assert result.returncode == 1
    assert f"portal HTTP port {port}" in result.stderr
    assert "--portal-port" in result.stderr


def test_data_dir_from_a_newer_version_is_refused(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    (data_dir / "VERSION").write_text("99\n")
    result = _up(data_dir)
    assert result.returncode == 1
    assert "newer keyrelay" in result.stderr and "data layout 99" in result.stderr
    assert not (data_dir / "bao").exists(), "nothing may be started on a data dir we do not understand"


def test_infrastructure_that_fails_to_start_shows_its_log(data_dir: Path) -> None:
    # A Postgres data directory that claims version 18 but holds no cluster.
    (data_dir / "pg").mkdir(parents=True)
    (data_dir / "pg" / "PG_VERSION").write_text("18\n")
    result = _up(data_dir)
    assert result.returncode == 1
    assert "postgres exited" in result.stderr
    assert "postgres.log" in result.stderr
    assert "postgresql.conf" in result.stderr  # the line of Postgres' own log that explains it


def test_process_that_dies_reports_the_tail_of_its_log(tmp_path: Path) -> None:
    proc = ManagedProcess(
        "demo", ["sh", "-c", "echo first; echo the-real-reason >&2; exit 3"], tmp_path / "demo.log"
    )
    proc.start()
    with pytest.raises(LaunchError) as info:
        proc.wait_until(lambda: False, timeout=10, what="ready")
    assert "exited (code 3)" in str(info.value)
    assert "the-real-reason" in str(info.value)
