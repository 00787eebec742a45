"""Tenant provider keys: the client portal (`/api/brain/portal/...`) and BYOK
(`/api/brain/byok/...`) families, and the one implementation behind them and the tenant
family (`routes/tenant.py`).

Roles: read_only reads metadata, full_access manages provider keys, admin also settings. A
`{tenant_id}` in a path (or a body) that is not the caller's tenant is 403; the platform
admin may act for any tenant.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from keyrelay.common.context import tenant_id_var
from keyrelay.portal.adapters.clients import RPC_TIMEOUT, Clients, rpc
from keyrelay.portal.deps import ClientsDep, require
from keyrelay.portal.domain import keys_wire as wire
from keyrelay.portal.domain.auth import Caller
from keyrelay.v1 import common_pb2, keyvault_pb2, router_pb2

Reader = Annotated[Caller, Depends(require("read_only"))]
Manager = Annotated[Caller, Depends(require("full_access"))]
TenantAdmin = Annotated[Caller, Depends(require("admin"))]
ServiceFilter = Annotated[str | None, Query(pattern=wire.ID_PATTERN)]

LIVE_CHECK_TIMEOUT = 30.0


def act_for(caller: Caller, tenant_id: str) -> str:
    """The tenant a path names, once the caller may act for it; later calls carry it."""
    tenant = wire.tenant_in_path(caller, tenant_id)
    tenant_id_var.set(tenant)
    return tenant


# -- the one implementation ---------------------------------------------------------------


async def list_services(clients: Clients, category: str | None) -> dict[str, Any]:
    reply = await rpc(
        "keyvault", clients.keyvault.ListServices, keyvault_pb2.ListServicesRequest(category=category or "")
    )
    return wire.services_json(reply)


async def list_keys(
    clients: Clients, tenant_id: str, service_id: str | None = None, include_revoked: bool = False
) -> dict[str, Any]:
    request = keyvault_pb2.ListKeysRequest(
        tenant_id=tenant_id,
        service_id=service_id or "",
        include_revoked=include_revoked,
        page=common_pb2.PageRequest(page_size=1000),
    )
    return wire.keys_json(tenant_id, await rpc("keyvault", clients.keyvault.ListKeys, request))


async def store_key(
    clients: Clients, tenant_id: str, body: wire.StoreKeyBody | wire.GenerateKeysBody
) -> dict[str, Any]:
    reply = await rpc("keyvault", clients.keyvault.PutKey, wire.put_key_request(tenant_id, body))
    return wire.stored_json(reply)


async def rotate_key(
    clients: Clients, tenant_id: str, key: keyvault_pb2.KeyRef, body: wire.RotateKeyBody
) -> dict[str, Any]:
    request = keyvault_pb2.RotateKeyRequest(
        tenant_id=tenant_id,
        key=key,
        new_value=body.new_key_value,
        grace_period_seconds=body.grace_period_seconds,
    )
    return wire.rotated_json(await rpc("keyvault", clients.keyvault.RotateKey, request))


async def delete_key(clients: Clients, tenant_id: str, key: keyvault_pb2.KeyRef) -> dict[str, Any]:
    request = keyvault_pb2.DeleteKeyRequest(tenant_id=tenant_id, key=key, reason="deleted through the portal")
    return wire.revoked_json(await rpc("keyvault", clients.keyvault.DeleteKey, request))


async def check_key(clients: Clients, tenant_id: str, body: wire.TestKeyBody) -> dict[str, Any]:
    request = wire.validate_request(tenant_id, body)
    timeout = LIVE_CHECK_TIMEOUT if body.live_check else RPC_TIMEOUT
    return wire.tested_json(await rpc("keyvault", clients.keyvault.ValidateKey, request, timeout))


async def get_settings(clients: Clients, tenant_id: str) -> router_pb2.TenantSettings:
    request = router_pb2.GetTenantSettingsRequest(tenant_id=tenant_id)
    return (await rpc("router", clients.router.GetTenantSettings, request)).settings


async def put_settings(clients: Clients, tenant_id: str, body: wire.SettingsBody) -> dict[str, Any]:
    settings = wire.merged_settings(await get_settings(clients, tenant_id), body)
    settings.tenant_id = tenant_id
    request = router_pb2.PutTenantSettingsRequest(settings=settings)
    return wire.settings_json((await rpc("router", clients.router.PutTenantSettings, request)).settings)


def by_id(key_id: str) -> keyvault_pb2.KeyRef:
    return keyvault_pb2.KeyRef(key_id=key_id)


# -- client portal ------------------------------------------------------------------------

portal = APIRouter(prefix="/api/brain/portal", tags=["client portal"])


@portal.get("/services")
async def portal_services(caller: Reader, clients: ClientsDep, category: str | None = None) -> dict[str, Any]:
    """The service catalog: services, key types and fields (no secrets)."""
    return await list_services(clients, category)


@portal.get("/tenant/{tenant_id}/api-keys")
async def portal_list_keys(
    tenant_id: str,
    caller: Reader,
    clients: ClientsDep,
    service_id: ServiceFilter = None,
    include_revoked: bool = False,
) -> dict[str, Any]:
    """The tenant's keys: metadata and masked values only."""
    return await list_keys(clients, act_for(caller, tenant_id), service_id, include_revoked)


@portal.post("/tenant/{tenant_id}/api-keys")
async def portal_store_key(
    tenant_id: str, body: wire.StoreKeyBody, caller: Manager, clients: ClientsDep
) -> dict[str, Any]:
    """Validate and store a key (a new version when the service/key_type has one)."""
    return await store_key(clients, act_for(caller, tenant_id), body)


@portal.delete("/tenant/{tenant_id}/api-keys/{service_id}/{key_type}")
async def portal_delete_key(
    tenant_id: str, service_id: str, key_type: str, caller: Manager, clients: ClientsDep
) -> dict[str, Any]:
    """Revoke a key at once (every replica's cache drops it)."""
    key = keyvault_pb2.KeyRef(service_id=service_id, key_type=key_type)
    return await delete_key(clients, act_for(caller, tenant_id), key)


@portal.post("/tenant/{tenant_id}/api-keys/test")
async def portal_test_key(
    tenant_id: str, body: wire.TestKeyBody, caller: Manager, clients: ClientsDep
) -> dict[str, Any]:
    """Validate a candidate or stored key; `live_check` (default true) also calls the provider."""
    return await check_key(clients, act_for(caller, tenant_id), body)


# -- BYOK ---------------------------------------------------------------------------------

byok = APIRouter(prefix="/api/brain/byok", tags=["byok"])


@byok.post("/generate-keys")
async def byok_generate_keys(
    body: wire.GenerateKeysBody, caller: Manager, clients: ClientsDep
) -> dict[str, Any]:
    """Store a key given as its fields (`api_keys {field: value}`), e.g. Stripe's three."""
    return await store_key(clients, act_for(caller, body.tenant_id), body)


@byok.get("/services")
async def byok_services(caller: Reader, clients: ClientsDep, category: str | None = None) -> dict[str, Any]:
    return await list_services(clients, category)


@byok.get("/tenant/{tenant_id}/keys")
async def byok_list_keys(
    tenant_id: str,
    caller: Reader,
    clients: ClientsDep,
    service_id: ServiceFilter = None,
    include_revoked: bool = False,
) -> dict[str, Any]:
    return await list_keys(clients, act_for(caller, tenant_id), service_id, include_revoked)


@byok.post("/tenant/{tenant_id}/keys/{key_id}/rotate")
async def byok_rotate_key(
    tenant_id: str, key_id: str, body: wire.RotateKeyBody, caller: Manager, clients: ClientsDep
) -> dict[str, Any]:
    return await rotate_key(clients, act_for(caller, tenant_id), by_id(key_id), body)


@byok.delete("/tenant/{tenant_id}/keys/{key_id}")
async def byok_delete_key(
    tenant_id: str, key_id: str, caller: Manager, clients: ClientsDep
) -> dict[str, Any]:
    return await delete_key(clients, act_for(caller, tenant_id), by_id(key_id))


@byok.post("/validate-key")
async def byok_validate_key(body: wire.TestKeyBody, caller: Manager, clients: ClientsDep) -> dict[str, Any]:
    """Validate a candidate or stored key of the caller's tenant (or the body's `tenant_id`)."""
    tenant = act_for(caller, body.tenant_id) if body.tenant_id else caller.tenant()
    return await check_key(clients, tenant, body)


@byok.post("/rotate-key")
async def byok_rotate(body: wire.ByokRotateBody, caller: Manager, clients: ClientsDep) -> dict[str, Any]:
    """Rotate a key named by `key_id` or `service_id`/`key_type` to `new_key_value`."""
    return await rotate_key(clients, act_for(caller, body.tenant_id), body.ref(), body)


@byok.delete("/revoke-key")
async def byok_revoke(
    ref: Annotated[wire.KeyRefBody, Query()], caller: Manager, clients: ClientsDep
) -> dict[str, Any]:
    """Revoke a key named in the query: `tenant_id` and `key_id`, or `service_id`/`key_type`."""
    return await delete_key(clients, act_for(caller, ref.tenant_id), ref.ref())
