"""The baseline ranker and the Ranker contract: a tiny model learns a planted signal
and beats the popularity order; SavedModel save -> load -> identical scores; the
serving signature scores N candidates of one listener in one call exactly as the
per-row training-time model does."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
import tensorflow as tf

from encore.platform.registry import LiveModel, Registry
from encore.ranking import inputs
from encore.ranking.features import HEADS
from encore.ranking.ranker import SMOKE_FILE, Ranker, export_ranker
from encore.ranking.train import evaluate_ranker, example_request, fit_ranker, reference_scores

from testkit.ranking import assert_saved_ranker_scores_like_in_memory

pytestmark = pytest.mark.slow  # trains a tiny model once per module (~10 s)


@pytest.fixture(scope="module")
def trained(synth, tmp_path_factory):
    cat = synth.make_catalog()
    catalog = inputs.Catalog.from_frame(cat)
    train = synth.make_samples(cat, 900, synth.START, seed=1)
    held = synth.make_samples(cat, 300, synth.START + timedelta(days=1), seed=2)
    fitted = fit_ranker(train, catalog, synth.tiny_config())
    out = tmp_path_factory.mktemp("artifact") / "ranker"
    export_ranker(fitted.model, fitted.spec, out, model_name="baseline",
                  example=example_request(held, catalog, fitted.spec))
    return fitted, catalog, train, held, out


def test_learns_the_planted_signal_and_beats_popularity(trained) -> None:
    fitted, catalog, train, held, out = trained
    report = evaluate_ranker(Ranker.load(out), held, catalog,
                             {h: float(train[h].mean()) for h in HEADS})
    cp = report["heads"]["complete_play"]
    assert cp["model"]["auc"] > 0.75
    assert cp["model"]["auc"] > cp["reference"]["auc"] + 0.15
    assert cp["model"]["logloss"] < cp["base_rate_logloss"]
    assert report["heads"]["skip"]["model"]["auc"] > report["heads"]["skip"]["reference"]["auc"]
    assert len(fitted.history) == 8 and fitted.history[-1]["total_loss"] < fitted.history[0]["total_loss"]


def test_save_load_gives_identical_scores(trained) -> None:
    fitted, catalog, _, held, out = trained
    ranker = assert_saved_ranker_scores_like_in_memory(fitted, out, held, catalog, atol=1e-6)
    assert ranker.smoke_test() is True


def test_serving_signature_scores_one_listener_in_one_call(trained) -> None:
    fitted, catalog, _, held, out = trained
    ranker = Ranker.load(out)
    spec = fitted.spec
    row = held.iloc[3]
    request = {c: row[c] for c in ("user_id", "anonymous", "scenario", "ts", "user_exposures_30d",
                                   "user_plays_30d", "user_completes_30d", "user_skips_30d",
                                   "user_hearts_30d", "user_plays_today")}
    cands = held.iloc[:25]  # 25 candidates with their own stats
    candidate_cols = {c: cands[c].to_numpy() for c in (
        "track_id", "track_plays", "track_listeners", "track_completion_rate", "track_skip_rate",
        "track_heart_rate", "user_track_plays_30d")}
    candidate_cols["track_id"][0] = 424_242  # one unknown track: OOV, still scored
    listener, candidates = inputs.request_features(spec, catalog, request, candidate_cols)
    assert ranker._flat_names is not None  # the signature's flat call is the path measured here
    served = ranker.score(listener, candidates)
    assert set(served) == set(HEADS) and all(v.shape == (25,) for v in served.values())

    # the same pairs as 25 training rows, each carrying the listener's features
    rows = {**{k: np.repeat(v, 25) for k, v in listener.items()}, **candidates}
    per_row = fitted.model({k: tf.constant(v) for k, v in rows.items()})
    for h in HEADS:
        np.testing.assert_allclose(served[h], tf.sigmoid(per_row[h]).numpy(), rtol=0, atol=1e-6)
    assert len(set(np.round(served["complete_play"], 6))) > 1  # candidates really differ

    empty = ranker.score(listener, {k: v[:0] for k, v in candidates.items()})
    assert all(v.shape == (0,) for v in empty.values())
    with pytest.raises(inputs.RankingInputError, match="missing"):
        ranker.score(listener, {k: v for k, v in candidates.items() if k != "genre"})
    with pytest.raises(inputs.RankingInputError, match="one value"):
        ranker.score({k: np.repeat(v, 2) for k, v in listener.items()}, candidates)


def test_registry_refuses_a_tampered_smoke_example_and_keeps_serving(trained, tmp_path) -> None:
    _, _, _, _, out = trained
    reg = Registry(tmp_path / "models")
    good = reg.publish("ranker", out, kind="ranker/baseline")
    reg.promote("ranker", good)
    live = LiveModel(reg, "ranker", Ranker.load, Ranker.smoke_test)
    assert live.refresh() and live.current().version == good

    # an artifact whose stored expectations disagree with its model: checksums are
    # consistent (it was published that way) but the smoke test refuses it
    bad_src = tmp_path / "bad"
    import shutil

    shutil.copytree(out, bad_src)
    with np.load(bad_src / SMOKE_FILE) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["p/complete_play"] = 1 - arrays["p/complete_play"]
    np.savez(bad_src / SMOKE_FILE, **arrays)
    bad = reg.publish("ranker", bad_src, kind="ranker/baseline")
    reg.promote("ranker", bad)
    assert live.refresh() is False
    assert live.current().version == good and "smoke test" in str(live.last_error)
    assert reference_scores  # the reference scorer is part of the public API


def test_position_bias_tower_is_training_only(synth, tmp_path) -> None:
    cat = synth.make_catalog()
    catalog = inputs.Catalog.from_frame(cat)
    train = synth.make_samples(cat, 900, synth.START, seed=5)
    # planted examination bias: a track in a low slot is often not seen, so not played
    seen = np.random.default_rng(0).random(len(train)) < 1 - 0.09 * train["position"].to_numpy()
    for h in ("complete_play", "heart"):
        train[h] = train[h] * seen
    fitted = fit_ranker(train, catalog, synth.tiny_config(position_buckets=10))
    bias = fitted.model.position_bias["complete_play"].embeddings.numpy().ravel()
    assert bias[:3].mean() > bias[-3:].mean() + 0.3  # the tower took the slot effect

    export_ranker(fitted.model, fitted.spec, tmp_path / "r", model_name="baseline",
                  example=example_request(train, catalog, fitted.spec))
    ranker = Ranker.load(tmp_path / "r")
    _, kwargs = ranker._serve.structured_input_signature
    assert "position" not in kwargs and "propensity" not in kwargs
    assert ranker.smoke_test()
