"""FastAPI dependencies as Annotated aliases: routes declare what they need in one word."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request

from keyrelay.common.context import actor_var, tenant_id_var
from keyrelay.portal.adapters.clients import Clients
from keyrelay.portal.domain.auth import Caller, Role

TENANT_ID_HEADER = "x-tenant-id"


async def get_clients(request: Request) -> Clients:
    # async: FastAPI runs a plain `def` dependency in a thread pool, a thread hop per request
    return request.state.clients  # type: ignore[no-any-return]


ClientsDep = Annotated[Clients, Depends(get_clients)]


async def authenticate(request: Request, clients: ClientsDep) -> Caller:
    """The caller, from `Authorization` and `X-Tenant-ID`; its tenant and actor then travel
    with every gRPC call made for this request (keyrelay.common.rpc.call_metadata)."""
    caller = await clients.authenticator.authenticate(
        request.headers.get("authorization"), request.headers.get(TENANT_ID_HEADER)
    )
    tenant_id_var.set(caller.tenant_id)
    actor_var.set(caller.actor)
    return caller


CallerDep = Annotated[Caller, Depends(authenticate)]


def require(role: Role) -> Callable[[Caller], Awaitable[Caller]]:
    """A dependency giving the caller when it has at least `role`, else 403."""

    async def check(caller: CallerDep) -> Caller:
        caller.require(role)
        return caller

    return check


InferenceCaller = Annotated[Caller, Depends(require("full_access"))]
