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
        """Write rows (``user_id``, ``event_timestamp`` and the features that changed;
        features a row leaves out keep their stored value) to the online store;
        returns once they are visible to readers."""
        ...


class FeastUserStateStore:
    """Reads and writes ``user_realtime`` rows of a Feast FeatureStore.

    Both directions go straight to the provider's batched ``online_read`` /
    ``online_write_batch`` with the view resolved once: ``FeatureStore.push`` would,
    on every call, list the registry's views and services, type-check and convert a
    pandas frame through Arrow, which cost most of a batch's time. The rows written
    are the ones ``push`` to ``user_realtime_push`` would write (same value protos,
    same event timestamps; tests read them back with ``get_online_features``)."""

    def __init__(self, store: Any) -> None:
        from feast.type_map import feast_value_type_to_python_type

        self.store = store
        self.view = store.get_feature_view(USER_REALTIME_VIEW)
        self._provider = store._get_provider()  # no public TTL-free batched read in Feast
        self._to_python = feast_value_type_to_python_type
        self._encoders = _value_encoders()
        _use_sqlite_wal(self._provider, store.config)

    @staticmethod
    def _key(user_id: int) -> Any:
        from feast.protos.feast.types.EntityKey_pb2 import EntityKey
        from feast.protos.feast.types.Value_pb2 import Value

        return EntityKey(join_keys=["user_id"], entity_values=[Value(int64_val=int(user_id))])

    def read(self, user_ids: Sequence[int]) -> dict[int, dict[str, Any] | None]:
        """The stored feature row of each user (None: none stored), one batched read.

        Goes to the provider's ``online_read`` rather than ``get_online_features`` so
        the view's TTL does not hide the state of a user who was away a long time."""
        if not user_ids:
            return {}
        keys = [self._key(u) for u in user_ids]
        results = self._provider.online_read(self.store.config, self.view, keys,
                                             list(FEATURE_NAMES))
        out: dict[int, dict[str, Any] | None] = {}
        for user_id, (_, values) in zip(user_ids, results):
            out[int(user_id)] = (
                None if not values else {k: self._to_python(v) for k, v in values.items()}
            )
        return out

    def push(self, rows: list[dict[str, Any]]) -> None:
        """Write rows (``user_id``, ``event_timestamp`` as an aware datetime, and the
        features to update: the SQLite and Redis online stores leave the others as
        they are) in one ``online_write_batch``."""
        if not rows:
            return
        encoders = self._encoders
        data = []
        for row in rows:
            values = {name: encoders[name](row[name]) for name in FEATURE_NAMES if name in row}
            data.append((self._key(row["user_id"]), values, row["event_timestamp"], None))
        self._provider.online_write_batch(self.store.config, self.view, data, progress=None)


def _use_sqlite_wal(provider: Any, config: Any) -> None:
    """Put a SQLite online store in write-ahead-log mode (synchronous stays FULL, so a
    pushed state is as durable as before): one fsync per batch instead of the rollback
    journal's several, and readers in other processes no longer block the writer.
    The mode is stored in the database file. Nothing happens for other stores."""
    online_store = getattr(provider, "online_store", None)
    get_conn = getattr(online_store, "_get_conn", None)
    if get_conn is None or type(online_store).__name__ != "SqliteOnlineStore":
        return
    conn = get_conn(config)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")


def _value_encoders() -> dict[str, Any]:
    """feature name -> function building its Feast ValueProto from a Python value,
    from the Arrow type of the ``user_realtime`` schema."""
    import pyarrow as pa
    from feast.protos.feast.types.Value_pb2 import Int32List, Int64List, Value

    encoders: dict[str, Any] = {}
    for f in feature_schema.USER_REALTIME.features:
        t = f.type
        if pa.types.is_list(t) and pa.types.is_int64(t.value_type):
            encoders[f.name] = lambda v: Value(int64_list_val=Int64List(val=v))
        elif pa.types.is_list(t) and pa.types.is_int32(t.value_type):
            encoders[f.name] = lambda v: Value(int32_list_val=Int32List(val=v))
        elif pa.types.is_int64(t):
            encoders[f.name] = lambda v: Value(int64_val=v)
        elif pa.types.is_int32(t):
            encoders[f.name] = lambda v: Value(int32_val=v)
        elif pa.types.is_string(t):
            encoders[f.name] = lambda v: Value(string_val=v)
        elif pa.types.is_float32(t):
            encoders[f.name] = lambda v: Value(float_val=v)
        elif pa.types.is_floating(t):
            encoders[f.name] = lambda v: Value(double_val=v)
        else:  # pragma: no cover - a new feature type needs its encoder here
            raise TypeError(f"user_realtime.{f.name}: no Feast value encoder for {t}")
    return encoders
