"""Portal authentication rules: admin token, access keys, X-Tenant-ID, roles, the cache."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from keyrelay.common.context import Actor
from keyrelay.common.errors import InvalidArgument, PermissionDenied, Unauthenticated, Unavailable
from keyrelay.portal.adapters.access_keys import AccessKeyVerifier
from keyrelay.portal.domain.auth import Authenticator, Caller, VerifiedKey
from keyrelay.v1 import keyvault_pb2

ADMIN = "kra_admin-token-for-tests"
KEY = "kr_" + "a" * 40


def verified(**fields: Any) -> VerifiedKey:
    defaults: dict[str, Any] = {
        "key_id": "ak_1",
        "tenant_id": "acme",
        "role": "full_access",
        "rate_limit": 60,
    }
    return VerifiedKey(**{**defaults, **fields})


def authenticator(key: VerifiedKey | None = None, now: float = 1000.0) -> Authenticator:
    async def verify(token: str) -> VerifiedKey:
        if key is None or token != KEY:
            raise Unauthenticated("invalid access key")
        return key

    return Authenticator(lambda: ADMIN, verify, clock=lambda: now)


async def test_the_admin_token_gives_the_platform_admin() -> None:
    caller = await authenticator().authenticate(f"Bearer {ADMIN}", None)
    assert caller == Caller("admin", None, "admin")
    assert caller.actor == Actor("admin", "platform")


async def test_an_access_key_gives_its_tenant_role_and_limit() -> None:
    caller = await authenticator(verified()).authenticate(f"bearer {KEY}", None)
    assert (caller.kind, caller.tenant_id, caller.role, caller.key_id, caller.rate_limit) == (
        "access_key",
        "acme",
        "full_access",
        "ak_1",
        60,
    )
    assert caller.actor == Actor("access_key", "ak_1")


@pytest.mark.parametrize("header", [None, "", "   ", "Basic abc", "Bearer", "Bearer   "])
async def test_missing_or_malformed_credentials_are_refused(header: str | None) -> None:
    with pytest.raises(Unauthenticated) as refused:
        await authenticator().authenticate(header, None)
    assert "Bearer <token>" in refused.value.message


@pytest.mark.parametrize("token", ["kr_unknown", "sk-not-ours", ADMIN + "x", ADMIN[:-1], "kra_é"])
async def test_wrong_tokens_are_refused(token: str) -> None:
    with pytest.raises(Unauthenticated):
        await authenticator(verified()).authenticate(f"Bearer {token}", None)


async def test_no_admin_token_configured_refuses_every_non_key_token() -> None:
    async def verify(token: str) -> VerifiedKey:
        raise Unauthenticated("invalid access key")

    auth = Authenticator(lambda: None, verify)
    with pytest.raises(Unauthenticated):
        await auth.authenticate("Bearer ", None)
    with pytest.raises(Unauthenticated):
        await auth.authenticate("Bearer anything", None)


async def test_an_expired_key_is_refused_even_when_cached() -> None:
    with pytest.raises(Unauthenticated):
        await authenticator(verified(expires_at=999.0), now=1000.0).authenticate(f"Bearer {KEY}", None)
    assert await authenticator(verified(expires_at=1001.0), now=1000.0).authenticate(f"Bearer {KEY}", None)


async def test_x_tenant_id_must_be_the_callers_tenant() -> None:
    auth = authenticator(verified())
    assert (await auth.authenticate(f"Bearer {KEY}", "acme")).tenant_id == "acme"
    with pytest.raises(PermissionDenied):
        await auth.authenticate(f"Bearer {KEY}", "globex")
    with pytest.raises(InvalidArgument):
        await auth.authenticate(f"Bearer {KEY}", "../etc")


async def test_the_platform_admin_acts_for_the_tenant_it_names() -> None:
    auth = authenticator()
    assert (await auth.authenticate(f"Bearer {ADMIN}", "globex")).tenant() == "globex"
    with pytest.raises(InvalidArgument):
        (await auth.authenticate(f"Bearer {ADMIN}", None)).tenant()


def test_roles_are_ordered() -> None:
    read_only = Caller("access_key", "acme", "read_only", "ak_1")
    read_only.require("read_only")
    with pytest.raises(PermissionDenied):
        read_only.require("full_access")
    Caller("access_key", "acme", "admin", "ak_2").require("full_access")
    Caller("admin", None, "admin").require("admin")


# -- the verifier's cache, with a fake of the VerifyAccessKey call only ---------------------


class FakeVerify:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.error: grpc.StatusCode | None = None

    async def __call__(self, request: Any, *, metadata: Any, timeout: float) -> Any:
        self.calls.append((request.key, metadata))
        if self.error is not None:
            raise grpc.aio.AioRpcError(self.error, grpc.aio.Metadata(), grpc.aio.Metadata(), "refused")
        return keyvault_pb2.VerifyAccessKeyResponse(
            metadata=keyvault_pb2.AccessKeyMetadata(
                key_id="ak_1", tenant_id="acme", role=keyvault_pb2.ACCESS_KEY_ROLE_READ_ONLY, rate_limit=5
            )
        )


async def test_verified_keys_are_cached_until_an_invalidation() -> None:
    call = FakeVerify()
    verifier = AccessKeyVerifier(call, ttl=60)
    first = await verifier.verify(KEY)
    assert first == VerifiedKey("ak_1", "acme", "read_only", 5, None)
    assert await verifier.verify(KEY) == first and len(call.calls) == 1
    assert all(KEY not in repr(k) for k in verifier.cache._entries), "the cache keeps no key"

    verifier.forget({"scope": "tenant_key", "tenant_id": "acme", "service_id": "openai"})
    await verifier.verify(KEY)
    assert len(call.calls) == 1, "provider key changes do not concern access keys"
    for message in ({"scope": "access_key", "key_hash": "x"}, {"scope": "tenant", "tenant_id": "acme"}):
        verifier.forget(message)
        await verifier.verify(KEY)
    assert len(call.calls) == 3


async def test_keyvault_refusals_become_domain_errors_and_are_not_cached() -> None:
    call = FakeVerify()
    verifier = AccessKeyVerifier(call, ttl=60)
    call.error = grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(Unauthenticated):
        await verifier.verify(KEY)
    call.error = grpc.StatusCode.UNAVAILABLE
    with pytest.raises(Unavailable):
        await verifier.verify(KEY)
    call.error = None
    await verifier.verify(KEY)
    assert len(call.calls) == 3
