"""ranking_samples attributes each outcome to the exposure it answers, on a hand-made log.

The world's slates follow each other without a gap: the last track played from one slate
ends in the very millisecond the next slate is shown, and that slate may show the same
track again. By timestamps alone the outcome then belongs to the later exposure; its
request id says it belongs to the earlier one.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from encore.platform.batch.job import make_context
from encore.platform.config import default_config
from encore.platform.world import schema

# Spark: slow, and longer than the 180 s default limit per test under load
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

DAY = "2026-01-05"
T0 = int(pd.Timestamp(DAY, tz="UTC").timestamp() * 1000) + 8 * 3600 * 1000
DURATION = 200_000  # every track: complete at played_ms >= 180_000


def _tracks(ids) -> pa.Table:
    n = len(ids)
    return pa.table({
        "track_id": pa.array(ids, pa.int64()), "album_id": pa.array([1] * n, pa.int64()),
        "artist_id": pa.array([1] * n, pa.int64()), "genre": ["pop"] * n, "language": ["en"] * n,
        "release_year": pa.array([2020] * n, pa.int32()), "duration_ms": pa.array([DURATION] * n, pa.int64()),
        "popularity": pa.array([0.5] * n, pa.float32()), "valence": pa.array([0.5] * n, pa.float32()),
        "arousal": pa.array([0.5] * n, pa.float32()),
        "audio": pa.array([[0.0] * 4] * n, pa.list_(pa.float32())),
        "lyrics": pa.array([[1, 2]] * n, pa.list_(pa.int32())),
        "show_id": pa.array([None] * n, pa.int64()),
    }, schema=schema.TRACKS)


# (ms after T0, user, session, track, action, played_ms, request_id); event ids follow
# this order, which is (ts, generation order) as in the world.
LOG = [
    # session A: slate r0 shows 100 and 101; 101 is skipped, then 100 is played to the end
    # and hearted in the very ms slate r1 shows 100 again; nothing is played from r1.
    (0, 1, "1-A", 100, "exposure", None, "1-A-r0"),
    (0, 1, "1-A", 101, "exposure", None, "1-A-r0"),
    (1_000, 1, "1-A", 101, "play_start", None, "1-A-r0"),
    (4_000, 1, "1-A", 101, "skip", 3_000, "1-A-r0"),
    (4_000, 1, "1-A", 100, "play_start", None, "1-A-r0"),
    (204_000, 1, "1-A", 100, "play_end", 200_000, "1-A-r0"),
    (204_000, 1, "1-A", 100, "heart", None, "1-A-r0"),
    (204_000, 1, "1-A", 100, "exposure", None, "1-A-r1"),
    (204_000, 1, "1-A", 102, "exposure", None, "1-A-r1"),
    # session B: 200 is skipped at 5 s in the ms slate r1 shows it again; from r1 it is
    # played to the end.
    (0, 2, "2-B", 200, "exposure", None, "2-B-r0"),
    (1_000, 2, "2-B", 200, "play_start", None, "2-B-r0"),
    (6_000, 2, "2-B", 200, "skip", 5_000, "2-B-r0"),
    (6_000, 2, "2-B", 200, "exposure", None, "2-B-r1"),
    (7_000, 2, "2-B", 200, "play_start", None, "2-B-r1"),
    (207_000, 2, "2-B", 200, "play_end", 195_000, "2-B-r1"),
    # session C (a client that sends no request id with its outcomes): the outcome falls
    # back to the last exposure of (session, track) at or before it in (ts, event_id)
    # order: the play_end is logged before r1's exposure in the same ms.
    (0, 3, "3-C", 300, "exposure", None, "3-C-r0"),
    (1_000, 3, "3-C", 300, "play_start", None, None),
    (201_000, 3, "3-C", 300, "play_end", 200_000, None),
    (201_000, 3, "3-C", 300, "exposure", None, "3-C-r1"),
    (300_000, 3, "3-C", 300, "play_start", None, None),
    (310_000, 3, "3-C", 300, "skip", 10_000, None),
]

# exposure (session, request, track) -> (complete_play, heart, skip, skip_at_ms)
EXPECTED = {
    ("1-A", "1-A-r0", 100): (1, 1, 0, None),
    ("1-A", "1-A-r0", 101): (0, 0, 1, 3_000),
    ("1-A", "1-A-r1", 100): (0, 0, 0, None),
    ("1-A", "1-A-r1", 102): (0, 0, 0, None),
    ("2-B", "2-B-r0", 200): (0, 0, 1, 5_000),
    ("2-B", "2-B-r1", 200): (1, 0, 0, None),
    ("3-C", "3-C-r0", 300): (1, 0, 0, None),
    ("3-C", "3-C-r1", 300): (0, 0, 1, 10_000),
}


def _write_world(root: Path) -> Path:
    (root / "catalog").mkdir(parents=True)
    pq.write_table(_tracks([100, 101, 102, 200, 300]), root / "catalog/tracks.parquet")
    rows = sorted(enumerate(LOG), key=lambda r: (r[1][0], r[0]))
    n = len(rows)
    events = pa.table({
        "event_id": [f"{DAY.replace('-', '')}-{i:08d}" for i in range(n)],
        "ts": pa.array([T0 + r[0] for _, r in rows], pa.int64()).cast(schema.TIMESTAMP),
        "user_id": pa.array([r[1] for _, r in rows], pa.int64()),
        "session_id": [r[2] for _, r in rows],
        "scenario": ["daily_recommend"] * n,
        "track_id": pa.array([r[3] for _, r in rows], pa.int64()),
        "action": [r[4] for _, r in rows],
        "played_ms": pa.array([r[5] for _, r in rows], pa.int64()),
        "position": pa.array([0 if r[4] == "exposure" else None for _, r in rows], pa.int32()),
        "propensity": pa.array([0.1 if r[4] == "exposure" else None for _, r in rows], pa.float32()),
        "request_id": pa.array([r[6] for _, r in rows], pa.string()),
    }, schema=schema.EVENTS)
    target = root / schema.event_partition(DAY)
    target.parent.mkdir(parents=True)
    pq.write_table(events, target)
    return root


def test_outcomes_go_to_the_exposure_of_their_request(spark, tmp_path):
    from encore.platform.batch import ranking_samples

    world = _write_world(tmp_path / "world")
    out = tmp_path / "out"
    ranking_samples.run(make_context(spark, world / "events", out, world_dir=world, config=default_config()))
    got = pd.read_parquet(out / "ranking_samples")
    assert len(got) == len(EXPECTED)
    labels = {
        (r.session_id, r.request_id, r.track_id):
            (r.complete_play, r.heart, r.skip, None if pd.isna(r.skip_at_ms) else int(r.skip_at_ms))
        for r in got.itertuples()
    }
    assert labels == EXPECTED
