"""SQLAlchemy 2 async engine and sessions.

Engines are created in a service's lifespan (`create_engine(settings.database_url)`) and
handed down; nothing here runs at import time. `session_scope` gives a transaction that
commits on success and rolls back on any error, so nothing is half-written.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

from keyrelay.common.errors import Unavailable


def create_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    return _create_async_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, echo=echo
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
