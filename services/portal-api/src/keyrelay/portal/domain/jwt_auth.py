"""JWT bearer tokens (SPEC §7): HS256 with a shared secret, RS256 against a JWKS.

The algorithm is pinned per key source (HS256 only with the secret, RS256 only with a JWKS
key), so `alg: none` and algorithm confusion are refused. Required claims: `tenant_id`,
`role` (read_only | full_access | admin), `exp`; `sub` names the actor. Errors say what was
wrong with the token and never echo it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import jwt

from keyrelay.common.errors import InternalError, Unauthenticated, Unavailable
from keyrelay.portal.config import PortalSettings
from keyrelay.portal.domain.auth import ROLE_RANK, VerifiedJwt, valid_tenant_id

log = logging.getLogger(__name__)

HS256 = "HS256"
RS256 = "RS256"
MIN_SECRET_BYTES = 32  # RFC 7518 §3.2: a key at least as long as the hash output
REQUIRED_CLAIMS = ("exp", "tenant_id", "role")


class JwtVerifier:
    """Checks a JWT and gives its claims; `secret` is read until it first gives a value."""

    def __init__(
        self,
        *,
        secret: Callable[[], str | None] | None = None,
        jwks_url: str | None = None,
        issuer: str | None = None,
        audience: str | None = None,
        leeway: float = 0.0,
        jwks_cache_seconds: float = 300.0,
        jwks_timeout: float = 5.0,
    ) -> None:
        if secret is None and not jwks_url:
            raise ValueError("JwtVerifier needs a secret (HS256) or a JWKS URL (RS256)")
        self._secret_source = secret
        self._secret: bytes | None = None
        self._jwks = (
            jwt.PyJWKClient(jwks_url, cache_jwk_set=True, lifespan=jwks_cache_seconds, timeout=jwks_timeout)
            if jwks_url
            else None
        )
        self._issuer = issuer or None
        self._audience = audience or None
        self._leeway = leeway
        self.algorithms = ([HS256] if secret is not None else []) + ([RS256] if jwks_url else [])

    @classmethod
    def from_settings(cls, settings: PortalSettings) -> JwtVerifier | None:
        """None when JWT is not configured."""
        has_secret = settings.portal_jwt_secret is not None or settings.portal_jwt_secret_file is not None
        if not has_secret and not settings.portal_jwt_jwks_url:
            return None
        return cls(
            secret=settings.jwt_secret if has_secret else None,
            jwks_url=settings.portal_jwt_jwks_url,
            issuer=settings.portal_jwt_issuer,
            audience=settings.portal_jwt_audience,
            leeway=settings.portal_jwt_leeway_seconds,
            jwks_cache_seconds=settings.portal_jwt_jwks_cache_seconds,
        )

    def _hs256_key(self) -> bytes:
        if self._secret is None and self._secret_source is not None:
            value = self._secret_source()
            if value and len(value.encode()) < MIN_SECRET_BYTES:
                log.error(
                    "the JWT secret is shorter than %d bytes; HS256 tokens are refused", MIN_SECRET_BYTES
                )
                raise InternalError("JWT authentication is misconfigured; the request id is in the log")
            self._secret = value.encode() if value else None
        if self._secret is None:
            raise Unavailable("JWT authentication is not ready: its secret is not available yet")
        return self._secret

    async def _rs256_key(self, token: str) -> Any:
        assert self._jwks is not None
        try:
            # PyJWKClient fetches (and caches) the JWKS with blocking urllib: keep it off the loop.
            signing_key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
        except jwt.PyJWKClientConnectionError as err:
            log.warning("JWKS fetch failed: %s", type(err).__name__)
            raise Unavailable("the JWKS endpoint is unreachable; try again later") from err
        except jwt.PyJWTError as err:
            raise Unauthenticated("invalid JWT: no key in the JWKS matches its 'kid'") from err
        return signing_key.key

    async def verify(self, token: str) -> VerifiedJwt:
        try:
            alg = jwt.get_unverified_header(token).get("alg")
        except jwt.PyJWTError as err:
            raise Unauthenticated("invalid JWT: it is malformed") from err
        if alg not in self.algorithms:
            raise Unauthenticated(
                f"invalid JWT: its algorithm is not accepted; use {' or '.join(self.algorithms)}"
            )
        key = self._hs256_key() if alg == HS256 else await self._rs256_key(token)
        require = [*REQUIRED_CLAIMS, *(["iss"] if self._issuer else []), *(["aud"] if self._audience else [])]
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],  # pinned: the one algorithm this key source allows
                issuer=self._issuer,
                audience=self._audience,
                leeway=self._leeway,
                options={"require": require, "verify_aud": self._audience is not None},
            )
        except jwt.ExpiredSignatureError as err:
            raise Unauthenticated("invalid JWT: it has expired") from err
        except jwt.ImmatureSignatureError as err:
            raise Unauthenticated("invalid JWT: it is not valid yet (nbf/iat in the future)") from err
        except jwt.InvalidSignatureError as err:
            raise Unauthenticated("invalid JWT: its signature does not verify") from err
        except jwt.MissingRequiredClaimError as err:
            raise Unauthenticated(f"invalid JWT: the required claim '{err.claim}' is missing") from err
        except jwt.InvalidIssuerError as err:
            raise Unauthenticated("invalid JWT: wrong issuer ('iss')") from err
        except jwt.InvalidAudienceError as err:
            raise Unauthenticated("invalid JWT: wrong audience ('aud')") from err
        except jwt.PyJWTError as err:
            raise Unauthenticated("invalid JWT: it is malformed or cannot be verified") from err
        return _claims(claims)


def _claims(claims: dict[str, Any]) -> VerifiedJwt:
    role = claims["role"]
    if not isinstance(role, str) or role not in ROLE_RANK:
        raise Unauthenticated("invalid JWT: 'role' must be one of read_only, full_access, admin")
    tenant_id = claims["tenant_id"]
    if not valid_tenant_id(tenant_id):
        raise Unauthenticated("invalid JWT: 'tenant_id' must match ^[a-z0-9][a-z0-9_-]{0,62}$")
    subject = claims.get("sub")
    if subject is not None and not isinstance(subject, str):
        raise Unauthenticated("invalid JWT: 'sub' must be a string")
    return VerifiedJwt(subject=(subject or "")[:128], tenant_id=tenant_id, role=role)  # type: ignore[arg-type]
