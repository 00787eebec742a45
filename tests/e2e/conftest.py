"""Fixtures for whole-stack tests."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A fresh data dir directly under the system temp dir.

    Not pytest's tmp_path: pytest keeps its base directory at mode 0700 (and resets it when
    any other pytest session starts), while the embedded Postgres runs as an unprivileged
    user that must traverse the path to its data directory.
    """
    path = Path(tempfile.mkdtemp(prefix="keyrelay-e2e-"))
    yield path / "data"
    shutil.rmtree(path, ignore_errors=True)
