"""Who is calling: the rules of portal authentication and roles, without I/O.

A caller presents `Authorization: Bearer <token>`: the platform admin token, a tenant
access key (`kr_...`) that keyvault-svc verifies, or a JWT (claims `tenant_id`, `role`, `exp`;
`sub` names the actor) when JWT is configured (see `jwt_auth`). `X-Tenant-ID`, when sent, must
name the caller's tenant; the platform admin has no tenant of its own and uses it to act for one.
"""

from __future__ import annotations

import hmac
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from keyrelay.common.context import Actor
from keyrelay.common.errors import InvalidArgument, PermissionDenied, Unauthenticated

Role = Literal["read_only", "full_access", "admin"]
ROLE_RANK: dict[str, int] = {"read_only": 0, "full_access": 1, "admin": 2}
ACCESS_KEY_PREFIX = "kr_"
_TENANT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
# Three base64url parts (the signature may be empty, as in `alg: none`, which is then refused).
_JWT_SHAPE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
MAX_JWT_LENGTH = 8192

MISSING_CREDENTIALS = (
    "missing credentials: send 'Authorization: Bearer <token>' with a kr_... access key, "
    "a JWT or the platform admin token"
)


def valid_tenant_id(value: object) -> bool:
    return isinstance(value, str) and _TENANT_ID.fullmatch(value) is not None


def looks_like_jwt(token: str) -> bool:
    return len(token) <= MAX_JWT_LENGTH and _JWT_SHAPE.fullmatch(token) is not None


@dataclass(frozen=True)
class VerifiedKey:
    """An access key as keyvault-svc verified it (never the key itself)."""

    key_id: str
    tenant_id: str
    role: Role
    rate_limit: int = 0
    expires_at: float | None = None  # unix seconds; None = never

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and self.expires_at <= now


@dataclass(frozen=True)
class VerifiedJwt:
    """The claims of a JWT whose signature, expiry, issuer and audience were checked."""

    subject: str
    tenant_id: str
    role: Role


@dataclass(frozen=True)
class Caller:
    kind: Literal["admin", "access_key", "jwt"]
    tenant_id: str | None
    role: Role
    key_id: str | None = None
    rate_limit: int = 0  # requests/minute of the access key; 0 = none
    subject: str | None = None  # the JWT's `sub`

    @property
    def actor(self) -> Actor:
        if self.kind == "admin":
            return Actor("admin", "platform")
        if self.kind == "jwt":
            return Actor("jwt", self.subject or "")
        return Actor("access_key", self.key_id or "")

    def require(self, role: Role) -> None:
        """At least `role` (read_only < full_access < admin); the platform admin passes all."""
        if ROLE_RANK[self.role] < ROLE_RANK[role]:
            holder = "this token" if self.kind == "jwt" else "this access key"
            raise PermissionDenied(f"{holder} has role {self.role}; this operation needs {role} or above")

    def tenant(self) -> str:
        """The tenant this call acts for (the platform admin must name one)."""
        if self.tenant_id is None:
            raise InvalidArgument("the platform admin acts for a tenant only when X-Tenant-ID names it")
        return self.tenant_id


def bearer_token(authorization: str | None) -> str:
    if not authorization or not authorization.strip():
        raise Unauthenticated(MISSING_CREDENTIALS)
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
    return token


def check_tenant_header(caller: Caller, header: str | None) -> Caller:
    """Apply `X-Tenant-ID`: it must equal the caller's tenant; for the platform admin it
    chooses the tenant to act for."""
    if header is None:
        return caller
    if not _TENANT_ID.fullmatch(header):
        raise InvalidArgument("X-Tenant-ID must match ^[a-z0-9][a-z0-9_-]{0,62}$")
    if caller.kind == "admin":
        return Caller("admin", header, caller.role)
    if header != caller.tenant_id:
        raise PermissionDenied("X-Tenant-ID does not match the tenant of this access key")
    return caller


class Authenticator:
    """Turns the request's credentials into a `Caller`.

    `admin_token` is read until it first gives a value (the launcher writes the file before
    the portal starts; a later start of the file still works). `verify` checks a `kr_` key
    and raises `Unauthenticated` for an unknown, revoked or expired one. `verify_jwt`, when
    JWT is configured, checks a JWT-shaped token and raises `Unauthenticated` saying why.
    """

    def __init__(
        self,
        admin_token: Callable[[], str | None],
        verify: Callable[[str], Awaitable[VerifiedKey]],
        clock: Callable[[], float] = time.time,
        verify_jwt: Callable[[str], Awaitable[VerifiedJwt]] | None = None,
    ) -> None:
        self._admin_token_source = admin_token
        self._admin_token: bytes | None = None
        self._verify = verify
        self._clock = clock
        self._verify_jwt = verify_jwt

    def _is_admin_token(self, token: str) -> bool:
        if self._admin_token is None:
            value = self._admin_token_source()
            self._admin_token = value.encode() if value else None
        return self._admin_token is not None and hmac.compare_digest(token.encode(), self._admin_token)

    async def authenticate(self, authorization: str | None, tenant_header: str | None) -> Caller:
        token = bearer_token(authorization)
        if self._is_admin_token(token):
            caller = Caller("admin", None, "admin")
        elif self._verify_jwt is not None and looks_like_jwt(token):
            claims = await self._verify_jwt(token)
            caller = Caller("jwt", claims.tenant_id, claims.role, subject=claims.subject)
        elif token.startswith(ACCESS_KEY_PREFIX):
            try:
                key = await self._verify(token)
            except Unauthenticated as err:
                raise Unauthenticated("invalid access key: it is unknown, revoked or expired") from err
            if key.expired(self._clock()):
                raise Unauthenticated("invalid access key: it is unknown, revoked or expired")
            caller = Caller("access_key", key.tenant_id, key.role, key.key_id, key.rate_limit)
        else:
            raise Unauthenticated(
                "invalid token: neither a kr_... access key, a JWT nor the platform admin token"
                if self._verify_jwt is not None
                else "invalid token: neither a kr_... access key nor the platform admin token"
            )
        return check_tenant_header(caller, tenant_header)
