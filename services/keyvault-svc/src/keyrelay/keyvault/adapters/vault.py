"""Vault/OpenBao access for keyvault-svc, the only holder of a Vault credential.

hvac is synchronous; calls run in a worker thread so the gRPC event loop never blocks.
Login is by AppRole (or a static token); a 403 triggers one re-login and a retry.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import hvac
import requests
from hvac.exceptions import Forbidden, VaultDown, VaultError
from keyrelay.common.errors import Unavailable
from keyrelay.keyvault.config import KeyvaultSettings

log = logging.getLogger(__name__)
T = TypeVar("T")


class VaultGateway:
    def __init__(self, settings: KeyvaultSettings) -> None:
        self._settings = settings
        verify: str | bool = str(settings.vault_cacert) if settings.vault_cacert else True
        self.client = hvac.Client(url=settings.vault_addr, verify=verify, timeout=5)

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
