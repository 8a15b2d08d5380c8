"""The two pure, vectorised stages between recall and the answer: merge with per-channel
quotas (:func:`merge`) and the re-rank for artist spread and the repeat/discovery mix
(:func:`rerank`). Both work on whole arrays of one request's candidates; the only Python
loop is over channels (a handful), never over candidates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from encore.recall.channel import Candidates

MAX_CHANNELS = 62
"""Channels of one request are a bit mask in an int64."""


@dataclass(frozen=True)
class ChannelAnswer:
    """One channel's candidates for one request, with its merge settings: at most
    ``quota`` of them (the best, after dropping blocked tracks) enter the merged list;
    ``reason`` is the default explanation of a candidate it found (a channel with
    per-candidate reasons, like ``profile``, overrides it through ``reason_texts``:
    reason name -> text; candidates that carry their own ``Candidates.reason_texts``,
    like ``kg_walk``'s paths, are explained by those unless ``reason_texts`` names
    their reason)."""

    name: str
    candidates: Candidates
    quota: int
    reason: str = ""
    reason_texts: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Merged:
    """The de-duplicated candidates of one request, best merged score first.

    ``track_ids`` int64 (M,), ``scores`` float64 (M,) (reciprocal-rank fusion, see
    :func:`merge`), ``channel_mask`` int64 (M,): bit c set when channel
    ``channel_names[c]`` holds the track in its quota, ``reasons`` object (M,): the
    explanation of the channel that ranked the track best."""

    track_ids: np.ndarray
    scores: np.ndarray
    channel_mask: np.ndarray
    reasons: np.ndarray
    channel_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.track_ids)

    def channels_of(self, i: int) -> tuple[str, ...]:
        mask = int(self.channel_mask[i])
        return tuple(n for c, n in enumerate(self.channel_names) if mask >> c & 1)

    def head(self, n: int) -> "Merged":
        return Merged(self.track_ids[:n], self.scores[:n], self.channel_mask[:n], self.reasons[:n],
                      self.channel_names)

    def take(self, index: np.ndarray) -> "Merged":
        return Merged(self.track_ids[index], self.scores[index], self.channel_mask[index],
                      self.reasons[index], self.channel_names)


def merge(answers: Sequence[ChannelAnswer], blocked: np.ndarray, rrf_k: float) -> Merged:
    """Merge channel answers under their quotas, without duplicates.

    For each channel: drop the ``blocked`` track ids, keep the first ``quota``
    candidates (rank 1 = its best). A track's merged score is the reciprocal-rank fusion
    over the channels that kept it, ``sum 1 / (rrf_k + rank)``; its channels are all of
    those; its reason is the one of the channel where it ranked best (earlier channel
    on a tie). Order: merged score descending, then track id ascending.
    """
    if len(answers) > MAX_CHANNELS:
        raise ValueError(f"at most {MAX_CHANNELS} channels per request, got {len(answers)}")
    blocked = np.asarray(blocked, dtype=np.int64)
    ids, ranks, chans, reasons = [], [], [], []
    for c, answer in enumerate(answers):
        cand = answer.candidates
        keep = ~np.isin(cand.track_ids, blocked) if len(blocked) else np.ones(len(cand), bool)
        kept = np.flatnonzero(keep)[:answer.quota]
        ids.append(cand.track_ids[kept].astype(np.int64))
        ranks.append(np.arange(1, len(kept) + 1, dtype=np.float64))
        chans.append(np.full(len(kept), c, dtype=np.int64))
        text = np.full(len(kept), answer.reason, dtype=object)
        if cand.reasons is not None and (answer.reason_texts or cand.reason_texts) and len(kept):
            lookup = dict(answer.reason_texts)
            own = cand.reason_texts or (answer.reason,) * len(cand.reason_names)
            reason_of = np.array([lookup.get(n, t) for n, t in zip(cand.reason_names, own)], dtype=object)
            text = reason_of[cand.reasons[kept].astype(np.int64)]
        reasons.append(text)
    names = tuple(a.name for a in answers)
    if not ids or not sum(len(i) for i in ids):
        return Merged(np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64), np.zeros(0, object), names)
    all_ids, rank = np.concatenate(ids), np.concatenate(ranks)
    chan, reason = np.concatenate(chans), np.concatenate(reasons)
    unique, inverse = np.unique(all_ids, return_inverse=True)
    contribution = 1.0 / (rrf_k + rank)
    score = np.bincount(inverse, weights=contribution, minlength=len(unique))
    # a channel holds a track at most once, so summing its bit is OR-ing it
    mask = np.bincount(inverse, weights=(np.int64(1) << chan).astype(np.float64),
                       minlength=len(unique)).astype(np.int64)
    best_first = np.lexsort((chan, -contribution, inverse))  # per track: best entry first
    first = np.ones(len(best_first), bool)
    first[1:] = inverse[best_first][1:] != inverse[best_first][:-1]
    best_reason = np.empty(len(unique), dtype=object)
    best_reason[inverse[best_first[first]]] = reason[best_first[first]]
    order = np.lexsort((unique, -score))
    return Merged(unique[order], score[order], mask[order], best_reason[order], names)


def rerank(artist_ids: np.ndarray, is_repeat: np.ndarray, count: int, *, max_per_artist: int,
           repeat_share: float) -> np.ndarray:
    """Positions (into the given candidates, which are in ranked order, best first) of
    the at most ``count`` items to return, in display order.

    1. Repeat/discovery mix: the j-th repeat (0-based, in ranked order) gets the key
       ``(j + 0.5) / repeat_share``, the j-th discovery ``(j + 0.5) / (1 - repeat_share)``;
       ordering by key (ties: ranked order) interleaves them so that about
       ``repeat_share`` of any prefix are repeats while both last (share 0: all
       discoveries first; 1: all repeats first).
    2. Artist spread on that order: an item whose artist already has ``max_per_artist``
       items before it moves behind every item that does not (keeping order among the
       moved ones). An unknown artist (negative id) counts as its own artist.

    ``artist_ids`` int (N,), ``is_repeat`` bool (N,). Returns int64 (min(N, count),).
    """
    n = len(artist_ids)
    if n == 0 or count <= 0:
        return np.zeros(0, dtype=np.int64)
    is_repeat = np.asarray(is_repeat, dtype=bool)
    position = np.arange(n)
    nth = np.where(is_repeat, np.cumsum(is_repeat) - 1, np.cumsum(~is_repeat) - 1).astype(np.float64)
    with np.errstate(divide="ignore"):
        rate = np.where(is_repeat, repeat_share, 1.0 - repeat_share)
        key = np.where(rate > 0, (nth + 0.5) / np.where(rate > 0, rate, 1.0), np.inf + nth)
    mixed = np.lexsort((position, key))
    artists = np.asarray(artist_ids, dtype=np.int64)[mixed]
    artists = np.where(artists < 0, -2 - position, artists)  # unknown: each its own artist
    by_artist = np.argsort(artists, kind="stable")
    sorted_artists = artists[by_artist]
    starts = np.searchsorted(sorted_artists, sorted_artists, side="left")
    within = np.empty(n, dtype=np.int64)
    within[by_artist] = position - starts
    spread = mixed[np.lexsort((position, within >= max_per_artist))]
    return spread[:count].astype(np.int64)
