"""Per-request context that follows a call across tasks, gRPC hops and events.

The edge (portal-api) sets who is asking (`actor`), for which tenant, and the request id;
`keyrelay.common.rpc` carries them in gRPC metadata to every service, which sets them
again here, so logs and audit events anywhere say the same thing.
"""

from __future__ import annotations

import uuid
from contextvars import ContextVar
from dataclasses import dataclass

from keyrelay.common.errors import InvalidArgument, PermissionDenied

REQUEST_ID_HEADER = "x-request-id"
TENANT_HEADER = "x-keyrelay-tenant"
ACTOR_HEADER = "x-keyrelay-actor"


@dataclass(frozen=True)
class Actor:
    """Who asked: `access_key` (with its id), `admin`, `jwt` (subject) or `service`."""

    kind: str
    id: str

    def header(self) -> str:
        return f"{self.kind}:{self.id}"

    @classmethod
    def parse(cls, value: str | None) -> Actor | None:
        if not value or ":" not in value:
            return None
        kind, _, id_ = value.partition(":")
        return cls(kind[:32], id_[:128])

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "id": self.id}


request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
tenant_id_var: ContextVar[str | None] = ContextVar("tenant_id", default=None)
actor_var: ContextVar[Actor | None] = ContextVar("actor", default=None)
# The mTLS identity of the service that called this one (set by the gRPC interceptor).
caller_var: ContextVar[str | None] = ContextVar("caller", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    return request_id_var.get()


def check_tenant(tenant_id: str) -> str:
    """The body's tenant must be the one the caller acts for (gRPC metadata)."""
    acting_for = tenant_id_var.get()
    if not tenant_id:
        raise InvalidArgument("tenant_id is required")
    if acting_for is not None and acting_for != tenant_id:
        raise PermissionDenied(f"this call acts for tenant '{acting_for}', not '{tenant_id}'")
    return tenant_id
