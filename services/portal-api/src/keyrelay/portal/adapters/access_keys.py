"""Access keys verified by keyvault-svc (VerifyAccessKey), cached for a few seconds.

The cache is keyed by the SHA-256 of the presented key, so no key is kept in memory. A
revocation reaches it through keyvault-svc's invalidation messages on NATS; the short TTL
bounds staleness should a message be missed (the cache is also dropped on reconnect).
The invalidation message names an access key by its peppered HMAC, which the portal cannot
compute, so an `access_key` or `tenant` message drops the whole cache: revocations are rare
and a refill costs one RPC per active key.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any, Protocol

import grpc
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from keyrelay.common.cache import TtlCache
from keyrelay.common.nats_helpers import KEY_INVALIDATION_SUBJECT
from keyrelay.common.rpc import call_metadata
from keyrelay.portal.adapters.metrics import rpc_failure
from keyrelay.portal.domain.auth import Role, VerifiedKey
from keyrelay.v1 import keyvault_pb2

log = logging.getLogger(__name__)

_ROLES: dict[int, Role] = {
    keyvault_pb2.ACCESS_KEY_ROLE_READ_ONLY: "read_only",
    keyvault_pb2.ACCESS_KEY_ROLE_FULL_ACCESS: "full_access",
    keyvault_pb2.ACCESS_KEY_ROLE_ADMIN: "admin",
}
_DROPPING_SCOPES = frozenset({"access_key", "tenant"})


class VerifyAccessKeyCall(Protocol):
    async def __call__(
        self,
        request: keyvault_pb2.VerifyAccessKeyRequest,
        *,
        metadata: Any,
        timeout: float,  # noqa: ASYNC109 - gRPC's API
    ) -> keyvault_pb2.VerifyAccessKeyResponse: ...


def verified_key(metadata: keyvault_pb2.AccessKeyMetadata) -> VerifiedKey:
    expires = metadata.expires_at.seconds if metadata.HasField("expires_at") else 0
    return VerifiedKey(
        key_id=metadata.key_id,
        tenant_id=metadata.tenant_id,
        role=_ROLES.get(metadata.role, "read_only"),  # unknown role: least privilege
        rate_limit=metadata.rate_limit,
        expires_at=float(expires) if expires else None,
    )


class AccessKeyVerifier:
    def __init__(self, verify_call: VerifyAccessKeyCall, ttl: float = 10.0, timeout: float = 5.0) -> None:
        self._call = verify_call
        self._timeout = timeout
        self.cache: TtlCache[bytes, VerifiedKey] = TtlCache(ttl, max_entries=10_000)

    async def verify(self, key: str) -> VerifiedKey:
        digest = hashlib.sha256(key.encode()).digest()
        cached = self.cache.get(digest)
        if cached is not None:
            return cached
        epoch = self.cache.epoch
        try:
            reply = await self._call(
                keyvault_pb2.VerifyAccessKeyRequest(key=key), metadata=call_metadata(), timeout=self._timeout
            )
        except grpc.RpcError as err:
            raise rpc_failure("keyvault", err) from err
        verified = verified_key(reply.metadata)
        self.cache.put(digest, verified, epoch)
        return verified

    def forget(self, message: dict[str, Any]) -> None:
        if message.get("scope") in _DROPPING_SCOPES:
            self.cache.clear()

    async def on_message(self, msg: Msg) -> None:
        try:
            message = json.loads(msg.data)
        except ValueError:
            self.cache.clear()  # unreadable: be safe
            return
        self.forget(message if isinstance(message, dict) else {"scope": "access_key"})

    async def on_reconnect(self) -> None:
        self.cache.clear()  # invalidations may have been missed while disconnected

    async def listen(self, nc: NATS) -> None:
        await nc.subscribe(KEY_INVALIDATION_SUBJECT, cb=self.on_message)
