"""The column contract and its translation into Feast definitions stay consistent."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from encore.feature_store import schema
from encore.feature_store.definitions import build_definitions, feast_fields
from encore.feature_store.store import ensure_offline_sources


def test_offline_schema_is_key_timestamp_then_features() -> None:
    for spec in schema.ALL_SOURCES:
        full = spec.arrow_schema
        assert full.names[:2] == [spec.join_key, schema.EVENT_TIMESTAMP]
        assert full.field(schema.EVENT_TIMESTAMP).type == pa.timestamp("us", tz="UTC")
        assert full.names[2:] == spec.feature_names
        assert [f.name for f in feast_fields(spec)] == spec.feature_names


def test_user_views_have_disjoint_feature_names() -> None:
    """The client reads both user views with bare (not view-prefixed) names."""
    assert not set(schema.USER_PROFILE.feature_names) & set(schema.USER_REALTIME.feature_names)


def test_definitions_point_sources_at_the_offline_dir(tmp_path: Path) -> None:
    defs = build_definitions(tmp_path)
    assert defs.user_realtime_push.name == schema.USER_REALTIME_PUSH_SOURCE
    assert defs.user_realtime_push.batch_source.path == str(tmp_path / "user_realtime.parquet")
    assert defs.track_profile.batch_source.path == str(tmp_path / "track_profile")
    assert defs.ranking_v1.name == schema.RANKING_FEATURE_SERVICE


def test_ensure_offline_sources_writes_once_with_the_contract_schema(tmp_path: Path) -> None:
    created = ensure_offline_sources(tmp_path)
    assert len(created) == len(schema.ALL_SOURCES)
    for spec in schema.ALL_SOURCES:
        location = spec.location(tmp_path)
        files = [location] if spec.is_single_file else sorted(location.glob("*.parquet"))
        assert len(files) == 1 and files[0] in created
        assert pq.read_schema(files[0]).equals(spec.arrow_schema)
    assert ensure_offline_sources(tmp_path) == []
