"""A small in-memory TTL cache that cannot be re-filled with stale data.

Entries are dropped by TTL or by invalidation (NATS, from any replica). A lookup that
started before an invalidation must not put its (possibly old) result back afterwards, so
`put` takes the epoch read when the lookup began and is ignored if any invalidation
happened since. Invalidations are rare; losing a few fills to one is harmless.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    def __init__(self, ttl: float, max_entries: int = 100_000, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[K, tuple[float, V]] = {}
        self.epoch = 0

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._entries[key]
            return None
        return entry[1]

    def put(self, key: K, value: V, epoch: int) -> None:
        if epoch != self.epoch or self.ttl <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.pop(next(iter(self._entries)))
        self._entries[key] = (self._clock() + self.ttl, value)

    def invalidate(self, predicate: Callable[[K], bool]) -> int:
        self.epoch += 1
        doomed = [k for k in self._entries if predicate(k)]
        for k in doomed:
            del self._entries[k]
        return len(doomed)

    def clear(self) -> None:
        self.epoch += 1
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
