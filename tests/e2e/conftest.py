"""Fixtures for whole-stack tests.

`fakes` and `stack` are module-scoped: each test module gets its own fake providers and its
own stack with every provider pointed at them. A module that needs something else (echoing
fakes, a stack with other settings) defines its own fixture of the same name.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import RunningStack
from tests.e2e.providers import Fakes, running_fakes, stack_with_fakes


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


@pytest.fixture(scope="module")
def fakes() -> Iterator[Fakes]:
    with running_fakes() as running:
        yield running


@pytest.fixture(scope="module")
def stack(fakes: Fakes, request: pytest.FixtureRequest) -> Iterator[RunningStack]:
    module = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_").replace("_", "-")
    with stack_with_fakes(fakes, f"keyrelay-e2e-{module}-") as running:
        yield running
