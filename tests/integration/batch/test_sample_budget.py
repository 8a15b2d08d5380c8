"""recall_samples keeps bots to a bounded share of what the recall models train on, and
batch jobs default to the world's own seed."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from encore.platform.batch.job import JobContext, make_context
from encore.platform.config import default_config
from encore.platform.world.cli import world_config

pytestmark = pytest.mark.integration


def user_kinds(world: Path) -> pd.Series:
    """user_id -> kind, from users.parquet's ``kind`` column where the world still has
    one, else from the truth sessions' ``user_kind``."""
    users = pd.read_parquet(world / "users/users.parquet")
    if "kind" in users.columns:
        return users.set_index("user_id")["kind"]
    sessions = pd.read_parquet(world / "truth/sessions.parquet", columns=["user_id", "user_kind"])
    return sessions.dropna(subset=["user_id"]).drop_duplicates("user_id").set_index("user_id")["user_kind"]


@pytest.fixture(scope="module")
def two_week_world(tmp_path_factory) -> Path:
    from encore.platform.world.generate import generate_world

    cfg = world_config(users=300, days=14, tracks=400, artists=40, seed=11)
    out = tmp_path_factory.mktemp("budget-world")
    generate_world(cfg, out, progress=False)
    return out


@pytest.mark.slow
@pytest.mark.timeout(900)  # a 14-day world and Spark
def test_bots_hold_a_bounded_share_of_recall_samples(spark, two_week_world, tmp_path):
    from encore.platform.batch import recall_samples

    world = two_week_world
    kinds = user_kinds(world)
    n_users = len(pd.read_parquet(world / "users/users.parquet", columns=["user_id"]))
    bots = set(kinds[kinds == "bot"].index)
    bot_users = len(bots) / n_users
    assert len(bots) >= 2

    events = pd.read_parquet(world / "events", columns=["user_id", "action"])
    plays = events[(events.action == "play_start") & events.user_id.notna()]
    assert plays.user_id.isin(bots).mean() > 10 * bot_users  # what the cap is up against

    recall_samples.run(make_context(spark, world / "events", tmp_path, world_dir=world,
                                     config=default_config()))
    got = pd.read_parquet(tmp_path / "recall_samples", columns=["user_id", "label"])
    is_bot = got.user_id.isin(bots)
    samples_share = is_bot.mean()
    positives_share = is_bot[got.label == 1].mean()
    assert samples_share < 3 * bot_users, (samples_share, bot_users)
    assert positives_share < 3 * bot_users, (positives_share, bot_users)
    budget = default_config().sampling.budget
    per_user = got[got.user_id.notna()].groupby("user_id").size()
    assert per_user.max() <= budget.burst + budget.rate * 13


def test_jobs_default_to_the_world_manifest_seed(tmp_path):
    config = default_config()
    world = tmp_path / "world"
    (world / "events").mkdir(parents=True)
    ctx = JobContext(spark=None, events_dir=world / "events", out_dir=tmp_path / "out", dates=[], config=config)
    assert ctx.default_seed() == config.world.seed  # no manifest: the config's
    (world / "manifest.json").write_text(json.dumps({"seed": config.world.seed + 4, "schema_version": 1}))
    assert ctx.default_seed() == config.world.seed + 4
    other = JobContext(spark=None, events_dir=tmp_path / "log", out_dir=None, dates=[], config=config,
                       world_dir=world)
    assert other.default_seed() == config.world.seed + 4
