"""Vault/OpenBao access for keyvault-svc, the only holder of a Vault credential.

hvac is synchronous; calls run in a worker thread so the gRPC event loop never blocks.
Login is by AppRole (or a static token); a 403 triggers one re-login and a retry, and a
background task renews the token before it expires (logging in again when it cannot).
`VaultGateway` offers the few KV v2 and Transit operations keyvault-svc needs, with
Vault's errors turned into keyrelay's (`Unavailable`, `Conflict`).
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import hvac
import requests
from hvac.exceptions import (
    BadGateway,
    Forbidden,
    InternalServerError,
    InvalidPath,
    InvalidRequest,
    VaultDown,
    VaultError,
    VaultNotInitialized,
)

from keyrelay.common.errors import Conflict, InternalError, Unavailable
from keyrelay.keyvault.config import KeyvaultSettings

log = logging.getLogger(__name__)
T = TypeVar("T")


class VaultGateway:
    def __init__(self, settings: KeyvaultSettings) -> None:
        self._settings = settings
        verify: str | bool = str(settings.vault_cacert) if settings.vault_cacert else True
        self.client = hvac.Client(url=settings.vault_addr, verify=verify, timeout=5)
        self.kv_mount = settings.keyvault_kv_mount
        self.transit_mount = settings.keyvault_transit_mount

    async def login(self) -> None:
        await self.call(lambda c: None)

    async def call(self, fn: Callable[[hvac.Client], T]) -> T:
        """Run fn(client) in a thread, logging in first and again after a 403."""
        return await asyncio.to_thread(self._call_sync, fn)

    def _call_sync(self, fn: Callable[[hvac.Client], T]) -> T:
        try:
            if not self.client.token:
                self._login_sync()
            try:
                return fn(self.client)
            except Forbidden:
                self._login_sync()
                return fn(self.client)
        except VaultDown as exc:
            raise Unavailable("Vault is sealed; an operator must unseal it before keys can be used") from exc
        except InvalidRequest as exc:
            if "check-and-set" in str(exc):
                raise Conflict(
                    "the key was changed by another request at the same time; read it again and retry"
                ) from exc
            raise InternalError(f"Vault rejected a request of keyvault-svc ({exc.errors})") from exc
        except Forbidden as exc:
            raise InternalError("Vault denied keyvault-svc: check the keyvault-svc policy in Vault") from exc
        except (InternalServerError, BadGateway, VaultNotInitialized) as exc:
            raise Unavailable(f"Vault is not working ({type(exc).__name__}); try again shortly") from exc
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise Unavailable(
                "Vault is unreachable; check KEYRELAY_VAULT_ADDR and that Vault is running"
            ) from exc

    def _login_sync(self) -> None:
        approle = self._settings.approle()
        if approle:
            self.client.auth.approle.login(role_id=approle[0], secret_id=approle[1])
        elif self._settings.keyvault_vault_token:
            self.client.token = self._settings.keyvault_vault_token
        else:
            raise Unavailable(
                "no Vault credential configured: set KEYRELAY_KEYVAULT_ROLE_ID and "
                "KEYRELAY_KEYVAULT_SECRET_ID (or their _FILE variants) or KEYRELAY_KEYVAULT_VAULT_TOKEN"
            )

    async def health(self) -> dict[str, Any]:
        """Reachable, unsealed, authenticated and the token's remaining TTL."""
        status: dict[str, Any] = {
            "reachable": False,
            "unsealed": False,
            "authenticated": False,
            "ttl": 0,
            "message": "",
        }
        try:
            seal = await asyncio.to_thread(self.client.sys.read_seal_status)
            status["reachable"] = True
            status["unsealed"] = not seal["sealed"]
            if seal["sealed"]:
                status["message"] = "Vault is sealed"
                return status
            me = await self.call(lambda c: c.auth.token.lookup_self())
            status["authenticated"] = True
            status["ttl"] = int(me["data"].get("ttl") or 0)
        except Unavailable as err:
            status["message"] = err.message
        except (requests.RequestException, VaultError) as exc:
            status["message"] = f"Vault error: {type(exc).__name__}"
        return status

    async def check(self) -> None:
        """Raise Unavailable unless Vault is usable (for readiness)."""
        status = await self.health()
        if not status["authenticated"]:
            raise Unavailable(status["message"] or "Vault is not usable")

    # -- token lifetime ------------------------------------------------------------------

    async def keep_token_fresh(self, interval: float = 60.0) -> None:
        """Renew the token when a third of its TTL is left; log in again if renewal fails."""
        while True:
            await asyncio.sleep(interval)
            try:
                await asyncio.to_thread(self._refresh_sync)
            except (Unavailable, VaultError, requests.RequestException) as exc:
                log.warning("vault token refresh failed: %s", type(exc).__name__)

    def _refresh_sync(self) -> None:
        if not self.client.token:
            self._login_sync()
            return
        try:
            me = self.client.auth.token.lookup_self()["data"]
        except Forbidden:
            self._login_sync()
            return
        ttl, creation_ttl = int(me.get("ttl") or 0), int(me.get("creation_ttl") or 0)
        if creation_ttl and ttl < creation_ttl / 3:
            try:
                self.client.auth.token.renew_self()
            except (Forbidden, InvalidRequest):
                self._login_sync()
            else:
                renewed = int(self.client.auth.token.lookup_self()["data"].get("ttl") or 0)
                if renewed < creation_ttl / 3:  # at its max TTL: renewal no longer extends it
                    self._login_sync()

    # -- KV v2 -----------------------------------------------------------------------------

    async def kv_read(self, path: str) -> tuple[dict[str, Any], int] | None:
        """Current data and version, or None when there is no live version."""

        def read(c: hvac.Client) -> tuple[dict[str, Any], int] | None:
            try:
                reply = c.secrets.kv.v2.read_secret_version(
                    path, mount_point=self.kv_mount, raise_on_deleted_version=True
                )
            except InvalidPath:
                return None
            return reply["data"]["data"], int(reply["data"]["metadata"]["version"])

        return await self.call(read)

    async def kv_write(self, path: str, data: dict[str, Any], cas: int) -> int:
        """Write with check-and-set (cas=0: only if absent). Returns the new version."""
        reply = await self.call(
            lambda c: c.secrets.kv.v2.create_or_update_secret(
                path, secret=data, cas=cas, mount_point=self.kv_mount
            )
        )
        return int(reply["data"]["version"])

    async def kv_list(self, path: str) -> list[str]:
        def list_(c: hvac.Client) -> list[str]:
            try:
                return list(c.secrets.kv.v2.list_secrets(path, mount_point=self.kv_mount)["data"]["keys"])
            except InvalidPath:
                return []

        return await self.call(list_)

    async def kv_custom_metadata(self, path: str) -> dict[str, str]:
        def read(c: hvac.Client) -> dict[str, str]:
            try:
                meta = c.secrets.kv.v2.read_secret_metadata(path, mount_point=self.kv_mount)["data"]
            except InvalidPath:
                return {}
            return dict(meta.get("custom_metadata") or {})

        return await self.call(read)

    async def kv_set_custom_metadata(self, path: str, values: dict[str, str]) -> None:
        await self.call(
            lambda c: c.secrets.kv.v2.update_metadata(path, custom_metadata=values, mount_point=self.kv_mount)
        )

    async def kv_destroy(self, path: str, versions: list[int]) -> None:
        if versions:
            await self.call(
                lambda c: c.secrets.kv.v2.destroy_secret_versions(
                    path, versions=versions, mount_point=self.kv_mount
                )
            )

    async def kv_delete_all(self, path: str) -> None:
        await self.call(
            lambda c: c.secrets.kv.v2.delete_metadata_and_all_versions(path, mount_point=self.kv_mount)
        )

    # -- Transit -----------------------------------------------------------------------

    async def ensure_transit_key(self, name: str) -> None:
        await self.call(lambda c: c.secrets.transit.create_key(name, mount_point=self.transit_mount))

    async def encrypt(self, key: str, values: dict[str, str]) -> dict[str, str]:
        names = list(values)
        batch = [{"plaintext": base64.b64encode(values[n].encode()).decode()} for n in names]
        reply = await self.call(
            lambda c: c.secrets.transit.encrypt_data(
                key, plaintext="", batch_input=batch, mount_point=self.transit_mount
            )
        )
        return {n: r["ciphertext"] for n, r in zip(names, reply["data"]["batch_results"], strict=True)}

    async def decrypt(self, key: str, ciphertexts: dict[str, str]) -> dict[str, str]:
        names = list(ciphertexts)
        batch = [{"ciphertext": ciphertexts[n]} for n in names]
        reply = await self.call(
            lambda c: c.secrets.transit.decrypt_data(
                key, ciphertext="", batch_input=batch, mount_point=self.transit_mount
            )
        )
        results = reply["data"]["batch_results"]
        if any("error" in r for r in results):
            raise Unavailable("a stored key could not be decrypted (its encryption key is gone)")
        return {n: base64.b64decode(r["plaintext"]).decode() for n, r in zip(names, results, strict=True)}

    async def delete_transit_key(self, name: str) -> None:
        def delete(c: hvac.Client) -> None:
            try:
                c.secrets.transit.update_key_configuration(
                    name, deletion_allowed=True, mount_point=self.transit_mount
                )
            except InvalidPath:
                return
            c.secrets.transit.delete_key(name, mount_point=self.transit_mount)

        await self.call(delete)
