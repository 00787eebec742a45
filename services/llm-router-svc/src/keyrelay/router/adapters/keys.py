"""Keys for provider calls, from keyvault-svc (ResolveKey), kept in this process's memory.

The router is the one service allowed to hold plaintext provider keys (SPEC §1). It caches
what it resolved for a short TTL so the hot path does not pay a gRPC round trip per call,
and drops entries when keyvault-svc announces a change on NATS (the same invalidation
keyvault's own replicas use), so a revoked key stops being used within milliseconds.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import grpc
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from keyrelay.common.cache import TtlCache
from keyrelay.common.errors import from_rpc_error
from keyrelay.common.nats_helpers import KEY_INVALIDATION_SUBJECT
from keyrelay.common.rpc import call_metadata
from keyrelay.router.domain.messages import Credential
from keyrelay.v1 import common_pb2, keyvault_pb2, keyvault_pb2_grpc

log = logging.getLogger(__name__)

_SOURCES = {
    common_pb2.KEY_SOURCE_TENANT: "tenant",
    common_pb2.KEY_SOURCE_PLATFORM: "platform",
    common_pb2.KEY_SOURCE_ENVIRONMENT: "environment",
}


@dataclass(frozen=True)
class ResolvedKey:
    credential: Credential
    source: str  # tenant | platform | environment
    key_id: str

    @property
    def ref(self) -> str:
        """Identifies the key for circuit breaking without naming its value."""
        return f"{self.source}:{self.key_id}"


class KeyResolver:
    def __init__(self, stub: keyvault_pb2_grpc.KeyVaultStub, ttl: float = 30.0) -> None:
        self._stub = stub
        # Values are 1-tuples so that "this tenant has no key" is cached too: auto routing
        # asks for every candidate provider, most of which a tenant has no key for.
        self._cache: TtlCache[tuple[str, str, bool], tuple[ResolvedKey | None]] = TtlCache(ttl)

    async def resolve(
        self, tenant_id: str, service_id: str, allow_platform: bool, purpose: str
    ) -> ResolvedKey | None:
        """The key to use, or None when the tenant has none for this provider."""
        key = (tenant_id, service_id, allow_platform)
        cached = self._cache.get(key)
        if cached is not None:
            return cached[0]
        epoch = self._cache.epoch
        request = keyvault_pb2.ResolveKeyRequest(
            tenant_id=tenant_id,
            service_id=service_id,
            purpose=purpose,
            allow_platform_fallback=allow_platform,
        )
        try:
            reply = await self._stub.ResolveKey(request, metadata=call_metadata(), timeout=5)
        except grpc.aio.AioRpcError as err:
            if err.code() == grpc.StatusCode.NOT_FOUND:
                self._cache.put(key, (None,), epoch)
                return None
            raise from_rpc_error(err) from err
        resolved = ResolvedKey(
            Credential(reply.value, dict(reply.fields)), _SOURCES.get(reply.source, "tenant"), reply.key_id
        )
        self._cache.put(key, (resolved,), epoch)
        return resolved

    def forget(self, message: dict[str, Any]) -> None:
        scope = message.get("scope")
        tenant, service = message.get("tenant_id"), message.get("service_id")
        if scope == "tenant_key":
            self._cache.invalidate(lambda k: k[0] == tenant and k[1] == service)
        elif scope == "tenant":
            self._cache.invalidate(lambda k: k[0] == tenant)
        elif scope == "platform":
            self._cache.invalidate(lambda k: k[1] == service)
        else:
            self._cache.clear()

    async def listen(self, nc: NATS) -> None:
        async def on_message(msg: Msg) -> None:
            try:
                self.forget(json.loads(msg.data))
            except ValueError:
                self._cache.clear()  # unreadable: be safe

        await nc.subscribe(KEY_INVALIDATION_SUBJECT, cb=on_message)

    def clear(self) -> None:
        self._cache.clear()
