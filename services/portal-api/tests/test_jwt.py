"""JWT bearer tokens: HS256 with a secret, RS256 against a JWKS served over local HTTP."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from keyrelay.common.context import Actor, actor_var, tenant_id_var
from keyrelay.common.errors import InternalError, PermissionDenied, Unauthenticated, Unavailable
from keyrelay.common.tls import ensure_certificates
from keyrelay.portal import deps
from keyrelay.portal.adapters.clients import Clients
from keyrelay.portal.config import PortalSettings
from keyrelay.portal.domain.auth import Authenticator, Caller, VerifiedKey, looks_like_jwt
from keyrelay.portal.domain.jwt_auth import JwtVerifier

ADMIN = "kra_admin-token-for-tests"
KEY = "kr_" + "a" * 40
SECRET = secrets.token_urlsafe(48)


def claims(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "sub": "user-42",
        "tenant_id": "acme",
        "role": "full_access",
        "exp": int(time.time()) + 300,
    }
    return {k: v for k, v in {**base, **fields}.items() if v is not None}


def hs256(secret: str = SECRET, **fields: Any) -> str:
    return jwt.encode(claims(**fields), secret, algorithm="HS256")


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def verify_key(token: str) -> VerifiedKey:
    if token != KEY:
        raise Unauthenticated("invalid access key")
    return VerifiedKey("ak_1", "acme", "read_only")


def authenticator(verifier: JwtVerifier | None) -> Authenticator:
    return Authenticator(lambda: ADMIN, verify_key, verify_jwt=verifier.verify if verifier else None)


async def refused(auth: Authenticator, token: str, header: str | None = None) -> str:
    with pytest.raises(Unauthenticated) as err:
        await auth.authenticate(f"Bearer {token}", header)
    assert token not in err.value.message, "an error never echoes the token"
    return err.value.message


# -- HS256 ---------------------------------------------------------------------------------


async def test_an_hs256_token_gives_its_tenant_role_and_subject() -> None:
    auth = authenticator(JwtVerifier(secret=lambda: SECRET))
    caller = await auth.authenticate(f"Bearer {hs256()}", None)
    assert caller == Caller("jwt", "acme", "full_access", subject="user-42")
    assert caller.actor == Actor("jwt", "user-42")
    assert (await auth.authenticate(f"Bearer {hs256()}", "acme")).tenant() == "acme"
    with pytest.raises(PermissionDenied):
        await auth.authenticate(f"Bearer {hs256()}", "globex")


async def test_a_jwt_admin_role_is_a_tenant_admin_not_the_platform_admin() -> None:
    caller = await authenticator(JwtVerifier(secret=lambda: SECRET)).authenticate(
        f"Bearer {hs256(role='admin')}", None
    )
    assert caller.kind == "jwt" and caller.role == "admin" and caller.tenant_id == "acme"
    with pytest.raises(PermissionDenied) as denied:
        Caller("jwt", "acme", "read_only", subject="u").require("full_access")
    assert "this token has role read_only" in denied.value.message


async def test_admin_token_and_access_keys_still_work_when_jwt_is_configured() -> None:
    auth = authenticator(JwtVerifier(secret=lambda: SECRET))
    assert (await auth.authenticate(f"Bearer {ADMIN}", None)).kind == "admin"
    assert (await auth.authenticate(f"Bearer {KEY}", None)).kind == "access_key"


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (hs256(exp=int(time.time()) - 60), "expired"),
        (hs256(secret=secrets.token_urlsafe(48)), "signature"),
        (hs256(tenant_id=None), "'tenant_id' is missing"),
        (hs256(role=None), "'role' is missing"),
        (hs256(exp=None), "'exp' is missing"),
        (hs256(role="superuser"), "'role' must be one of"),
        (hs256(role=["admin"]), "'role' must be one of"),
        (hs256(tenant_id="../etc"), "'tenant_id' must match"),
        (hs256(nbf=int(time.time()) + 600), "not valid yet"),
        (jwt.encode(claims(), SECRET, algorithm="HS512"), "algorithm is not accepted"),
        (f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims())}.", "algorithm is not accepted"),
        (jwt.api_jws.encode(b"not json", SECRET, algorithm="HS256"), "malformed"),
        ("abc.def.ghi", "malformed"),
    ],
)
async def test_bad_hs256_tokens_are_refused_with_a_reason(token: str, reason: str) -> None:
    message = await refused(authenticator(JwtVerifier(secret=lambda: SECRET)), token)
    assert reason in message and message.startswith("invalid JWT")


async def test_issuer_and_audience_are_checked_when_configured() -> None:
    auth = authenticator(JwtVerifier(secret=lambda: SECRET, issuer="https://idp.test", audience="keyrelay"))
    good = hs256(iss="https://idp.test", aud="keyrelay")
    assert (await auth.authenticate(f"Bearer {good}", None)).tenant_id == "acme"
    assert "issuer" in await refused(auth, hs256(iss="https://evil.test", aud="keyrelay"))
    assert "'iss' is missing" in await refused(auth, hs256(aud="keyrelay"))
    assert "audience" in await refused(auth, hs256(iss="https://idp.test", aud="other"))
    assert "'aud' is missing" in await refused(auth, hs256(iss="https://idp.test"))


async def test_jwt_shaped_tokens_are_refused_when_jwt_is_not_configured() -> None:
    message = await refused(authenticator(None), hs256())
    assert "neither a kr_... access key nor the platform admin token" in message


def test_the_jwt_shape() -> None:
    assert looks_like_jwt(hs256())
    assert looks_like_jwt("a.b.")
    assert not looks_like_jwt(KEY) and not looks_like_jwt(ADMIN) and not looks_like_jwt("a.b")
    assert (
        not looks_like_jwt("a.b.c.d")
        and not looks_like_jwt("a.b c.d")
        and not looks_like_jwt("a." * 5000 + "b")
    )


async def test_a_short_secret_is_a_configuration_error_not_a_pass() -> None:
    auth = authenticator(JwtVerifier(secret=lambda: "short"))
    with pytest.raises(InternalError):
        await auth.authenticate(f"Bearer {hs256(secret='short' * 7)}", None)


async def test_a_secret_file_that_appears_later_is_read_then(tmp_path: Path) -> None:
    path = tmp_path / "jwt-secret"
    settings = PortalSettings(portal_jwt_secret_file=path)
    verifier = JwtVerifier.from_settings(settings)
    assert verifier is not None and verifier.algorithms == ["HS256"]
    with pytest.raises(Unavailable):
        await verifier.verify(hs256())
    path.write_text(SECRET + "\n")
    assert (await verifier.verify(hs256())).tenant_id == "acme"


def test_jwt_is_off_unless_configured() -> None:
    assert JwtVerifier.from_settings(PortalSettings()) is None
    both = JwtVerifier.from_settings(
        PortalSettings(portal_jwt_secret=SECRET, portal_jwt_jwks_url="http://127.0.0.1:1/jwks.json")
    )
    assert both is not None and both.algorithms == ["HS256", "RS256"]
    assert SECRET not in repr(PortalSettings(portal_jwt_secret=SECRET))


async def test_clients_built_from_settings_accept_jwts(tmp_path: Path) -> None:
    ensure_certificates(tmp_path / "tls", ["portal"])
    clients = Clients.create(PortalSettings(portal_jwt_secret=SECRET, tls_dir=tmp_path / "tls"))
    try:
        request = SimpleNamespace(headers={"authorization": f"Bearer {hs256()}"})
        caller = await deps.authenticate(request, clients)  # type: ignore[arg-type]
    finally:
        await clients.close()
    assert caller.kind == "jwt"
    assert tenant_id_var.get() == "acme" and actor_var.get() == Actor("jwt", "user-42")


# -- RS256 against a JWKS served by a local HTTP server ------------------------------------


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {**public, "kid": kid, "alg": "RS256", "use": "sig"}


def rs256(key: rsa.RSAPrivateKey, kid: str = "k1", **fields: Any) -> str:
    return jwt.encode(claims(**fields), key, algorithm="RS256", headers={"kid": kid})


class Jwks:
    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.fetches = 0


@pytest.fixture
def jwks_server() -> Iterator[tuple[str, Jwks]]:
    jwks = Jwks()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            jwks.fetches += 1
            body = json.dumps({"keys": jwks.keys}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json", jwks
    finally:
        server.shutdown()
        server.server_close()


async def test_an_rs256_token_is_verified_against_the_jwks_and_the_jwks_is_cached(
    jwks_server: tuple[str, Jwks],
) -> None:
    url, jwks = jwks_server
    key = rsa_key()
    jwks.keys = [jwk(key, "k1")]
    auth = authenticator(JwtVerifier(jwks_url=url))
    for _ in range(3):
        caller = await auth.authenticate(f"Bearer {rs256(key, role='read_only')}", None)
        assert caller == Caller("jwt", "acme", "read_only", subject="user-42")
    assert jwks.fetches == 1


async def test_bad_rs256_tokens_are_refused(jwks_server: tuple[str, Jwks]) -> None:
    url, jwks = jwks_server
    key, other = rsa_key(), rsa_key()
    jwks.keys = [jwk(key, "k1")]
    auth = authenticator(JwtVerifier(jwks_url=url))
    assert "signature" in await refused(auth, rs256(other, "k1"))
    assert "'kid'" in await refused(auth, rs256(other, "k2"))
    assert "expired" in await refused(auth, rs256(key, exp=int(time.time()) - 60))
    assert "'tenant_id' is missing" in await refused(auth, rs256(key, tenant_id=None))
    # Algorithm confusion: an HS256 token "signed" with the public key is not accepted.
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    forged = f"{b64({'alg': 'HS256', 'kid': 'k1'})}.{b64(claims(role='admin'))}.c2ln"
    assert "algorithm is not accepted" in await refused(auth, forged)
    assert public_pem  # (PyJWT itself refuses PEM keys as HMAC secrets, too)


async def test_a_rotated_key_is_found_by_refetching_the_jwks(jwks_server: tuple[str, Jwks]) -> None:
    url, jwks = jwks_server
    old, new = rsa_key(), rsa_key()
    jwks.keys = [jwk(old, "old")]
    verifier = JwtVerifier(jwks_url=url)
    verifier._jwks.cooldown_duration = 0  # type: ignore[union-attr] - no wait between refreshes here
    auth = authenticator(verifier)
    await auth.authenticate(f"Bearer {rs256(old, 'old')}", None)
    jwks.keys = [jwk(old, "old"), jwk(new, "new")]
    assert (await auth.authenticate(f"Bearer {rs256(new, 'new')}", None)).tenant_id == "acme"
    assert jwks.fetches == 2


async def test_an_unreachable_jwks_is_unavailable_not_unauthenticated() -> None:
    verifier = JwtVerifier(jwks_url="http://127.0.0.1:9/jwks.json", jwks_timeout=2)
    with pytest.raises(Unavailable):
        await authenticator(verifier).authenticate(f"Bearer {rs256(rsa_key())}", None)
