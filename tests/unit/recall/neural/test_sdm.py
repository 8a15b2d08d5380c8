"""SDM: the empty-session fallback, the two spaces and their merge under
``long_term_share``, the gated fusion's reported gate values, the planted taste in the
short-term space, save -> load -> identical recall in both fusion modes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from encore.platform.config import ChannelConfig
from encore.recall.channel import Candidates
from encore.recall.registry import build_channel, load_channel

from testkit.recall import AS_OF, query
from testkit.recall_neural import TASTE_GROUPS, planted_tables

PARAMS = {"epochs": 6, "batch_size": 64, "embedding_dim": 16, "learning_rate": 0.01, "history_length": 10,
          "session_length": 5}


def test_short_term_sequence_falls_back_to_the_last_plays_of_the_history():
    from encore.recall.neural.sdm import short_term_codes

    session = np.array([[0, 0, 0], [5, 6, 0], [0, 0, 0], [0, 0, 0]], np.int32)
    history = np.array([[1, 2, 3, 4, 0], [1, 2, 3, 4, 0], [1, 2, 0, 0, 0], [0, 0, 0, 0, 0]], np.int32)
    out = short_term_codes(session, history).numpy().tolist()
    assert out == [[2, 3, 4], [5, 6, 0], [1, 2, 0], [0, 0, 0]]


def test_spaces_and_quotas_follow_the_fusion():
    two = build_channel(ChannelConfig(name="sdm", kind="sdm", params={"long_term_share": 0.3}))
    gated = build_channel(ChannelConfig(name="sdm_gated", kind="sdm", params={"fusion": "gated"}))
    assert two.spaces == two.reason_names == ("short_term", "long_term")
    assert gated.spaces == ("fused",)
    assert two.space_quotas(10) == {"long_term": 3, "short_term": 7}
    assert list(two.space_quotas(10)) == ["long_term", "short_term"]  # the long-term space takes its share first
    assert gated.space_quotas(10) == {"fused": 10}


def test_merge_gives_the_long_term_space_its_share_first():
    channel = build_channel(ChannelConfig(name="sdm", kind="sdm", params={"long_term_share": 0.4}))
    short = (np.array([1, 2, 3, 4, 5, 6, 7, 8]), np.linspace(0.9, 0.2, 8).astype(np.float32))
    long = (np.array([2, 9, 10, 11, 12]), np.linspace(0.5, 0.1, 5).astype(np.float32))
    merged = channel._merge([short, long], channel.space_quotas(5), 5)
    assert isinstance(merged, Candidates) and len(merged) == 5
    by_reason = {r: sorted(merged.track_ids[merged.reasons == i].tolist()) for i, r in enumerate(channel.spaces)}
    assert by_reason == {"long_term": [2, 9], "short_term": [1, 3, 4]}
    # the spaces interleaved in proportion (2 : 3), not ordered by their incomparable cosines
    assert merged.track_ids.tolist() == [1, 2, 3, 9, 4] and np.all(np.diff(merged.scores) <= 0)
    # a short long-term list leaves its unused share to the short-term space
    merged = channel._merge([short, (np.array([1]), np.array([0.3], np.float32))], channel.space_quotas(5), 5)
    assert merged.track_ids.tolist() == [1, 2, 3, 4, 5]
    assert {merged.reason_of(i) for i in range(5)} == {"short_term"}  # 1 counts where it was taken first
    # share 0: the long-term space only fills up what the short-term space cannot give
    zero = build_channel(ChannelConfig(name="sdm", kind="sdm", params={"long_term_share": 0.0}))
    merged = zero._merge([(short[0][:3], short[1][:3]), long], zero.space_quotas(5), 5)
    assert merged.track_ids.tolist() == [1, 2, 3, 9, 10]


@pytest.fixture(scope="module")
def planted():
    return planted_tables()


@pytest.fixture(scope="module")
def two_space(planted):
    return build_channel(ChannelConfig(name="sdm", kind="sdm", k=20, quota=10, params=PARAMS)).fit(planted)


@pytest.fixture(scope="module")
def gated(planted):
    config = ChannelConfig(name="sdm_gated", kind="sdm", k=20, quota=10, params={**PARAMS, "fusion": "gated"})
    return build_channel(config).fit(planted)


def _session_query(user_id: int, tracks: list[int]):
    return query(user_id=user_id, plays=[(t, AS_OF - 1000 * (i + 1)) for i, t in enumerate(tracks)],
                 session=tracks[:3])


@pytest.mark.slow
def test_both_spaces_give_candidates_and_the_share_holds(two_space):
    q = _session_query(5000, TASTE_GROUPS[1][:5])
    vectors = two_space.query_vectors([q])
    assert set(vectors) == {"short_term", "long_term"}
    for vecs, mask in vectors.values():
        assert vecs.shape == (1, 1, 16) and mask.all()
    found = two_space.recall([q], 20)[0]
    assert len(found) == 20 and np.all(np.diff(found.scores) <= 0)
    reasons = [found.reason_of(i) for i in range(len(found))]
    # long_term_share 0.5 of 20: the long-term space gives 10 tracks first, the short-term the other 10
    assert reasons.count("long_term") == 10 and reasons.count("short_term") == 10
    # every prefix keeps the share: the serving merge keeps a channel's first quota
    assert reasons[:10].count("long_term") == 5 and reasons[:2].count("long_term") == 1


@pytest.mark.slow
def test_a_group_session_recalls_its_group_in_the_short_term_space(two_space):
    for group, tracks in TASTE_GROUPS.items():
        q = query(user_id=6000 + group, session=tracks[:4])  # a new listener: only the session
        vecs, _ = two_space.query_vectors([q])["short_term"]
        ids, _ = two_space._indexes["short_term"].search(vecs[:, 0], 10)
        assert sum(t in tracks for t in ids[0].tolist()) >= 8, (group, ids[0].tolist())


@pytest.mark.slow
def test_gated_fusion_reports_its_gate(gated, tmp_path):
    report = gated.training["report"]
    assert report["fusion"] == "gated" and report["rows"] == gated.training["samples"]
    for part in ("short_term_gate", "long_term_gate", "short_term_gate_per_example"):
        stats = report[part]
        assert all(0.0 <= v <= 1.0 for v in stats.values()), (part, stats)
        assert stats["p5"] <= stats["p50"] <= stats["p95"]
    assert report["short_term_gate"]["mean"] + report["long_term_gate"]["mean"] == pytest.approx(1.0, abs=1e-3)
    gated.save(tmp_path / "g")
    saved = json.loads((tmp_path / "g" / "training.json").read_text())
    assert saved["report"]["short_term_gate"] == report["short_term_gate"]
    found = gated.recall([_session_query(1, TASTE_GROUPS[0][:5])], 10)[0]
    assert len(found) == 10 and {found.reason_of(i) for i in range(10)} == {"fused"}


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["two_space", "gated"])
def test_save_load_gives_identical_recall(mode, request, tmp_path):
    fitted = request.getfixturevalue(mode)
    fitted.save(tmp_path / mode)
    loaded = load_channel(tmp_path / mode)
    assert loaded.spaces == fitted.spaces and set(loaded._indexes) == set(fitted.spaces)
    queries = [_session_query(u, tracks[:4]) for u, tracks in TASTE_GROUPS.items()]
    queries += [query(user_id=77), query(user_id=78, plays=[(TASTE_GROUPS[2][0], AS_OF - 5000)])]
    for a, b in zip(fitted.recall(queries, 15), loaded.recall(queries, 15)):
        assert a.track_ids.tolist() == b.track_ids.tolist()
        assert a.reasons.tolist() == b.reasons.tolist()
        np.testing.assert_allclose(a.scores, b.scores, atol=1e-5)


def test_one_space_merge_is_the_loop_merge_vectorised():
    # gated SDM has one space: the vectorised merge must equal the general loop, duplicates and ties included
    gated = build_channel(ChannelConfig(name="sdm_gated", kind="sdm", params={"fusion": "gated"}))
    rng = np.random.default_rng(0)
    for k in (1, 3, 8, 40):
        ids = rng.integers(0, 12, 20)
        scores = rng.choice([0.5, 0.25, 0.75], 20).astype(np.float32)
        for got, want in ((gated._merge([(ids, scores)], gated.space_quotas(k), k),
                           gated._merge_spaces([(ids, scores)], gated.space_quotas(k), k)),):
            assert got.track_ids.tolist() == want.track_ids.tolist()
            assert got.scores.tolist() == want.scores.tolist() and got.reasons.tolist() == want.reasons.tolist()
    merged = gated._merge([(np.array([4, 2, 4, 7]), np.array([0.5, 0.5, 0.9, 0.1], np.float32))], {"fused": 2}, 2)
    assert merged.track_ids.tolist() == [2, 4] and merged.scores.tolist() == [0.5, 0.5]  # first score of 4 kept
    assert len(gated._merge([(np.zeros(0, np.int64), np.zeros(0, np.float32))], {"fused": 2}, 2)) == 0
