"""How long `keyrelay up` takes to reach ready (portal /readyz = 200).

    .venv/bin/python bench/startup.py [--restarts 3]

Runs the real launcher in a fresh temporary data dir: the first start initialises
OpenBao, Postgres and the certificates; each restart only unseals. Prints seconds to ready
for each start, as `make run` would see them on a warm .venv.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.harness import RunningStack  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--restarts", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="keyrelay-bench-"))
    try:
        stack = RunningStack(root / "data")
        timings = []
        for attempt in range(1 + args.restarts):
            with stack:
                timings.append(stack.startup_seconds)
            kind = "first start (init)" if attempt == 0 else f"restart {attempt} (unseal)"
            print(f"{kind:<22} ready in {stack.startup_seconds:5.2f} s")
        warm = sorted(timings[1:])
        if warm:
            print(f"{'restarts, median':<22} ready in {warm[len(warm) // 2]:5.2f} s")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
