"""Offline evaluation of the whole recommender on held-out days (``encore eval pipeline``).

Protocol (the one of :mod:`encore.recall.evaluate`, applied to each of the last
``evaluation.test_days`` days of the world): every known, non-bot listener who
completes at least one play that day gets one request, a Query built point in time at
their first event of the day (its scenario as the request's); at most
``evaluation.max_listeners`` of them, a seeded sample. Models are those published by
``encore train all`` (fitted on the days before the first held-out day). The truth of a
listener is the set of tracks they complete that day.

Measured in one run:

- **per recall channel**: recall@K for K in ``recall_ks`` (and ``new_recall@K`` over the
  tracks the listener had not played in the fitting window), via
  :func:`encore.recall.evaluate.evaluate_channels`;
- **per final list** (the Pipeline's, and the baseline's: ``baseline_channel`` alone,
  its top ``list_length``), per listener then averaged:
  ``HR@K`` = 1 if any of the list's first K tracks is in the truth;
  ``NDCG@K`` = sum over the first K positions i (0-based) of [track in truth] /
  log2(i + 2), divided by the same sum for min(K, |truth|) hits at the top;
  ``coverage@K`` = distinct tracks in all listeners' first K / catalog size;
  ``repeat_share`` = share of listed tracks the listener played (play_start) in the
  fitting window; ``reward`` = the world's ground-truth expected complete plays of the
  list's first ``reward_length`` tracks (:mod:`encore.platform.world.reward`, at the
  request's hour and day, familiarity from the plays of the world's memory window),
  its mean over listeners with a percentile bootstrap CI (``bootstrap_samples``
  resamples of listeners, level ``confidence``);
- **the comparison**: the paired per-listener reward difference pipeline - baseline,
  with its bootstrap CI; ``beats_baseline`` = its lower bound is above 0;
- **the ranker**: AUC / GAUC / log loss per head on ranking_samples of the held-out
  days against the popularity order (:func:`encore.ranking.train.eval_rank`);
- **the rankers compared** (optional, ``rankers``: label -> loaded ``Ranker``): the same
  requests served by the same Pipeline (same channels, same merge, same re-rank) with
  each ranker in turn (:func:`compare_rankers`): each one's list metrics and reward with
  its bootstrap CI, and the paired per-listener reward difference against the
  reference ranker (``reference_ranker``, default the label ``baseline`` or else the
  first) with its paired bootstrap CI (listeners resampled, both rewards of a listener
  kept together); ``beats_reference`` = the difference's lower bound is above 0.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from encore.platform.config import EncoreConfig, EvaluationConfig
from encore.recall.query import Query

Recommend = Callable[[Sequence[Query]], list[np.ndarray]]
"""A recommender under evaluation: the ranked track ids for each query, best first."""

HOUR_MS, DAY_MS = 3_600_000, 86_400_000


# -- metrics -------------------------------------------------------------------------------

def hits_and_ndcg(lists: Sequence[np.ndarray], truth: Sequence[np.ndarray], ks: Sequence[int]
                  ) -> dict[str, np.ndarray]:
    """Per listener ``hr@K`` and ``ndcg@K`` (definitions in the module docstring)."""
    out = {f"{m}@{k}": np.zeros(len(lists)) for k in ks for m in ("hr", "ndcg")}
    for i, (ranked, target) in enumerate(zip(lists, truth)):
        if len(target) == 0:
            continue
        for k in ks:
            rel = np.isin(np.asarray(ranked)[:k], target).astype(np.float64)
            gains = 1.0 / np.log2(np.arange(2, k + 2))
            ideal = gains[: min(k, len(target))].sum()
            out[f"hr@{k}"][i] = float(rel.any())
            out[f"ndcg@{k}"][i] = float((rel * gains[: len(rel)]).sum() / ideal)
    return out


def coverage(lists: Sequence[np.ndarray], k: int, n_tracks: int) -> float:
    """Distinct tracks among every list's first ``k`` / ``n_tracks``."""
    shown = [np.asarray(x)[:k] for x in lists]
    return float(len(np.unique(np.concatenate(shown))) / n_tracks) if shown else 0.0


def repeat_share(lists: Sequence[np.ndarray], played: Sequence[np.ndarray]) -> float:
    """Share of all listed tracks that their listener played before (``played``)."""
    hits = sum(int(np.isin(x, p).sum()) for x, p in zip(lists, played))
    total = sum(len(x) for x in lists)
    return hits / total if total else 0.0


def bootstrap_mean(values: np.ndarray, samples: int, confidence: float, seed: int) -> dict[str, float]:
    """Mean of ``values`` and the percentile bootstrap CI of the mean (resampling
    entries with replacement ``samples`` times; deterministic for ``seed``)."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return {"mean": 0.0, "ci_low": 0.0, "ci_high": 0.0, "n": 0}
    rng = np.random.default_rng(seed)
    means = np.empty(samples)
    for lo in range(0, samples, 100):
        hi = min(lo + 100, samples)
        means[lo:hi] = values[rng.integers(0, len(values), (hi - lo, len(values)))].mean(axis=1)
    alpha = (1 - confidence) / 2
    return {"mean": float(values.mean()), "ci_low": float(np.quantile(means, alpha)),
            "ci_high": float(np.quantile(means, 1 - alpha)), "n": int(len(values))}


def padded(lists: Sequence[np.ndarray], length: int) -> np.ndarray:
    """(n, length) int64: each list's first ``length`` ids, -1 after its end."""
    out = np.full((len(lists), length), -1, dtype=np.int64)
    for i, x in enumerate(lists):
        x = np.asarray(x, dtype=np.int64)[:length]
        out[i, : len(x)] = x
    return out


# -- the held-out requests -----------------------------------------------------------------

@dataclass(frozen=True)
class Requests:
    """Every held-out request, over all held-out days, and what the metrics need."""

    queries: list[Query]
    truth: list[np.ndarray]
    new_truth: list[np.ndarray]
    played_before: list[np.ndarray]
    day: np.ndarray  # per query: its held-out date's index in ``days``
    days: list[date]
    fit_events: int


def held_out_requests(world_dir: Path, batch_dir: Path, days: Sequence[date], config: EncoreConfig,
                      progress: Callable[[str], None] | None = None) -> Requests:
    from encore.recall.evaluate import holdout_day, unique_tracks_by_user
    from encore.recall.queries import QueryParams

    ev = config.evaluation
    queries, truth, new_truth, played, day_index = [], [], [], [], []
    fit_events = 0
    for i, day in enumerate(days):
        h = holdout_day(world_dir, batch_dir, day, params=QueryParams.from_config(config), sampling=config.sampling,
                        window_days=ev.fit_window_days, max_queries=ev.max_listeners, seed=ev.seed)
        events = h.tables.events
        before = unique_tracks_by_user(events[events["action"] == "play_start"])
        empty = np.zeros(0, np.int64)
        queries += h.queries
        truth += h.truth
        new_truth += h.new_truth
        played += [before.get(int(q.user_id or 0), empty) for q in h.queries]
        day_index += [i] * len(h.queries)
        fit_events = max(fit_events, len(events))
        if progress:
            progress(f"{day}: {len(h.queries):,} listeners")
    return Requests(queries, truth, new_truth, played, np.asarray(day_index, dtype=np.int64), list(days),
                    fit_events)


def ground_truth_reward(world_dir: Path, requests: Requests, lists: np.ndarray, reward_model) -> np.ndarray:
    """Per request: the world's expected complete plays of its list (n, L) at the
    request's UTC hour and day, with the familiarity of the world's memory window."""
    from encore.platform.world.reward import window_play_counts

    out = np.zeros(len(requests.queries))
    users = np.array([q.user_id for q in requests.queries], dtype=np.int64)
    hours = np.array([(q.context.request_ms % DAY_MS) / HOUR_MS for q in requests.queries])
    for i, day in enumerate(requests.days):
        at = np.flatnonzero(requests.day == i)
        if len(at) == 0:
            continue
        counts = window_play_counts(world_dir, users[at], day, lists[at], reward_model.cfg.history_window_days)
        out[at] = reward_model.expected_completions(users[at], hours[at], reward_model.day_index(day),
                                                    lists[at], counts)
    return out


def list_report(lists: list[np.ndarray], requests: Requests, rewards: np.ndarray, n_tracks: int,
                ev: EvaluationConfig) -> dict[str, Any]:
    """Every final-list metric of one recommender (module docstring), plus the
    per-listener rewards kept for paired comparisons (``_rewards``, not serialised)."""
    per = hits_and_ndcg(lists, requests.truth, ev.list_ks)
    report: dict[str, Any] = {name: float(v.mean()) if len(v) else 0.0 for name, v in per.items()}
    report.update({f"coverage@{k}": coverage(lists, k, n_tracks) for k in ev.list_ks})
    report["repeat_share"] = repeat_share([np.asarray(x)[: ev.list_length] for x in lists], requests.played_before)
    report["mean_length"] = float(np.mean([len(x) for x in lists])) if lists else 0.0
    report["reward"] = bootstrap_mean(rewards, ev.bootstrap_samples, ev.confidence, ev.seed)
    report["reward"]["list_length"] = ev.reward_length
    return report


def oracle_reference(world_dir: Path, requests: Requests, rewards: dict[str, np.ndarray], reward_model,
                     ev: EvaluationConfig) -> dict[str, Any]:
    """The ceiling: on a seeded sample of ``ev.oracle_listeners`` requests, the reward of
    the world's oracle list (``RewardModel.ideal_lists``: the tracks with the highest
    completion probability for that listener, hour and day, best first; familiarity
    from the memory window as for the others) next to the pipeline's and the
    baseline's rewards on the same requests."""
    n = min(ev.oracle_listeners, len(requests.queries))
    if n == 0:
        return {"listeners": 0}
    at = np.sort(np.random.default_rng(ev.seed).choice(len(requests.queries), n, replace=False))
    users = np.array([requests.queries[i].user_id for i in at], dtype=np.int64)
    hours = np.array([(requests.queries[i].context.request_ms % DAY_MS) / HOUR_MS for i in at])
    lists = np.zeros((n, ev.reward_length), dtype=np.int64)
    for i, day in enumerate(requests.days):
        mine = np.flatnonzero(requests.day[at] == i)
        if len(mine):
            lists[mine] = reward_model.ideal_lists(users[mine], hours[mine], reward_model.day_index(day),
                                                   ev.reward_length)
    sub = Requests([requests.queries[i] for i in at], [requests.truth[i] for i in at],
                   [requests.new_truth[i] for i in at], [requests.played_before[i] for i in at],
                   requests.day[at], requests.days, requests.fit_events)
    oracle = ground_truth_reward(world_dir, sub, lists, reward_model)
    out = {"listeners": int(n), "oracle": float(oracle.mean())}
    out.update({name: float(values[at].mean()) for name, values in rewards.items()})
    out["pipeline_share_of_oracle"] = out["pipeline"] / out["oracle"] if out["oracle"] else 0.0
    return out


def compare_rankers(pipeline: Any, requests: Requests, rankers: Mapping[str, Any],
                    reward: Callable[[list[np.ndarray]], np.ndarray], n_tracks: int, ev: EvaluationConfig, *,
                    reference: str | None = None, say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Serve every request of ``requests`` once per ranker of ``rankers`` (label -> a
    loaded ``Ranker``) through ``pipeline`` (its ``ranker`` swapped in turn and restored
    after), so only the ranker differs: same listeners, day, Query, channels and merge.
    ``reward(lists)`` -> the per-request ground-truth reward of the lists.

    Returns ``{"reference": label, "rankers": {label: list_report | model_versions,
    degraded_channels, reward_minus_reference (paired bootstrap CI), beats_reference}}``.
    A ranker that fails at serving falls back to the merged order (the Pipeline's rule):
    its ``degraded_channels`` then counts ``ranker``, and its ``model_versions`` show
    ``merged-score``."""
    from encore.serving.pipeline import Fixed

    if not rankers:
        raise ValueError("compare_rankers needs at least one ranker")
    reference = reference or ("baseline" if "baseline" in rankers else next(iter(rankers)))
    if reference not in rankers:
        raise ValueError(f"reference ranker {reference!r} is not among {sorted(rankers)}")
    say = say or (lambda msg: None)
    saved = pipeline.ranker
    rewards: dict[str, np.ndarray] = {}
    out: dict[str, Any] = {}
    try:
        for label, ranker in rankers.items():
            t0 = time.perf_counter()
            pipeline.ranker = Fixed(ranker, version=label)
            versions: dict[str, int] = {}
            degraded: dict[str, int] = {}
            recommend = pipeline_recommend(pipeline, ev.list_length, versions, degraded)
            lists: list[np.ndarray] = []
            for lo in range(0, len(requests.queries), 256):
                lists += [x[: ev.list_length] for x in recommend(requests.queries[lo:lo + 256])]
            rewards[label] = np.asarray(reward(lists), dtype=np.float64)
            out[label] = list_report(lists, requests, rewards[label], n_tracks, ev) | {
                "model": getattr(ranker, "model_name", None), "model_versions": versions,
                "degraded_channels": degraded, "seconds": round(time.perf_counter() - t0, 2)}
            say(f"ranker {label}: reward {out[label]['reward']['mean']:.3f} on {len(lists):,} lists "
                f"({out[label]['seconds']:.1f}s)")
    finally:
        pipeline.ranker = saved
    for label in rankers:
        diff = bootstrap_mean(rewards[label] - rewards[reference], ev.bootstrap_samples, ev.confidence, ev.seed)
        out[label]["reward_minus_reference"] = diff
        out[label]["beats_reference"] = bool(diff["ci_low"] > 0)
    return {"reference": reference, "rankers": out}


# -- the whole run -------------------------------------------------------------------------

ITEM_STATS_COLUMNS = {"track_plays": "cum_plays", "track_listeners": "cum_listeners",
                      "track_completion_rate": "cum_completion_rate", "track_skip_rate": "cum_skip_rate",
                      "track_heart_rate": "cum_heart_rate"}
"""The ranker's track statistics from ``item_stats`` (as ranking_samples reads them)."""


def track_stats_as_of(batch_dir: Path | str, day: date):
    """The ranker's track statistics at the start of ``day``: the cumulative columns of
    the ``item_stats`` partition of the day before (empty when it is missing)."""
    import pandas as pd

    from encore.serving.pipeline import TrackStats

    folder = Path(batch_dir) / "item_stats" / f"date={(day - timedelta(days=1)).isoformat()}"
    files = sorted(folder.glob("*.parquet"))
    if not files:
        return TrackStats(np.zeros(0, np.int64), np.zeros((0, len(TrackStats.COLUMNS))))
    frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    return TrackStats.from_frame(frame.rename(columns={v: k for k, v in ITEM_STATS_COLUMNS.items()}))


def build_pipeline(world_dir: Path | str, batch_dir: Path | str, config: EncoreConfig, registry: Any):
    """The serving Pipeline over the promoted models of ``registry`` (``Pipeline.from_config``,
    no polling, no feature store: offline requests bring their Query), with the catalog of
    the world and the track statistics as of the first held-out day."""
    import pandas as pd

    from encore.serving.pipeline import Pipeline
    from encore.serving.train_all import held_out_days

    tracks = pd.read_parquet(Path(world_dir) / "catalog" / "tracks.parquet")
    first = held_out_days(world_dir, config.evaluation.test_days)[0]
    return Pipeline.from_config(config, registry, tracks, track_stats=track_stats_as_of(batch_dir, first),
                                poll=False)


def pipeline_recommend(pipeline: Any, count: int, versions: dict[str, int] | None = None,
                       degraded: dict[str, int] | None = None) -> Recommend:
    """The Pipeline's offline path (``Pipeline.recommend``, no deadlines) for daily
    requests carrying their point-in-time Query; counts each result's ``model_version``
    and ``degraded_channels`` into ``versions`` / ``degraded``."""
    from encore.serving.pipeline import DAILY, Request

    def run(queries: Sequence[Query]) -> list[np.ndarray]:
        requests = [Request(kind=DAILY, user_id=q.user_id, count=count, request_ms=q.context.request_ms,
                            scenario=q.context.scenario or None, query=q) for q in queries]
        results = pipeline.recommend(requests)
        for r in results:
            if versions is not None:
                versions[r.model_version] = versions.get(r.model_version, 0) + 1
            if degraded is not None:
                for name in r.degraded_channels:
                    degraded[name] = degraded.get(name, 0) + 1
        return [np.asarray(r.track_ids, dtype=np.int64) for r in results]

    return run


def evaluate_pipeline(world_dir: Path | str, batch_dir: Path | str, config: EncoreConfig, pipeline: Any, *,
                      progress: Any = None, say: Callable[[str], None] | None = None,
                      rankers: Mapping[str, Any] | None = None, reference_ranker: str | None = None
                      ) -> dict[str, Any]:
    """The report of the module docstring for ``pipeline`` (a serving ``Pipeline``: its
    loaded channels are measured alone, the one named ``evaluation.baseline_channel`` is
    the baseline list, its ranker gets AUC per head, its ``recommend`` makes the final
    lists). ``progress``: an optional ``rich.progress.Progress``. ``rankers`` (label ->
    loaded ``Ranker``): also serve the same requests with each (:func:`compare_rankers`,
    the report's ``ranker_comparison``)."""
    from encore.platform.world.reward import RewardModel
    from encore.ranking.train import eval_rank, world_summary
    from encore.recall.evaluate import evaluate_channels
    from encore.serving.train_all import held_out_days

    say = say or (lambda msg: None)
    world_dir, batch_dir = Path(world_dir), Path(batch_dir)
    ev = config.evaluation
    channels, channel_versions, missing = [], {}, []
    for c in config.recall.enabled:
        try:
            loaded = pipeline.channels[c.name].current()
        except Exception as err:  # noqa: BLE001 - reported, the rest is still measured
            missing.append(c.name)
            say(f"channel {c.name}: not loaded ({err})")
            continue
        channels.append(loaded.model)
        channel_versions[c.name] = loaded.version
    by_name = {c.name: c for c in channels}
    if ev.baseline_channel not in by_name:
        raise ValueError(f"baseline channel {ev.baseline_channel!r} is not loaded (loaded: {sorted(by_name)})")
    try:
        ranker_loaded = pipeline.ranker.current() if pipeline.ranker is not None else None
    except Exception as err:  # noqa: BLE001 - nothing promoted: merged order, as served
        say(f"ranker: none loaded ({err})")
        ranker_loaded = None
    seconds: dict[str, float] = {}
    bar = progress
    task = bar.add_task("evaluation", total=len(channels) + 5) if bar else None

    def phase(name: str, started: float) -> None:
        seconds[name] = round(time.perf_counter() - started, 2)
        if bar:
            bar.update(task, advance=1, description=f"{name} done")

    t = time.perf_counter()
    days = held_out_days(world_dir, ev.test_days)
    requests = held_out_requests(world_dir, batch_dir, days, config, progress=say)
    n = len(requests.queries)
    phase("requests", t)

    t = time.perf_counter()
    recall: dict[str, Any] = {}
    for channel in channels:
        recall.update(evaluate_channels([channel], requests.queries, requests.truth, ev.recall_ks,
                                        new_truth=requests.new_truth))
        if bar:
            bar.update(task, advance=1, description=f"recall {channel.name}")
    seconds["recall"] = round(time.perf_counter() - t, 2)

    t = time.perf_counter()
    versions: dict[str, int] = {}
    degraded: dict[str, int] = {}
    recommend = pipeline_recommend(pipeline, ev.list_length, versions, degraded)
    chunk = 256
    pipeline_lists: list[np.ndarray] = []
    lists_task = bar.add_task("pipeline lists", total=n) if bar else None
    for lo in range(0, n, chunk):
        pipeline_lists += [x[: ev.list_length] for x in recommend(requests.queries[lo:lo + chunk])]
        if bar:
            bar.update(lists_task, completed=min(lo + chunk, n))
    seconds["pipeline_lists"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    baseline = by_name[ev.baseline_channel]
    baseline_lists = [c.track_ids[: ev.list_length] for c in baseline.recall(requests.queries, ev.list_length)]
    phase("baseline_lists", t)

    t = time.perf_counter()
    reward_model = RewardModel.from_world(world_dir)
    rewards = {name: ground_truth_reward(world_dir, requests, padded(lists, ev.reward_length), reward_model)
               for name, lists in (("pipeline", pipeline_lists), ("popularity", baseline_lists))}
    phase("reward", t)
    n_tracks = reward_model.cat.n_tracks
    lists_report = {
        "pipeline": list_report(pipeline_lists, requests, rewards["pipeline"], n_tracks, ev)
        | {"model_versions": versions, "degraded_channels": degraded},
        "popularity": list_report(baseline_lists, requests, rewards["popularity"], n_tracks, ev)
        | {"channel": ev.baseline_channel},
    }
    diff = bootstrap_mean(rewards["pipeline"] - rewards["popularity"], ev.bootstrap_samples, ev.confidence,
                          ev.seed)
    comparison = None
    if rankers:
        t = time.perf_counter()
        comparison = compare_rankers(
            pipeline, requests, rankers,
            lambda lists: ground_truth_reward(world_dir, requests, padded(lists, ev.reward_length), reward_model),
            n_tracks, ev, reference=reference_ranker, say=say)
        seconds["ranker_comparison"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    oracle = oracle_reference(world_dir, requests, rewards, reward_model, ev)
    phase("oracle", t)

    t = time.perf_counter()
    ranker_report: dict[str, Any] = {"loaded": False}
    if ranker_loaded is not None:
        from encore.recall.queries import QueryParams
        from encore.serving.behaviours import log_behaviours

        rank = eval_rank(ranker_loaded.model, batch_dir, world_dir, dates=days,
                         behaviours=log_behaviours(world_dir, QueryParams.from_config(config)))
        ranker_report = {
            "loaded": True, "version": ranker_loaded.version, "model": rank.get("model"),
            "dates": rank.get("dates"), "rows": rank.get("rows"), "reference": rank.get("reference"),
            "heads": {h: {"auc": r["model"]["auc"], "gauc": r["model"]["gauc"], "logloss": r["model"]["logloss"],
                          "reference_auc": r["reference"]["auc"], "reference_gauc": r["reference"]["gauc"],
                          "auc_lift": r["auc_lift"]} for h, r in rank["heads"].items()}}
    phase("ranker", t)
    say(f"evaluated {n:,} listeners on {', '.join(d.isoformat() for d in days)}")
    return {
        "held_out_days": [d.isoformat() for d in days],
        "world": {"path": str(world_dir)} | world_summary(world_dir),
        "batch": str(batch_dir),
        "data": {"listeners": n, "fit_events": requests.fit_events, "catalog_tracks": int(n_tracks),
                 "truth_tracks_per_listener": float(np.mean([len(x) for x in requests.truth])) if n else 0.0},
        "models": {"channels": channel_versions, "missing_channels": missing,
                   "ranker": ranker_loaded.version if ranker_loaded is not None else None},
        "channels": recall,
        "lists": lists_report,
        "comparison": {"reward_pipeline_minus_popularity": diff,
                       "beats_baseline": bool(diff["ci_low"] > 0), "oracle": oracle},
        "ranker": ranker_report,
        **({"ranker_comparison": comparison} if comparison is not None else {}),
        "config": ev.model_dump(mode="json"),
        "seconds": seconds,
    }
