"""The resolve cache cannot be refilled with stale data; ids that could escape a Vault
path never pass."""

from __future__ import annotations

import pytest

from keyrelay.common.cache import TtlCache
from keyrelay.common.errors import InvalidArgument
from keyrelay.keyvault.domain.ids import check_id, check_key_id, check_secret_name, new_key_id


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_after_their_ttl() -> None:
    clock = Clock()
    cache: TtlCache[str, int] = TtlCache(ttl=10, clock=clock)
    cache.put("k", 1, cache.epoch)
    clock.now = 9.9
    assert cache.get("k") == 1
    clock.now = 10.0
    assert cache.get("k") is None


def test_a_lookup_that_started_before_an_invalidation_is_not_cached() -> None:
    cache: TtlCache[str, str] = TtlCache(ttl=60)
    epoch = cache.epoch  # a slow Vault read starts...
    cache.invalidate(lambda key: key == "k")  # ...the key is revoked meanwhile...
    cache.put("k", "old value", epoch)  # ...and the read finishes with the old value
    assert cache.get("k") is None


def test_invalidation_drops_only_matching_entries() -> None:
    cache: TtlCache[tuple[str, str], int] = TtlCache(ttl=60)
    for key in [("a", "openai"), ("a", "anthropic"), ("b", "openai")]:
        cache.put(key, 1, cache.epoch)
    assert cache.invalidate(lambda key: key[0] == "a") == 2
    assert cache.get(("b", "openai")) == 1 and len(cache) == 1


def test_zero_ttl_keeps_nothing() -> None:
    cache: TtlCache[str, int] = TtlCache(ttl=0)
    cache.put("k", 1, cache.epoch)
    assert cache.get("k") is None


@pytest.mark.parametrize(
    "bad", ["", "..", "../x", "a/b", "%2e%2e", "a\x00b", "Acme", "-lead", "x" * 64, "a b", "a.b", "ü"]
)
def test_unsafe_ids_are_rejected_with_a_helpful_message(bad: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        check_id("tenant_id", bad)
    assert "a-z, 0-9" in info.value.message
    assert "\x00" not in info.value.message


@pytest.mark.parametrize("good", ["acme", "a", "tenant-1", "t_2", "x" * 63, "0day"])
def test_safe_ids_pass(good: str) -> None:
    assert check_id("tenant_id", good) == good


def test_key_ids_and_secret_names() -> None:
    assert check_key_id(new_key_id()) and check_key_id(new_key_id("ak"))
    with pytest.raises(InvalidArgument):
        check_key_id("k_../../x")
    assert check_secret_name("providers/openai/production")
    for bad in ["providers//openai", "/abs", "a/../b", "providers/OpenAI"]:
        with pytest.raises(InvalidArgument):
            check_secret_name(bad)
