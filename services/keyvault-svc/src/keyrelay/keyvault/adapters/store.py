"""Where keyvault-svc keeps things in Vault, and how records are read and written.

KV v2 layout (mount `keyrelay`, SPEC §4.1):

    tenants/{tenant}/api-keys/{service}/{key_type}   KeyRecord (ciphertext + metadata)
    tenants/{tenant}/key-ids/{key_id}                 {service_id, key_type}: lookup by id
    tenants/{tenant}/access-keys/{key_id}             {key_hash}: listing a tenant's access keys
    access-keys/{key_hash}                            AccessKeyRecord (HMAC of the key, never it)
    platform/{name}                                   platform secret (ciphertext per field)
    internal/pepper                                   the HMAC pepper, Transit-encrypted
    internal/pending-destroy/{id}                     old versions to destroy after a grace period

Every value is encrypted with Transit under `tenant-{tenant}` (`platform` for platform
secrets and the pepper) before it is written. Usage counters live in KV custom metadata so
they do not add versions (versions are the rotation history).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from keyrelay.common.errors import Conflict
from keyrelay.keyvault.adapters.vault import VaultGateway
from keyrelay.keyvault.domain.records import AccessKeyRecord, KeyRecord

PLATFORM_TRANSIT_KEY = "platform"


def tenant_transit_key(tenant_id: str) -> str:
    return f"tenant-{tenant_id}"


def key_path(tenant_id: str, service_id: str, key_type: str) -> str:
    return f"tenants/{tenant_id}/api-keys/{service_id}/{key_type}"


class KeyStore:
    def __init__(self, vault: VaultGateway) -> None:
        self.vault = vault

    # -- tenant keys ---------------------------------------------------------------------

    async def read_key(self, tenant_id: str, service_id: str, key_type: str) -> tuple[KeyRecord, int] | None:
        found = await self.vault.kv_read(key_path(tenant_id, service_id, key_type))
        return (KeyRecord.from_kv(found[0]), found[1]) if found else None

    async def write_key(self, record: KeyRecord, cas: int) -> int:
        path = key_path(record.tenant_id, record.service_id, record.key_type)
        return await self.vault.kv_write(path, record.to_kv(), cas)

    async def index_key_id(self, record: KeyRecord) -> None:
        await self.vault.kv_write(
            f"tenants/{record.tenant_id}/key-ids/{record.key_id}",
            {"service_id": record.service_id, "key_type": record.key_type},
            cas=0,
        )

    async def locate_key_id(self, tenant_id: str, key_id: str) -> tuple[str, str] | None:
        found = await self.vault.kv_read(f"tenants/{tenant_id}/key-ids/{key_id}")
        return (found[0]["service_id"], found[0]["key_type"]) if found else None

    async def list_keys(self, tenant_id: str, service_id: str | None = None) -> list[tuple[KeyRecord, int]]:
        services = (
            [service_id + "/"] if service_id else await self.vault.kv_list(f"tenants/{tenant_id}/api-keys")
        )
        records = []
        for service in services:
            for key_type in await self.vault.kv_list(f"tenants/{tenant_id}/api-keys/{service}"):
                found = await self.read_key(tenant_id, service.rstrip("/"), key_type.rstrip("/"))
                if found:
                    records.append(found)
        return records

    async def encrypt(self, tenant_id: str, values: dict[str, str]) -> dict[str, str]:
        key = tenant_transit_key(tenant_id)
        await self.vault.ensure_transit_key(key)
        return await self.vault.encrypt(key, values)

    async def decrypt(self, tenant_id: str, ciphertext: dict[str, str]) -> dict[str, str]:
        return await self.vault.decrypt(tenant_transit_key(tenant_id), ciphertext)

    async def usage(self, path: str) -> dict[str, str]:
        return await self.vault.kv_custom_metadata(path)

    async def add_usage(self, path: str, count: int, last_used: datetime) -> None:
        """Counters in custom metadata (no new version). Approximate across replicas: the
        exact per-call record is the usage ledger."""
        current = await self.vault.kv_custom_metadata(path)
        total = int(current.get("usage_count", "0")) + count
        await self.vault.kv_set_custom_metadata(
            path, {**current, "usage_count": str(total), "last_used_at": last_used.isoformat()}
        )

    async def schedule_destroy(self, path: str, version: int, at: datetime) -> None:
        await self.vault.kv_write(
            f"internal/pending-destroy/{secrets.token_hex(8)}",
            {"path": path, "version": version, "at": at.isoformat()},
            cas=0,
        )

    async def destroy_due(self, now: datetime) -> int:
        """Destroy old versions whose grace period ended. Idempotent: any replica may run it."""
        done = 0
        for entry in await self.vault.kv_list("internal/pending-destroy"):
            found = await self.vault.kv_read(f"internal/pending-destroy/{entry}")
            if not found or datetime.fromisoformat(found[0]["at"]) > now:
                continue
            await self.vault.kv_destroy(found[0]["path"], [int(found[0]["version"])])
            await self.vault.kv_delete_all(f"internal/pending-destroy/{entry}")
            done += 1
        return done

    async def delete_tenant(self, tenant_id: str) -> int:
        """Delete every KV entry of a tenant, then its Transit key (crypto-shredding)."""
        deleted = 0
        for service in await self.vault.kv_list(f"tenants/{tenant_id}/api-keys"):
            for key_type in await self.vault.kv_list(f"tenants/{tenant_id}/api-keys/{service}"):
                await self.vault.kv_delete_all(f"tenants/{tenant_id}/api-keys/{service}{key_type}")
                deleted += 1
        for key_id in await self.vault.kv_list(f"tenants/{tenant_id}/key-ids"):
            await self.vault.kv_delete_all(f"tenants/{tenant_id}/key-ids/{key_id}")
        await self.vault.delete_transit_key(tenant_transit_key(tenant_id))
        return deleted

    # -- access keys ---------------------------------------------------------------------

    async def write_access_key(self, record: AccessKeyRecord, cas: int) -> int:
        version = await self.vault.kv_write(f"access-keys/{record.key_hash}", record.to_kv(), cas)
        if cas == 0:
            await self.vault.kv_write(
                f"tenants/{record.tenant_id}/access-keys/{record.key_id}",
                {"key_hash": record.key_hash},
                cas=0,
            )
        return version

    async def read_access_key(self, key_hash: str) -> tuple[AccessKeyRecord, int] | None:
        found = await self.vault.kv_read(f"access-keys/{key_hash}")
        return (AccessKeyRecord.from_kv(found[0]), found[1]) if found else None

    async def access_key_hash(self, tenant_id: str, key_id: str) -> str | None:
        found = await self.vault.kv_read(f"tenants/{tenant_id}/access-keys/{key_id}")
        return str(found[0]["key_hash"]) if found else None

    async def list_access_keys(self, tenant_id: str) -> list[tuple[AccessKeyRecord, int]]:
        records = []
        for key_id in await self.vault.kv_list(f"tenants/{tenant_id}/access-keys"):
            key_hash = await self.access_key_hash(tenant_id, key_id)
            found = await self.read_access_key(key_hash) if key_hash else None
            if found:
                records.append(found)
        return records

    async def delete_access_keys(self, tenant_id: str) -> list[str]:
        hashes = []
        for key_id in await self.vault.kv_list(f"tenants/{tenant_id}/access-keys"):
            key_hash = await self.access_key_hash(tenant_id, key_id)
            if key_hash:
                await self.vault.kv_delete_all(f"access-keys/{key_hash}")
                hashes.append(key_hash)
            await self.vault.kv_delete_all(f"tenants/{tenant_id}/access-keys/{key_id}")
        return hashes

    # -- platform secrets and the pepper -------------------------------------------------

    async def write_platform_secret(self, name: str, fields: dict[str, str], masked: dict[str, str]) -> int:
        await self.vault.ensure_transit_key(PLATFORM_TRANSIT_KEY)
        path = f"platform/{name}"
        current = await self.vault.kv_read(path)
        now = datetime.now().astimezone().isoformat()
        data = {
            "ciphertext": await self.vault.encrypt(PLATFORM_TRANSIT_KEY, fields),
            "masked_fields": masked,
            "created_at": current[0].get("created_at", now) if current else now,
            "updated_at": now,
        }
        return await self.vault.kv_write(path, data, cas=current[1] if current else 0)

    async def read_platform_secret(self, name: str) -> tuple[dict[str, Any], int] | None:
        return await self.vault.kv_read(f"platform/{name}")

    async def decrypt_platform(self, ciphertext: dict[str, str]) -> dict[str, str]:
        return await self.vault.decrypt(PLATFORM_TRANSIT_KEY, ciphertext)

    async def list_platform_secrets(self, prefix: str) -> list[str]:
        """Names under prefix (recursively)."""
        names: list[str] = []
        pending = [prefix.rstrip("/")]
        while pending:
            folder = pending.pop()
            for entry in await self.vault.kv_list(f"platform/{folder}".rstrip("/")):
                full = f"{folder}/{entry}".lstrip("/")
                (pending if entry.endswith("/") else names).append(full.rstrip("/"))
        return sorted(names)

    async def delete_platform_secret(self, name: str) -> None:
        await self.vault.kv_delete_all(f"platform/{name}")

    async def pepper(self) -> bytes:
        """The platform HMAC pepper: created once (check-and-set, so replicas agree)."""
        await self.vault.ensure_transit_key(PLATFORM_TRANSIT_KEY)
        for _ in range(3):
            found = await self.vault.kv_read("internal/pepper")
            if found:
                plain = await self.vault.decrypt(PLATFORM_TRANSIT_KEY, {"pepper": found[0]["pepper"]})
                return bytes.fromhex(plain["pepper"])
            sealed = await self.vault.encrypt(PLATFORM_TRANSIT_KEY, {"pepper": secrets.token_hex(32)})
            try:
                await self.vault.kv_write("internal/pepper", sealed, cas=0)
            except Conflict:
                continue  # another replica created it first: read theirs
        raise Conflict("could not create or read the platform pepper; retry")
