"""`encore train all` -> `encore eval pipeline` on a tiny world (encore.serving.train_all,
encore.serving.evaluate), and the list metrics by hand."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from encore.serving.evaluate import bootstrap_mean, coverage, hits_and_ndcg, padded, repeat_share


def test_hits_and_ndcg_by_hand():
    lists = [np.array([5, 1, 9]), np.array([7, 8, 9]), np.array([3])]
    truth = [np.array([1, 2]), np.array([4]), np.array([3])]
    out = hits_and_ndcg(lists, truth, [1, 3])
    assert out["hr@1"].tolist() == [0, 0, 1]
    assert out["hr@3"].tolist() == [1, 0, 1]
    # listener 0: hit at position 1 -> 1/log2(3); ideal: 2 hits at the top -> 1 + 1/log2(3)
    assert out["ndcg@3"][0] == pytest.approx((1 / np.log2(3)) / (1 + 1 / np.log2(3)))
    assert out["ndcg@3"][2] == pytest.approx(1.0)
    assert coverage(lists, 1, 10) == pytest.approx(0.3)  # {5, 7, 3}
    assert repeat_share(lists, [np.array([5]), np.array([]), np.array([3])]) == pytest.approx(2 / 7)
    assert padded(lists, 2).tolist() == [[5, 1], [7, 8], [3, -1]]


def test_bootstrap_ci_brackets_the_mean_and_is_deterministic():
    values = np.random.default_rng(0).normal(2.0, 1.0, 400)
    a, b = bootstrap_mean(values, 200, 0.95, seed=1), bootstrap_mean(values, 200, 0.95, seed=1)
    assert a == b
    assert a["ci_low"] < a["mean"] < a["ci_high"]
    assert a["ci_high"] - a["ci_low"] == pytest.approx(2 * 1.96 / np.sqrt(400), rel=0.35)


TINY_WORLD = {"users": 90, "days": 4, "artists": 60, "tracks": 600, "shows": 8,
              "anonymous_sessions_per_day": 5, "seed": 13}


def _ranking_samples(events: pd.DataFrame, tracks: pd.DataFrame) -> pd.DataFrame:
    """One row per exposure with its labels (outcomes of its request and track); the
    point-in-time features are left at 0: enough for the structure of the run."""
    ev = events.merge(tracks[["track_id", "duration_ms"]], on="track_id", how="left")
    exp = ev[ev["action"] == "exposure"]
    key = ["request_id", "track_id"]
    ends = ev[(ev["action"] == "play_end") & (ev["played_ms"] >= 0.9 * ev["duration_ms"])]
    labels = {name: set(map(tuple, rows[key].to_numpy())) for name, rows in (
        ("complete_play", ends), ("skip", ev[ev["action"] == "skip"]), ("heart", ev[ev["action"] == "heart"]))}
    pairs = list(map(tuple, exp[key].to_numpy()))
    n = len(exp)
    frame = pd.DataFrame({
        "exposure_id": exp["event_id"].to_numpy(), "request_id": exp["request_id"].to_numpy(),
        "user_id": pd.array(exp["user_id"], dtype="Int64"), "session_id": exp["session_id"].to_numpy(),
        "anonymous": exp["user_id"].isna().to_numpy(), "scenario": exp["scenario"].to_numpy(),
        "ts": exp["ts"].to_numpy(), "track_id": exp["track_id"].to_numpy(np.int64),
        "position": exp["position"].to_numpy(np.int32), "propensity": exp["propensity"].to_numpy(np.float32),
        **{h: np.array([p in labels[h] for p in pairs], np.int32) for h in labels},
        "skip_at_ms": pd.array([None] * n, dtype="Int64"),
        **{c: np.zeros(n, np.int64) for c in ("user_exposures_30d", "user_plays_30d", "user_completes_30d",
                                               "user_skips_30d", "user_hearts_30d", "user_plays_today",
                                               "user_track_plays_30d", "track_plays", "track_listeners")},
        **{c: np.zeros(n) for c in ("track_completion_rate", "track_skip_rate", "track_heart_rate")},
    })
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True).astype("datetime64[ms, UTC]")
    return frame


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Path]:
    from encore.platform.world import generate_world
    from encore.platform.world.cli import world_config
    from encore.recall.evaluate import last_day
    from encore.recall.tables import read_events
    from testkit.recall import item_graph_frame

    root = tmp_path_factory.mktemp("pipeline_eval")
    world, batch = root / "world", root / "batch"
    generate_world(world_config(**TINY_WORLD), world, progress=False)
    tracks = pd.read_parquet(world / "catalog" / "tracks.parquet")
    test_day = last_day(world)
    days = [test_day - timedelta(days=i) for i in range(TINY_WORLD["days"] - 1, -1, -1)]
    graph = item_graph_frame(read_events(world, [d for d in days if d < test_day]))
    folder = batch / "item_graph" / f"date={(test_day - timedelta(days=1)).isoformat()}"
    folder.mkdir(parents=True)
    pq.write_table(pa.Table.from_pandas(graph, preserve_index=False), folder / "part-00000.parquet")
    for day in days:
        events = pd.read_parquet(world / "events" / f"date={day.isoformat()}")
        part = batch / "ranking_samples" / f"date={day.isoformat()}"
        part.mkdir(parents=True)
        _ranking_samples(events, tracks).to_parquet(part / "part-00000.parquet")
    config = root / "encore.yaml"
    config.write_text(
        "ranking: {epochs: 1, embedding_dim: 4, hidden_units: [16], batch_size: 256, user_id_buckets: 64}\n"
        "evaluation: {bootstrap_samples: 50, list_length: 20, list_ks: [5, 20], reward_length: 10}\n")
    return {"world": world, "batch": batch, "registry": root / "models", "config": config,
            "report": root / "pipeline_eval.json", "test_day": test_day}


@pytest.mark.slow
def test_train_all_then_eval_pipeline(tiny, monkeypatch):
    from encore.cli.main import app
    from encore.platform import config as config_mod
    from encore.platform.registry import Registry

    monkeypatch.setenv(config_mod.CONFIG_ENV, str(tiny["config"]))
    config_mod.default_config.cache_clear()
    runner = CliRunner()
    common = ["--world", str(tiny["world"]), "--batch", str(tiny["batch"]), "--registry", str(tiny["registry"])]
    trained = runner.invoke(app, ["--config", str(tiny["config"]), "train", "all", *common])
    assert trained.exit_code == 0, trained.output
    summary = json.loads(trained.stdout[trained.stdout.index("{"):])
    reg = Registry(tiny["registry"])
    enabled = [c.name for c in config_mod.default_config().recall.enabled]
    assert sorted(summary["channels"]) == sorted(enabled)
    for name in enabled:
        assert reg.promoted(f"recall.{name}") == summary["channels"][name]["version"]
    assert reg.promoted("ranker") == summary["ranker"]["version"]
    assert summary["data_window"]["held_out"] == [tiny["test_day"].isoformat()]
    assert summary["data_window"]["fit"][1] == (tiny["test_day"] - timedelta(days=1)).isoformat()

    version = summary["ranker"]["version"]
    evaluated = runner.invoke(app, ["--config", str(tiny["config"]), "eval", "pipeline", *common,
                                    "--report", str(tiny["report"]), "--ranker", f"again=ranker:{version}",
                                    "--ranker", f"baseline={version}"])
    config_mod.default_config.cache_clear()
    assert evaluated.exit_code == 0, evaluated.output
    report = json.loads(tiny["report"].read_text())
    assert report["held_out_days"] == [tiny["test_day"].isoformat()]
    assert report["data"]["listeners"] > 5
    assert report["models"]["missing_channels"] == []
    for name in enabled:
        row = report["channels"][name]
        assert 0 <= row["recall@50"] <= row["recall@200"] <= row["recall@500"] <= 1
    for name in ("pipeline", "popularity"):
        lst = report["lists"][name]
        for k in (5, 20):
            assert 0 <= lst[f"hr@{k}"] <= 1 and 0 <= lst[f"ndcg@{k}"] <= 1
            assert 0 < lst[f"coverage@{k}"] <= 1
        assert lst["hr@5"] <= lst["hr@20"]
        assert 0 <= lst["repeat_share"] <= 1
        r = lst["reward"]
        assert 0 <= r["ci_low"] <= r["mean"] <= r["ci_high"] <= 10  # at most reward_length completes
        assert r["n"] == report["data"]["listeners"]
    # the pipeline ranked with the published ranker, not the merged-score fallback
    assert set(report["lists"]["pipeline"]["model_versions"]) == {f"ranker:{summary['ranker']['version']}"}
    # popularity alone: one list for everybody (at the same hour it is the same list)
    assert report["lists"]["popularity"]["coverage@20"] <= 20 / report["data"]["catalog_tracks"] + 1e-9
    assert set(report["ranker"]["heads"]) == {"complete_play", "heart", "skip"}
    assert "beats_baseline" in report["comparison"]
    # --ranker: the promoted ranker twice, on the same requests -> the same lists, a paired difference of 0
    comp = report["ranker_comparison"]
    assert comp["reference"] == "baseline" and list(comp["rankers"]) == ["again", "baseline"]
    for row in comp["rankers"].values():
        assert row["reward"] == report["lists"]["pipeline"]["reward"]
        assert row["reward_minus_reference"] | {"n": 0} == {"mean": 0.0, "ci_low": 0.0, "ci_high": 0.0, "n": 0}
        assert row["model_versions"] == {f"ranker:{label}": report["data"]["listeners"]
                                         for label in comp["rankers"] if row is comp["rankers"][label]}
    oracle = report["comparison"]["oracle"]
    assert oracle["listeners"] == min(100, report["data"]["listeners"]) and oracle["oracle"] > 0
    assert report["machine"]["cpu_count"] >= 1


class _FakePipeline:
    """Serves, per request, the list of its current ranker (``ranker.current().model``
    is a dict user_id -> list), like ``Pipeline.recommend`` would after ranking."""

    def __init__(self):
        self.ranker = "promoted"

    def recommend(self, requests):
        from types import SimpleNamespace

        loaded = self.ranker.current()
        return [SimpleNamespace(track_ids=loaded.model[r.user_id], model_version=f"ranker:{loaded.version}",
                                degraded_channels=[]) for r in requests]


def test_compare_rankers_pairs_listeners_and_restores_the_ranker():
    from datetime import date

    from encore.platform.config import EvaluationConfig
    from encore.recall.query import Context, Query
    from encore.serving.evaluate import Requests, compare_rankers

    users = [1, 2, 3, 4]
    queries = [Query(context=Context(request_ms=1000 * u, local_hour=8), user_id=u) for u in users]
    requests = Requests(queries, [np.array([10])] * 4, [np.array([10])] * 4, [np.zeros(0, np.int64)] * 4,
                        np.zeros(4, np.int64), [date(2026, 1, 5)], 0)
    good = {10, 11, 12}  # reward = good tracks in the first 2 positions
    base = {1: [10, 90], 2: [90, 91], 3: [11, 90], 4: [90, 92]}      # rewards 1, 0, 1, 0
    better = {1: [10, 11], 2: [12, 91], 3: [11, 90], 4: [10, 12]}    # rewards 2, 1, 1, 2
    ev = EvaluationConfig(list_length=2, list_ks=[1, 2], reward_length=2, bootstrap_samples=200)
    pipe = _FakePipeline()
    out = compare_rankers(pipe, requests, {"better": better, "baseline": base},
                          lambda lists: np.array([sum(t in good for t in x[:2]) for x in lists], float),
                          n_tracks=100, ev=ev)
    assert pipe.ranker == "promoted"  # restored
    assert out["reference"] == "baseline"  # the label baseline, though given second
    b, r = out["rankers"]["better"], out["rankers"]["baseline"]
    assert r["reward"]["mean"] == pytest.approx(0.5) and b["reward"]["mean"] == pytest.approx(1.5)
    assert r["hr@1"] == pytest.approx(0.25)  # only listener 1 has its truth (10) first
    # paired: per-listener differences 1, 1, 0, 2 -> every resample's mean lies in [0, 2]; mean 1
    d = b["reward_minus_reference"]
    assert d["mean"] == pytest.approx(1.0) and 0 <= d["ci_low"] <= 1.0 <= d["ci_high"] <= 2
    assert r["reward_minus_reference"] == {"mean": 0.0, "ci_low": 0.0, "ci_high": 0.0, "n": 4}
    assert b["model_versions"] == {"ranker:better": 4} and r["beats_reference"] is False
    with pytest.raises(ValueError, match="reference ranker"):
        compare_rankers(pipe, requests, {"a": base}, lambda lists: np.zeros(len(lists)), 100, ev, reference="x")


def test_rank_study_verdicts():
    from encore.serving.rank_study import verdict

    up, down, flat = ({"ci_low": 0.01, "ci_high": 0.02}, {"ci_low": -0.02, "ci_high": -0.01},
                      {"ci_low": -0.01, "ci_high": 0.01})
    assert verdict({"a": up, "b": flat, "c": None}) == "holds"
    assert verdict({"a": down, "b": flat}) == "reversed"
    assert verdict({"a": up, "b": down}) == "mixed"
    assert verdict({"a": flat, "b": None}) == "not resolved"


@pytest.mark.slow
def test_bench_rank_study_in_one_run(tiny, tmp_path, monkeypatch):
    from encore.cli.main import app
    from encore.platform import config as config_mod

    monkeypatch.setenv(config_mod.CONFIG_ENV, str(tiny["config"]))
    config_mod.default_config.cache_clear()
    out = tmp_path / "rank.json"
    out.write_text(json.dumps({"nowplaying": {"kept": True}}))
    result = CliRunner().invoke(app, [
        "--config", str(tiny["config"]), "bench", "rank-study", "--world", str(tiny["world"]),
        "--batch", str(tiny["batch"]), "--workdir", str(tmp_path / "work"), "--out", str(out), "--no-speed",
        "--variants", "baseline,din", "--train-days", "2", "--epochs", "1", "--max-listeners", "15",
        "--bootstrap-samples", "20"])
    config_mod.default_config.cache_clear()
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["nowplaying"] == {"kept": True}  # a separate run's section survives
    acc = report["accuracy"]
    assert list(acc["results"]) == ["baseline", "din"]
    assert acc["data"]["held_out_day"] == tiny["test_day"].isoformat() and len(acc["data"]["train_days"]) == 2
    for row in acc["results"].values():
        assert set(row["heads"]) == {"complete_play", "heart", "skip"}
        assert 0 <= row["heads"]["complete_play"]["auc"] <= 1
    [claim] = acc["claims"]  # only the pair whose two variants ran
    assert (claim["better"], claim["worse"]) == ("din", "baseline")
    assert claim["verdict"] in {"holds", "reversed", "mixed", "not resolved"}
    pipe = report["pipeline"]
    assert pipe["reference"] == "baseline" and set(pipe["rankers"]) == {"baseline", "din"}
    assert pipe["rankers"]["baseline"]["reward_minus_reference"]["mean"] == 0
    assert pipe["rankers"]["din"]["model"] == "din" and pipe["rankers"]["din"]["degraded"] == {}
    assert pipe["listeners"] == 15 == pipe["rankers"]["din"]["reward"]["n"]
    assert [c["claim"].split(" (")[0] for c in report["claims"]][0] == "DIN beats the no-sequence baseline"
