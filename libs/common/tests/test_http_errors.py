"""The FastAPI handler: every error has the SPEC's body and the status its class carries."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from keyrelay.common import errors
from keyrelay.common.context import request_id_var
from keyrelay.common.http_errors import install_error_handlers


class Body(BaseModel):
    name: str
    count: int


def make_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.middleware("http")
    async def set_request_id(request, call_next):  # type: ignore[no-untyped-def]
        request_id_var.set("req-42")
        return await call_next(request)

    @app.get("/budget")
    async def budget() -> None:
        raise errors.BudgetExceeded("monthly budget reached", retry_after=3600)

    @app.get("/missing")
    async def missing() -> None:
        raise errors.NotFound("key 'k1' not found for tenant 'acme'")

    @app.get("/bug")
    async def bug() -> None:
        raise RuntimeError("secret detail sk-FAKEfakeFAKEfake0123456789 must not leak")

    @app.post("/body")
    async def body(payload: Body) -> dict[str, str]:
        return {"ok": payload.name}

    return app


@pytest.fixture
async def client():
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


async def test_domain_error_has_its_status_type_and_retry_after(client: httpx.AsyncClient) -> None:
    reply = await client.get("/budget")
    assert reply.status_code == 402
    assert reply.headers["retry-after"] == "3600"
    assert reply.json() == {
        "error": {"type": "budget_exceeded", "message": "monthly budget reached", "request_id": "req-42"}
    }


async def test_not_found_keeps_its_message(client: httpx.AsyncClient) -> None:
    reply = await client.get("/missing")
    assert reply.status_code == 404
    assert reply.json()["error"]["type"] == "not_found"


async def test_validation_error_says_which_field(client: httpx.AsyncClient) -> None:
    reply = await client.post("/body", json={"name": "x"})
    assert reply.status_code == 422
    error = reply.json()["error"]
    assert error["type"] == "invalid_request" and "count" in error["message"]


async def test_unexpected_error_is_a_generic_500_without_details(client: httpx.AsyncClient) -> None:
    reply = await client.get("/bug")
    assert reply.status_code == 500
    assert reply.json()["error"]["type"] == "internal_error"
    assert "sk-" not in reply.text and "Traceback" not in reply.text


async def test_unknown_route_uses_the_same_body(client: httpx.AsyncClient) -> None:
    reply = await client.get("/nope")
    assert reply.status_code == 404
    assert set(reply.json()["error"]) == {"type", "message", "request_id"}
