"""Merge with quotas and the re-rank, on hand-computed examples."""

from __future__ import annotations

import numpy as np
import pytest

from encore.recall.channel import Candidates
from encore.serving.rerank import ChannelAnswer, merge, rerank


def cands(ids, reasons=None, names=()) -> Candidates:
    ids = np.asarray(ids, np.int64)
    return Candidates(ids, np.linspace(1, 0.1, len(ids)).astype(np.float32),
                      None if reasons is None else np.asarray(reasons, np.int16), tuple(names))


def test_merge_applies_quotas_after_blocking_and_fuses_ranks() -> None:
    a = ChannelAnswer("a", cands([1, 2, 3, 4]), quota=2, reason="ra")
    b = ChannelAnswer("b", cands([9, 3, 1, 5]), quota=3, reason="rb")
    merged = merge([a, b], blocked=np.array([2]), rrf_k=1.0)
    # a keeps [1, 3] (2 blocked; quota 2): ranks 1, 2; b keeps [9, 3, 1]: ranks 1, 2, 3
    # scores: 1 -> 1/2 + 1/4 = .75; 3 -> 1/3 + 1/3 = .667; 9 -> 1/2
    assert merged.track_ids.tolist() == [1, 3, 9]
    np.testing.assert_allclose(merged.scores, [0.75, 2 / 3, 0.5])
    assert [merged.channels_of(i) for i in range(3)] == [("a", "b"), ("a", "b"), ("b",)]
    # reason of the channel that ranked it best; a tie (track 3: rank 2 in both) -> the earlier channel
    assert merged.reasons.tolist() == ["ra", "ra", "rb"]
    assert 4 not in merged.track_ids and 5 not in merged.track_ids  # beyond the quotas
    assert len(set(merged.track_ids.tolist())) == len(merged)


def test_merge_uses_per_candidate_reasons_and_handles_nothing() -> None:
    profile = ChannelAnswer("profile", cands([7, 8], reasons=[1, 0], names=("artist", "genre")), quota=5,
                            reason="taste", reason_texts=(("artist", "From an artist you like"),))
    merged = merge([profile], np.zeros(0, np.int64), rrf_k=60.0)
    assert merged.reasons.tolist() == ["taste", "From an artist you like"]  # genre has no text: default
    empty = merge([ChannelAnswer("x", Candidates.empty(), 3)], np.zeros(0, np.int64), 60.0)
    assert len(empty) == 0


def test_repeat_mix_interleaves_at_the_configured_share() -> None:
    # ranked: R R D D D D D D; share .25 -> keys R: 2, 6; D: .67, 2, 3.33, 4.67, 6, 7.33
    repeat = np.array([1, 1, 0, 0, 0, 0, 0, 0], bool)
    order = rerank(np.arange(8), repeat, 8, max_per_artist=8, repeat_share=0.25)
    assert order.tolist() == [2, 0, 3, 4, 5, 1, 6, 7]
    assert rerank(np.arange(8), repeat, 8, max_per_artist=8, repeat_share=0.0).tolist() == [2, 3, 4, 5, 6, 7, 0, 1]
    assert rerank(np.arange(8), repeat, 3, max_per_artist=8, repeat_share=1.0).tolist() == [0, 1, 2]


def test_artist_spread_caps_each_artist_in_the_returned_slots() -> None:
    artists = np.array([5, 5, 5, 6, 5, 7, 6, 6])
    order = rerank(artists, np.zeros(8, bool), 5, max_per_artist=2, repeat_share=0.3)
    # allowed in ranked order: 0(5) 1(5) 3(6) 5(7) 6(6); then the over-cap ones 2, 4, 7
    assert order.tolist() == [0, 1, 3, 5, 6]
    full = rerank(artists, np.zeros(8, bool), 8, max_per_artist=2, repeat_share=0.3)
    assert full.tolist() == [0, 1, 3, 5, 6, 2, 4, 7]  # too few artists: the rest follow
    unknown = rerank(np.array([-1, -1, -1]), np.zeros(3, bool), 3, max_per_artist=1, repeat_share=0.3)
    assert unknown.tolist() == [0, 1, 2]  # unknown artists are not capped together


@pytest.mark.parametrize("count", [0, 3])
def test_rerank_of_nothing_is_empty(count) -> None:
    assert rerank(np.zeros(0, np.int64), np.zeros(0, bool), count, max_per_artist=2, repeat_share=0.3).tolist() == []
