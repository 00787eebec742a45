"""Cache invalidation across replicas over core NATS (`keyrelay.control.keyvault.invalidate`).

A replica that changes a key drops its own cache entries first, then tells every replica
(itself included, harmlessly). Messages name what changed, never a value:
`{"scope": "tenant_key", "tenant_id", "service_id", "key_type"}`, `{"scope": "tenant",
"tenant_id"}`, `{"scope": "platform", "service_id"}` or `{"scope": "access_key", "key_hash"}`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.errors import Error as NatsError

from keyrelay.common.nats_helpers import KEY_INVALIDATION_SUBJECT

log = logging.getLogger(__name__)
SUBJECT = KEY_INVALIDATION_SUBJECT

Handler = Callable[[dict[str, Any]], None]


class Invalidations:
    def __init__(self, apply: Handler) -> None:
        self._apply = apply
        self._nc: NATS | None = None

    async def attach(self, nc: NATS) -> None:
        """Start listening on a connected client (nats-py re-subscribes after reconnects)."""
        self._nc = nc

        async def on_message(msg: Msg) -> None:
            try:
                self._apply(json.loads(msg.data))
            except (ValueError, KeyError, TypeError):
                log.warning("ignored a malformed invalidation message")

        await nc.subscribe(SUBJECT, cb=on_message)

    async def announce(self, message: dict[str, Any]) -> None:
        """Apply locally now, then tell the other replicas (best effort: the TTL bounds
        staleness if NATS is down)."""
        self._apply(message)
        if self._nc is None or not self._nc.is_connected:
            log.warning("invalidation not broadcast: NATS is not connected")
            return
        try:
            await self._nc.publish(SUBJECT, json.dumps(message).encode())
            await self._nc.flush(timeout=1)
        except (NatsError, TimeoutError, OSError) as exc:
            log.warning("invalidation not broadcast: %r", exc)
