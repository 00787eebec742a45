"""gRPC server and client helpers: mutual TLS, per-RPC caller allow-lists, request ids,
and the one place where domain errors become gRPC statuses.

Every keyrelay server is built by `build_server()`: an aio server that requires a client
certificate from the platform CA, runs `KeyrelayInterceptor` on every call, and serves the
standard health and reflection services. The caller's identity is the common name of its
certificate; `allow` maps full method names (`/keyrelay.v1.KeyVault/ResolveKey`) to the
identities that may call them, `*` gives the default for methods not listed. Health and
reflection are open to any certificate the CA issued.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from keyrelay.common.context import (
    ACTOR_HEADER,
    REQUEST_ID_HEADER,
    TENANT_HEADER,
    Actor,
    actor_var,
    caller_var,
    new_request_id,
    request_id_var,
    tenant_id_var,
)
from keyrelay.common.errors import (
    ERROR_TYPE_METADATA,
    RETRY_AFTER_METADATA,
    InternalError,
    KeyrelayError,
    PermissionDenied,
)
from keyrelay.common.tls import load_material

log = logging.getLogger(__name__)

ALWAYS_ALLOWED_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
ANY_IDENTITY = "*"

_CHANNEL_OPTIONS = [
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
]


def server_credentials(tls_dir: Path, name: str) -> grpc.ServerCredentials:
    m = load_material(tls_dir, name)
    return grpc.ssl_server_credentials([(m.key, m.cert)], root_certificates=m.ca, require_client_auth=True)


def channel_credentials(tls_dir: Path, name: str) -> grpc.ChannelCredentials:
    m = load_material(tls_dir, name)
    return grpc.ssl_channel_credentials(root_certificates=m.ca, private_key=m.key, certificate_chain=m.cert)


def secure_channel(address: str, tls_dir: Path, identity: str) -> grpc.aio.Channel:
    """A channel to another keyrelay service, presenting `identity`'s certificate."""
    return grpc.aio.secure_channel(address, channel_credentials(tls_dir, identity), options=_CHANNEL_OPTIONS)


def call_metadata(extra: Iterable[tuple[str, str]] = ()) -> tuple[tuple[str, str], ...]:
    """Metadata for an outgoing call: request id, tenant and actor travel with it."""
    metadata = [(REQUEST_ID_HEADER, request_id_var.get() or new_request_id())]
    if (tenant := tenant_id_var.get()) is not None:
        metadata.append((TENANT_HEADER, tenant))
    if (actor := actor_var.get()) is not None:
        metadata.append((ACTOR_HEADER, actor.header()))
    return (*metadata, *extra)


def peer_identity(context: grpc.aio.ServicerContext) -> str | None:
    names = (context.auth_context() or {}).get("x509_common_name") or []
    return names[0].decode() if names else None


OnDenied = Callable[[str, "str | None", PermissionDenied], Awaitable[None]]


class KeyrelayInterceptor(grpc.aio.ServerInterceptor):
    """Allow-list check, request context and error mapping for every RPC.

    `on_denied(method, identity, error)` runs when the allow-list refuses a caller, so a
    service can audit refusals that never reach its servicer.
    """

    def __init__(self, allow: Mapping[str, Iterable[str]], on_denied: OnDenied | None = None) -> None:
        self._allow = {method: frozenset(ids) for method, ids in allow.items()}
        self._default = self._allow.get("*", frozenset())
        self._on_denied = on_denied
        self._wrapped: dict[str, grpc.RpcMethodHandler] = {}

    def allowed(self, method: str, identity: str | None) -> bool:
        if method.startswith(ALWAYS_ALLOWED_PREFIXES):
            return identity is not None
        permitted = self._allow.get(method, self._default)
        return identity is not None and (identity in permitted or ANY_IDENTITY in permitted)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Any],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        # Wrapped handlers are built once per method; per-call data comes from the context.
        method = details.method
        wrapped = self._wrapped.get(method)
        if wrapped is None:
            handler = await continuation(details)
            if handler is None:
                return None
            wrapped = self._wrap(method, handler)
            self._wrapped[method] = wrapped
        return wrapped

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap_unary(method, handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(method, handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler  # client/bidi streaming: not used by keyrelay's contract

    async def _enter(self, method: str, context: Any) -> None:
        request_id = tenant = actor = None
        for key, value in context.invocation_metadata() or ():
            if key == REQUEST_ID_HEADER:
                request_id = value
            elif key == TENANT_HEADER:
                tenant = value
            elif key == ACTOR_HEADER:
                actor = value
        request_id_var.set(str(request_id or new_request_id())[:128])
        tenant_id_var.set(tenant)
        identity = peer_identity(context)
        caller_var.set(identity)
        actor_var.set(Actor.parse(actor) or Actor("service", identity or "unknown"))
        if not self.allowed(method, identity):
            denied = PermissionDenied(
                f"caller '{identity or 'unknown'}' may not call {method}; "
                "ask the platform operator to allow this service identity"
            )
            if self._on_denied is not None:
                await self._on_denied(method, identity, denied)
            raise denied

    def _wrap_unary(self, method: str, behavior: Any) -> Any:
        async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
            try:
                await self._enter(method, context)
                return await behavior(request, context)
            except KeyrelayError as err:
                await _abort(context, err)
            except grpc.aio.AbortError:
                raise
            except Exception:  # noqa: BLE001 - the one place that turns bugs into INTERNAL
                log.exception("unhandled error in %s", method)
                await _abort(context, InternalError("internal error; see the service log"))

        return call

    def _wrap_stream(self, method: str, behavior: Any) -> Any:
        async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
            try:
                await self._enter(method, context)
                async for item in behavior(request, context):
                    yield item
            except KeyrelayError as err:
                await _abort(context, err)
            except grpc.aio.AbortError:
                raise
            except Exception:  # noqa: BLE001 - the one place that turns bugs into INTERNAL
                log.exception("unhandled error in %s", method)
                await _abort(context, InternalError("internal error; see the service log"))

        return call


async def _abort(context: grpc.aio.ServicerContext, err: KeyrelayError) -> None:
    trailers: list[tuple[str, str]] = [(ERROR_TYPE_METADATA, err.type)]
    if err.retry_after is not None:
        trailers.append((RETRY_AFTER_METADATA, str(err.retry_after)))
    context.set_trailing_metadata(tuple(trailers))
    await context.abort(err.grpc_code, err.message)


def build_server(
    *,
    tls_dir: Path,
    identity: str,
    address: str,
    allow: Mapping[str, Iterable[str]],
    service_names: Iterable[str],
    register: Callable[[grpc.aio.Server], None],
    on_denied: OnDenied | None = None,
) -> tuple[grpc.aio.Server, health.aio.HealthServicer, int]:
    """Create (not start) a server with mTLS, the interceptor, health and reflection.

    Returns the server, its health servicer (set SERVING once dependencies are ready) and
    the bound port (useful when `address` ends in `:0`).
    """
    # No SO_REUSEPORT: a second process on the same port must fail, not share it silently.
    options = [*_CHANNEL_OPTIONS, ("grpc.so_reuseport", 0)]
    server = grpc.aio.server(interceptors=[KeyrelayInterceptor(allow, on_denied)], options=options)
    register(server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = list(service_names)
    reflection.enable_server_reflection([*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    try:
        port = server.add_secure_port(address, server_credentials(tls_dir, identity))
    except RuntimeError as exc:
        raise OSError(f"cannot listen on {address}: the port is in use or the address is invalid") from exc
    return server, health_servicer, port


async def set_serving(health_servicer: health.aio.HealthServicer, names: Iterable[str], ok: bool) -> None:
    status = health_pb2.HealthCheckResponse.SERVING if ok else health_pb2.HealthCheckResponse.NOT_SERVING
    for name in ["", *names]:
        await health_servicer.set(name, status)
