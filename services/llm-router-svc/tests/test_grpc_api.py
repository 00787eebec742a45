"""The servicer's message helpers."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from keyrelay.router.adapters.grpc_api import now_ts, ts


def test_now_ts_is_the_current_time_to_the_nanosecond_field() -> None:
    before = time.time()
    stamp = now_ts()
    after = time.time()
    assert 0 <= stamp.nanos < 1_000_000_000
    assert before - 1e-6 <= stamp.seconds + stamp.nanos / 1e9 <= after + 1e-6
    assert abs(stamp.ToDatetime(tzinfo=UTC) - datetime.now(UTC)).total_seconds() < 1


def test_ts_keeps_none_and_converts_a_datetime() -> None:
    assert ts(None) is None
    moment = datetime(2026, 12, 3, 11, 0, 0, 250_000, tzinfo=UTC)
    stamp = ts(moment)
    assert stamp is not None and (stamp.seconds, stamp.nanos) == (int(moment.timestamp()), 250_000_000)
