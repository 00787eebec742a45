"""The audit projector (SPEC §8): KEYRELAY_AUDIT into Postgres, one hash chain per tenant.

A durable JetStream pull consumer (`portal-audit`) is shared by every portal replica, so
JetStream splits the messages between them. Each fetched batch is written in one
transaction: per tenant (in sorted order, so two replicas never deadlock) the chain head
row `portal_audit_heads(tenant_id)` is locked with `SELECT ... FOR UPDATE`, events whose
`event_id` is already stored are skipped (redeliveries, spool replays), the others get the
next seq and `hash = H(prev_hash || raw event)` (domain/audit_chain.py), and the head moves
on. Messages are acknowledged only after the commit; an unacknowledged one comes back and is
then recognised by its event id. The head lock keeps each tenant's chain linear whichever
replica writes; the order of a chain is the order the projector filed the events (stream
order with one replica; `time` is always the event's own time).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import nats.errors
from nats.js.api import AckPolicy, ConsumerConfig
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    MetaData,
    String,
    Table,
    Text,
    and_,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from keyrelay.common.errors import Unavailable
from keyrelay.common.nats_helpers import AUDIT_STREAM, AUDIT_SUBJECTS
from keyrelay.portal.domain.audit_chain import (
    GENESIS,
    ChainVerifier,
    MalformedEvent,
    Record,
    Verdict,
    chain_hash,
    project,
)

if TYPE_CHECKING:
    from keyrelay.portal.adapters.clients import Clients

log = logging.getLogger(__name__)

DURABLE = "portal-audit"
_SCHEMA_LOCK = 7_424_243  # pg advisory lock: replicas create the schema one at a time
_COLUMNS = (
    "tenant_id",
    "event_id",
    "time",
    "type",
    "action",
    "outcome",
    "actor_kind",
    "actor_id",
    "resource",
    "reason",
    "request_id",
)

metadata = MetaData()

audit_log = Table(
    "portal_audit_log",
    metadata,
    Column("tenant_id", String(63), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("event_id", Text, nullable=False, unique=True),
    Column("time", DateTime(timezone=True), nullable=False),
    Column("type", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("outcome", Text, nullable=False),
    Column("actor_kind", Text, nullable=False),
    Column("actor_id", Text, nullable=False),
    Column("resource", JSONB, nullable=False),
    Column("reason", Text),
    Column("request_id", Text),
    Column("raw", Text, nullable=False),  # the event exactly as received (canonical bytes)
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_portal_audit_log_tenant_time", "tenant_id", "time"),
)

audit_heads = Table(
    "portal_audit_heads",
    metadata,
    Column("tenant_id", String(63), primary_key=True),
    Column("seq", BigInteger, nullable=False),  # the newest record's seq; 0 = empty chain
    Column("hash", String(64), nullable=False),
)


@dataclass(frozen=True)
class AuditQuery:
    tenant_id: str
    action: str | None = None  # "key" matches key and key.*; "key.created" that action
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    after_seq: int = 0
    limit: int = 100


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class AuditLog:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create_schema(self) -> None:
        """Idempotent: tables are created if missing."""
        async with self.engine.begin() as conn:
            await conn.execute(text(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK})"))
            await conn.run_sync(metadata.create_all)

    # -- writing -----------------------------------------------------------------------

    async def append(self, raws: list[bytes]) -> int:
        """File a batch of wire events in one transaction; returns how many were new.

        Malformed events are logged and skipped (they name no tenant to file them under)."""
        by_tenant: dict[str, list[tuple[bytes, dict[str, Any]]]] = {}
        seen: set[str] = set()
        for raw in raws:
            try:
                fields = project(raw)
            except MalformedEvent as exc:
                log.error("audit event skipped: %s", exc)
                continue
            if fields["event_id"] in seen:
                continue
            seen.add(fields["event_id"])
            by_tenant.setdefault(fields["tenant_id"], []).append((raw, fields))
        written = 0
        async with self.engine.begin() as conn:
            for tenant_id in sorted(by_tenant):
                events = by_tenant[tenant_id]
                await conn.execute(
                    insert(audit_heads)
                    .values(tenant_id=tenant_id, seq=0, hash=GENESIS)
                    .on_conflict_do_nothing(index_elements=["tenant_id"])
                )
                head = (
                    await conn.execute(
                        select(audit_heads.c.seq, audit_heads.c.hash)
                        .where(audit_heads.c.tenant_id == tenant_id)
                        .with_for_update()
                    )
                ).one()
                # After the lock: whatever another replica filed for this tenant is visible.
                stored = set(
                    (
                        await conn.execute(
                            select(audit_log.c.event_id).where(
                                audit_log.c.event_id.in_([f["event_id"] for _, f in events])
                            )
                        )
                    ).scalars()
                )
                seq, prev = int(head.seq), str(head.hash)
                rows = []
                for raw, fields in events:
                    if fields["event_id"] in stored:
                        continue
                    seq += 1
                    digest = chain_hash(prev, raw)
                    rows.append(
                        {**fields, "seq": seq, "raw": raw.decode("utf-8"), "prev_hash": prev, "hash": digest}
                    )
                    prev = digest
                if rows:
                    await conn.execute(insert(audit_log), rows)
                    await conn.execute(
                        update(audit_heads)
                        .where(audit_heads.c.tenant_id == tenant_id)
                        .values(seq=seq, hash=prev)
                    )
                    written += len(rows)
        log.debug("audit: filed %d new event(s) of %d tenant(s)", written, len(by_tenant))
        return written

    # -- reading -----------------------------------------------------------------------

    async def query(self, q: AuditQuery) -> tuple[list[dict[str, Any]], int | None]:
        """Records of one tenant in seq order after `q.after_seq`, and the cursor of the next
        page (the last seq returned) or None when there is no more."""
        conditions = [audit_log.c.tenant_id == q.tenant_id, audit_log.c.seq > q.after_seq]
        if q.action:
            conditions.append(
                or_(
                    audit_log.c.action == q.action,
                    audit_log.c.action.like(_like_escape(q.action) + ".%", escape="\\"),
                )
            )
        if q.outcome:
            conditions.append(audit_log.c.outcome == q.outcome)
        if q.since is not None:
            conditions.append(audit_log.c.time >= q.since)
        if q.until is not None:
            conditions.append(audit_log.c.time < q.until)
        statement = select(audit_log).where(and_(*conditions)).order_by(audit_log.c.seq).limit(q.limit + 1)
        async with self._reading() as conn:
            rows = [dict(r._mapping) for r in await conn.execute(statement)]
        more = len(rows) > q.limit
        rows = rows[: q.limit]
        return rows, (rows[-1]["seq"] if more and rows else None)

    async def verify(self, tenant_id: str, chunk: int = 1000) -> Verdict:
        """Recompute the tenant's chain (SPEC §7 `GET /v1/audit/verify`), from one consistent
        snapshot (head and records), reading the records in pages of `chunk`."""
        verifier = ChainVerifier()
        async with self._reading(isolation_level="REPEATABLE READ") as conn:
            head = (
                await conn.execute(
                    select(audit_heads.c.seq, audit_heads.c.hash).where(audit_heads.c.tenant_id == tenant_id)
                )
            ).first()
            after = 0
            while True:
                page = (
                    await conn.execute(
                        select(audit_log)
                        .where(audit_log.c.tenant_id == tenant_id, audit_log.c.seq > after)
                        .order_by(audit_log.c.seq)
                        .limit(chunk)
                    )
                ).all()
                for row in page:
                    m = row._mapping
                    verifier.feed(
                        Record(
                            seq=int(m["seq"]),
                            raw=m["raw"],
                            prev_hash=m["prev_hash"],
                            hash=m["hash"],
                            columns={name: m[name] for name in _COLUMNS},
                        )
                    )
                if len(page) < chunk:
                    break
                after = int(page[-1].seq)
        return verifier.finish(None if head is None else (int(head.seq), str(head.hash)))

    @contextlib.asynccontextmanager
    async def _reading(self, isolation_level: str | None = None) -> AsyncIterator[AsyncConnection]:
        try:
            async with self.engine.connect() as conn:
                if isolation_level is not None:
                    await conn.execution_options(isolation_level=isolation_level)
                async with conn.begin():
                    yield conn
        except DBAPIError as exc:
            name = type(exc.orig).__name__ if exc.orig is not None else "database error"
            raise Unavailable(f"the audit log is unavailable ({name}); try again shortly") from exc
        except OSError as exc:
            raise Unavailable("the audit log is unavailable: PostgreSQL is unreachable") from exc


def record_json(row: dict[str, Any]) -> dict[str, Any]:
    """The API form of a stored record (never `raw`: it is the same data, as stored)."""
    return {
        "seq": row["seq"],
        "event_id": row["event_id"],
        "time": row["time"].isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "type": row["type"],
        "action": row["action"],
        "outcome": row["outcome"],
        "actor": {"kind": row["actor_kind"], "id": row["actor_id"]},
        "resource": row["resource"],
        "reason": row["reason"],
        "request_id": row["request_id"],
        "hash": row["hash"],
    }


class AuditProjector:
    """The background task: schema, then the durable consumer, until cancelled."""

    def __init__(self, clients: Clients, batch: int = 256) -> None:
        self.clients = clients
        self.log = AuditLog(clients.engine)
        self.batch = batch
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="portal-audit-projector")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def run(self) -> None:
        while True:
            try:
                await self.log.create_schema()
                break
            except (SQLAlchemyError, OSError) as exc:
                log.warning("audit schema not created yet (%s); retrying", type(exc).__name__)
                await asyncio.sleep(1)
        while True:
            try:
                sub = await self._subscribe()
                try:
                    await self._consume(sub)  # returns when the subscription looks broken
                finally:
                    with contextlib.suppress(Exception):
                        await sub.unsubscribe()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the projector must outlive any one failure
                log.exception("audit projector failed; restarting it")
                await asyncio.sleep(1)

    async def _subscribe(self) -> Any:
        config = ConsumerConfig(durable_name=DURABLE, ack_policy=AckPolicy.EXPLICIT, max_ack_pending=10_000)
        while True:
            nc = self.clients.nats
            if nc is not None and nc.is_connected:
                try:
                    sub = await nc.jetstream().pull_subscribe(
                        AUDIT_SUBJECTS, durable=DURABLE, stream=AUDIT_STREAM, config=config
                    )
                    log.info("audit projector consuming %s (durable consumer %s)", AUDIT_STREAM, DURABLE)
                    return sub
                except (TimeoutError, nats.errors.Error, OSError) as exc:
                    log.warning("audit consumer not ready (%r); retrying", exc)
            await asyncio.sleep(1)

    async def _consume(self, sub: Any) -> None:
        failures = 0
        while True:
            try:
                messages = await sub.fetch(self.batch, timeout=1)
            except (TimeoutError, nats.errors.TimeoutError):
                failures = 0
                continue
            except (nats.errors.Error, OSError) as exc:
                failures += 1
                log.warning("audit fetch failed (%r); retrying", exc)
                if failures >= 10:
                    return
                await asyncio.sleep(0.5)
                continue
            failures = 0
            if await self._write(messages):
                for msg in messages:
                    with contextlib.suppress(nats.errors.Error, OSError):
                        await msg.ack()

    async def _write(self, messages: list[Any]) -> bool:
        """Write the batch, retrying a few times (keeps the chain in stream order across a
        short database outage); False leaves the batch unacknowledged, to come back."""
        for attempt in range(5):
            try:
                await self.log.append([msg.data for msg in messages])
                return True
            except (SQLAlchemyError, OSError) as exc:
                log.warning("audit write failed (%s); attempt %d", type(exc).__name__, attempt + 1)
                await asyncio.sleep(min(2**attempt, 5))
        return False
