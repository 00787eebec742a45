"""mTLS and the per-RPC allow-list, on a real aio server over loopback."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from keyrelay.common import errors
from keyrelay.common.context import Actor, actor_var, caller_var, request_id_var, tenant_id_var
from keyrelay.common.rpc import build_server, call_metadata, secure_channel, set_serving
from keyrelay.common.tls import ensure_certificates

SECRET = "/test.Echo/Secret"
OPEN = "/test.Echo/Open"
FAIL = "/test.Echo/Fail"


def _echo_handlers(seen: list[object]) -> grpc.GenericRpcHandler:
    async def secret(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        seen.append((request_id_var.get(), tenant_id_var.get(), actor_var.get(), caller_var.get()))
        return b"secret:" + request

    async def open_(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        return b"open:" + request

    async def fail(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        raise errors.BudgetExceeded("monthly budget of $5.00 reached; raise max_monthly_cost")

    return grpc.method_handlers_generic_handler(
        "test.Echo",
        {
            "Secret": grpc.unary_unary_rpc_method_handler(secret),
            "Open": grpc.unary_unary_rpc_method_handler(open_),
            "Fail": grpc.unary_unary_rpc_method_handler(fail),
        },
    )


@pytest.fixture
async def server(tmp_path: Path):
    tls = tmp_path / "tls"
    ensure_certificates(tls, ["keyvault", "router", "portal"])
    seen: list[object] = []
    denied: list[tuple[str, str | None]] = []

    async def on_denied(method: str, identity: str | None, err: errors.PermissionDenied) -> None:
        denied.append((method, identity))

    srv, health_servicer, port = build_server(
        on_denied=on_denied,
        tls_dir=tls,
        identity="keyvault",
        address="127.0.0.1:0",
        allow={SECRET: ["router"], "*": ["router", "portal"]},
        service_names=["test.Echo"],
        register=lambda s: s.add_generic_rpc_handlers((_echo_handlers(seen),)),
    )
    await srv.start()
    await set_serving(health_servicer, ["test.Echo"], True)
    yield tls, f"127.0.0.1:{port}", seen, denied
    await srv.stop(None)


async def _call(channel: grpc.aio.Channel, method: str, payload: bytes = b"hi") -> bytes:
    return await channel.unary_unary(method)(payload, metadata=call_metadata(), timeout=5)


async def test_allowed_identity_reaches_the_method_with_its_request_context(server) -> None:
    tls, address, seen, denied = server
    request_id_var.set("req-123")
    tenant_id_var.set("acme")
    actor_var.set(Actor("access_key", "ak_1"))
    async with secure_channel(address, tls, "router") as channel:
        assert await _call(channel, SECRET) == b"secret:hi"
    assert seen == [("req-123", "acme", Actor("access_key", "ak_1"), "router")]
    assert denied == []


async def test_a_call_without_keyrelay_metadata_gets_a_new_request_id_and_acts_as_the_calling_service(
    server,
) -> None:
    tls, address, seen, _ = server
    async with secure_channel(address, tls, "router") as channel:
        assert (
            await channel.unary_unary(SECRET)(b"hi", metadata=(("x-other", "1"),), timeout=5) == b"secret:hi"
        )
    [(request_id, tenant, actor, caller)] = seen
    assert len(request_id) == 32 and tenant is None
    assert (actor, caller) == (Actor("service", "router"), "router")


async def test_identity_not_on_the_allow_list_is_refused(server) -> None:
    tls, address, seen, denied = server
    async with secure_channel(address, tls, "portal") as channel:
        assert await _call(channel, OPEN) == b"open:hi"
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await _call(channel, SECRET)
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "portal" in info.value.details()
    assert seen == []
    assert denied == [(SECRET, "portal")]


async def test_client_without_certificate_cannot_connect(server) -> None:
    tls, address, _, _ = server
    creds = grpc.ssl_channel_credentials(root_certificates=(tls / "ca.pem").read_bytes())
    async with grpc.aio.secure_channel(address, creds) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await _call(channel, OPEN)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_certificate_from_another_ca_is_rejected(server, tmp_path: Path) -> None:
    _, address, _, _ = server
    other = tmp_path / "other-ca"
    ensure_certificates(other, ["router"])
    async with secure_channel(address, other, "router") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await _call(channel, SECRET)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_domain_error_crosses_grpc_as_the_same_class(server) -> None:
    tls, address, _, _ = server
    async with secure_channel(address, tls, "router") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await _call(channel, FAIL)
    err = errors.from_rpc_error(info.value)
    assert type(err) is errors.BudgetExceeded
    assert err.http_status == 402
    assert "monthly budget" in err.message


async def test_health_is_open_to_any_certificate_of_the_ca(server) -> None:
    tls, address, _, _ = server
    async with secure_channel(address, tls, "portal") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        reply = await stub.Check(health_pb2.HealthCheckRequest(service="test.Echo"), timeout=5)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
