"""The audit hash chain: hashing rule, verification and where a tampered chain breaks."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import pytest

from keyrelay.portal.domain.audit_chain import (
    GENESIS,
    MalformedEvent,
    Record,
    chain_hash,
    project,
    verify,
)


def event(n: int, tenant: str = "acme", outcome: str = "success") -> bytes:
    body = {
        "specversion": "1.0",
        "id": f"{n:032x}",
        "source": "keyvault-svc",
        "type": "keyrelay.audit.key.created",
        "time": f"2025-07-14T09:31:{n % 60:02d}.482913Z",
        "subject": f"keyrelay.audit.{tenant}.key.created",
        "tenantid": tenant,
        "datacontenttype": "application/json",
        "data": {
            "actor": {"kind": "access_key", "id": "ak_1", "via": "portal"},
            "action": "key.created",
            "resource": {"service_id": "openai", "key_type": "production"},
            "outcome": outcome,
            "reason": None if outcome == "success" else "nope",
            "request_id": f"req-{n}",
        },
    }
    return json.dumps(body, separators=(",", ":")).encode()


def build(n: int) -> list[Record]:
    records, prev = [], GENESIS
    for seq in range(1, n + 1):
        raw = event(seq, outcome="success" if seq % 2 else "denied")
        digest = chain_hash(prev, raw)
        columns = project(raw)
        records.append(Record(seq=seq, raw=raw.decode(), prev_hash=prev, hash=digest, columns=columns))
        prev = digest
    return records


def head(records: list[Record]) -> tuple[int, str]:
    return (records[-1].seq, records[-1].hash) if records else (0, GENESIS)


def test_chain_hash_is_sha256_of_prev_hash_then_the_event_bytes() -> None:
    raw = event(1)
    assert chain_hash(GENESIS, raw) == hashlib.sha256(GENESIS.encode() + raw).hexdigest()
    assert GENESIS == "0" * 64 and len(chain_hash(GENESIS, raw)) == 64
    assert chain_hash(chain_hash(GENESIS, raw), raw) != chain_hash(GENESIS, raw)


def test_an_untouched_chain_is_intact() -> None:
    records = build(6)
    assert verify(records) == (True, 6, None)
    assert verify(records, head(records)) == (True, 6, None)
    assert verify([], (0, GENESIS)) == (True, 0, None)
    assert verify([]) == (True, 0, None)


def test_a_changed_raw_event_breaks_the_chain_at_that_record() -> None:
    records = build(6)
    tampered = records[3].raw.replace('"outcome":"denied"', '"outcome":"success"')
    assert tampered != records[3].raw
    records[3] = dataclasses.replace(records[3], raw=tampered)
    assert verify(records, head(records)) == (False, 6, 4)


def test_a_changed_column_is_detected_even_when_raw_is_untouched() -> None:
    records = build(6)
    columns: dict[str, Any] = dict(records[2].columns)
    columns["reason"] = "all good"
    records[2] = dataclasses.replace(records[2], columns=columns)
    assert verify(records) == (False, 6, 3)


def test_a_recomputed_hash_still_breaks_the_next_link() -> None:
    records = build(5)
    raw = event(99)
    records[1] = dataclasses.replace(
        records[1], raw=raw.decode(), hash=chain_hash(records[1].prev_hash, raw), columns=project(raw)
    )
    assert verify(records) == (False, 5, 3)


def test_a_deleted_record_breaks_the_chain_at_its_seq() -> None:
    records = build(6)
    del records[2]
    assert verify(records, head(build(6))) == (False, 5, 3)


def test_deleting_the_newest_records_is_caught_by_the_head() -> None:
    full = build(6)
    assert verify(full[:4], head(full)) == (False, 4, 5)
    assert verify([], head(full)) == (False, 0, 1)
    assert verify(full[:4]) == (True, 4, None)  # without the head it cannot be seen


def test_a_reordered_pair_breaks_at_the_first_of_the_two() -> None:
    records = build(6)
    a, b = records[2], records[3]
    records[2] = dataclasses.replace(b, seq=3)
    records[3] = dataclasses.replace(a, seq=4)
    assert verify(records, head(records)) == (False, 6, 3)


def test_the_first_broken_seq_is_reported_when_several_are_broken() -> None:
    records = build(8)
    for i in (6, 2):
        records[i] = dataclasses.replace(records[i], hash="f" * 64)
    assert verify(records) == (False, 8, 3)


def test_project_takes_the_columns_from_the_event() -> None:
    fields = project(event(7, tenant="t-1", outcome="denied"))
    assert fields["tenant_id"] == "t-1" and fields["event_id"] == f"{7:032x}"
    assert fields["action"] == "key.created" and fields["outcome"] == "denied"
    assert fields["actor_kind"] == "access_key" and fields["actor_id"] == "ak_1"
    assert fields["resource"] == {"service_id": "openai", "key_type": "production"}
    assert fields["reason"] == "nope" and fields["request_id"] == "req-7"
    assert fields["time"].tzinfo is not None


def test_malformed_events_are_refused() -> None:
    for raw in (b"not json", b"{}", b'{"id":"x","tenantid":"a","time":"2025-01-01T00:00:00Z"}'):
        with pytest.raises(MalformedEvent):
            project(raw)
