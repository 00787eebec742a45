"""keyvault-svc entrypoint: settings, Vault client and gRPC server are built here."""

from __future__ import annotations

import asyncio

from keyrelay.common.logging import configure_logging
from keyrelay.common.service import run_grpc_service
from keyrelay.keyvault.adapters.grpc_api import ALLOW, SERVICE_NAME, KeyVaultService
from keyrelay.keyvault.adapters.vault import VaultGateway
from keyrelay.keyvault.config import KeyvaultSettings
from keyrelay.v1 import keyvault_pb2_grpc


async def serve(settings: KeyvaultSettings) -> None:
    vault = VaultGateway(settings)
    service = KeyVaultService(vault)
    await run_grpc_service(
        settings,
        identity="keyvault",
        listen=settings.keyvault_listen,
        allow=ALLOW,
        service_name=SERVICE_NAME,
        register=lambda server: keyvault_pb2_grpc.add_KeyVaultServicer_to_server(service, server),
        checks={"vault": vault.check},
    )


def main() -> None:
    settings = KeyvaultSettings()
    configure_logging("keyvault", settings.log_level, settings.log_json)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
