"""The tamper-evident audit chain (SPEC §8): pure rules, no I/O.

Each tenant's audit records form one hash chain, numbered `seq` = 1, 2, 3, ...:

    hash(1) = H(GENESIS || event(1)),   hash(n) = H(hash(n-1) || event(n))

where `H` is SHA-256 written as 64 lowercase hex characters, `||` is byte concatenation,
`hash(n-1)` enters as its 64 ASCII hex characters and `GENESIS` is 64 zeros.

The canonical event bytes are **the event exactly as received on the wire**: the NATS
message body, which the publisher writes as compact one-line UTF-8 JSON (docs/events.md).
They are stored verbatim (`raw`), so the chain never depends on re-serialising JSON. The
queryable columns (action, outcome, reason, ...) are a projection of `raw` (`project`);
`verify` re-derives them, so editing a column without editing `raw` is detected too.

`verify` walks the records in `seq` order and reports the first seq where the stored chain
stops being a valid chain: a record whose hash, link or columns do not match, or the seq a
missing record should have had. With the tenant's chain head (the last seq and hash the
projector wrote), the removal of the newest records is detected as well.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

GENESIS = "0" * 64


def chain_hash(prev_hash: str, event_json: bytes) -> str:
    """Hex SHA-256 of `prev_hash` (as ASCII) followed by the event's canonical bytes."""
    return hashlib.sha256(prev_hash.encode("ascii") + event_json).hexdigest()


class MalformedEvent(ValueError):
    """An audit message that is not an event the projector can file."""


def parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise MalformedEvent("event time has no time zone")
    return moment


def project(raw: bytes) -> dict[str, Any]:
    """The queryable columns of an audit event, derived from its canonical bytes only."""
    try:
        event = json.loads(raw)
        data = event.get("data") or {}
        actor = data.get("actor") or {}
        resource = data.get("resource")
        fields = {
            "tenant_id": str(event["tenantid"]),
            "event_id": str(event["id"]),
            "time": parse_time(str(event["time"])),
            "type": str(event["type"]),
            "action": str(data["action"]),
            "outcome": str(data["outcome"]),
            "actor_kind": str(actor.get("kind") or ""),
            "actor_id": str(actor.get("id") or ""),
            "resource": resource if isinstance(resource, dict) else {},
            "reason": None if data.get("reason") is None else str(data["reason"]),
            "request_id": None if data.get("request_id") is None else str(data["request_id"]),
        }
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise MalformedEvent(f"malformed audit event: {type(exc).__name__}") from exc
    if not fields["event_id"] or not fields["tenant_id"]:
        raise MalformedEvent("malformed audit event: empty id or tenantid")
    return fields


@dataclass(frozen=True)
class Record:
    """One stored audit record: its place in the chain, its columns and its raw event."""

    seq: int
    raw: str
    prev_hash: str
    hash: str
    columns: Mapping[str, Any]


@dataclass(frozen=True)
class Verdict:
    intact: bool
    count: int
    first_broken: int | None


class ChainVerifier:
    """Checks a chain fed in `seq` order, in pieces (a tenant's log need not fit in memory)."""

    def __init__(self) -> None:
        self.count = 0
        self.first_broken: int | None = None
        self._expected_seq = 1
        self._hash = GENESIS

    def feed(self, record: Record) -> None:
        self.count += 1
        if self.first_broken is not None:
            return
        if record.seq != self._expected_seq:
            # A missing record (gap) or a duplicated/reordered number: the chain breaks at the
            # seq that should come next.
            self.first_broken = min(record.seq, self._expected_seq)
            return
        raw = record.raw.encode("utf-8")
        if record.prev_hash != self._hash or record.hash != chain_hash(self._hash, raw):
            self.first_broken = record.seq
            return
        try:
            derived = project(raw)
        except MalformedEvent:
            self.first_broken = record.seq
            return
        if any(
            record.columns.get(name) != value for name, value in derived.items() if name in record.columns
        ):
            self.first_broken = record.seq
            return
        self._expected_seq += 1
        self._hash = record.hash

    def finish(self, head: tuple[int, str] | None = None) -> Verdict:
        """The verdict; `head` is (seq, hash) of the newest record the projector wrote."""
        if self.first_broken is None and head is not None:
            head_seq, head_hash = head
            last = self._expected_seq - 1
            if head_seq != last:  # newest records removed, or records beyond the head
                self.first_broken = min(head_seq, last) + 1
            elif head_hash != self._hash:
                self.first_broken = max(head_seq, 1)
        return Verdict(self.first_broken is None, self.count, self.first_broken)


def verify(records: Iterable[Record], head: tuple[int, str] | None = None) -> tuple[bool, int, int | None]:
    """(intact, number of records, first broken seq or None) for records in seq order."""
    verifier = ChainVerifier()
    for record in records:
        verifier.feed(record)
    verdict = verifier.finish(head)
    return verdict.intact, verdict.count, verdict.first_broken
