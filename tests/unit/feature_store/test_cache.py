"""TTLCache: LRU bound, TTL expiry, one batched fetch per call (fake clock, no Feast)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from encore.feature_store.cache import TTLCache


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class CountingFetch:
    def __init__(self) -> None:
        self.calls: list[list[int]] = []

    def __call__(self, keys: list[int]) -> dict[int, str]:
        self.calls.append(list(keys))
        return {k: f"v{k}" for k in keys}


def test_misses_fetched_once_in_one_batch_then_hit() -> None:
    cache, fetch = TTLCache(10, 60, FakeClock()), CountingFetch()
    assert cache.get_many([3, 1, 3, 2], fetch) == {3: "v3", 1: "v1", 2: "v2"}
    assert fetch.calls == [[3, 1, 2]]
    assert cache.get_many([1, 2], fetch) == {1: "v1", 2: "v2"}
    assert fetch.calls == [[3, 1, 2]]
    cache.get_many([2, 4], fetch)
    assert fetch.calls[-1] == [4]


def test_entries_expire_after_ttl() -> None:
    clock = FakeClock()
    cache, fetch = TTLCache(10, 60, clock), CountingFetch()
    cache.get_many([1], fetch)
    clock.now = 59.9
    cache.get_many([1], fetch)
    assert len(fetch.calls) == 1
    clock.now = 60.0
    cache.get_many([1], fetch)
    assert fetch.calls == [[1], [1]]


def test_least_recently_used_entry_is_evicted() -> None:
    cache, fetch = TTLCache(2, 60, FakeClock()), CountingFetch()
    cache.get_many([1, 2], fetch)
    cache.get_many([1], fetch)  # 2 is now least recently used
    cache.get_many([3], fetch)
    assert len(cache) == 2
    cache.get_many([1, 3], fetch)
    assert fetch.calls[-1] == [3]
    cache.get_many([2], fetch)
    assert fetch.calls[-1] == [2]


@pytest.mark.parametrize(("size", "ttl"), [(0, 60), (10, 0)])
def test_zero_size_or_ttl_disables_caching(size: int, ttl: float) -> None:
    cache, fetch = TTLCache(size, ttl, FakeClock()), CountingFetch()
    cache.get_many([1], fetch)
    cache.get_many([1], fetch)
    assert fetch.calls == [[1], [1]] and len(cache) == 0


def test_fetch_that_drops_a_key_is_an_error() -> None:
    cache = TTLCache(10, 60, FakeClock())
    with pytest.raises(KeyError, match=r"\[2\]"):
        cache.get_many([1, 2], lambda keys: {1: "v1"})


def test_negative_bounds_rejected() -> None:
    with pytest.raises(ValueError):
        TTLCache(-1, 60)


@settings(max_examples=50, deadline=None)
@given(
    size=st.integers(1, 5),
    requests=st.lists(st.lists(st.integers(0, 8), max_size=6), max_size=12),
)
def test_results_always_match_fetch_and_size_is_bounded(size: int, requests: list[list[int]]) -> None:
    cache, fetch = TTLCache(size, 60, FakeClock()), CountingFetch()
    for keys in requests:
        assert cache.get_many(keys, fetch) == {k: f"v{k}" for k in dict.fromkeys(keys)}
        assert len(cache) <= size
