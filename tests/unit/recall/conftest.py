"""A small generated world shared by the recall tests (generated once per session)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from encore.platform.world import generate_world, load_world
from encore.platform.world.cli import world_config as configured_world

RECALL_WORLD = {
    "users": 500, "days": 8, "artists": 150, "tracks": 2000, "anonymous_sessions_per_day": 10,
    "bot_share": 0.01, "seed": 5,
}


@pytest.fixture(scope="session")
def recall_world(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("recall_world")
    generate_world(configured_world(**RECALL_WORLD), path, progress=False)
    return load_world(Path(path))


@pytest.fixture(scope="session")
def recall_batch(recall_world, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A batch output root holding the ``item_graph`` partition of the day before the
    world's last day (built by the job's rule in pandas, written in the job's layout)."""
    from encore.recall.evaluate import last_day
    from encore.recall.tables import read_events

    from testkit.recall import item_graph_frame

    test_day = last_day(recall_world.path)
    days = [date.fromisoformat(d) for d in recall_world.dates if date.fromisoformat(d) < test_day]
    batch = tmp_path_factory.mktemp("batch")
    folder = batch / "item_graph" / f"date={(test_day - timedelta(days=1)).isoformat()}"
    folder.mkdir(parents=True)
    graph = item_graph_frame(read_events(recall_world.path, days))
    pq.write_table(pa.Table.from_pandas(graph, preserve_index=False), folder / "part-00000.parquet")
    return batch
