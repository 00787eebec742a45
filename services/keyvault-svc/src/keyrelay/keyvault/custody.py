"""Key custody: every keyvault-svc operation, over the store, cache, audit and invalidation.

The gRPC layer (adapters/grpc_api.py) only maps messages; the rules live here and in
domain/. Each operation checks ids before any Vault call, acts, audits (management
operations wait for their audit event) and tells other replicas what changed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import os
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from keyrelay.common.audit import Auditor
from keyrelay.common.cache import TtlCache
from keyrelay.common.context import caller_var, tenant_id_var
from keyrelay.common.errors import InvalidArgument, KeyrelayError, NotFound, PermissionDenied, Unauthenticated
from keyrelay.common.events import PLATFORM_TENANT
from keyrelay.keyvault.adapters.invalidation import Invalidations
from keyrelay.keyvault.adapters.store import KeyStore, key_path
from keyrelay.keyvault.domain.catalog import Catalog, ServiceSpec
from keyrelay.keyvault.domain.ids import (
    DEFAULT_KEY_TYPE,
    check_id,
    check_key_id,
    check_key_type,
    check_secret_name,
    new_key_id,
)
from keyrelay.keyvault.domain.records import (
    AccessKeyRecord,
    KeyRecord,
    access_key_preview,
    fingerprint,
    now_utc,
)
from keyrelay.keyvault.domain.validation import Validation, mask, validate

T = TypeVar("T")
ROLES = ("read_only", "full_access", "admin")
PLATFORM_PROVIDER_PREFIX = "providers/"


@dataclass(frozen=True)
class Resolved:
    value: str
    fields: dict[str, str]
    source: str  # tenant | platform | environment
    key_id: str
    version: int
    key_type: str


@dataclass(frozen=True)
class StoredKey:
    record: KeyRecord
    version: int
    usage_count: int = 0
    last_used_at: datetime | None = None


def validation_record(result: Validation) -> dict[str, Any]:
    """A validation result as stored beside the key (JSON-ready)."""
    data = dataclasses.asdict(result)
    data["validated_at"] = result.validated_at.isoformat()
    return data


def env_key_name(service_id: str) -> str:
    return f"KEYRELAY_PROVIDER_{service_id.upper().replace('-', '_')}_API_KEY"


class Custody:
    def __init__(
        self,
        store: KeyStore,
        catalog: Catalog,
        auditor: Auditor,
        *,
        cache_ttl: float = 30.0,
        record_cache_ttl: float = 30.0,
        secret_readers: dict[str, list[str]] | None = None,
        environ: dict[str, str] | None = None,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.audit = auditor
        self._pepper: bytes | None = None
        self.resolved: TtlCache[tuple[str, str, str, bool], Resolved] = TtlCache(cache_ttl)
        self.verified: TtlCache[str, AccessKeyRecord] = TtlCache(cache_ttl)
        # Stored entries (ciphertext and metadata, never plaintext), so that a resolve whose
        # plaintext is not cached costs one Transit decrypt. Same invalidation as above.
        self.records: TtlCache[tuple[str, str, str], tuple[bool, Any]] = TtlCache(record_cache_ttl)
        self.invalidations = Invalidations(self.apply_invalidation)
        self.secret_readers = secret_readers or {}
        self.environ = environ if environ is not None else dict(os.environ)
        self._usage: dict[str, tuple[int, datetime]] = {}

    async def pepper(self) -> bytes:
        """The platform HMAC pepper, read from Vault on first use (Vault may be sealed at start)."""
        if self._pepper is None:
            self._pepper = await self.store.pepper()
        return self._pepper

    # -- the audit wrapper: every operation leaves one event, whatever its outcome -------

    async def _audited(
        self,
        action: str | Callable[[], str],
        tenant_id: str,
        resource: dict[str, Any],
        work: Callable[[], Awaitable[T]],
    ) -> T:
        """Run work and record one audit event for it: success, denied or error.

        `action` may be a function, read after the work (PutKey is `key.created` or
        `key.updated` depending on what it found)."""
        name = action if isinstance(action, str) else None
        self.audit.ensure_recordable()
        try:
            result = await work()
        except KeyrelayError as err:
            outcome = "denied" if isinstance(err, PermissionDenied | Unauthenticated) else "error"
            await self.audit.record(name or action(), tenant_id, resource, outcome, err.message)  # type: ignore[operator]
            raise
        await self.audit.record(name or action(), tenant_id, resource)  # type: ignore[operator]
        return result

    @staticmethod
    def _check_tenant(tenant_id: str) -> str:
        """The tenant in the request must be the one the caller acts for (gRPC metadata)."""
        check_id("tenant_id", tenant_id)
        acting_for = tenant_id_var.get()
        if acting_for is None:
            raise PermissionDenied("missing x-keyrelay-tenant metadata: say which tenant this call acts for")
        if acting_for != tenant_id:
            raise PermissionDenied(f"this call acts for tenant '{acting_for}', not '{tenant_id}'")
        return tenant_id

    # -- tenant keys -----------------------------------------------------------------------

    def _fields_for(self, spec: ServiceSpec, value: str, fields: dict[str, str]) -> dict[str, str]:
        merged = dict(fields)
        if value:
            merged[spec.primary_field] = value
        if not merged:
            raise InvalidArgument(f"no key given: send value (the {spec.primary_field}) or fields")
        return merged

    async def put_key(
        self,
        tenant_id: str,
        service_id: str,
        key_type: str,
        value: str,
        fields: dict[str, str],
        *,
        name: str = "",
        permissions: list[str] | None = None,
        rate_limit: int = 0,
        expires_in_days: int = 0,
    ) -> tuple[StoredKey, bool, Validation]:
        resource = {"service_id": service_id, "key_type": key_type or DEFAULT_KEY_TYPE}

        async def work() -> tuple[StoredKey, bool, Validation]:
            self._check_tenant(tenant_id)
            check_id("service_id", service_id)
            kt = check_key_type(key_type)
            spec = self.catalog.get(service_id)
            values = self._fields_for(spec, value, fields)
            now = now_utc()
            expires_at = now + timedelta(days=expires_in_days) if expires_in_days > 0 else None
            result = validate(spec, values, kt, now=now, expires_at=expires_at)
            if not result.is_valid:
                raise InvalidArgument("the key was not stored: " + "; ".join(result.issues))
            current = await self.store.read_key(tenant_id, service_id, kt)
            previous = current[0] if current and not current[0].revoked_at else None
            record = KeyRecord(
                key_id=previous.key_id if previous else new_key_id(),
                tenant_id=tenant_id,
                service_id=service_id,
                service_name=spec.name,
                key_type=kt,
                name=name or (previous.name if previous else f"{spec.name} {kt}"),
                ciphertext=await self.store.encrypt(tenant_id, values),
                masked_fields={k: mask(v) for k, v in values.items()},
                primary_field=spec.primary_field,
                fingerprint=fingerprint(await self.pepper(), values.get(spec.primary_field, "")),
                created_at=previous.created_at if previous else now,
                updated_at=now,
                expires_at=expires_at,
                permissions=list(permissions or []),
                rate_limit=rate_limit,
                security_level=spec.security_level.value,
                compliance_tags=list(spec.compliance_tags),
                validation=validation_record(result),
            )
            version = await self.store.write_key(record, cas=current[1] if current else 0)
            if not previous:
                await self.store.index_key_id(record)
            resource.update(key_id=record.key_id, created=previous is None)
            await self._invalidate_tenant_key(tenant_id, service_id, kt)
            return StoredKey(record, version), previous is None, result

        def action() -> str:
            return "key.updated" if resource.get("created") is False else "key.created"

        return await self._audited(action, tenant_id, resource, work)

    async def _locate(self, tenant_id: str, key_id: str, service_id: str, key_type: str) -> tuple[str, str]:
        if key_id:
            found = await self.store.locate_key_id(tenant_id, check_key_id(key_id))
            if not found:
                raise NotFound(f"key {key_id} not found for tenant '{tenant_id}'")
            return found
        return check_id("service_id", service_id), check_key_type(key_type)

    async def _load(self, tenant_id: str, key_id: str, service_id: str, key_type: str) -> StoredKey:
        service, kt = await self._locate(tenant_id, key_id, service_id, key_type)
        found = await self.store.read_key(tenant_id, service, kt)
        if not found:
            raise NotFound(f"no {service} key of type '{kt}' for tenant '{tenant_id}'")
        usage = await self.store.usage(key_path(tenant_id, service, kt))
        last_used = usage.get("last_used_at")
        return StoredKey(
            found[0],
            found[1],
            int(usage.get("usage_count", "0")),
            datetime.fromisoformat(last_used) if last_used else None,
        )

    async def get_key(self, tenant_id: str, key_id: str, service_id: str, key_type: str) -> StoredKey:
        resource = {"key_id": key_id, "service_id": service_id, "key_type": key_type}

        async def work() -> StoredKey:
            self._check_tenant(tenant_id)
            return await self._load(tenant_id, key_id, service_id, key_type)

        return await self._audited("key.read", tenant_id, resource, work)

    async def list_keys(self, tenant_id: str, service_id: str, include_revoked: bool) -> list[StoredKey]:
        async def work() -> list[StoredKey]:
            self._check_tenant(tenant_id)
            if service_id:
                check_id("service_id", service_id)
            found = await self.store.list_keys(tenant_id, service_id or None)
            return [
                StoredKey(record, version)
                for record, version in found
                if include_revoked or not record.revoked_at
            ]

        return await self._audited("key.listed", tenant_id, {"service_id": service_id}, work)

    async def delete_key(
        self, tenant_id: str, key_id: str, service_id: str, key_type: str, reason: str
    ) -> StoredKey:
        resource = {"key_id": key_id, "service_id": service_id, "key_type": key_type}

        async def work() -> StoredKey:
            self._check_tenant(tenant_id)
            stored = await self._load(tenant_id, key_id, service_id, key_type)
            record = stored.record
            resource.update(key_id=record.key_id, service_id=record.service_id, key_type=record.key_type)
            if record.revoked_at:
                return stored
            now = now_utc()
            revoked = dataclasses.replace(
                record,
                ciphertext={},
                revoked_at=now,
                revoke_reason=reason[:200],
                updated_at=now,
                grace_until=None,
            )
            version = await self.store.write_key(revoked, cas=stored.version)
            await self._invalidate_tenant_key(tenant_id, record.service_id, record.key_type)
            # Destroy every earlier version: no copy of the revoked value stays readable.
            path = key_path(tenant_id, record.service_id, record.key_type)
            await self.store.vault.kv_destroy(path, list(range(1, version)))
            return StoredKey(revoked, version, stored.usage_count, stored.last_used_at)

        return await self._audited("key.revoked", tenant_id, resource, work)

    async def rotate_key(
        self,
        tenant_id: str,
        key_id: str,
        service_id: str,
        key_type: str,
        new_value: str,
        new_fields: dict[str, str],
        grace_seconds: int,
    ) -> tuple[StoredKey, int, datetime | None]:
        resource = {"key_id": key_id, "service_id": service_id, "key_type": key_type}

        async def work() -> tuple[StoredKey, int, datetime | None]:
            self._check_tenant(tenant_id)
            if grace_seconds < 0:
                raise InvalidArgument("grace_period_seconds must be 0 or more")
            stored = await self._load(tenant_id, key_id, service_id, key_type)
            record = stored.record
            resource.update(key_id=record.key_id, service_id=record.service_id, key_type=record.key_type)
            if record.revoked_at:
                raise InvalidArgument(f"key {record.key_id} is revoked; store a new key instead of rotating")
            spec = self.catalog.get(record.service_id)
            old = await self.store.decrypt(tenant_id, record.ciphertext)
            values = {**old, **self._fields_for(spec, new_value, new_fields)}
            now = now_utc()
            result = validate(spec, values, record.key_type, now=now, expires_at=record.expires_at)
            if not result.is_valid:
                raise InvalidArgument("the key was not rotated: " + "; ".join(result.issues))
            grace_until = now + timedelta(seconds=grace_seconds) if grace_seconds else None
            rotated = dataclasses.replace(
                record,
                ciphertext=await self.store.encrypt(tenant_id, values),
                masked_fields={k: mask(v) for k, v in values.items()},
                fingerprint=fingerprint(await self.pepper(), values.get(spec.primary_field, "")),
                updated_at=now,
                validation=validation_record(result),
                grace_until=grace_until,
                previous_version=stored.version,
            )
            version = await self.store.write_key(rotated, cas=stored.version)
            await self._invalidate_tenant_key(tenant_id, record.service_id, record.key_type)
            path = key_path(tenant_id, record.service_id, record.key_type)
            if grace_until:
                await self.store.schedule_destroy(path, stored.version, grace_until)
            else:
                await self.store.vault.kv_destroy(path, [stored.version])
            return (
                StoredKey(rotated, version, stored.usage_count, stored.last_used_at),
                stored.version,
                grace_until,
            )

        return await self._audited("key.rotated", tenant_id, resource, work)

    async def validate_key(
        self, tenant_id: str, service_id: str, key_type: str, value: str, fields: dict[str, str], key_id: str
    ) -> tuple[Validation, str, dict[str, str]]:
        """Validation of a candidate (value/fields) or of a stored key (key_id). Returns the
        result, the service id and the plaintext fields (for an optional live check; never
        stored or sent anywhere but the router)."""
        resource = {"service_id": service_id, "key_type": key_type, "key_id": key_id}

        async def work() -> tuple[Validation, str, dict[str, str]]:
            self._check_tenant(tenant_id)
            now = now_utc()
            if key_id:
                stored = await self._load(tenant_id, key_id, "", "")
                record = stored.record
                if record.revoked_at:
                    raise InvalidArgument(f"key {key_id} is revoked")
                spec = self.catalog.get(record.service_id)
                values = await self.store.decrypt(tenant_id, record.ciphertext)
                result = validate(
                    spec,
                    values,
                    record.key_type,
                    created_at=record.updated_at,
                    now=now,
                    expires_at=record.expires_at,
                )
                return result, record.service_id, values
            spec = self.catalog.get(check_id("service_id", service_id))
            values = self._fields_for(spec, value, fields)
            return validate(spec, values, check_key_type(key_type), now=now), service_id, values

        return await self._audited("key.validated", tenant_id, resource, work)

    # -- resolution (the router's hot path) ------------------------------------------------

    async def resolve(
        self, tenant_id: str, service_id: str, key_type: str, purpose: str, allow_platform: bool
    ) -> Resolved:
        resource = {"service_id": service_id, "key_type": key_type or "production", "purpose": purpose[:64]}
        try:
            self._check_tenant(tenant_id)
            check_id("service_id", service_id)
            kt = check_key_type(key_type)
        except KeyrelayError as err:
            outcome = "denied" if isinstance(err, PermissionDenied) else "error"
            await self.audit.record("key.resolved", tenant_id, resource, outcome, err.message)
            raise
        cache_key = (tenant_id, service_id, kt, allow_platform)
        cached = self.resolved.get(cache_key)
        if cached is None:
            epoch = self.resolved.epoch
            try:
                cached = await self._resolve_uncached(tenant_id, service_id, kt, allow_platform)
            except KeyrelayError as err:
                await self.audit.record("key.resolved", tenant_id, resource, "error", err.message)
                raise
            self.resolved.put(cache_key, cached, epoch)
        self.audit.record_soon(
            "key.resolved", tenant_id, {**resource, "key_id": cached.key_id, "source": cached.source}
        )
        if cached.source == "tenant":
            self._count_use(key_path(tenant_id, service_id, kt))
        return cached

    async def _resolve_uncached(
        self, tenant_id: str, service_id: str, kt: str, allow_platform: bool
    ) -> Resolved:
        found = await self._cached_record((tenant_id, service_id, kt), self.store.read_key)
        if found and found[0].usable():
            record = found[0]
            values = await self.store.decrypt(tenant_id, record.ciphertext)
            return Resolved(
                values.get(record.primary_field, ""), values, "tenant", record.key_id, found[1], kt
            )
        if allow_platform:
            name = f"{PLATFORM_PROVIDER_PREFIX}{service_id}/{kt}"
            platform = await self._cached_record(
                (PLATFORM_TENANT, service_id, kt), lambda *_: self.store.read_platform_secret(name)
            )
            if platform:
                values = await self.store.decrypt_platform(platform[0]["ciphertext"])
                primary = self._primary_field(service_id)
                value = values.get(primary) or next(iter(values.values()), "")
                return Resolved(value, values, "platform", "", platform[1], kt)
            env_value = self.environ.get(env_key_name(service_id))
            if env_value:
                return Resolved(
                    env_value, {self._primary_field(service_id): env_value}, "environment", "", 0, kt
                )
        hint = "" if allow_platform else "; the tenant does not allow platform keys"
        raise NotFound(f"no usable {service_id} key for tenant '{tenant_id}'{hint}")

    async def _cached_record(
        self, key: tuple[str, str, str], read: Callable[..., Awaitable[tuple[Any, int] | None]]
    ) -> tuple[Any, int] | None:
        found = self.records.get(key)
        if found is not None:
            return found[1]
        epoch = self.records.epoch
        entry = await read(*key)
        self.records.put(key, (True, entry), epoch)  # wrapped: "absent" is cached too
        return entry

    def _primary_field(self, service_id: str) -> str:
        try:
            return self.catalog.get(service_id).primary_field
        except NotFound:
            return "api_key"

    def _count_use(self, path: str) -> None:
        count, _ = self._usage.get(path, (0, now_utc()))
        self._usage[path] = (count + 1, now_utc())

    async def flush_usage(self) -> None:
        """Write usage counters gathered since the last flush (called periodically)."""
        pending, self._usage = self._usage, {}
        for path, (count, last_used) in pending.items():
            await self.store.add_usage(path, count, last_used)

    # -- invalidation --------------------------------------------------------------------

    def apply_invalidation(self, message: dict[str, Any]) -> None:
        scope = message["scope"]
        if scope == "tenant_key":
            t, s, k = message["tenant_id"], message["service_id"], message["key_type"]
            self._drop(lambda key: key[0] == t and key[1] == s and key[2] == k)
        elif scope == "tenant":
            t = message["tenant_id"]
            self._drop(lambda key: key[0] == t)
            self.verified.invalidate(lambda h: True)
        elif scope == "platform":
            s = message["service_id"]
            self._drop(lambda key: key[1] == s)
        elif scope == "access_key":
            h = message["key_hash"]
            self.verified.invalidate(lambda key: key == h)

    def _drop(self, predicate: Callable[[tuple[Any, ...]], bool]) -> None:
        self.resolved.invalidate(predicate)
        self.records.invalidate(predicate)

    async def _invalidate_tenant_key(self, tenant_id: str, service_id: str, key_type: str) -> None:
        await self.invalidations.announce(
            {"scope": "tenant_key", "tenant_id": tenant_id, "service_id": service_id, "key_type": key_type}
        )

    def drop_caches(self) -> None:
        """When Vault is sealed or unreachable nothing may be served from memory either."""
        self.resolved.clear()
        self.verified.clear()
        self.records.clear()

    # -- platform secrets ----------------------------------------------------------------

    def _may_read_secret(self, name: str) -> bool:
        caller = caller_var.get()
        for prefix in sorted(self.secret_readers, key=len, reverse=True):
            if name.startswith(prefix):
                return caller in self.secret_readers[prefix]
        return False

    async def put_platform_secret(self, name: str, fields: dict[str, str]) -> tuple[dict[str, Any], int]:
        async def work() -> tuple[dict[str, Any], int]:
            check_secret_name(name)
            if not fields or not all(fields.values()):
                raise InvalidArgument("a platform secret needs at least one field, each with a value")
            for field_name in fields:
                check_id("field name", field_name)
            masked = {k: mask(v) for k, v in fields.items()}
            version = await self.store.write_platform_secret(name, fields, masked)
            if name.startswith(PLATFORM_PROVIDER_PREFIX):
                service_id = name[len(PLATFORM_PROVIDER_PREFIX) :].split("/")[0]
                await self.invalidations.announce({"scope": "platform", "service_id": service_id})
            found = await self.store.read_platform_secret(name)
            assert found is not None
            return found[0], version

        return await self._audited("platform_secret.written", "_platform", {"name": name}, work)

    async def get_platform_secret(self, name: str) -> tuple[dict[str, str], int]:
        async def work() -> tuple[dict[str, str], int]:
            check_secret_name(name)
            if not self._may_read_secret(name):
                raise PermissionDenied(
                    f"service '{caller_var.get()}' may not read platform secret '{name}'; "
                    "the operator grants readers per name prefix (KEYRELAY_KEYVAULT_SECRET_READERS)"
                )
            found = await self.store.read_platform_secret(name)
            if not found:
                raise NotFound(f"platform secret '{name}' does not exist")
            return await self.store.decrypt_platform(found[0]["ciphertext"]), found[1]

        return await self._audited("platform_secret.read", "_platform", {"name": name}, work)

    async def list_platform_secrets(self, prefix: str) -> list[tuple[str, dict[str, Any], int]]:
        async def work() -> list[tuple[str, dict[str, Any], int]]:
            if prefix:
                check_secret_name(prefix.rstrip("/"))
            listed = []
            for name in await self.store.list_platform_secrets(prefix):
                found = await self.store.read_platform_secret(name)
                if found:
                    listed.append((name, found[0], found[1]))
            return listed

        return await self._audited("platform_secret.listed", "_platform", {"prefix": prefix}, work)

    async def delete_platform_secret(self, name: str) -> None:
        async def work() -> None:
            check_secret_name(name)
            await self.store.delete_platform_secret(name)
            if name.startswith(PLATFORM_PROVIDER_PREFIX):
                service_id = name[len(PLATFORM_PROVIDER_PREFIX) :].split("/")[0]
                await self.invalidations.announce({"scope": "platform", "service_id": service_id})

        await self._audited("platform_secret.deleted", "_platform", {"name": name}, work)

    # -- access keys -----------------------------------------------------------------------

    async def _hash(self, key: str) -> str:
        return hmac.new(await self.pepper(), key.encode(), hashlib.sha256).hexdigest()

    async def issue_access_key(
        self,
        tenant_id: str,
        name: str,
        role: str,
        permissions: list[str],
        rate_limit: int,
        expires_in_days: int,
    ) -> tuple[str, AccessKeyRecord]:
        resource: dict[str, Any] = {"role": role}

        async def work() -> tuple[str, AccessKeyRecord]:
            self._check_tenant(tenant_id)
            if role not in ROLES:
                raise InvalidArgument(f"role must be one of {', '.join(ROLES)}")
            if rate_limit < 0 or expires_in_days < 0:
                raise InvalidArgument("rate_limit and expires_in_days must be 0 or more")
            key = "kr_" + secrets.token_urlsafe(32)
            now = now_utc()
            record = AccessKeyRecord(
                key_id=new_key_id("ak"),
                tenant_id=tenant_id,
                name=name[:100] or "access key",
                role=role,
                key_hash=await self._hash(key),
                key_preview=access_key_preview(key),
                created_at=now,
                permissions=list(permissions),
                rate_limit=rate_limit,
                expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
            )
            await self.store.write_access_key(record, cas=0)
            resource["key_id"] = record.key_id
            return key, record

        return await self._audited("access_key.issued", tenant_id, resource, work)

    async def verify_access_key(self, key: str) -> AccessKeyRecord:
        key_hash = await self._hash(key)
        cached = self.verified.get(key_hash)
        if cached is None:
            epoch = self.verified.epoch
            found = await self.store.read_access_key(key_hash) if key.startswith("kr_") else None
            if found is None:
                await self.audit.record(
                    "access_key.verified", "_platform", {}, "denied", "unknown access key"
                )
                raise Unauthenticated("invalid access key")
            cached = found[0]
            self.verified.put(key_hash, cached, epoch)
        if cached.status().value != "active":
            await self.audit.record(
                "access_key.verified",
                cached.tenant_id,
                {"key_id": cached.key_id},
                "denied",
                f"access key is {cached.status().value}",
            )
            raise Unauthenticated("invalid access key")
        self.audit.record_soon("access_key.verified", cached.tenant_id, {"key_id": cached.key_id})
        return cached

    async def list_access_keys(self, tenant_id: str, include_revoked: bool) -> list[AccessKeyRecord]:
        async def work() -> list[AccessKeyRecord]:
            self._check_tenant(tenant_id)
            found = await self.store.list_access_keys(tenant_id)
            return [r for r, _ in found if include_revoked or not r.revoked_at]

        return await self._audited("access_key.listed", tenant_id, {}, work)

    async def revoke_access_key(self, tenant_id: str, key_id: str, reason: str) -> AccessKeyRecord:
        async def work() -> AccessKeyRecord:
            self._check_tenant(tenant_id)
            key_hash = await self.store.access_key_hash(tenant_id, check_key_id(key_id))
            found = await self.store.read_access_key(key_hash) if key_hash else None
            if not found:
                raise NotFound(f"access key {key_id} not found for tenant '{tenant_id}'")
            record, version = found
            if not record.revoked_at:
                record = dataclasses.replace(record, revoked_at=now_utc())
                await self.store.write_access_key(record, cas=version)
            await self.invalidations.announce({"scope": "access_key", "key_hash": record.key_hash})
            return record

        return await self._audited(
            "access_key.revoked", tenant_id, {"key_id": key_id, "reason": reason[:200]}, work
        )

    # -- tenants ---------------------------------------------------------------------------

    async def delete_tenant(self, tenant_id: str) -> tuple[int, int]:
        async def work() -> tuple[int, int]:
            self._check_tenant(tenant_id)
            hashes = await self.store.delete_access_keys(tenant_id)
            keys = await self.store.delete_tenant(tenant_id)
            await self.invalidations.announce({"scope": "tenant", "tenant_id": tenant_id})
            return keys, len(hashes)

        return await self._audited("tenant.deleted", tenant_id, {}, work)
