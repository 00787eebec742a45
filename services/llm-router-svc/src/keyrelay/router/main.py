"""router service entrypoint: settings, database engine and gRPC server are built here."""

from __future__ import annotations

from functools import partial

from keyrelay.common.db import check_database, create_engine
from keyrelay.common.lifecycle import run
from keyrelay.common.logging import configure_logging
from keyrelay.common.service import run_grpc_service
from keyrelay.router.adapters.grpc_api import ALLOW, SERVICE_NAME, RouterService
from keyrelay.router.config import RouterSettings
from keyrelay.v1 import router_pb2_grpc


async def serve(settings: RouterSettings) -> None:
    engine = create_engine(settings.database_url)
    service = RouterService()
    await run_grpc_service(
        settings,
        identity="router",
        listen=settings.router_listen,
        allow=ALLOW,
        service_name=SERVICE_NAME,
        register=lambda server: router_pb2_grpc.add_RouterServicer_to_server(service, server),
        checks={"database": partial(check_database, engine)},
        on_shutdown=[engine.dispose],
    )


def main() -> None:
    settings = RouterSettings()
    configure_logging("router", settings.log_level, settings.log_json)
    run(serve(settings))


if __name__ == "__main__":
    main()
