"""The router's Postgres state: tenant settings, monthly budgets, rate-limit windows and the
usage ledger. Everything that must be exact across replicas is one atomic statement here.

Budget: before a call the router reserves the call's maximum cost with one conditional
UPDATE (`spent + reserved + amount <= limit`), so concurrent requests on any number of
replicas can never reserve past the limit; after the call it settles (releases the
reservation, adds the actual cost). Rate limits: fixed one-minute windows counted with one
conditional upsert per request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from keyrelay.router.domain.catalog import BudgetTier
from keyrelay.router.domain.settings import TenantSettings

metadata = MetaData()

tenant_settings = Table(
    "router_tenant_settings",
    metadata,
    Column("tenant_id", String(63), primary_key=True),
    Column("budget_tier", String(16), nullable=False),
    Column("preferred_providers", ARRAY(String), nullable=False),
    Column("fallback_providers", ARRAY(String), nullable=False),
    Column("max_monthly_cost_micros", BigInteger),
    Column("on_budget_exceeded", String(16), nullable=False),
    Column("allow_platform_fallback", Boolean, nullable=False),
    Column("region", String(32), nullable=False),
    Column("tokens_per_minute", BigInteger, nullable=False, server_default="0"),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

budgets = Table(
    "router_budgets",
    metadata,
    Column("tenant_id", String(63), primary_key=True),
    Column("month", Date, primary_key=True),
    Column("spent_micros", BigInteger, nullable=False, server_default="0"),
    Column("reserved_micros", BigInteger, nullable=False, server_default="0"),
)

rate_windows = Table(
    "router_rate_windows",
    metadata,
    Column("bucket", String(200), primary_key=True),
    Column("window_start", DateTime(timezone=True), primary_key=True),
    Column("used", BigInteger, nullable=False),
)

ledger = Table(
    "router_usage_ledger",
    metadata,
    Column("id", String(64), primary_key=True),  # the response id; one row per call
    Column("event_id", String(64), nullable=False, unique=True),
    Column("tenant_id", String(63), nullable=False, index=True),
    Column("access_key_id", String(64), nullable=False),
    Column("request_id", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("task_type", String(32), nullable=False),
    Column("provider", String(64), nullable=False),
    Column("model", String(200), nullable=False),
    Column("key_source", String(16), nullable=False),
    Column("prompt_tokens", BigInteger, nullable=False),
    Column("completion_tokens", BigInteger, nullable=False),
    Column("estimated", Boolean, nullable=False),
    Column("cost_micros", BigInteger, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("stream", Boolean, nullable=False),
    Column("success", Boolean, nullable=False),
    Column("error_type", String(64), nullable=False),
    Column("attempts", Integer, nullable=False),
)


def _unnest_insert(table: Table) -> str:
    """`INSERT ... SELECT FROM unnest(one array per column)`: one statement text whatever the
    number of rows, so asyncpg prepares it once (a multi-row VALUES is new SQL per size)."""
    pg_types = {String: "text", BigInteger: "bigint", Integer: "integer", Boolean: "boolean", Float: "float8"}
    names, arrays = [], []
    for n, column in enumerate(table.columns, 1):
        kind = "timestamptz" if isinstance(column.type, DateTime) else pg_types[type(column.type)]
        names.append(column.name)
        arrays.append(f"${n}::{kind}[]")
    return (
        f"INSERT INTO {table.name} ({', '.join(names)}) "
        f"SELECT * FROM unnest({', '.join(arrays)}) ON CONFLICT DO NOTHING"
    )


LEDGER_INSERT = _unnest_insert(ledger)


def month_of(moment: datetime) -> date:
    return date(moment.year, moment.month, 1)


@dataclass(frozen=True)
class BudgetState:
    month: date
    spent_micros: int
    reserved_micros: int


class RouterStore:
    def __init__(self, engine: AsyncEngine, pool: asyncpg.Pool) -> None:
        self.engine = engine
        self.pool = pool

    async def create_schema(self) -> None:
        """Idempotent: tables are created if missing (see docs/decisions.md on migrations)."""
        async with self.engine.begin() as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(424242)"))  # replicas start together
            await conn.run_sync(metadata.create_all)

    # -- tenant settings ---------------------------------------------------------------

    async def get_settings(self, tenant_id: str) -> TenantSettings:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(tenant_settings).where(tenant_settings.c.tenant_id == tenant_id))
            ).first()
        if row is None:
            return TenantSettings(tenant_id=tenant_id)
        return TenantSettings(
            tenant_id=row.tenant_id,
            budget_tier=BudgetTier[row.budget_tier],
            preferred_providers=tuple(row.preferred_providers),
            fallback_providers=tuple(row.fallback_providers),
            max_monthly_cost_micros=row.max_monthly_cost_micros,
            on_budget_exceeded=row.on_budget_exceeded,
            allow_platform_fallback=row.allow_platform_fallback,
            region=row.region,
            tokens_per_minute=row.tokens_per_minute,
            updated_at=row.updated_at,
        )

    async def put_settings(self, s: TenantSettings) -> TenantSettings:
        values: dict[str, Any] = {
            "tenant_id": s.tenant_id,
            "budget_tier": s.budget_tier.name,
            "preferred_providers": list(s.preferred_providers),
            "fallback_providers": list(s.fallback_providers),
            "max_monthly_cost_micros": s.max_monthly_cost_micros,
            "on_budget_exceeded": s.on_budget_exceeded,
            "allow_platform_fallback": s.allow_platform_fallback,
            "region": s.region,
            "tokens_per_minute": s.tokens_per_minute,
            "updated_at": datetime.now(UTC),
        }
        statement = insert(tenant_settings).values(**values)
        statement = statement.on_conflict_do_update(index_elements=["tenant_id"], set_=values)
        async with self.engine.begin() as conn:
            await conn.execute(statement)
        return await self.get_settings(s.tenant_id)

    # -- budgets -------------------------------------------------------------------------

    # Hot path: reserve, settle and rate-limit counts run on every call, so they are single
    # SQL statements sent straight through asyncpg (measured: SQLAlchemy's statement
    # building added ~2 ms per call here). Each is atomic on its own (autocommit).

    async def reserve(self, tenant_id: str, amount: int, limit: int | None, now: datetime) -> bool:
        """Reserve `amount` micro-USD this month; False when that would pass `limit`.

        One statement: the row is created with the reservation, or updated only while
        spent + reserved + amount stays within the limit."""
        if limit is not None and amount > limit:
            return False
        row = await self.pool.fetchrow(
            """
            INSERT INTO router_budgets (tenant_id, month, spent_micros, reserved_micros)
            VALUES ($1, $2, 0, $3)
            ON CONFLICT (tenant_id, month) DO UPDATE
              SET reserved_micros = router_budgets.reserved_micros + $3
              WHERE $4::bigint IS NULL
                 OR router_budgets.spent_micros + router_budgets.reserved_micros + $3 <= $4::bigint
            RETURNING reserved_micros
            """,
            tenant_id,
            month_of(now),
            amount,
            limit,
        )
        return row is not None

    async def settle(self, settlements: Mapping[tuple[str, date], Sequence[int]]) -> None:
        """Release reservations and add actual spend: {(tenant, month): (reserved, actual)},
        one statement per entry, pipelined in one round trip and one transaction."""
        await self.pool.executemany(
            """
            INSERT INTO router_budgets (tenant_id, month, spent_micros, reserved_micros)
            VALUES ($1, $2, $4, 0)
            ON CONFLICT (tenant_id, month) DO UPDATE
              SET reserved_micros = greatest(router_budgets.reserved_micros - $3, 0),
                  spent_micros = router_budgets.spent_micros + $4
            """,
            [(tenant, month, *amounts) for (tenant, month), amounts in settlements.items()],
        )

    async def budget(self, tenant_id: str, now: datetime) -> BudgetState:
        month = month_of(now)
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(budgets.c.spent_micros, budgets.c.reserved_micros).where(
                        and_(budgets.c.tenant_id == tenant_id, budgets.c.month == month)
                    )
                )
            ).first()
        return BudgetState(month, row.spent_micros if row else 0, row.reserved_micros if row else 0)

    # -- rate limits ---------------------------------------------------------------------

    async def take(self, bucket: str, amount: int, limit: int, now: datetime) -> int | None:
        """Count `amount` against `bucket` in the current minute. Returns the seconds until
        the window ends when that would pass `limit` (nothing is counted then), else None."""
        window = now.replace(second=0, microsecond=0)
        retry_after = int((window + timedelta(minutes=1) - now).total_seconds()) + 1
        if amount > limit:
            return retry_after
        row = await self.pool.fetchrow(
            """
            INSERT INTO router_rate_windows (bucket, window_start, used) VALUES ($1, $2, $3)
            ON CONFLICT (bucket, window_start) DO UPDATE SET used = router_rate_windows.used + $3
              WHERE router_rate_windows.used + $3 <= $4
            RETURNING used
            """,
            bucket,
            window,
            amount,
            limit,
        )
        return None if row is not None else retry_after

    async def prune_rate_windows(self, now: datetime) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                rate_windows.delete().where(rate_windows.c.window_start < now - timedelta(minutes=5))
            )

    # -- usage ledger --------------------------------------------------------------------

    async def write_ledger(self, rows: list[dict[str, Any]]) -> int:
        """Insert usage rows; replays of the same event are ignored. Returns rows added."""
        if not rows:
            return 0
        columns = ([row[c.name] for row in rows] for c in ledger.columns)
        # The events are acknowledged to JetStream once this returns, so this commit waits for
        # the WAL flush the pool's sessions otherwise skip: a crash then loses no usage record.
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SET LOCAL synchronous_commit = on")
            status = await conn.execute(LEDGER_INSERT, *columns)
        return int(status.rsplit(" ", 1)[1])  # "INSERT 0 <rows>"

    async def usage(
        self, tenant_id: str, start: datetime, end: datetime, offset: int, limit: int
    ) -> list[Any]:
        query = (
            select(ledger)
            .where(
                and_(ledger.c.tenant_id == tenant_id, ledger.c.created_at >= start, ledger.c.created_at < end)
            )
            .order_by(ledger.c.created_at.desc(), ledger.c.id)
            .offset(offset)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            return list((await conn.execute(query)).all())

    async def analytics(self, tenant_id: str, start: datetime, end: datetime, group_by: str) -> list[Any]:
        key = {
            "model": ledger.c.model,
            "provider": ledger.c.provider,
            "day": func.to_char(func.timezone("UTC", ledger.c.created_at), "YYYY-MM-DD"),
        }[group_by]
        query = (
            select(
                key.label("key"),
                func.count().label("requests"),
                func.count().filter(ledger.c.success.is_(False)).label("errors"),
                func.coalesce(func.sum(ledger.c.prompt_tokens), 0).cast(BigInteger).label("prompt_tokens"),
                func.coalesce(func.sum(ledger.c.completion_tokens), 0)
                .cast(BigInteger)
                .label("completion_tokens"),
                func.coalesce(func.sum(ledger.c.cost_micros), 0).cast(BigInteger).label("cost_micros"),
                func.coalesce(func.avg(ledger.c.latency_ms), 0).cast(Float).label("avg_latency_ms"),
            )
            .where(
                and_(ledger.c.tenant_id == tenant_id, ledger.c.created_at >= start, ledger.c.created_at < end)
            )
            .group_by(key)
            .order_by(key)
        )
        async with self.engine.connect() as conn:
            return list((await conn.execute(query)).all())
