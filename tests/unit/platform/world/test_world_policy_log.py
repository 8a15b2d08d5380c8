"""What off-policy estimators need: the logging policy's pool, scores and the marginal
slate probabilities of every shown track (policy/slates.parquet)."""

from __future__ import annotations

import numpy as np
import pytest

from encore.platform.world import generate_world, load_world
from encore.platform.world import policy
from encore.platform.world.policy import exact_position_marginals, slate_marginals

# Pool of 3 with Plackett-Luce weights 1, 2, 3 (sum 6), slate of 2, computed by hand:
# P(a first) = 1/6, P(a second) = P(b first) 1/4 + P(c first) 1/3 = 1/4, so P(a in) = 5/12;
# P(b first) = 2/6, P(b second) = 1/6 * 2/5 + 3/6 * 2/3 = 2/5, P(b in) = 11/15;
# P(c first) = 3/6, P(c second) = 1/6 * 3/5 + 2/6 * 3/4 = 7/20, P(c in) = 17/20.
HAND_LOGITS = np.log([[1.0, 2.0, 3.0]])
HAND_AT = np.array([[1 / 6, 1 / 4], [2 / 6, 2 / 5], [3 / 6, 7 / 20]])
HAND_INCLUSION = np.array([5 / 12, 11 / 15, 17 / 20])


def test_exact_marginals_equal_the_hand_computed_plackett_luce_values():
    table = exact_position_marginals(HAND_LOGITS, 2)[0]
    assert np.allclose(table, HAND_AT)
    items = np.array([[0, 1, 2]])
    inclusion, at_second, exact = slate_marginals(HAND_LOGITS, 2, items, np.array([[1, 1, 1]]),
                                                  draws=8, rng=np.random.default_rng(0))
    assert exact
    assert np.allclose(inclusion[0], HAND_INCLUSION) and np.allclose(at_second[0], HAND_AT[:, 1])
    assert inclusion.sum() == pytest.approx(2.0)


def test_monte_carlo_marginals_match_the_hand_values_and_sum_to_the_slate_size(monkeypatch):
    monkeypatch.setattr(policy, "EXACT_SLATES_LIMIT", 0)  # force the Monte-Carlo estimate
    items = np.array([[0, 1, 2]])
    inclusion, at_first, exact = slate_marginals(HAND_LOGITS, 2, items, np.zeros_like(items),
                                                 draws=4000, rng=np.random.default_rng(1))
    assert not exact
    assert np.allclose(inclusion[0], HAND_INCLUSION, atol=0.01)
    assert np.allclose(at_first[0], HAND_AT[:, 0], atol=0.01)

    rng = np.random.default_rng(2)
    logits = rng.normal(0.0, 1.0, (50, 60))
    logits[:, 7] = -np.inf  # a repeat in the pool: never shown
    pool = np.broadcast_to(np.arange(60), logits.shape)
    inclusion, _, _ = slate_marginals(logits, 10, pool, np.zeros_like(pool), draws=256, rng=rng)
    assert (inclusion[:, 7] == 0).all()
    assert np.allclose(inclusion.sum(axis=1), 10.0, atol=0.5)
    assert inclusion.sum(axis=1).mean() == pytest.approx(10.0, abs=0.1)


def test_a_pool_smaller_than_the_slate_includes_everything():
    logits = np.array([[0.3, -np.inf, 1.0]])
    table = exact_position_marginals(logits, 3)[0]
    assert np.allclose(table.sum(axis=1), [1.0, 0.0, 1.0])


def _exploded(slates):
    rows = slates.explode(["shown_track_ids", "propensity", "position_prob", "inclusion_prob"])
    rows["position"] = rows.groupby(level=0).cumcount()
    return rows.astype({"shown_track_ids": "int64", "propensity": "float64",
                        "position_prob": "float64", "inclusion_prob": "float64"})


def test_the_policy_log_matches_the_event_log(small_world, events):
    slates = small_world.policy_slates()
    exposures = events[events["action"] == "exposure"]
    assert set(slates["request_id"]) == set(exposures["request_id"]) and slates["request_id"].is_unique
    shown = _exploded(slates).merge(
        exposures[["request_id", "position", "track_id", "propensity"]].astype({"position": "int64"}),
        on=["request_id", "position"], suffixes=("", "_event"), validate="one_to_one")
    assert len(shown) == len(exposures)
    assert (shown["shown_track_ids"] == shown["track_id"]).all()
    assert np.allclose(shown["propensity"], shown["propensity_event"])
    assert slates.apply(lambda r: set(r["shown_track_ids"]) <= set(r["pool_track_ids"]), axis=1).all()
    assert (slates["pool_track_ids"].map(len) == slates["pool_scores"].map(len)).all()
    assert (slates["marginal_draws"] == small_world.manifest.config.marginal_draws).all()
    assert shown["inclusion_prob"].between(0, 1).all()
    assert (shown["inclusion_prob"] >= shown["position_prob"] - 1e-6).all()
    # At the top position the marginal is the logged propensity itself (nothing above).
    top = shown[shown["position"] == 0]
    assert np.abs(top["position_prob"] - top["propensity"]).mean() < 0.02


def test_tiny_pools_log_exact_marginals_that_sum_to_the_slate_size(tmp_path, world_config):
    cfg = world_config(users=30, days=1, tracks=400, artists=40, anonymous_sessions_per_day=2,
                       candidate_pool_size=4, exposures_per_request=2)
    generate_world(cfg, tmp_path, progress=False)
    slates = load_world(tmp_path, verify_checksums=True).policy_slates()
    assert len(slates) > 50 and (slates["marginal_draws"] == 0).all()
    for _, row in slates.head(200).iterrows():
        logits = np.asarray(row["pool_scores"], dtype=np.float64)[None, :] / row["temperature"]
        pool = np.arange(logits.shape[1])[None, :]
        inclusion, _, _ = slate_marginals(logits, 2, pool, np.zeros_like(pool), 8, np.random.default_rng(0))
        assert inclusion.sum() == pytest.approx(min(2, logits.shape[1]), abs=1e-5)
        shown = [list(row["pool_track_ids"]).index(t) for t in row["shown_track_ids"]]
        assert np.allclose(inclusion[0, shown], row["inclusion_prob"], atol=1e-4)
