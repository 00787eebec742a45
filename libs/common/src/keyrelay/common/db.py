"""SQLAlchemy 2 async engine and sessions.

Engines are created in a service's lifespan (`create_engine(settings.database_url)`) and
handed down; nothing here runs at import time. `session_scope` gives a transaction that
commits on success and rolls back on any error, so nothing is half-written.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

from keyrelay.common.errors import Unavailable


def create_engine(
    url: str,
    *,
    pool_size: int = 10,
    pre_ping: bool = True,
    server_settings: dict[str, str] | None = None,
    echo: bool = False,
) -> AsyncEngine:
    """An async engine. `pre_ping` checks each connection on checkout (one extra round trip:
    hot paths turn it off and rely on SQLAlchemy discarding connections that fail);
    `server_settings` are per-session Postgres settings (e.g. synchronous_commit)."""
    return _create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=pre_ping,
        pool_recycle=1800,
        connect_args={"server_settings": server_settings or {}},
        echo=echo,
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def session_scope(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with factory() as session, session.begin():
        yield session


async def check_database(engine: AsyncEngine) -> None:
    """Raise Unavailable with a clear message when Postgres cannot be reached."""
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except (OperationalError, DBAPIError, OSError) as exc:
        raise Unavailable(
            f"PostgreSQL is unreachable ({type(exc).__name__}); check KEYRELAY_DATABASE_URL "
            "and that the database is running"
        ) from exc


# What a statement on an asyncpg pool raises when the database fails it or cannot be reached:
# background writers catch these, log and retry later.
POOL_ERRORS: tuple[type[BaseException], ...] = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)


async def _roll_back_if_open(conn: asyncpg.Connection) -> None:
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


async def create_asyncpg_pool(
    url: str,
    *,
    size: int = 10,
    server_settings: dict[str, str] | None = None,
    init: Callable[[asyncpg.Connection], Awaitable[None]] | None = None,
) -> asyncpg.Pool:
    """A plain asyncpg pool on the same database, for hot-path statements.

    Released connections are not reset with asyncpg's default (`RESET ALL`, `UNLISTEN *`,
    ... : one more round trip per statement); only an open transaction is rolled back. So
    nothing here may leave session state behind: `SET LOCAL` inside a transaction, never
    `SET`; per-session settings go in `server_settings`; a session advisory lock is released
    before the connection is.
    """
    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    return await asyncpg.create_pool(
        dsn,
        min_size=1,
        max_size=size,
        server_settings=server_settings or {},
        init=init,
        reset=_roll_back_if_open,
    )
