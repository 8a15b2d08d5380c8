"""A bounded LRU cache with per-entry TTL and batched miss fetching.

Item features (tracks, artists) change at most once per batch run, yet every ranking
request reads hundreds of them; caching them in process saves most online-store reads.
Misses of one request are fetched together in one call, so a request costs at most one
store round trip. Kept free of Feast so it can be tested with a fake fetch and clock.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    """LRU of at most ``max_size`` entries, each valid for ``ttl_s`` seconds.

    ``max_size == 0`` or ``ttl_s == 0`` disables caching (every call fetches).
    Thread-safe: the lock guards the table only, never the fetch, so one slow fetch
    does not block requests that hit the cache.
    """

    def __init__(self, max_size: int, ttl_s: float, clock: Callable[[], float] = time.monotonic):
        if max_size < 0 or ttl_s < 0:
            raise ValueError(f"max_size and ttl_s must be >= 0, got {max_size}, {ttl_s}")
        self._max_size = max_size
        self._ttl_s = ttl_s
        self._clock = clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def enabled(self) -> bool:
        return self._max_size > 0 and self._ttl_s > 0

    def get_many(self, keys: Iterable[K], fetch: Callable[[list[K]], Mapping[K, V]]) -> dict[K, V]:
        """Values for ``keys`` (de-duplicated, in first-seen order); misses via one ``fetch``.

        ``fetch`` receives the missing keys and must return a value for each of them;
        a key it leaves out is an error, because silently dropping it would hide a bug.
        """
        wanted = list(dict.fromkeys(keys))
        found, missing = self._lookup(wanted)
        if missing:
            fetched = fetch(missing)
            absent = [k for k in missing if k not in fetched]
            if absent:
                raise KeyError(f"fetch returned no value for {absent[:10]}")
            self._store({k: fetched[k] for k in missing})
            found.update((k, fetched[k]) for k in missing)
        return {k: found[k] for k in wanted}

    def _lookup(self, keys: list[K]) -> tuple[dict[K, V], list[K]]:
        found: dict[K, V] = {}
        missing: list[K] = []
        if not self.enabled:
            return found, keys
        now = self._clock()
        with self._lock:
            for key in keys:
                entry = self._entries.get(key)
                if entry is not None and entry[0] > now:
                    self._entries.move_to_end(key)
                    found[key] = entry[1]
                else:
                    if entry is not None:
                        del self._entries[key]
                    missing.append(key)
        return found, missing

    def _store(self, values: Mapping[K, V]) -> None:
        if not self.enabled:
            return
        expires = self._clock() + self._ttl_s
        with self._lock:
            for key, value in values.items():
                self._entries[key] = (expires, value)
                self._entries.move_to_end(key)
            while len(self._entries) > self._max_size:
                self._entries.popitem(last=False)
