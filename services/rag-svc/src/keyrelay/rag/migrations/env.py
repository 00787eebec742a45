"""Alembic environment of rag-svc. The service runs the migrations itself at startup
(keyrelay.rag.adapters.schema.migrate hands its connection in `config.attributes`); run by
hand (`alembic -c services/rag-svc/alembic.ini ...`) it connects to KEYRELAY_DATABASE_URL."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from keyrelay.rag.adapters.schema import VERSION_TABLE, metadata


def run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE)
    with context.begin_transaction():
        context.run_migrations()


async def run_standalone() -> None:
    from keyrelay.common.db import create_engine
    from keyrelay.rag.config import RagSettings

    engine = create_engine(RagSettings().database_url, pool_size=1)
    async with engine.begin() as connection:
        await connection.run_sync(run)
    await engine.dispose()


if (given := context.config.attributes.get("connection")) is not None:
    run(given)
else:
    asyncio.run(run_standalone())
