"""CPU time by process, read from /proc (Linux), to split what a load costs on the machine."""

from __future__ import annotations

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")

# What each process is, by a piece of its command line; the benchmark itself by its pid.
GROUPS = {
    "portal": "keyrelay.portal.main",
    "router": "keyrelay.router.main",
    "keyvault": "keyrelay.keyvault.main",
    "rag": "keyrelay.rag.main",
    "fake upstream": "keyrelay.common.testing.fake_providers",
    "floor edge": "gateway_floor.py edge",
    "floor server": "gateway_floor.py server",
    "LiteLLM": "litellm",
    "NATS": "nats-server",
    "Postgres": "postgres",
    "OpenBao": "bao server",
}

Snapshot = dict[int, tuple[str, float]]


def snapshot() -> Snapshot:
    """Every process's command line and CPU seconds (user + system) so far."""
    found: Snapshot = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we read it
            continue
        found[int(entry.name)] = (command, (int(fields[11]) + int(fields[12])) / TICKS)
    return found


def group_of(pid: int, command: str) -> str:
    if pid == os.getpid():
        return "bench client"
    return next((name for name, piece in GROUPS.items() if piece in command), "other")


def ms_per_call(before: Snapshot, after: Snapshot, calls: int) -> dict[str, float]:
    """CPU milliseconds per call by group, over the processes alive at both snapshots, largest first."""
    spent: dict[str, float] = {}
    for pid, (command, seconds) in after.items():
        if pid in before:
            group = group_of(pid, command)
            spent[group] = spent.get(group, 0.0) + seconds - before[pid][1]
    per_call = {group: total * 1000 / max(calls, 1) for group, total in spent.items()}
    return dict(sorted(per_call.items(), key=lambda item: -item[1]))


def describe(per_call: dict[str, float]) -> str:
    shown = [f"{group} {ms:.2f}" for group, ms in per_call.items() if ms >= 0.01]
    return ", ".join(shown) + f" (total {sum(per_call.values()):.2f} ms)"
