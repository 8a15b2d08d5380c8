"""FeatureClient against a fake store: batching, caching, unknown-id fallback."""

from __future__ import annotations

import pytest

from encore.feature_store import schema
from encore.feature_store.client import FeatureClient


class FakeResponse:
    def __init__(self, columns: dict[str, list]) -> None:
        self._columns = columns

    def to_dict(self) -> dict[str, list]:
        return self._columns


class FakeStore:
    """Answers like Feast: one column per feature, None where the id is unknown."""

    def __init__(self, rows: dict[int, dict]) -> None:
        self.rows = rows
        self.calls: list[tuple[list[str], dict]] = []

    def get_online_features(self, features, entity_rows, full_feature_names=False):
        self.calls.append((features, entity_rows))
        (join_key, ids), = entity_rows.items()
        columns = {join_key: list(ids)}
        for ref in features:
            name = ref.split(":", 1)[1]
            columns[name] = [self.rows.get(i, {}).get(name) for i in ids]
        return FakeResponse(columns)


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_client(store: FakeStore, clock: Clock, size: int = 100) -> FeatureClient:
    return FeatureClient(store, item_cache_size=size, item_cache_ttl_s=10, clock=clock)


def test_track_features_one_batched_call_then_cached(clock: Clock) -> None:
    store = FakeStore({1: {"genre": "rock"}, 2: {"genre": "jazz"}})
    client = make_client(store, clock)
    got = client.track_features([2, 1, 2])
    assert list(got) == [2, 1]
    assert got[1]["genre"] == "rock" and set(got[1]) == set(schema.TRACK_PROFILE.feature_names)
    assert len(store.calls) == 1 and store.calls[0][1] == {"track_id": [2, 1]}
    client.track_features([1, 2])
    assert len(store.calls) == 1
    clock.now = 10.0
    client.track_features([1])
    assert len(store.calls) == 2


def test_unknown_ids_get_all_features_as_none(clock: Clock) -> None:
    client = make_client(FakeStore({}), clock)
    got = client.artist_features([404])
    assert got == {404: {name: None for name in schema.ARTIST_PROFILE.feature_names}}


def test_user_features_are_never_cached(clock: Clock) -> None:
    store = FakeStore({7: {"session_id": "s", "region": "eu"}})
    client = make_client(store, clock)
    client.user_features([7])
    got = client.user_features([7])
    assert len(store.calls) == 2
    assert got[7]["session_id"] == "s" and got[7]["region"] == "eu"
    expected = set(schema.USER_PROFILE.feature_names) | set(schema.USER_REALTIME.feature_names)
    assert set(got[7]) == expected


def test_empty_request_does_not_touch_the_store(clock: Clock) -> None:
    store = FakeStore({})
    client = make_client(store, clock)
    assert client.user_features([]) == {} and client.track_features([]) == {}
    assert store.calls == []


def test_non_integer_ids_are_a_clear_error(clock: Clock) -> None:
    with pytest.raises(TypeError, match="integers"):
        make_client(FakeStore({}), clock).track_features(["7"])
