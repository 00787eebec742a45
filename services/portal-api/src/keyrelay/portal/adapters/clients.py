"""Everything the portal talks to, built once in the lifespan and handed to routes, and the
two ways routes call a backing service: `rpc` (unary) and `open_stream` (server streams).
Both turn a gRPC failure into its domain error through `metrics.rpc_failure`, which counts it
as an upstream error of that service: routes never catch `RpcError` themselves."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Generic, TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from nats.aio.client import Client as NATS
from sqlalchemy.ext.asyncio import AsyncEngine

from keyrelay.common.db import check_database, create_engine
from keyrelay.common.errors import Unavailable
from keyrelay.common.nats_helpers import connect, drain, ensure_streams
from keyrelay.common.rpc import call_metadata, secure_channel
from keyrelay.portal.adapters.access_keys import AccessKeyVerifier
from keyrelay.portal.adapters.metrics import Service, rpc_failure
from keyrelay.portal.config import PortalSettings
from keyrelay.portal.domain.auth import Authenticator
from keyrelay.portal.domain.jwt_auth import JwtVerifier
from keyrelay.v1 import keyvault_pb2, keyvault_pb2_grpc, rag_pb2_grpc, router_pb2_grpc

R = TypeVar("R")
M = TypeVar("M")
RPC_TIMEOUT = 10.0


async def rpc(
    service: Service, method: Callable[..., Awaitable[R]], request: Any, deadline: float = RPC_TIMEOUT
) -> R:
    """One call to `service` with this request's metadata; a gRPC failure becomes its domain
    error (and so the right HTTP status), counted once as that service's upstream error."""
    try:
        return await method(request, metadata=call_metadata(), timeout=deadline)
    except grpc.RpcError as err:
        raise rpc_failure(service, err) from err


class ServerStream(Generic[M]):
    """A server-streaming call whose first message has arrived (see `open_stream`). Iterating
    gives every message from the first on; a failure mid-stream is raised as its domain error,
    counted like `rpc`'s. `observe` sees each message as it passes (e.g. to record spend).
    `cancel()` releases the call: call it when the client went away or the stream is over."""

    def __init__(
        self, service: Service, call: Any, first: M, observe: Callable[[M], None] | None = None
    ) -> None:
        self.service = service
        self._call = call
        self._first = first
        self._observe = observe

    async def __aiter__(self) -> AsyncIterator[M]:
        message = self._first
        while message is not grpc.aio.EOF:
            if self._observe is not None:
                self._observe(message)
            yield message
            try:
                message = await self._call.read()
            except grpc.RpcError as err:
                raise rpc_failure(self.service, err) from err

    def cancel(self) -> None:
        self._call.cancel()


async def open_stream(
    service: Service, call: Any, observe: Callable[[Any], None] | None = None
) -> ServerStream[Any]:
    """Await a server stream's first message before anything is answered, so that what fails
    before any output (budget, rate limit, no key, unknown model) is an HTTP error with its
    status; after that, failures come out of the iteration (an SSE `error` event)."""
    try:
        first = await call.read()
    except grpc.RpcError as err:
        raise rpc_failure(service, err) from err
    return ServerStream(service, call, first, observe)


@dataclass
class Clients:
    settings: PortalSettings
    channels: dict[str, grpc.aio.Channel]
    engine: AsyncEngine
    access_keys: AccessKeyVerifier
    authenticator: Authenticator
    nats: NATS | None = None
    _nats_task: asyncio.Task[None] | None = field(default=None, repr=False)

    @cached_property  # a stub builds one callable per RPC: once per channel, not per request
    def keyvault(self) -> keyvault_pb2_grpc.KeyVaultStub:
        return keyvault_pb2_grpc.KeyVaultStub(self.channels["keyvault"])

    @cached_property
    def router(self) -> router_pb2_grpc.RouterStub:
        return router_pb2_grpc.RouterStub(self.channels["router"])

    @cached_property
    def rag(self) -> rag_pb2_grpc.RagStub:
        return rag_pb2_grpc.RagStub(self.channels["rag"])

    @classmethod
    def create(cls, settings: PortalSettings) -> Clients:
        addresses = {
            "keyvault": settings.keyvault_addr,
            "router": settings.router_addr,
            "rag": settings.rag_addr,
        }
        channels = {
            name: secure_channel(addr, settings.tls_path, "portal") for name, addr in addresses.items()
        }
        access_keys = AccessKeyVerifier(
            keyvault_pb2_grpc.KeyVaultStub(channels["keyvault"]).VerifyAccessKey,
            ttl=settings.portal_access_key_cache_seconds,
        )
        return cls(
            settings=settings,
            channels=channels,
            engine=create_engine(settings.database_url),
            access_keys=access_keys,
            authenticator=Authenticator(
                settings.platform_admin_token,
                access_keys.verify,
                verify_jwt=jwt.verify if (jwt := JwtVerifier.from_settings(settings)) else None,
            ),
        )

    def start(self) -> None:
        """Connect to NATS in the background: a NATS outage must not stop the portal starting;
        /readyz reports it until the connection is made."""
        self._nats_task = asyncio.create_task(self._connect_nats(), name="portal-nats-connect")

    async def _connect_nats(self) -> None:
        self.nats = await connect(
            self.settings.nats_url, "portal-api", reconnected_cb=self.access_keys.on_reconnect
        )
        await self.access_keys.listen(self.nats)
        await ensure_streams(self.nats.jetstream())

    async def close(self) -> None:
        if self._nats_task is not None:
            self._nats_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._nats_task
        await drain(self.nats)
        for channel in self.channels.values():
            await channel.close()
        await self.engine.dispose()

    # -- readiness checks: each raises Unavailable with a message saying what is wrong --

    def service_check(self, name: str):  # noqa: ANN201 - returns an async check
        async def check() -> None:
            stub = health_pb2_grpc.HealthStub(self.channels[name])
            try:
                reply = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1.5)
            except grpc.aio.AioRpcError as err:
                raise Unavailable(f"{name}-svc unreachable: {err.code().name}") from err
            if reply.status != health_pb2.HealthCheckResponse.SERVING:
                raise Unavailable(f"{name}-svc is not serving (its dependencies are down)")

        return check

    async def check_nats(self) -> None:
        if self.nats is None or not self.nats.is_connected:
            raise Unavailable("NATS is unreachable; check KEYRELAY_NATS_URL")
        try:
            await self.nats.jetstream().account_info()
        except Exception as exc:  # noqa: BLE001 - any failure means JetStream is not usable
            raise Unavailable(f"JetStream is not available: {type(exc).__name__}") from exc

    async def check_vault(self) -> None:
        try:
            reply = await self.keyvault.Health(keyvault_pb2.HealthRequest(), timeout=3)
        except grpc.aio.AioRpcError as err:
            raise Unavailable(f"keyvault-svc unreachable: {err.code().name}") from err
        if not reply.ok:
            raise Unavailable(f"Vault: {reply.message}")

    async def check_database(self) -> None:
        await check_database(self.engine)
