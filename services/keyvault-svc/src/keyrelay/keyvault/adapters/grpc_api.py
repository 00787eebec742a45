"""The KeyVault gRPC servicer: maps messages to Custody calls and back, nothing more."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from keyrelay.common.errors import InvalidArgument, from_rpc_error
from keyrelay.common.rpc import call_metadata
from keyrelay.keyvault.adapters.vault import VaultGateway
from keyrelay.keyvault.custody import Custody, StoredKey
from keyrelay.keyvault.domain.catalog import ServiceSpec
from keyrelay.keyvault.domain.records import AccessKeyRecord, Status
from keyrelay.keyvault.domain.validation import Validation
from keyrelay.v1 import common_pb2, keyvault_pb2, keyvault_pb2_grpc, router_pb2, router_pb2_grpc

SERVICE_NAME = keyvault_pb2.DESCRIPTOR.services_by_name["KeyVault"].full_name
ANY_SERVICE = ["portal", "router", "rag", "launcher"]


def method(name: str) -> str:
    return f"/{SERVICE_NAME}/{name}"


# Which service identities may call which RPC (see keyrelay.common.rpc). Platform secrets
# are further restricted per name inside Custody.
ALLOW = {
    method("ResolveKey"): ["router"],
    method("Health"): ANY_SERVICE,
    method("ListServices"): ANY_SERVICE,
    method("GetService"): ANY_SERVICE,
    method("GetPlatformSecret"): ["*"],
    "*": ["portal"],
}

_STATUS = {
    Status.ACTIVE: keyvault_pb2.KEY_STATUS_ACTIVE,
    Status.ROTATING: keyvault_pb2.KEY_STATUS_ROTATING,
    Status.REVOKED: keyvault_pb2.KEY_STATUS_REVOKED,
    Status.EXPIRED: keyvault_pb2.KEY_STATUS_EXPIRED,
}
_LEVEL = {
    "standard": keyvault_pb2.SECURITY_LEVEL_STANDARD,
    "high": keyvault_pb2.SECURITY_LEVEL_HIGH,
    "critical": keyvault_pb2.SECURITY_LEVEL_CRITICAL,
}
_ROLE = {
    "read_only": keyvault_pb2.ACCESS_KEY_ROLE_READ_ONLY,
    "full_access": keyvault_pb2.ACCESS_KEY_ROLE_FULL_ACCESS,
    "admin": keyvault_pb2.ACCESS_KEY_ROLE_ADMIN,
}
_SOURCE = {
    "tenant": common_pb2.KEY_SOURCE_TENANT,
    "platform": common_pb2.KEY_SOURCE_PLATFORM,
    "environment": common_pb2.KEY_SOURCE_ENVIRONMENT,
}
DEFAULT_PAGE, MAX_PAGE = 50, 1000


def ts(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def validation_pb(v: Validation | dict[str, Any]) -> keyvault_pb2.ValidationResult:
    data = v if isinstance(v, dict) else dataclasses.asdict(v)
    checks = [keyvault_pb2.ComplianceCheck(**c) for c in data.get("compliance_checks", [])]
    return keyvault_pb2.ValidationResult(
        is_valid=data.get("is_valid", False),
        strength_score=data.get("strength_score", 0),
        pattern_matched=data.get("pattern_matched", False),
        pattern=data.get("pattern", ""),
        length=data.get("length", 0),
        entropy_bits_per_char=data.get("entropy_bits_per_char", 0.0),
        issues=list(data.get("issues", [])),
        recommendations=list(data.get("recommendations", [])),
        compliance_checks=checks,
    )


def key_pb(stored: StoredKey, kv_mount: str) -> keyvault_pb2.KeyMetadata:
    r = stored.record
    return keyvault_pb2.KeyMetadata(
        key_id=r.key_id,
        tenant_id=r.tenant_id,
        service_id=r.service_id,
        service_name=r.service_name,
        key_type=r.key_type,
        name=r.name,
        masked_value=r.masked_value,
        masked_fields=r.masked_fields,
        fingerprint=r.fingerprint,
        status=_STATUS[r.status()],
        created_at=ts(r.created_at),
        updated_at=ts(r.updated_at),
        expires_at=ts(r.expires_at),
        last_used_at=ts(stored.last_used_at),
        usage_count=stored.usage_count,
        permissions=r.permissions,
        rate_limit=r.rate_limit,
        security_level=_LEVEL.get(r.security_level, keyvault_pb2.SECURITY_LEVEL_STANDARD),
        validation=validation_pb(r.validation),
        compliance_tags=r.compliance_tags,
        version=stored.version,
        vault_path=f"{kv_mount}/tenants/{r.tenant_id}/api-keys/{r.service_id}/{r.key_type}",
    )


def access_key_pb(r: AccessKeyRecord) -> keyvault_pb2.AccessKeyMetadata:
    return keyvault_pb2.AccessKeyMetadata(
        key_id=r.key_id,
        tenant_id=r.tenant_id,
        name=r.name,
        role=_ROLE[r.role],
        permissions=r.permissions,
        rate_limit=r.rate_limit,
        expires_at=ts(r.expires_at),
        status=_STATUS[r.status()],
        created_at=ts(r.created_at),
        key_preview=r.key_preview,
    )


def service_pb(s: ServiceSpec) -> keyvault_pb2.ServiceInfo:
    return keyvault_pb2.ServiceInfo(
        service_id=s.service_id,
        name=s.name,
        category=s.category,
        key_types=s.key_types,
        fields=[
            keyvault_pb2.KeyField(
                name=f.name,
                description=f.description,
                pattern=f.pattern,
                min_length=f.min_length,
                required=f.required,
                secret=f.secret,
            )
            for f in s.fields
        ],
        primary_field=s.primary_field,
        min_length=s.min_length,
        compliance_tags=s.compliance_tags,
        rotation_period_days=s.rotation_period_days,
        security_level=_LEVEL.get(s.security_level, keyvault_pb2.SECURITY_LEVEL_STANDARD),
        protocol_family=s.protocol_family,
        live_check=s.live_check,
    )


def secret_pb(name: str, data: dict[str, Any], version: int) -> keyvault_pb2.PlatformSecretMetadata:
    return keyvault_pb2.PlatformSecretMetadata(
        name=name,
        masked_fields=data.get("masked_fields", {}),
        version=version,
        created_at=ts(datetime.fromisoformat(data["created_at"])),
        updated_at=ts(datetime.fromisoformat(data["updated_at"])),
    )


def page(items: list[Any], request: common_pb2.PageRequest) -> tuple[list[Any], common_pb2.PageResponse]:
    size = min(request.page_size or DEFAULT_PAGE, MAX_PAGE)
    try:
        start = int(request.page_token or 0)
    except ValueError as exc:
        raise InvalidArgument("page_token is not one this service issued; pass next_page_token back") from exc
    end = start + size
    return items[start:end], common_pb2.PageResponse(next_page_token=str(end) if end < len(items) else "")


class KeyVaultService(keyvault_pb2_grpc.KeyVaultServicer):
    def __init__(
        self, custody: Custody, vault: VaultGateway, router: router_pb2_grpc.RouterStub | None = None
    ) -> None:
        self._custody = custody
        self._vault = vault
        self._router = router
        self._mount = vault.kv_mount

    async def PutKey(self, request: keyvault_pb2.PutKeyRequest, context: Any) -> keyvault_pb2.PutKeyResponse:
        stored, created, _ = await self._custody.put_key(
            request.tenant_id,
            request.service_id,
            request.key_type,
            request.value,
            dict(request.fields),
            name=request.name,
            permissions=list(request.permissions),
            rate_limit=request.rate_limit,
            expires_in_days=request.expires_in_days,
        )
        return keyvault_pb2.PutKeyResponse(key=key_pb(stored, self._mount), created=created)

    async def GetKeyMetadata(self, request: keyvault_pb2.GetKeyMetadataRequest, context: Any):  # noqa: ANN201
        ref = request.key
        stored = await self._custody.get_key(request.tenant_id, ref.key_id, ref.service_id, ref.key_type)
        return keyvault_pb2.GetKeyMetadataResponse(key=key_pb(stored, self._mount))

    async def ListKeys(
        self, request: keyvault_pb2.ListKeysRequest, context: Any
    ) -> keyvault_pb2.ListKeysResponse:
        keys = await self._custody.list_keys(request.tenant_id, request.service_id, request.include_revoked)
        items, next_page = page(keys, request.page)
        return keyvault_pb2.ListKeysResponse(keys=[key_pb(k, self._mount) for k in items], page=next_page)

    async def DeleteKey(
        self, request: keyvault_pb2.DeleteKeyRequest, context: Any
    ) -> keyvault_pb2.DeleteKeyResponse:
        ref = request.key
        stored = await self._custody.delete_key(
            request.tenant_id, ref.key_id, ref.service_id, ref.key_type, request.reason
        )
        return keyvault_pb2.DeleteKeyResponse(key=key_pb(stored, self._mount))

    async def RotateKey(
        self, request: keyvault_pb2.RotateKeyRequest, context: Any
    ) -> keyvault_pb2.RotateKeyResponse:
        ref = request.key
        stored, previous, until = await self._custody.rotate_key(
            request.tenant_id,
            ref.key_id,
            ref.service_id,
            ref.key_type,
            request.new_value,
            dict(request.new_fields),
            request.grace_period_seconds,
        )
        return keyvault_pb2.RotateKeyResponse(
            key=key_pb(stored, self._mount), previous_version=previous, previous_version_expires_at=ts(until)
        )

    async def ValidateKey(self, request: keyvault_pb2.ValidateKeyRequest, context: Any):  # noqa: ANN201
        result, service_id, values = await self._custody.validate_key(
            request.tenant_id,
            request.service_id,
            request.key_type,
            request.value,
            dict(request.fields),
            request.key.key_id,
        )
        reply = validation_pb(result)
        reply.validated_at.GetCurrentTime()
        if request.live_check:
            reply.live_check.CopyFrom(await self._live_check(request.tenant_id, service_id, values))
        return keyvault_pb2.ValidateKeyResponse(validation=reply)

    async def _live_check(
        self, tenant_id: str, service_id: str, values: dict[str, str]
    ) -> common_pb2.LiveCheck:
        """Ask the router to call the provider. Anything but a clear answer is "unverified"."""
        if self._router is None:
            return common_pb2.LiveCheck(
                result=common_pb2.LIVE_CHECK_RESULT_UNVERIFIED, detail="router not configured"
            )
        spec = self._custody.catalog.get(service_id)
        request = router_pb2.CheckKeyRequest(
            tenant_id=tenant_id,
            service_id=service_id,
            value=values.get(spec.primary_field, ""),
            fields=values,
        )
        try:
            reply = await self._router.CheckKey(request, metadata=call_metadata(), timeout=15)
        except grpc.aio.AioRpcError as err:
            detail = from_rpc_error(err).message
            return common_pb2.LiveCheck(result=common_pb2.LIVE_CHECK_RESULT_UNVERIFIED, detail=detail[:200])
        return reply.check

    async def ResolveKey(self, request: keyvault_pb2.ResolveKeyRequest, context: Any):  # noqa: ANN201
        r = await self._custody.resolve(
            request.tenant_id,
            request.service_id,
            request.key_type,
            request.purpose,
            request.allow_platform_fallback,
        )
        return keyvault_pb2.ResolveKeyResponse(
            value=r.value,
            fields=r.fields,
            source=_SOURCE[r.source],
            key_id=r.key_id,
            version=r.version,
            key_type=r.key_type,
        )

    async def ListServices(self, request: keyvault_pb2.ListServicesRequest, context: Any):  # noqa: ANN201
        services = self._custody.catalog.list(request.category or None)
        return keyvault_pb2.ListServicesResponse(services=[service_pb(s) for s in services])

    async def GetService(self, request: keyvault_pb2.GetServiceRequest, context: Any):  # noqa: ANN201
        return keyvault_pb2.GetServiceResponse(
            service=service_pb(self._custody.catalog.get(request.service_id))
        )

    async def PutPlatformSecret(self, request: keyvault_pb2.PutPlatformSecretRequest, context: Any):  # noqa: ANN201
        data, version = await self._custody.put_platform_secret(request.name, dict(request.fields))
        return keyvault_pb2.PutPlatformSecretResponse(secret=secret_pb(request.name, data, version))

    async def GetPlatformSecret(self, request: keyvault_pb2.GetPlatformSecretRequest, context: Any):  # noqa: ANN201
        fields, version = await self._custody.get_platform_secret(request.name)
        return keyvault_pb2.GetPlatformSecretResponse(name=request.name, fields=fields, version=version)

    async def ListPlatformSecrets(self, request: keyvault_pb2.ListPlatformSecretsRequest, context: Any):  # noqa: ANN201
        found = await self._custody.list_platform_secrets(request.prefix)
        return keyvault_pb2.ListPlatformSecretsResponse(secrets=[secret_pb(n, d, v) for n, d, v in found])

    async def DeletePlatformSecret(self, request: keyvault_pb2.DeletePlatformSecretRequest, context: Any):  # noqa: ANN201
        await self._custody.delete_platform_secret(request.name)
        return keyvault_pb2.DeletePlatformSecretResponse()

    async def IssueAccessKey(self, request: keyvault_pb2.IssueAccessKeyRequest, context: Any):  # noqa: ANN201
        role = next((name for name, value in _ROLE.items() if value == request.role), "")
        key, record = await self._custody.issue_access_key(
            request.tenant_id,
            request.name,
            role,
            list(request.permissions),
            request.rate_limit,
            request.expires_in_days,
        )
        return keyvault_pb2.IssueAccessKeyResponse(key=key, metadata=access_key_pb(record))

    async def VerifyAccessKey(self, request: keyvault_pb2.VerifyAccessKeyRequest, context: Any):  # noqa: ANN201
        record = await self._custody.verify_access_key(request.key)
        return keyvault_pb2.VerifyAccessKeyResponse(metadata=access_key_pb(record))

    async def ListAccessKeys(self, request: keyvault_pb2.ListAccessKeysRequest, context: Any):  # noqa: ANN201
        records = await self._custody.list_access_keys(request.tenant_id, request.include_revoked)
        items, next_page = page(records, request.page)
        return keyvault_pb2.ListAccessKeysResponse(
            access_keys=[access_key_pb(r) for r in items], page=next_page
        )

    async def RevokeAccessKey(self, request: keyvault_pb2.RevokeAccessKeyRequest, context: Any):  # noqa: ANN201
        record = await self._custody.revoke_access_key(request.tenant_id, request.key_id, request.reason)
        return keyvault_pb2.RevokeAccessKeyResponse(metadata=access_key_pb(record))

    async def DeleteTenant(self, request: keyvault_pb2.DeleteTenantRequest, context: Any):  # noqa: ANN201
        keys, access_keys = await self._custody.delete_tenant(request.tenant_id)
        return keyvault_pb2.DeleteTenantResponse(keys_deleted=keys, access_keys_revoked=access_keys)

    async def Health(self, request: keyvault_pb2.HealthRequest, context: Any) -> keyvault_pb2.HealthResponse:
        s = await self._vault.health()
        return keyvault_pb2.HealthResponse(
            ok=bool(s["authenticated"]),
            vault_reachable=s["reachable"],
            vault_unsealed=s["unsealed"],
            vault_authenticated=s["authenticated"],
            token_ttl_seconds=s["ttl"],
            message=s["message"] or "ok",
        )
