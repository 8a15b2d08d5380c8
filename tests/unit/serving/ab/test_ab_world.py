"""`encore ab` on a tiny simulated world (encore.serving.ab.run, .report, .cli): a planted
difference (the strong profile channel removed from B) is found in the right direction
with intervals that exclude zero; identical configurations give intervals that include
zero; the command writes the JSON and the self-contained HTML page."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from encore.platform.config import ChannelConfig, EncoreConfig, RecallConfig

pytestmark = pytest.mark.slow  # a world, three fitted channels and three A/B runs: ~15 s in all

TINY_WORLD = {"users": 200, "days": 6, "artists": 60, "tracks": 600, "shows": 8,
              "anonymous_sessions_per_day": 5, "seed": 13}
CHANNELS = [ChannelConfig(name="popular", kind="popularity", k=100, quota=50),
            ChannelConfig(name="profile", kind="profile", k=100, quota=60),
            ChannelConfig(name="trending", kind="popularity", k=100, quota=30, params={"half_life_hours": 24.0})]
SETTINGS = {"evaluation": {"list_length": 20, "list_ks": [5, 20], "reward_length": 10, "recall_ks": [20, 50, 100]},
            "ab": {"bootstrap_samples": 200, "reward_model_days": 2, "min_ess": 50}}


def _config(enabled: list[str], reward_model: str | None = None) -> EncoreConfig:
    settings = SETTINGS if reward_model is None else SETTINGS | {"ab": SETTINGS["ab"] | {"reward_model": reward_model}}
    return EncoreConfig(recall=RecallConfig(channels=[c.model_copy(update={"enabled": c.name in enabled})
                                                      for c in CHANNELS]), **settings)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict:
    from encore.platform.registry import Registry
    from encore.platform.world import generate_world
    from encore.platform.world.cli import world_config
    from encore.recall.evaluate import holdout_day, last_day
    from encore.recall.queries import QueryParams
    from encore.recall.registry import build_channel
    from encore.recall.train import publish_channel

    root = tmp_path_factory.mktemp("ab")
    world = root / "world"
    generate_world(world_config(**TINY_WORLD), world, progress=False)
    day = last_day(world)
    base = _config([c.name for c in CHANNELS])
    tables = holdout_day(world, None, day, params=QueryParams.from_config(base), window_days=30).tables
    fitted = {c.name: build_channel(c).fit(tables) for c in CHANNELS}
    registry = Registry(root / "models")
    for channel in fitted.values():
        publish_channel(channel, base, registry, data_window={"until": day.isoformat()})
    return {"root": root, "world": world, "day": day, "fitted": fitted, "registry": root / "models",
            "tracks": pd.read_parquet(world / "catalog" / "tracks.parquet")}


def _arm(tiny: dict, name: str, enabled: list[str]):
    from encore.serving.ab.run import Arm
    from encore.serving.pipeline import Pipeline

    cfg = _config(enabled)
    return Arm(name, cfg, Pipeline(channels={n: tiny["fitted"][n] for n in enabled}, recall=cfg.recall,
                                   config=cfg.pipeline, tracks=tiny["tracks"]))


def _run(tiny: dict, a_channels: list[str], b_channels: list[str], reward_model: str | None = None) -> dict:
    from encore.serving.ab.run import run_ab

    a, b = _arm(tiny, "A", a_channels), _arm(tiny, "B", b_channels)
    try:
        return run_ab(tiny["world"], tiny["world"], _config(a_channels, reward_model), a, b, [tiny["day"]])
    finally:
        a.pipeline.close()
        b.pipeline.close()


@pytest.fixture(scope="module")
def planted(tiny) -> dict:
    return _run(tiny, ["popular", "profile", "trending"], ["popular", "trending"])


def test_removing_the_strong_channel_is_found_worse(planted):
    from encore.serving.ab.report import rows

    online = planted["online"]
    # the world's truth: the profile channel's tracks fit each listener's taste
    assert online["truth"]["diff"] < 0 and online["truth"]["ci_high"] < 0 and online["truth"]["verdict"] == "worse"
    assert online["sampled"]["ci_high"] < 0  # one sampled online run, common random numbers
    assert online["interleaving"]["expected_credit"]["ci_high"] < 0
    assert online["interleaving"]["sampled"]["preference_b"] < 0.5
    assert planted["replay"]["coverage@20"]["ci_high"] < 0 and planted["replay"]["novelty"]["ci_high"] < 0
    share = planted["channels"]["profile"]["share"]
    assert share["a"] > 0.2 and share["b"] == 0.0 and share["ci_high"] < 0
    assert planted["channels"]["popular"]["share"]["ci_low"] > 0  # popularity fills what profile left
    assert "recall@20" not in planted["channels"]["profile"]  # only A runs it: no pair to compare
    assert planted["channels"]["profile"]["mean_recall@20"]["b"] is None
    assert planted["ranker"] == {"A": {"loaded": False}, "B": {"loaded": False}}
    # the counterfactual estimate with the reward model finds the direction, interval below 0
    dr = planted["counterfactual"]["complete_play"]["estimates"]["dr"]
    assert dr["diff"] < 0 and dr["ci_high"] < 0 and dr["verdict"] == "worse"
    assert dr["lift"] < 0 and online["truth"]["lift"] < 0
    # every comparison carries its interval and verdict; a straddling one its sample size
    for _, _, cmp in rows(planted):
        assert cmp["ci_low"] <= cmp["ci_high"]
        if cmp["verdict"] == "no detectable difference" and cmp["diff"] != 0:
            assert cmp["required_n"] > 0


def test_counterfactual_lift_falls_within_the_simulated_online_interval(planted):
    # the default reward model (the ranker, ab.reward_model) on this world: DR -9.2% in the truth's
    # -10.7% [-13.6%, -6.7%]; the logistic features model gave -5.8% (outside). Judged on four other
    # seeds of this world the ranker was inside on all (the features model on 3), see docs/operations.md
    dr = planted["counterfactual"]["complete_play"]["estimates"]["dr"]
    truth = planted["online"]["truth"]
    assert dr["within_truth_ci"]
    assert truth["lift_ci"][0] < dr["lift"] < truth["lift_ci"][1]


def test_logged_reward_is_the_worlds_minus_the_ends_of_sessions(planted):
    ratio = planted["counterfactual"]["complete_play"]["logged_vs_world"]["ratio"]
    assert 0.6 < ratio < 1.0  # the world's reward browses the whole list; logged sessions end


def test_identical_configurations_include_zero(tiny):
    from encore.serving.ab.report import rows

    # the logistic reward model: cheaper than the default ranker, which `planted` covers
    report = _run(tiny, ["popular", "profile", "trending"], ["popular", "profile", "trending"], "features")
    compared = rows(report)
    assert len(compared) > 20
    for group, metric, cmp in compared:
        assert cmp["ci_low"] <= 0 <= cmp["ci_high"], (group, metric, cmp)
        assert cmp["verdict"] == "no detectable difference", (group, metric)
    assert report["online"]["truth"]["diff"] == 0.0


def test_the_command_writes_the_report(tiny, monkeypatch):
    from encore.cli.main import app
    from encore.platform import config as config_mod

    root = tiny["root"]
    settings = SETTINGS | {"ab": SETTINGS["ab"] | {"reward_model": "features"}}  # cheaper; `planted` runs the ranker
    common = "\n".join(f"{section}: {json.dumps(values)}" for section, values in settings.items())
    base = root / "base.yaml"
    base.write_text(common + "\n")
    for name, enabled in (("a", ["popular", "profile", "trending"]), ("b", ["popular", "trending"])):
        channels = [c.model_copy(update={"enabled": c.name in enabled}).model_dump(mode="json") for c in CHANNELS]
        (root / f"{name}.yaml").write_text(json.dumps({"recall": {"channels": channels}}))
    out = root / "report"
    monkeypatch.setenv(config_mod.CONFIG_ENV, str(base))
    config_mod.default_config.cache_clear()
    try:
        result = CliRunner().invoke(app, ["--config", str(base), "ab", "--a", str(root / "a.yaml"),
                                          "--b", str(root / "b.yaml"), "--world", str(tiny["world"]),
                                          "--batch", str(tiny["world"]), "--registry", str(tiny["registry"]),
                                          "--out", str(out), "--name-b", "without profile"])
        bad = CliRunner().invoke(app, ["--config", str(base), "ab", "--a", str(base), "--b", str(root / "b.yaml"),
                                       "--world", str(tiny["world"]), "--batch", str(tiny["world"]),
                                       "--days", "2020-01-01"])
    finally:
        config_mod.default_config.cache_clear()
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["arms"]["b"]["name"] == "without profile"
    assert report["arms"]["a"]["model_versions"] == {"merged-score": report["data"]["listeners"]}
    assert report["online"]["truth"]["verdict"] == "worse"
    page = (out / "report.html").read_text()
    for figure in ("fig-deltas", "fig-channels", "fig-curves", "fig-counterfactual"):
        start = page.index(f"<figure id='{figure}'>")
        assert page.index("<svg", start) < page.index("</figure>", start)
    assert "<script" not in page and "src=" not in page  # self-contained
    assert "without profile" in result.output  # the terminal table
    assert bad.exit_code == 2 and "--days" in bad.output and "2020-01-01" in bad.output


def test_unpaired_lists_of_different_lengths_are_refused():
    from encore.serving.ab.stats import bootstrap_means

    with pytest.raises(ValueError, match="paired"):
        bootstrap_means(np.zeros(3), np.zeros(4), 10, 0)
