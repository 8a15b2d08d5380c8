"""The online store of per-user stream state: a small Protocol and its Feast adapter.

The processor only needs two calls: read the stored ``user_realtime`` rows of a batch's
users in one round trip, and write the changed rows back. :class:`UserStateStore` is
that contract (tests use an in-memory fake); :class:`FeastUserStateStore` implements
it on a Feast ``FeatureStore`` (SQLite or Redis online store).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from encore.feature_store import schema as feature_schema
from encore.platform.stream.state import FEATURE_NAMES

USER_REALTIME_VIEW = feature_schema.USER_REALTIME.view
USER_REALTIME_PUSH_SOURCE = feature_schema.USER_REALTIME_PUSH_SOURCE


@runtime_checkable
class UserStateStore(Protocol):
    """Where the processor keeps each user's ``user_realtime`` row between batches."""

    def read(self, user_ids: Sequence[int]) -> dict[int, dict[str, Any] | None]:
        """The stored row of each user (None: nothing stored), in one round trip."""
        ...

    def push(self, rows: list[dict[str, Any]]) -> None:
        """Write rows (``user_id``, every feature, ``event_timestamp``) to the online
        store; returns once they are visible to readers."""
        ...


class FeastUserStateStore:
    """Reads and pushes ``user_realtime`` rows of a Feast FeatureStore."""

    def __init__(self, store: Any) -> None:
        from feast.type_map import feast_value_type_to_python_type

        self.store = store
        self.view = store.get_feature_view(USER_REALTIME_VIEW)
        self._to_python = feast_value_type_to_python_type

    def read(self, user_ids: Sequence[int]) -> dict[int, dict[str, Any] | None]:
        """The stored feature row of each user (None: none stored), one batched read.

        Goes to the provider's ``online_read`` rather than ``get_online_features`` so
        the view's TTL does not hide the state of a user who was away a long time."""
        from feast.protos.feast.types.EntityKey_pb2 import EntityKey
        from feast.protos.feast.types.Value_pb2 import Value

        if not user_ids:
            return {}
        keys = [EntityKey(join_keys=["user_id"], entity_values=[Value(int64_val=int(u))])
                for u in user_ids]
        provider = self.store._get_provider()  # no public TTL-free batched read in Feast
        results = provider.online_read(self.store.config, self.view, keys, list(FEATURE_NAMES))
        out: dict[int, dict[str, Any] | None] = {}
        for user_id, (_, values) in zip(user_ids, results):
            out[int(user_id)] = (
                None if not values else {k: self._to_python(v) for k, v in values.items()}
            )
        return out

    def push(self, rows: list[dict[str, Any]]) -> None:
        import pandas as pd
        from feast.data_source import PushMode

        if rows:
            frame = pd.DataFrame(rows)
            frame["event_timestamp"] = pd.to_datetime(frame["event_timestamp"], utc=True)
            self.store.push(USER_REALTIME_PUSH_SOURCE, frame, to=PushMode.ONLINE)
