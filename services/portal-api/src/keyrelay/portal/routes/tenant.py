"""The tenant family (`/api/brain/tenant/...`): the caller's own tenant (the platform admin
names one with `X-Tenant-ID`). Provider keys go through the same functions as the client
portal and BYOK families; settings are llm-router-svc's routing and budget settings."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from keyrelay.portal.deps import ClientsDep
from keyrelay.portal.domain import keys_wire as wire
from keyrelay.portal.routes.keys import (
    Manager,
    Reader,
    ServiceFilter,
    TenantAdmin,
    by_id,
    delete_key,
    get_settings,
    list_keys,
    put_settings,
    rotate_key,
    store_key,
)

router = APIRouter(prefix="/api/brain/tenant", tags=["tenant"])


@router.get("/api-keys")
async def tenant_list_keys(
    caller: Reader, clients: ClientsDep, service_id: ServiceFilter = None, include_revoked: bool = False
) -> dict[str, Any]:
    return await list_keys(clients, caller.tenant(), service_id, include_revoked)


@router.post("/api-keys")
async def tenant_store_key(body: wire.StoreKeyBody, caller: Manager, clients: ClientsDep) -> dict[str, Any]:
    return await store_key(clients, caller.tenant(), body)


@router.post("/api-keys/{key_id}/rotate")
async def tenant_rotate_key(
    key_id: str, body: wire.RotateKeyBody, caller: Manager, clients: ClientsDep
) -> dict[str, Any]:
    return await rotate_key(clients, caller.tenant(), by_id(key_id), body)


@router.delete("/api-keys/{key_id}")
async def tenant_delete_key(key_id: str, caller: Manager, clients: ClientsDep) -> dict[str, Any]:
    return await delete_key(clients, caller.tenant(), by_id(key_id))


@router.get("/settings")
async def tenant_get_settings(caller: Reader, clients: ClientsDep) -> dict[str, Any]:
    return wire.settings_json(await get_settings(clients, caller.tenant()))


@router.put("/settings")
async def tenant_put_settings(
    body: wire.SettingsBody, caller: TenantAdmin, clients: ClientsDep
) -> dict[str, Any]:
    """The fields sent replace the current ones; the others are kept."""
    return await put_settings(clients, caller.tenant(), body)
