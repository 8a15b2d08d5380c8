"""DIN, DIEN and the session ranker on a planted sequence signal: a play completes mostly when the
candidate's genre is among the listener's recent plays, which no per-row feature tells,
so the no-sequence baseline cannot learn it and a sequence ranker must. Each trained
ranker: save -> load -> identical scores; the serving signature scores N candidates of
one listener in one call exactly as the per-row model does; the ablation switches
build and train."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from encore.ranking import inputs
from encore.ranking.features import HEADS
from encore.ranking.ranker import Ranker, export_ranker
from encore.ranking.train import evaluate_ranker, example_request, fit_ranker

from testkit.ranking import assert_saved_ranker_scores_like_in_memory

pytestmark = pytest.mark.slow  # trains four tiny models once per module (~20 s each on a quiet machine)

T = 8


def planted(synth, cat, rows: int, seed: int):
    frame = synth.make_samples(cat, rows, synth.START, seed)
    rng = np.random.default_rng(seed + 100)
    ids = cat["track_id"].to_numpy()
    genre = cat.set_index("track_id")["genre"]
    history = [tuple(int(t) for t in rng.choice(ids, rng.integers(0, 6))) for _ in range(rows)]
    target = genre.loc[frame["track_id"]].to_numpy()
    hit = np.array([bool(h) and target[i] in set(genre.loc[list(h)]) for i, h in enumerate(history)])
    frame["complete_play"] = (rng.random(rows) < np.where(hit, 0.9, 0.1)).astype(np.int32)
    frame["play_track_ids"] = history
    start = (frame["ts"] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1) - 10 * 3_600_000
    gaps = [np.cumsum(rng.choice([60_000, 7_200_000], len(h))) for h in history]  # minutes or hours apart
    frame["play_ts_ms"] = [tuple(int(s0 + g) for g in gap) for s0, gap in zip(start, gaps)]
    frame["skip_track_ids"], frame["skip_ts_ms"] = frame["play_track_ids"], frame["play_ts_ms"]
    frame["heart_track_ids"] = [()] * rows
    frame["heart_ts_ms"] = [()] * rows
    return frame


def tiny(synth, **overrides):
    return synth.tiny_config(**{"epochs": 6, "item_dim": 8, "attention_units": [16, 8], "gru_units": 8,
                                "sequence_length": T, **overrides})


@pytest.fixture(scope="module")
def world(synth):
    cat = synth.make_catalog()
    return inputs.Catalog.from_frame(cat), planted(synth, cat, 2500, 1), planted(synth, cat, 600, 2)


@pytest.fixture(scope="module")
def trained(synth, world, tmp_path_factory):
    """name -> (fitted, artifact path), each model trained on first use."""
    catalog, train, held = world
    cache: dict[str, tuple] = {}

    def get(name: str):
        if name not in cache:
            fitted = fit_ranker(train, catalog, tiny(synth), model_name=name)
            path = tmp_path_factory.mktemp(name) / "ranker"
            export_ranker(fitted.model, fitted.spec, path, model_name=name,
                          example=example_request(held, catalog, fitted.spec))
            cache[name] = (fitted, path)
        return cache[name]

    return get


def _auc(trained, world, name: str) -> float:
    catalog, train, held = world
    base = {h: float(train[h].mean()) for h in HEADS}
    return evaluate_ranker(Ranker.load(trained(name)[1]), held, catalog, base)["heads"]["complete_play"]["model"]["auc"]


@pytest.mark.timeout(400)
@pytest.mark.parametrize("name", ["din", "dien", "session"])
def test_sequence_rankers_beat_the_baseline_on_the_planted_signal(trained, world, name: str) -> None:
    baseline, auc = _auc(trained, world, "baseline"), _auc(trained, world, name)
    assert baseline < 0.62  # the signal is not in any per-row feature
    assert auc > 0.75 and auc > baseline + 0.12, (name, auc, baseline)


@pytest.mark.timeout(400)
@pytest.mark.parametrize("name", ["din", "dien", "session"])
def test_save_load_gives_identical_scores(trained, world, name: str) -> None:
    catalog, _, held = world
    fitted, path = trained(name)
    ranker = assert_saved_ranker_scores_like_in_memory(fitted, path, held, catalog, atol=1e-5)
    assert ranker.smoke_test() is True
    assert ranker.info["behaviours"] == (["play"] if name != "session" else ["play", "heart", "skip"])
    assert ranker.info["sequence_length"] == T


@pytest.mark.timeout(400)
@pytest.mark.parametrize("name", ["din", "dien", "session"])
def test_serving_signature_scores_one_listener_in_one_call(trained, world, name: str) -> None:
    catalog, _, held = world
    fitted, path = trained(name)
    ranker = Ranker.load(path)
    row = held.iloc[5]
    request = {c: row[c] for c in ("user_id", "anonymous", "scenario", "ts", "user_exposures_30d",
                                   "user_plays_30d", "user_completes_30d", "user_skips_30d",
                                   "user_hearts_30d", "user_plays_today", "play_track_ids", "play_ts_ms",
                                   "skip_track_ids", "skip_ts_ms", "heart_track_ids", "heart_ts_ms")}
    cands = held.iloc[:40]
    cols = {c: cands[c].to_numpy() for c in ("track_id", "track_plays", "track_listeners", "track_completion_rate",
                                             "track_skip_rate", "track_heart_rate", "user_track_plays_30d")}
    listener, candidates = inputs.request_features(fitted.spec, catalog, request, cols)
    assert listener["play_seq_track_id"].shape == (1, T)
    served = ranker.score(listener, candidates)
    assert all(v.shape == (40,) for v in served.values())
    # the same listener on every row of the per-row signature gives the same scores
    rows = {**{k: np.repeat(v, 40, axis=0) for k, v in listener.items()}, **candidates}
    per_row = ranker.score_rows(rows)
    for h in HEADS:
        np.testing.assert_allclose(served[h], per_row[h], rtol=0, atol=1e-5)
    assert ranker.score(listener, {k: v[:0] for k, v in candidates.items()})["complete_play"].shape == (0,)
    # a listener without history is scored too (every behaviour masked)
    empty = inputs.listener_features(fitted.spec, catalog, {**request, "play_track_ids": (), "play_ts_ms": (),
                                                            "skip_track_ids": (), "skip_ts_ms": ()})
    assert np.isfinite(ranker.score(empty, candidates)["complete_play"]).all()


@pytest.mark.parametrize("model,overrides", [
    ("din", {"pooling": "sum", "activation": "relu"}),
    ("din", {"pooling": "mean", "mba_lambda": 0.01, "activation": "prelu"}),
    ("dien", {"evolution": "gru", "aux_loss_weight": 0.0}),
    ("dien", {"evolution": "agru"}),
    ("dien", {"evolution": "aigru", "behaviours": ["play", "skip"]}),
    ("session", {"session_split": False, "session_behaviours": ["play"]}),
])
def test_ablation_switches_build_and_train(synth, world, model: str, overrides: dict) -> None:
    catalog, train, held = world
    frame = train.head(400).assign(skip_track_ids=train["play_track_ids"].head(400))
    fitted = fit_ranker(frame, catalog, tiny(synth, epochs=1, **overrides), model_name=model)
    assert np.isfinite(fitted.history[-1]["total_loss"])
    if overrides.get("mba_lambda"):
        assert fitted.history[-1]["total_loss"] > 0
    feats = inputs.raw_features(held.assign(skip_track_ids=held["play_track_ids"]).head(10), catalog, fitted.spec)
    logits = fitted.model({k: tf.constant(v) for k, v in feats.items()})
    assert all(v.shape == (10,) for v in logits.values())


def test_dien_auxiliary_loss_is_a_switch(synth, world) -> None:
    from encore.ranking.train import build_model, model_spec

    catalog, train, _ = world
    frame = train.head(64)
    spec = model_spec("dien", tiny(synth))
    raw = inputs.raw_features(frame, catalog, spec)
    spec = spec.fit(raw)
    feats = {k: tf.constant(v) for k, v in raw.items()}
    on, off = (build_model("dien", spec, tiny(synth, aux_loss_weight=w)) for w in (1.0, 0.0))
    for model in (on, off):
        model(feats)
    listener = on.listener_part({n: feats[n] for n in spec.listener_names})
    aux = float(on.extra_loss(feats, listener, training=True))
    assert aux > 0.5  # two cross-entropies of an untrained net: about 2 log 2
    assert float(off.extra_loss(feats, listener, training=True)) == 0.0
    assert float(on.extra_loss(feats, listener, training=False)) == 0.0
