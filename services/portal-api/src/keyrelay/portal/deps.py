"""FastAPI dependencies as Annotated aliases: routes declare what they need in one word."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from keyrelay.portal.adapters.clients import Clients


def get_clients(request: Request) -> Clients:
    return request.state.clients  # type: ignore[no-any-return]


ClientsDep = Annotated[Clients, Depends(get_clients)]
