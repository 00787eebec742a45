"""rag-svc entrypoint: settings, clients, the local model and the gRPC server are built here.

Clients: the Postgres engine (management) and asyncpg pool (search, chunk writes, with
pgvector's codec and HNSW settings per session), the router channel (answers, remote
embeddings), NATS (audit and usage events). The local embedding model loads in a thread
while the server already answers; the first call that needs it waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
from functools import partial

import asyncpg
from pgvector.asyncpg import register_vector

from keyrelay.common.db import check_database, create_asyncpg_pool, create_engine
from keyrelay.common.lifecycle import run
from keyrelay.common.logging import configure_logging
from keyrelay.common.nats_helpers import EventPublisher, connect
from keyrelay.common.rpc import secure_channel
from keyrelay.common.service import run_grpc_service
from keyrelay.rag.adapters.embedders import LocalEmbedder, load_tokenizer
from keyrelay.rag.adapters.grpc_api import ALLOW, SERVICE_NAME, RagServicer
from keyrelay.rag.adapters.retrieval import Retrieval
from keyrelay.rag.adapters.schema import migrate
from keyrelay.rag.adapters.store import RagStore
from keyrelay.rag.config import RagSettings
from keyrelay.rag.library import Library
from keyrelay.v1 import rag_pb2_grpc, router_pb2_grpc


async def create_search_pool(settings: RagSettings) -> asyncpg.Pool:
    search_settings = {
        "hnsw.ef_search": str(settings.rag_hnsw_ef_search),
        "hnsw.iterative_scan": "strict_order",
        "hnsw.max_scan_tuples": str(settings.rag_hnsw_max_scan_tuples),
        # Plan each search with its collection id as a constant: a large collection's own
        # partial index can only be chosen then, and so can exact vs HNSW by its size.
        "plan_cache_mode": "force_custom_plan",
    }
    return await create_asyncpg_pool(
        settings.database_url,
        size=settings.rag_db_pool_size,
        server_settings=search_settings,
        init=register_vector,
    )


async def serve(settings: RagSettings) -> None:
    engine = create_engine(settings.database_url)
    await migrate(engine)
    pool = await create_search_pool(settings)
    local = LocalEmbedder(settings.rag_embed_batch)
    if settings.rag_preload_model:
        local.start_loading()
    tokenizer = load_tokenizer()
    router_channel = secure_channel(settings.router_addr, settings.tls_path, "rag")
    publisher = EventPublisher(partial(connect, settings.nats_url, "rag-svc"), settings.spool_dir("rag"))
    await publisher.start()
    library = Library(
        settings,
        RagStore(engine, pool),
        Retrieval(pool, settings.rag_exact_search_max_chunks),
        local,
        lambda text: tokenizer.encode(text, add_special_tokens=False).offsets,
        router_pb2_grpc.RouterStub(router_channel),
        publisher,
    )
    jobs = asyncio.create_task(library.run_jobs())

    async def shutdown() -> None:
        await library.stop_index_builds()
        jobs.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await jobs
        await publisher.close()
        await router_channel.close()
        local.close()
        await pool.close()
        await engine.dispose()

    await run_grpc_service(
        settings,
        identity="rag",
        listen=settings.rag_listen,
        allow=ALLOW,
        service_name=SERVICE_NAME,
        register=lambda server: rag_pb2_grpc.add_RagServicer_to_server(RagServicer(library), server),
        checks={"database": partial(check_database, engine)},
        on_shutdown=[shutdown],
    )


def main() -> None:
    settings = RagSettings()
    configure_logging("rag", settings.log_level, settings.log_json)
    run(serve(settings))


if __name__ == "__main__":
    main()
