"""Serving-side feature reads: one batched online lookup per entity kind per request.

User features are read fresh on every call (they are real time: the stream processor
pushes them while the user listens). Track and artist features change only when a batch
job materializes, so they go through an in-process TTL cache (cache.TTLCache).

Fallback for unknown ids: every requested id gets a dict with every feature name of
its views; features the store has no value for (an unknown id, a user without pushes)
are ``None``. Callers never need ``KeyError`` handling, only ``None`` checks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from encore.feature_store import schema
from encore.feature_store.cache import TTLCache
from encore.feature_store.schema import SourceSpec
from encore.feature_store.settings import StoreSettings

Features = dict[str, Any]


class OnlineStore(Protocol):
    """The one FeatureStore method the client needs (a fake in unit tests)."""

    def get_online_features(self, features: list[str], entity_rows: Any, full_feature_names: bool = False) -> Any: ...


def _refs(*specs: SourceSpec) -> list[str]:
    return [f"{spec.view}:{name}" for spec in specs for name in spec.feature_names]


class FeatureClient:
    """Reads user, track and artist features from the Feast online store."""

    USER_VIEWS = (schema.USER_PROFILE, schema.USER_REALTIME)

    def __init__(
        self,
        store: OnlineStore,
        *,
        item_cache_size: int,
        item_cache_ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._store = store
        self._track_cache: TTLCache[int, Features] = TTLCache(item_cache_size, item_cache_ttl_s, clock)
        self._artist_cache: TTLCache[int, Features] = TTLCache(item_cache_size, item_cache_ttl_s, clock)

    @classmethod
    def from_config(
        cls, config: StoreSettings, *, online_store: str | None = None
    ) -> FeatureClient:
        """A client on the configured store; the repo must have been applied already."""
        from encore.feature_store.store import open_store

        return cls(
            open_store(config, online_store=online_store),
            item_cache_size=config.item_cache_size,
            item_cache_ttl_s=config.item_cache_ttl_s,
        )

    def user_features(self, user_ids: Iterable[int]) -> dict[int, Features]:
        """Profile and real-time features per user, never cached."""
        return self._fetch(_ids(user_ids), schema.USER_ID, self.USER_VIEWS)

    def track_features(self, track_ids: Iterable[int]) -> dict[int, Features]:
        """Track profile per track, through the item cache."""
        return self._track_cache.get_many(
            _ids(track_ids), lambda ids: self._fetch(ids, schema.TRACK_ID, (schema.TRACK_PROFILE,))
        )

    def artist_features(self, artist_ids: Iterable[int]) -> dict[int, Features]:
        """Artist profile per artist, through the item cache."""
        return self._artist_cache.get_many(
            _ids(artist_ids), lambda ids: self._fetch(ids, schema.ARTIST_ID, (schema.ARTIST_PROFILE,))
        )

    def _fetch(self, ids: list[int], join_key: str, specs: tuple[SourceSpec, ...]) -> dict[int, Features]:
        """One ``get_online_features`` call for all ``ids`` (none when ``ids`` is empty)."""
        unique = list(dict.fromkeys(ids))
        if not unique:
            return {}
        columns = self._store.get_online_features(
            features=_refs(*specs), entity_rows={join_key: unique}, full_feature_names=False
        ).to_dict()
        names = [name for spec in specs for name in spec.feature_names]
        return {
            entity_id: {name: columns[name][row] for name in names}
            for row, entity_id in enumerate(unique)
        }


def _ids(values: Iterable[int]) -> list[int]:
    """Ids as Python ints (numpy ints welcome); anything else is a clear TypeError."""
    ids = []
    for value in values:
        if isinstance(value, bool) or not hasattr(value, "__index__"):
            raise TypeError(f"entity ids must be integers, got {value!r}")
        ids.append(int(value))
    return ids
