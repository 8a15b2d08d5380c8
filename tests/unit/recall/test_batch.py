"""The unit of work of batch recall without Spark: one Query batch and one recall call
per channel give the channels' own answers (also for a listener with no events, and
for a partition with no events at all); channels load once per process; inputs name
their flag."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from encore.platform.config import EncoreConfig, RecallConfig
from encore.platform.registry import Registry
from encore.recall.batch import (
    EVENT_COLUMNS, BatchRecallError, cached_channel, parse_dates, recall_batch, resolve_channels,
)
from encore.recall.queries import QueryParams, queries_from_log
from encore.recall.train import publish_channel
from testkit import serving as kit


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    recall = kit.recall_config()
    config = EncoreConfig(recall=RecallConfig(channels=recall.channels))
    root = tmp_path_factory.mktemp("registry")
    fitted = kit.fitted_channels(recall)
    for name in ("popular", "item_cf"):
        publish_channel(fitted[name], config, Registry(root), data_window={})
    refs = resolve_channels(config, root, ["popular", "item_cf"], k=10)
    users = pd.DataFrame({"user_id": np.arange(1, 32), "signup_date": date(2025, 1, 1), "age_bucket": "25-34",
                          "region": "eu", "home_language": "en"})  # user 31 has no events
    return config, refs, fitted, users


def test_one_batch_equals_the_channels_on_the_same_queries(setup) -> None:
    _, refs, fitted, users = setup
    events = kit.events()
    got = recall_batch(users.sample(frac=1, random_state=0), events[EVENT_COLUMNS], kit.catalog(), kit.AS_OF,
                       refs, QueryParams())
    at = pd.DataFrame({"user_id": pd.array(users["user_id"], dtype="Int64"), "request_ms": kit.AS_OF,
                       "scenario": "daily_recommend"})
    queries = queries_from_log(events, at, tracks=kit.catalog(), users=users, params=QueryParams())
    for name in ("popular", "item_cf"):
        rows = got[got["channel"] == name]
        assert rows["user_id"].tolist() == list(range(1, 32)) and (rows["model_version"] == "v0001").all()
        want = fitted[name].recall(queries, 10)
        assert [r.tolist() for r in rows["track_ids"]] == [c.track_ids.tolist() for c in want]
        assert all(np.array_equal(r, c.scores) for r, c in zip(rows["scores"], want))
    item_cf = got[got["channel"] == "item_cf"].set_index("user_id")["track_ids"]
    assert len(item_cf[3]) == 10 and len(item_cf[31]) == 0  # history -> neighbours; none -> none


def test_a_partition_without_events_still_answers_its_listeners(setup) -> None:
    _, refs, _, users = setup
    got = recall_batch(users.tail(2), kit.events()[EVENT_COLUMNS].iloc[0:0], kit.catalog(), kit.AS_OF, refs,
                       QueryParams())
    assert sorted(got["user_id"].unique().tolist()) == [30, 31]
    popular = got[got["channel"] == "popular"]
    assert all(len(t) == 10 for t in popular["track_ids"])


def test_channels_load_once_per_process(setup) -> None:
    _, refs, _, _ = setup
    assert cached_channel(refs[0]) is cached_channel(refs[0])


def test_inputs_name_their_flag(setup, tmp_path) -> None:
    config, refs, _, _ = setup
    with pytest.raises(BatchRecallError, match="--channels: no recall channel 'nope'"):
        resolve_channels(config, refs[0].root, ["nope"])
    with pytest.raises(BatchRecallError, match="--registry: no promoted version of recall.profile"):
        resolve_channels(config, refs[0].root, ["profile"])
    with pytest.raises(BatchRecallError, match="--date: not a YYYY-MM-DD date: '2026-02-30'"):
        parse_dates("2026-01-01,2026-02-30", tmp_path)
    with pytest.raises(BatchRecallError, match="--events: no event partitions"):
        parse_dates(None, tmp_path)
    (tmp_path / "date=2026-01-04").mkdir()
    (tmp_path / "date=2026-01-04" / "part-0.parquet").write_bytes(b"")
    assert parse_dates(None, tmp_path) == [date(2026, 1, 5)]  # the next serving day
    assert parse_dates("2026-01-03, 2026-01-02", tmp_path) == [date(2026, 1, 2), date(2026, 1, 3)]


def test_arrow_batches_carry_the_frame_rows_per_channel() -> None:
    import pyarrow as pa

    from encore.recall.batch import arrow_batches

    frame = pd.DataFrame({"user_id": [1, 2, 1], "channel": ["a", "a", "b"], "model_version": ["v1", "v1", "v2"],
                          "track_ids": [np.array([5, 6], np.int64), np.zeros(0, np.int64), np.array([7], np.int64)],
                          "scores": [np.array([0.5, 0.25], np.float32), np.zeros(0, np.float32),
                                     np.array([1.0], np.float32)]})
    batches = list(arrow_batches(frame))
    assert [b.num_rows for b in batches] == [2, 1]
    table = pa.Table.from_batches(batches).to_pylist()
    assert table == [
        {"user_id": 1, "channel": "a", "model_version": "v1", "track_ids": [5, 6], "scores": [0.5, 0.25]},
        {"user_id": 2, "channel": "a", "model_version": "v1", "track_ids": [], "scores": []},
        {"user_id": 1, "channel": "b", "model_version": "v2", "track_ids": [7], "scores": [1.0]},
    ]


def test_arrow_batches_write_track_ids_as_int32_and_refuse_larger_ids() -> None:
    from encore.recall.batch import BatchRecallError, arrow_batches

    frame = pd.DataFrame({"user_id": [1], "channel": ["a"], "model_version": ["v1"],
                          "track_ids": [np.array([2**31 - 1], np.int64)], "scores": [np.array([0.5], np.float32)]})
    [batch] = arrow_batches(frame)
    assert str(batch.schema.field("track_ids").type) == "list<item: int32>"
    assert batch.column(3).to_pylist() == [[2**31 - 1]]
    frame["track_ids"] = [np.array([2**31], np.int64)]
    with pytest.raises(BatchRecallError, match="channel a: track ids outside"):
        list(arrow_batches(frame))
