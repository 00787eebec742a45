"""Platform administration (platform admin token only): tenants, their access keys,
platform provider keys and Vault health.

Tenants are registered in Postgres (`portal_tenants`, created idempotently on first use);
deleting one crypto-shreds its keys in keyvault-svc and marks the row deleted (the id is
not reused).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from sqlalchemy import Column, DateTime, MetaData, String, Table, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from keyrelay.common.context import tenant_id_var
from keyrelay.common.errors import AlreadyExists, NotFound
from keyrelay.portal.adapters.clients import rpc
from keyrelay.portal.deps import CallerDep, ClientsDep
from keyrelay.portal.domain import keys_wire as wire
from keyrelay.portal.domain.auth import Caller
from keyrelay.v1 import keyvault_pb2

metadata = MetaData()
tenants = Table(
    "portal_tenants",
    metadata,
    Column("tenant_id", String(63), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("status", String(16), nullable=False),  # active | deleted
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("deleted_at", DateTime(timezone=True)),
)
SCHEMA_LOCK = 424243  # pg advisory lock id: replicas creating the table at once


async def ensure_schema(engine: AsyncEngine) -> None:
    """Idempotent: the table is created if missing (like the router's tables)."""
    async with engine.begin() as conn:
        await conn.execute(text(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})"))
        await conn.run_sync(metadata.create_all)


async def platform_admin(caller: CallerDep) -> Caller:
    return wire.require_platform_admin(caller)


PlatformAdmin = Annotated[Caller, Depends(platform_admin)]
KeyTypeQuery = Annotated[str | None, Query(pattern=wire.ID_PATTERN)]

router = APIRouter(tags=["platform admin"])


# -- tenants --------------------------------------------------------------------------------


@router.post("/v1/admin/tenants", status_code=201)
async def create_tenant(
    body: wire.CreateTenantBody, caller: PlatformAdmin, clients: ClientsDep
) -> dict[str, Any]:
    """Register a tenant; 409 when the id is (or was) taken."""
    await ensure_schema(clients.engine)
    row = {
        "tenant_id": body.tenant_id,
        "name": body.name,
        "status": "active",
        "created_at": datetime.now(UTC),
    }
    async with clients.engine.begin() as conn:
        created = (
            await conn.execute(insert(tenants).values(**row).on_conflict_do_nothing().returning(tenants))
        ).first()
    if created is None:
        raise AlreadyExists(f"tenant '{body.tenant_id}' already exists (tenant ids are never reused)")
    return wire.tenant_json(created)


@router.get("/v1/admin/tenants")
async def list_tenants(
    caller: PlatformAdmin, clients: ClientsDep, include_deleted: bool = False
) -> dict[str, Any]:
    await ensure_schema(clients.engine)
    query = select(tenants).order_by(tenants.c.created_at)
    if not include_deleted:
        query = query.where(tenants.c.status == "active")
    async with clients.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return {"tenants": [wire.tenant_json(r) for r in rows], "count": len(rows)}


@router.delete("/v1/admin/tenants/{tenant_id}")
async def delete_tenant(tenant_id: str, caller: PlatformAdmin, clients: ClientsDep) -> dict[str, Any]:
    """Crypto-shred the tenant's keys and revoke its access keys, then mark it deleted."""
    await ensure_schema(clients.engine)
    tenant_id_var.set(tenant_id)  # keyvault-svc checks the tenant a call acts for
    reply = await rpc(
        "keyvault", clients.keyvault.DeleteTenant, keyvault_pb2.DeleteTenantRequest(tenant_id=tenant_id)
    )
    async with clients.engine.begin() as conn:
        await conn.execute(
            update(tenants)
            .where(tenants.c.tenant_id == tenant_id, tenants.c.status == "active")
            .values(status="deleted", deleted_at=datetime.now(UTC))
        )
    return {
        "tenant_id": tenant_id,
        "status": "deleted",
        "keys_deleted": reply.keys_deleted,
        "access_keys_revoked": reply.access_keys_revoked,
    }


@router.post("/v1/admin/tenants/{tenant_id}/access-keys", status_code=201)
async def issue_access_key(
    tenant_id: str, body: wire.AccessKeyBody, caller: PlatformAdmin, clients: ClientsDep
) -> dict[str, Any]:
    """A new `kr_...` access key for a registered tenant; its value is in this answer only."""
    await ensure_schema(clients.engine)
    async with clients.engine.connect() as conn:
        status = (
            await conn.execute(select(tenants.c.status).where(tenants.c.tenant_id == tenant_id))
        ).scalar()
    if status != "active":
        raise NotFound(f"tenant '{tenant_id}' does not exist; create it with POST /v1/admin/tenants")
    tenant_id_var.set(tenant_id)
    request = keyvault_pb2.IssueAccessKeyRequest(
        tenant_id=tenant_id,
        name=body.name,
        role=wire.ROLES[body.role],  # type: ignore[arg-type]
        permissions=body.permissions,
        rate_limit=body.rate_limit,
        expires_in_days=body.expires_in_days or 0,
    )
    return wire.access_key_issued_json(await rpc("keyvault", clients.keyvault.IssueAccessKey, request))


# -- platform provider keys -----------------------------------------------------------------


async def _platform_keys(clients: ClientsDep, service_id: str) -> list[keyvault_pb2.PlatformSecretMetadata]:
    prefix = wire.platform_secret_name(service_id, "")
    reply = await rpc(
        "keyvault",
        clients.keyvault.ListPlatformSecrets,
        keyvault_pb2.ListPlatformSecretsRequest(prefix=prefix),
    )
    return list(reply.secrets)


@router.get("/v1/admin/platform-keys/{service_id}")
async def get_platform_keys(service_id: str, caller: PlatformAdmin, clients: ClientsDep) -> dict[str, Any]:
    """The platform's keys for a service, masked."""
    found = await _platform_keys(clients, service_id)
    if not found:
        raise NotFound(f"the platform has no key for service '{service_id}'")
    return {"service_id": service_id, "keys": [wire.platform_key_json(service_id, s) for s in found]}


@router.put("/v1/admin/platform-keys/{service_id}")
async def put_platform_key(
    service_id: str, body: wire.PlatformKeyBody, caller: PlatformAdmin, clients: ClientsDep
) -> dict[str, Any]:
    """Store the platform's key for a service (used when a tenant allows platform fallback)."""
    service = (
        await rpc(
            "keyvault", clients.keyvault.GetService, keyvault_pb2.GetServiceRequest(service_id=service_id)
        )
    ).service
    if body.key_type not in service.key_types:
        raise NotFound(f"service '{service_id}' has no key type '{body.key_type}'")
    request = keyvault_pb2.PutPlatformSecretRequest(
        name=wire.platform_secret_name(service_id, body.key_type),
        fields={service.primary_field: body.key_value},
    )
    reply = await rpc("keyvault", clients.keyvault.PutPlatformSecret, request)
    return {**wire.platform_key_json(service_id, reply.secret), "status": "stored"}


@router.delete("/v1/admin/platform-keys/{service_id}")
async def delete_platform_keys(
    service_id: str, caller: PlatformAdmin, clients: ClientsDep, key_type: KeyTypeQuery = None
) -> dict[str, Any]:
    """Delete the platform's key of one key type, or all of the service's."""
    found = [
        s for s in await _platform_keys(clients, service_id) if key_type in (None, s.name.rsplit("/", 1)[-1])
    ]
    if not found:
        raise NotFound(f"the platform has no key for service '{service_id}'")
    for secret in found:
        await rpc(
            "keyvault",
            clients.keyvault.DeletePlatformSecret,
            keyvault_pb2.DeletePlatformSecretRequest(name=secret.name),
        )
    return {
        "service_id": service_id,
        "deleted": [s.name.rsplit("/", 1)[-1] for s in found],
        "status": "deleted",
    }


# -- health -----------------------------------------------------------------------------------


@router.get("/api/brain/vault/health")
async def vault_health(caller: PlatformAdmin, clients: ClientsDep) -> JSONResponse:
    """Vault reachable, unsealed, authenticated; 503 when any is not."""
    reply = await rpc("keyvault", clients.keyvault.Health, keyvault_pb2.HealthRequest(), 5)
    return JSONResponse(wire.vault_health_json(reply), status_code=200 if reply.ok else 503)
