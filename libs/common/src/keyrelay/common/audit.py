"""Audit events of a service: one CloudEvent per operation, allowed or not.

Management operations (keys, documents, collections) wait until their event is published
or spooled, and are refused when it can be neither (fail closed, like Vault without a
working audit device). Hot paths (keyvault's ResolveKey and VerifyAccessKey, rag's answers)
hand their event to the publisher without waiting (it publishes them in batches); if it
could record nothing recently, the next call is refused (see docs/decisions.md).
"""

from __future__ import annotations

import logging
from typing import Any

from keyrelay.common.context import actor_var, caller_var, request_id_var
from keyrelay.common.errors import Unavailable
from keyrelay.common.events import PLATFORM_TENANT, TENANT_ID_PATTERN, Outcome, audit_event
from keyrelay.common.nats_helpers import EventNotRecorded, EventPublisher

log = logging.getLogger(__name__)
_REFUSED = (
    "the audit trail cannot record this operation (NATS is unreachable and the local event "
    "spool is unusable), so it was refused; check NATS and the spool directory"
)


class Auditor:
    """Records the audit events of `source` (e.g. "keyvault-svc") through `publisher`."""

    def __init__(self, publisher: EventPublisher, source: str) -> None:
        self._publisher = publisher
        self._source = source

    def _event(self, action: str, tenant_id: str, resource: dict[str, Any], outcome: Outcome, reason: str):  # noqa: ANN202
        actor = actor_var.get()
        safe_tenant = tenant_id if TENANT_ID_PATTERN.fullmatch(tenant_id or "") else PLATFORM_TENANT
        if safe_tenant != tenant_id:
            resource = {**resource, "claimed_tenant_id": (tenant_id or "")[:64]}
        return audit_event(
            self._source,
            safe_tenant,
            action,
            actor={**(actor.as_dict() if actor else {}), "via": caller_var.get()},
            resource=resource,
            outcome=outcome,
            reason=reason or None,
            request_id=request_id_var.get(),
        )

    def ensure_recordable(self) -> None:
        """Refuse before acting when no event could be recorded now (fail closed)."""
        if not self._publisher.can_record():
            raise Unavailable(_REFUSED)

    async def record(
        self,
        action: str,
        tenant_id: str,
        resource: dict[str, Any],
        outcome: Outcome = "success",
        reason: str = "",
    ) -> None:
        """Publish or spool the event; raise Unavailable (operation refused) when neither works."""
        try:
            await self._publisher.publish(self._event(action, tenant_id, resource, outcome, reason))
        except EventNotRecorded as exc:
            raise Unavailable(_REFUSED) from exc

    def record_soon(self, action: str, tenant_id: str, resource: dict[str, Any]) -> None:
        """For the hot path: queue the event (published in batches); if the publisher could
        record nothing recently, refuse this call instead (fail closed)."""
        try:
            self._publisher.submit(self._event(action, tenant_id, resource, "success", ""))
        except EventNotRecorded as exc:
            raise Unavailable(_REFUSED) from exc

    async def drain(self) -> None:
        """Wait (a few seconds at most) until queued events are recorded; for shutdown."""
        await self._publisher.flush(5.0)
