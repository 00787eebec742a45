"""keyvault-svc entrypoint: settings, clients and the gRPC server are built here.

Background work: token renewal, usage counters (every 5 s), destroying rotated versions
whose grace period ended (every 10 s), and the health loop, which also drops every cache
when Vault is sealed or unreachable (a sealed Vault must stop all key use).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from functools import partial

from keyrelay.common.audit import Auditor
from keyrelay.common.context import tenant_id_var
from keyrelay.common.errors import KeyrelayError, PermissionDenied, Unavailable
from keyrelay.common.lifecycle import run
from keyrelay.common.logging import configure_logging
from keyrelay.common.nats_helpers import EventPublisher, connect, drain
from keyrelay.common.rpc import secure_channel
from keyrelay.common.service import run_grpc_service
from keyrelay.keyvault.adapters.grpc_api import ALLOW, SERVICE_NAME, KeyVaultService
from keyrelay.keyvault.adapters.store import KeyStore
from keyrelay.keyvault.adapters.vault import VaultGateway
from keyrelay.keyvault.config import KeyvaultSettings
from keyrelay.keyvault.custody import Custody
from keyrelay.keyvault.domain.catalog import Catalog
from keyrelay.keyvault.domain.records import now_utc
from keyrelay.v1 import keyvault_pb2_grpc, router_pb2_grpc

log = logging.getLogger(__name__)


async def every(seconds: float, work: Callable[[], Awaitable[object]]) -> None:
    while True:
        await asyncio.sleep(seconds)
        try:
            await work()
        except KeyrelayError as err:
            log.warning("periodic task failed: %s", err.message)
        except Exception:  # noqa: BLE001 - a bug must not stop the loop; it is logged in full
            log.exception("periodic task failed")


async def serve(settings: KeyvaultSettings) -> None:
    vault = VaultGateway(settings)
    publisher = EventPublisher(
        partial(connect, settings.nats_url, "keyvault-svc"), settings.spool_dir("keyvault")
    )
    await publisher.start()
    auditor = Auditor(publisher, "keyvault-svc")
    custody = Custody(
        KeyStore(vault),
        Catalog.load(),
        auditor,
        cache_ttl=settings.keyvault_cache_ttl_seconds,
        record_cache_ttl=settings.keyvault_record_cache_ttl_seconds,
        secret_readers=settings.keyvault_secret_readers,
    )
    router_channel = secure_channel(settings.router_addr, settings.tls_path, "keyvault")
    service = KeyVaultService(custody, vault, router_pb2_grpc.RouterStub(router_channel))
    control: dict[str, object] = {}

    async def attach_invalidations() -> None:
        nc = await connect(settings.nats_url, "keyvault-svc-control")
        control["nc"] = nc
        await custody.invalidations.attach(nc)

    async def vault_usable() -> None:
        try:
            await vault.check()
        except Unavailable:
            custody.drop_caches()
            raise

    async def on_denied(method: str, identity: str | None, err: PermissionDenied) -> None:
        await auditor.record(
            "rpc.denied", tenant_id_var.get() or "_platform", {"method": method}, "denied", err.message
        )

    tasks = [
        asyncio.create_task(attach_invalidations()),
        asyncio.create_task(vault.keep_token_fresh()),
        asyncio.create_task(every(5, custody.flush_usage)),
        asyncio.create_task(every(10, lambda: custody.store.destroy_due(now_utc()))),
    ]

    async def shutdown() -> None:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(KeyrelayError):
            await custody.flush_usage()
        await auditor.drain()
        await publisher.close()
        await drain(control.get("nc"))  # type: ignore[arg-type]
        await router_channel.close()

    await run_grpc_service(
        settings,
        identity="keyvault",
        listen=settings.keyvault_listen,
        allow=ALLOW,
        service_name=SERVICE_NAME,
        register=lambda server: keyvault_pb2_grpc.add_KeyVaultServicer_to_server(service, server),
        checks={"vault": vault_usable},
        on_shutdown=[shutdown],
        on_denied=on_denied,
    )


def main() -> None:
    settings = KeyvaultSettings()
    configure_logging("keyvault", settings.log_level, settings.log_json)
    run(serve(settings))


if __name__ == "__main__":
    main()
