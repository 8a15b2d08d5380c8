"""The whole offline A/B of two pipeline configurations (``encore ab``).

Both configurations answer the same held-out requests (encore.serving.evaluate's
protocol: every non-bot listener who completes a play on a held-out day, one request at
their first event of the day, at most ``ab.max_listeners``, a seeded sample). Measured
per listener for A and for B, then compared pairwise (encore.serving.ab.stats):

1. **replay** (the held-out log as truth; encore.serving.ab.metrics): recall@K of each
   channel and its share of the final lists (share of list items it found), HR@K,
   NDCG@K, MRR, long-tail share, artist diversity, repeat share, novelty, coverage@K;
   the ranker's AUC / GAUC per head when a ranker is loaded;
2. **counterfactual** (encore.serving.ab.offpolicy): each configuration's expected
   complete plays and hearts of its first ``evaluation.reward_length`` tracks estimated
   from the logging policy's ``ab.logged_scenario`` exposures of the held-out days: IPS
   and SNIPS (weights clipped at ``ab.weight_clip``), DM and DR with the reward model
   ``ab.reward_model``: the ranker (encore.serving.ab.ranker_reward, trained on the
   ``ab.ranker_days`` before), the logistic features model (encore.serving.ab.reward_model,
   on the ``ab.reward_model_days`` before) or their mean;
   the effective sample size, flagged below ``ab.min_ess``; listeners with no logged
   slate count for DM and DR only;
3. **simulated online** (encore.serving.ab.online): the world's expected complete plays
   of each list (the truth) and one sampled run with common random numbers; team-draft
   interleaving (encore.serving.ab.interleave) of A and B on the same listeners,
   credited with the world's completion probabilities (expected) and sampled outcomes.

With several held-out days a listener has one request per day; the bootstrap then
resamples requests (listener-days), which understates the interval a little when a
listener's days are alike: prefer one held-out day per comparison.

Each counterfactual estimate is checked against the simulated-online truth: whether its
lift B / A - 1 falls inside the truth's confidence interval of the lift
(``within_truth_ci``). Lifts, not differences: the world's expected complete plays are
those of a listener who browses the whole list (encore.platform.world.reward leaves
the session's planned end out, an upper bound), while the log records sessions that
end; ``logged_vs_world`` measures that ratio on the logging policy's own slates (logged
complete plays / the world's expectation for the same slates), so the levels differ by
it and the lifts do not.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from encore.platform.config import EncoreConfig
from encore.serving.ab import interleave, metrics, offpolicy, stats
from encore.serving.ab.logged import OUTCOMES, attach_inclusion, exposures_with_outcomes, logged_for
from encore.serving.ab.online import common_uniforms, completion_matrices, sampled
from encore.serving.ab.reward_model import LogisticModel, Profiles
from encore.serving.evaluate import Requests, held_out_requests, padded

Say = Callable[[str], None]


@dataclass
class Arm:
    """One side of the comparison: its configuration (where it came from) and the
    serving Pipeline built from it (or any object with ``recommend``, ``channels`` and
    ``ranker`` like it)."""

    name: str
    config: EncoreConfig
    pipeline: Any
    source: str = ""


@dataclass
class Answered:
    lists: np.ndarray  # (n, L) final lists, -1 padded
    channels: list[list[tuple[str, ...]]]  # per listener, per list item: the channels that found it
    versions: dict[str, int]
    degraded: dict[str, int]
    recall: dict[str, dict[str, np.ndarray]]  # channel -> recall@K -> (n,)
    channel_k: dict[str, int]


def answer(arm: Arm, requests: Requests, length: int, ks: Sequence[int], tick: Say | None = None,
           chunk: int = 256) -> Answered:
    """The arm's final lists for every request (Pipeline.recommend, no deadlines) and
    each of its loaded channels' recall@K per listener."""
    from encore.serving.pipeline import DAILY, Request

    queries = requests.queries
    lists: list[np.ndarray] = []
    found: list[list[tuple[str, ...]]] = []
    versions: dict[str, int] = {}
    degraded: dict[str, int] = {}
    for lo in range(0, len(queries), chunk):
        batch = [Request(kind=DAILY, user_id=q.user_id, count=length, request_ms=q.context.request_ms,
                         scenario=q.context.scenario or None, query=q) for q in queries[lo:lo + chunk]]
        for r in arm.pipeline.recommend(batch):
            lists.append(np.asarray(r.track_ids[:length], np.int64))
            found.append([item.channels for item in r.items[:length]])
            versions[r.model_version] = versions.get(r.model_version, 0) + 1
            for name in r.degraded_channels:
                degraded[name] = degraded.get(name, 0) + 1
        if tick:
            tick(f"{arm.name}: lists {min(lo + chunk, len(queries))}/{len(queries)}")
    recall: dict[str, dict[str, np.ndarray]] = {}
    channel_k: dict[str, int] = {}
    enabled = {c.name: c for c in arm.config.recall.enabled}
    for name, source in arm.pipeline.channels.items():
        if name not in daily_channels(arm.config):
            continue
        try:
            channel = source.current().model
        except Exception:  # noqa: BLE001 - not loaded: reported as degraded by the lists
            continue
        k = max(ks)
        cands = channel.recall(queries, k)
        recall[name] = {f"recall@{kk}": _recall(cands, requests.truth, kk) for kk in ks}
        channel_k[name] = enabled[name].k
        if tick:
            tick(f"{arm.name}: recall {name}")
    return Answered(padded(lists, length), found, versions, degraded, recall, channel_k)


def daily_channels(config: EncoreConfig) -> list[str]:
    """The channels a DailyRecommend request of ``config`` runs (the Pipeline's rule:
    ``pipeline.daily_channels`` among the enabled ones; empty = every enabled one)."""
    enabled = [c.name for c in config.recall.enabled]
    wanted = config.pipeline.daily_channels
    return [n for n in enabled if n in wanted] if wanted else enabled


def _recall(cands: Sequence[Any], truth: Sequence[np.ndarray], k: int) -> np.ndarray:
    return np.array([np.isin(t, c.track_ids[:k]).sum() / len(t) if len(t) else 0.0
                     for c, t in zip(cands, truth)])


def channel_shares(found: list[list[tuple[str, ...]]], names: Sequence[str]) -> dict[str, np.ndarray]:
    """channel -> (n,) share of each listener's list items that the channel found."""
    out = {}
    for name in names:
        out[name] = np.array([sum(name in chans for chans in items) / len(items) if items else 0.0
                              for items in found])
    return out


# -- the logged data and the reward model ---------------------------------------------------

def _read(world_dir: Path, days: Sequence[date]) -> pd.DataFrame:
    from encore.recall.tables import read_events

    present = [d for d in days if (world_dir / "events" / f"date={d.isoformat()}").is_dir()]
    return read_events(world_dir, present) if present else pd.DataFrame()


@dataclass
class LoggedData:
    held_out: pd.DataFrame  # exposures of the held-out days with outcomes and inclusion_prob
    profiles: dict[str, Profiles]  # outcome -> count tables of the fitting window
    models: dict[str, Any]  # outcome -> reward model (LogisticModel, RankerRewardModel or AverageModel)
    catalogue: metrics.Catalogue
    fit_rows: int


def logged_data(world_dir: Path, days: Sequence[date], config: EncoreConfig, tracks: pd.DataFrame) -> LoggedData:
    """The held-out days' logged exposures (outcomes, inclusion propensities), and per
    outcome a reward model (``ab.reward_model``) fitted on the exposures of the
    ``ab.reward_model_days`` (logistic) / ``ab.ranker_days`` (ranker) days before the first
    held-out day (never the held-out days themselves), each day's rows with features from the plays and
    outcomes before that day (point in time: an exposure's own play must not feed its
    familiarity); the model is applied with features as of the first held-out day.
    Plays include the world's ``users/past_plays.parquet`` (the history before the log)."""
    ab, ev = config.ab, config.evaluation
    first = min(days)
    window = [first - timedelta(days=i) for i in range(ev.fit_window_days, 0, -1)]
    fit_start_ms = pd.Timestamp(window[-min(ab.reward_model_days, len(window))]).value // 1_000_000
    # the ranker may read more days than the logistic model (its embeddings need rows); both end before `first`
    ranker_days = ab.reward_model_days if ab.reward_model == "features" else max(ab.ranker_days, ab.reward_model_days)
    rows_start_ms = pd.Timestamp(window[-min(ranker_days, len(window))]).value // 1_000_000
    history = _read(world_dir, window)
    if len(history) == 0:
        raise FileNotFoundError(f"no events in the {ev.fit_window_days} days before {first} under {world_dir}")
    known = history[history["user_id"].notna()]
    plays = known[known["action"] == "play_start"]
    plays = pd.DataFrame({"user_id": plays["user_id"].to_numpy(np.int64), "track_id": plays["track_id"].to_numpy(np.int64),
                          "ts_ms": plays["ts_ms"].to_numpy(np.int64), "n": 1.0})
    past_file = world_dir / "users" / "past_plays.parquet"  # the plays before the log's first day
    if past_file.is_file():
        past = pd.read_parquet(past_file)
        past = past[pd.to_datetime(past["date"]).dt.date >= window[0]]
        plays = pd.concat([plays, pd.DataFrame({
            "user_id": past["user_id"].to_numpy(np.int64), "track_id": past["track_id"].to_numpy(np.int64),
            "ts_ms": pd.to_datetime(past["date"]).to_numpy("datetime64[ms]").astype(np.int64),
            "n": past["plays"].to_numpy(np.float64)})], ignore_index=True)
    every = exposures_with_outcomes(history, tracks, None)  # the rates read every scenario's outcomes
    exposures = every[every["request_id"].isin(
        history.loc[history["scenario"] == ab.logged_scenario, "request_id"].dropna().unique())]
    fit = exposures[exposures["ts_ms"] >= rows_start_ms]
    first_ms = pd.Timestamp(first).value // 1_000_000
    seasons = season_pairs(world_dir)
    profiles, models = {}, {}
    for outcome in OUTCOMES:
        rated = every.rename(columns={outcome: "reward"})
        profiles[outcome] = Profiles.from_events(plays, rated, tracks, as_of_ms=first_ms, seasons=seasons)
        xs, ys, ids = [], [], []
        for day_ms in range(rows_start_ms, first_ms, 86_400_000):  # each fit day's rows, features as of its start
            rows = fit[(fit["ts_ms"] >= day_ms) & (fit["ts_ms"] < day_ms + 86_400_000)]
            if rows.empty:
                continue
            prof = Profiles.from_events(plays[plays["ts_ms"] < day_ms], rated[rated["ts_ms"] < day_ms], tracks,
                                        as_of_ms=day_ms, seasons=seasons)
            xs.append(prof.features(rows["user_id"].to_numpy(), rows["track_id"].to_numpy(),
                                    rows["position"].to_numpy(), rows["hour"].to_numpy()))
            ys.append(rows[outcome].to_numpy())
            ids.append(np.column_stack([rows[["user_id", "track_id", "hour"]].to_numpy(np.int64),
                                        np.full(len(rows), day_ms >= fit_start_ms)]))
        if xs:
            models[outcome] = fit_reward_model(np.vstack(xs), np.vstack(ids), np.concatenate(ys), tracks, outcome,
                                               config)
    held = attach_inclusion(world_dir, exposures_with_outcomes(_read(world_dir, days), tracks, ab.logged_scenario))
    cat = tracks.drop_duplicates("track_id").sort_values("track_id")
    counts = plays.groupby("track_id")["n"].sum()
    catalogue = metrics.Catalogue(cat["track_id"].to_numpy(np.int64), cat["artist_id"].to_numpy(np.int64),
                                  counts.reindex(cat["track_id"], fill_value=0).to_numpy(np.float64))
    return LoggedData(held, profiles, models, catalogue, int((fit["ts_ms"] >= fit_start_ms).sum()))


class AverageModel:
    """The mean of the features and ranker models' probabilities (``ab.reward_model: average``)."""

    def __init__(self, *models: Any) -> None:
        self.models = models

    def predict_rows(self, x: np.ndarray, users: np.ndarray, tracks: np.ndarray, hours: np.ndarray) -> np.ndarray:
        return np.mean([predict_rows(m, x, users, tracks, hours) for m in self.models], axis=0)


def predict_rows(model: Any, x: np.ndarray, users: np.ndarray, tracks: np.ndarray, hours: np.ndarray) -> np.ndarray:
    """q (B,) of any reward model for rows of point-in-time features ``x`` (B, F)."""
    if isinstance(model, LogisticModel):
        return model.predict(x)
    if hasattr(model, "predict_rows"):
        return model.predict_rows(x, users, tracks, hours)
    return model.predict(x, users, tracks, hours)


def fit_reward_model(x: np.ndarray, ids: np.ndarray, y: np.ndarray, tracks: pd.DataFrame, outcome: str,
                     config: EncoreConfig) -> Any:
    """The reward model ``ab.reward_model`` names, fitted on rows ``x`` (B, F) with
    ``ids`` (B, 4) = user, track, hour, in the logistic model's ``reward_model_days``
    (the ranker reads every row: ``ranker_days``), and labels ``y`` (B,)."""
    ab = config.ab
    recent = ids[:, 3] == 1
    features = LogisticModel.fit(x[recent], y[recent], l2=ab.reward_model_l2)
    if ab.reward_model == "features" or outcome != "complete_play":  # the ranker's head is complete plays
        return features
    from encore.serving.ab.ranker_reward import RankerRewardModel

    # optionally a bag of `ranker_ensemble` rankers, one per training seed: one ranker's DR lift
    # moves by about 3 points with its seed on the test world (a bag of 3 measured no steadier)
    rankers = [RankerRewardModel.fit(x, ids[:, 0], ids[:, 1], ids[:, 2], y, tracks, outcome,
                                     epochs=ab.ranker_epochs, seed=ab.seed + 1_000 * i)
               for i in range(ab.ranker_ensemble)]
    ranker = rankers[0] if len(rankers) == 1 else AverageModel(*rankers)
    return ranker if ab.reward_model == "ranker" else AverageModel(features, ranker)


def season_pairs(world_dir: Path) -> pd.DataFrame | None:
    """(artist_id, show_id) of the knowledge graph's ``appeared_in`` edges (artist:A ->
    show:S, a variety season), or None without a ``kg/triples.parquet``."""
    path = world_dir / "kg" / "triples.parquet"
    if not path.is_file():
        return None
    edges = pd.read_parquet(path)
    edges = edges[(edges["relation"] == "appeared_in") & edges["head"].str.startswith("artist:")
                  & edges["tail"].str.startswith("show:")]
    return pd.DataFrame({"artist_id": edges["head"].str.slice(7).astype(np.int64).to_numpy(),
                         "show_id": edges["tail"].str.slice(5).astype(np.int64).to_numpy()})


# -- the comparison --------------------------------------------------------------------------

def run_ab(world_dir: Path | str, batch_dir: Path | str, config: EncoreConfig, a: Arm, b: Arm,
           days: Sequence[date], *, say: Say | None = None, tick: Say | None = None) -> dict[str, Any]:
    """The report of the module docstring (a JSON-ready dict; see encore.serving.ab.report)."""
    from encore.platform.world.reward import RewardModel

    say = say or (lambda msg: None)
    if a.name == b.name:
        raise ValueError(f"A and B need different names, both are {a.name!r}")
    world_dir, batch_dir = Path(world_dir), Path(batch_dir)
    ab, ev = config.ab, config.evaluation
    seconds: dict[str, float] = {}
    t = time.perf_counter()
    cfg = config.model_copy(update={"evaluation": ev.model_copy(update={
        "max_listeners": ab.max_listeners or ev.max_listeners})})
    requests = held_out_requests(world_dir, batch_dir, list(days), cfg, progress=say)
    n = len(requests.queries)
    if n < 2:
        raise ValueError(f"only {n} held-out listeners on {[d.isoformat() for d in days]}: nothing to compare")
    users = np.array([q.user_id for q in requests.queries], np.int64)
    request_ms = np.array([q.context.request_ms for q in requests.queries], np.int64)
    seconds["requests"] = _lap(t)
    if tick:
        tick(f"{n} listeners")

    length, k_reward = ev.list_length, ev.reward_length
    t = time.perf_counter()
    answers = {arm.name: answer(arm, requests, length, ev.recall_ks, tick) for arm in (a, b)}
    seconds["lists"] = _lap(t)
    A, B = answers[a.name], answers[b.name]

    t = time.perf_counter()
    tracks = pd.read_parquet(world_dir / "catalog" / "tracks.parquet")
    logged = logged_data(world_dir, days, config, tracks)
    seconds["logged"] = _lap(t)
    if tick:
        tick("logged exposures and reward models")

    def compare(va: np.ndarray, vb: np.ndarray, direction: str = "higher", salt: int = 0) -> dict[str, Any]:
        return stats.compare_means(va, vb, ab.bootstrap_samples, ab.confidence, ab.power, ab.seed + salt, direction)

    # 1. replay
    t = time.perf_counter()
    cat = logged.catalogue
    per = {name: metrics.list_metrics(ans.lists, requests.truth, requests.played_before, ev.list_ks, cat,
                                      ab.head_share) for name, ans in answers.items()}
    replay: dict[str, Any] = {}
    for metric in per[a.name]:
        replay[metric] = compare(per[a.name][metric], per[b.name][metric], metrics.DIRECTIONS.get(metric, "higher"))
    n_tracks = len(cat.track_ids)
    for k in ev.list_ks:
        def cover(idx: np.ndarray, k: int = k) -> tuple[float, float]:
            return metrics.coverage(A.lists, k, n_tracks, idx), metrics.coverage(B.lists, k, n_tracks, idx)

        boot = stats.bootstrap_statistic(cover, n, ab.bootstrap_samples, ab.seed)
        replay[f"coverage@{k}"] = stats.summarise(
            (metrics.coverage(A.lists, k, n_tracks), metrics.coverage(B.lists, k, n_tracks)), boot, ab.confidence,
            ab.power, n=n, recentre=True)
    names = sorted(set(A.recall) | set(B.recall))
    channels: dict[str, Any] = {}
    shares = {arm: channel_shares(ans.channels, names)
              for arm, ans in answers.items()}
    for name in names:
        row: dict[str, Any] = {"in_a": name in A.recall, "in_b": name in B.recall,
                               "k_a": A.channel_k.get(name), "k_b": B.channel_k.get(name)}
        row["share"] = compare(shares[a.name][name], shares[b.name][name], "neutral")
        for kk in ev.recall_ks:
            key = f"recall@{kk}"
            row["mean_" + key] = {side: float(ans.recall[name][key].mean()) if name in ans.recall else None
                                  for side, ans in (("a", A), ("b", B))}
            if name in A.recall and name in B.recall:  # a channel only one side runs has no pair
                row[key] = compare(A.recall[name][key], B.recall[name][key])
        channels[name] = row
    seconds["replay"] = _lap(t)
    if tick:
        tick("replay metrics")

    # 3. simulated online (before 2: the counterfactual is judged against it)
    t = time.perf_counter()
    reward_model = RewardModel.from_world(world_dir)
    top = {"a": A.lists[:, :k_reward], "b": B.lists[:, :k_reward]}
    coin_rng = np.random.default_rng(ab.seed)
    mixed = [interleave.team_draft(x, y, k_reward, lambda: bool(coin_rng.random() < 0.5))
             for x, y in zip(top["a"], top["b"])]
    top["interleaved"] = np.stack([m[0] for m in mixed])
    teams = np.stack([m[1] for m in mixed])
    probs = completion_matrices(world_dir, users, request_ms, requests.day, requests.days, top, reward_model)
    uniforms = common_uniforms(n, k_reward, ab.seed)
    truth_a, truth_b = probs["a"].sum(axis=1), probs["b"].sum(axis=1)
    credit_a, credit_b = interleave.credit(teams, probs["interleaved"])
    outcome = sampled(probs["interleaved"], uniforms)
    sampled_a, sampled_b = interleave.credit(teams, outcome)
    online: dict[str, Any] = {
        "truth": compare(truth_a, truth_b, salt=1),
        "sampled": compare(sampled(probs["a"], uniforms).sum(axis=1), sampled(probs["b"], uniforms).sum(axis=1),
                           salt=2),
        "interleaving": {"expected_credit": compare(credit_a, credit_b, salt=3),
                         "sampled": interleave.preference(sampled_a, sampled_b),
                         "expected": interleave.preference(credit_a, credit_b),
                         "b_share_of_slots": float((teams == interleave.B).sum() / max((teams >= 0).sum(), 1))},
        "reward_length": k_reward, "outcome": "complete_play",
    }
    seconds["online"] = _lap(t)
    if tick:
        tick("simulated online")

    # 2. counterfactual
    t = time.perf_counter()
    counterfactual: dict[str, Any] = {}
    for oc in OUTCOMES:
        block = counterfactual_block(logged_for(users, logged.held_out, oc, request_ms // 86_400_000), top, users,
                                     (request_ms % 86_400_000) / 3_600_000, logged.models.get(oc),
                                     logged.profiles[oc], reward_model.slate_size, config, compare)
        block["reward_model"]["fit_exposures"] = logged.fit_rows
        if oc == online["outcome"]:
            truth = online["truth"]
            low, high = truth["lift_ci"] or (0.0, 0.0)
            for est in block["estimates"].values():
                est["within_truth_ci"] = bool(est["lift"] is not None and low <= est["lift"] <= high)
                est["truth_lift"] = truth["lift"]
            block["logged_vs_world"] = logged_vs_world(world_dir, logged.held_out, reward_model)
        counterfactual[oc] = block
    seconds["counterfactual"] = _lap(t)
    if tick:
        tick("counterfactual estimates")

    t = time.perf_counter()
    ranker = {arm.name: _ranker_report(arm, batch_dir, world_dir, days, config) for arm in (a, b)}
    seconds["ranker"] = _lap(t)

    curves = {arm: {"coverage": metrics.coverage_curve(ans.lists, n_tracks),
                    "long_tail": metrics.long_tail_curve(ans.lists, cat)} for arm, ans in answers.items()}
    return {
        "arms": {"a": _arm_summary(a, A), "b": _arm_summary(b, B)},
        "held_out_days": [d.isoformat() for d in days],
        "world": str(world_dir), "batch": str(batch_dir),
        "data": {"listeners": n, "catalog_tracks": n_tracks, "list_length": length, "reward_length": k_reward,
                 "truth_tracks_per_listener": float(np.mean([len(x) for x in requests.truth]))},
        "replay": replay, "channels": channels, "online": online, "counterfactual": counterfactual,
        "ranker": ranker, "curves": curves,
        "settings": {"ab": ab.model_dump(mode="json"), "evaluation": ev.model_dump(mode="json")},
        "seconds": seconds,
    }


def counterfactual_block(log: offpolicy.LoggedExposures, top: dict[str, np.ndarray], users: np.ndarray,
                         hours: np.ndarray,
                         model: Any, profiles: Profiles, slate_size: int, config: EncoreConfig,
                         compare: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """IPS, SNIPS, DM and DR of lists ``top["a"]`` and ``top["b"]`` (n, K) from ``log``,
    each compared B - A, with the weights' effective sample size and its warning."""
    ab = config.ab
    n = log.n
    block: dict[str, Any] = {"logged_exposures": int(len(log.listener)),
                             "listeners_with_slates": int((log.slates > 0).sum()),
                             "logged_slates": int(log.slates.sum()),
                             "mean_logged_reward_per_slate": float(log.reward.sum() / max(log.slates.sum(), 1))}
    w = {s: offpolicy.weights(log, top[s], ab.weight_clip) for s in ("a", "b")}
    ess = {s: offpolicy.effective_sample_size(w[s]) for s in w}
    block["ess"] = {s: ess[s] for s in ("a", "b")} | {"min_ess": ab.min_ess}
    block["matched_exposures"] = {s: int((w[s] > 0).sum()) for s in w}
    block["clipped"] = {s: int((offpolicy.weights(log, top[s]) > ab.weight_clip).sum()) for s in w}
    low = [s for s in ("a", "b") if ess[s] < ab.min_ess]
    block["warning"] = (f"effective sample size {', '.join(f'{s.upper()} {ess[s]:.0f}' for s in low)} "
                        f"< {ab.min_ess:.0f}: the IPS / SNIPS / DR corrections rest on too few exposures "
                        "to trust") if low else None
    has = log.slates > 0
    estimates: dict[str, Any] = {}
    if has.sum() >= 2:
        estimates["ips"] = compare(offpolicy.ips(log, top["a"], ab.weight_clip)[has],
                                   offpolicy.ips(log, top["b"], ab.weight_clip)[has], salt=4)
        estimates["ips"]["listeners"] = "with logged slates"
    num_den = {s: offpolicy.snips_parts(log, top[s], ab.weight_clip) for s in ("a", "b")}
    lengths = {s: offpolicy.list_lengths(top[s]) for s in ("a", "b")}

    def snips_of(side: str, rows: np.ndarray) -> float:
        num, den = num_den[side]
        d = den[rows].sum()
        return float(num[rows].sum() / d * lengths[side][rows].mean()) if d > 0 else 0.0

    everyone = np.arange(n)
    boot = stats.bootstrap_statistic(lambda idx: (snips_of("a", idx), snips_of("b", idx)), n,
                                     ab.bootstrap_samples, ab.seed + 5)
    estimates["snips"] = stats.summarise((snips_of("a", everyone), snips_of("b", everyone)), boot,
                                         ab.confidence, ab.power, n=n)
    block["reward_model"] = {}
    if model is not None:
        q = {}
        for s in ("a", "b"):
            lst = top[s]
            pos = np.tile(np.arange(lst.shape[1]) % slate_size, len(lst))
            flat_u, flat_t, flat_h = np.repeat(users, lst.shape[1]), np.maximum(lst, 0).ravel(), np.repeat(hours, lst.shape[1])
            x = profiles.features(flat_u, flat_t, pos, flat_h)
            q[s] = predict_rows(model, x, flat_u, flat_t, flat_h).reshape(lst.shape)
        logged_hours = log.hour if log.hour is not None else hours[log.listener]
        q_logged = (predict_rows(model, profiles.features(users[log.listener], log.track, log.position, logged_hours),
                                 users[log.listener], log.track, logged_hours)
                    if len(log.listener) else np.zeros(0))
        estimates["dm"] = compare(offpolicy.direct(q["a"], top["a"]), offpolicy.direct(q["b"], top["b"]), salt=6)
        estimates["dr"] = compare(offpolicy.doubly_robust(log, top["a"], q["a"], q_logged, ab.weight_clip),
                                  offpolicy.doubly_robust(log, top["b"], q["b"], q_logged, ab.weight_clip), salt=7)
        block["reward_model"] = {
            "kind": ab.reward_model,
            "mean_prediction_logged": float(q_logged.mean()) if len(q_logged) else None,
            "mean_outcome_logged": float(log.reward.mean()) if len(log.reward) else None}
    block["estimates"] = estimates
    return block


def logged_vs_world(world_dir: Path, held_out: pd.DataFrame, reward_model: Any) -> dict[str, Any]:
    """Logged complete plays of the held-out logged slates against the world's expected
    complete plays of the same slates (same listener, hour, positions): the share of
    the browse-everything reward that ends up in the log."""
    from encore.platform.world.reward import window_play_counts

    if held_out.empty:
        return {"slates": 0}
    frame = held_out.sort_values(["request_id", "position"])
    slates = frame.groupby("request_id", sort=False)
    width = reward_model.slate_size
    lists = np.full((slates.ngroups, width), -1, np.int64)
    codes = slates.ngroup().to_numpy()
    pos = np.minimum(frame["position"].to_numpy(np.int64), width - 1)
    lists[codes, pos] = frame["track_id"].to_numpy(np.int64)
    first = slates.first()
    users = first["user_id"].to_numpy(np.int64)
    hours = first["hour"].to_numpy(np.float64)
    days = pd.to_datetime(first["ts_ms"].to_numpy(np.int64), unit="ms").date
    expected = 0.0
    for day in sorted(set(days)):
        at = np.flatnonzero(days == day)
        counts = window_play_counts(world_dir, users[at], day, lists[at], reward_model.cfg.history_window_days)
        expected += float(reward_model.expected_completions(users[at], hours[at], reward_model.day_index(day),
                                                            lists[at], counts).sum())
    logged = float(frame["complete_play"].sum())
    return {"slates": int(slates.ngroups), "logged_complete_plays": logged, "world_expected": expected,
            "ratio": logged / expected if expected else None}


def _arm_summary(arm: Arm, ans: Answered) -> dict[str, Any]:
    cfg = arm.config
    return {"name": arm.name, "config": arm.source,
            "channels": {c.name: {"k": c.k, "quota": c.quota} for c in cfg.recall.enabled
                         if c.name in daily_channels(cfg)},
            "pipeline": {key: getattr(cfg.pipeline, key) for key in
                         ("daily_channels", "rrf_k", "rank_limit", "head_weights", "max_per_artist", "repeat_share")},
            "ranker": cfg.pipeline.ranker_registry_name, "model_versions": ans.versions,
            "degraded_channels": ans.degraded}


def _ranker_report(arm: Arm, batch_dir: Path, world_dir: Path, days: Sequence[date], config: EncoreConfig
                   ) -> dict[str, Any]:
    """AUC / GAUC per head of the arm's loaded ranker on the held-out ranking_samples
    (encore.ranking.train.eval_rank), or why there is none."""
    if getattr(arm.pipeline, "ranker", None) is None:
        return {"loaded": False}
    try:
        loaded = arm.pipeline.ranker.current()
    except Exception as err:  # noqa: BLE001 - nothing promoted: merged-score order
        return {"loaded": False, "reason": str(err)}
    try:
        from encore.ranking.train import eval_rank
        from encore.recall.queries import QueryParams
        from encore.serving.behaviours import log_behaviours

        rank = eval_rank(loaded.model, batch_dir, world_dir, dates=list(days),
                         behaviours=log_behaviours(world_dir, QueryParams.from_config(config)))
    except Exception as err:  # noqa: BLE001 - no held-out ranking_samples: reported
        return {"loaded": True, "version": loaded.version, "reason": f"not evaluated: {err}"}
    return {"loaded": True, "version": loaded.version,
            "heads": {h: {"auc": r["model"]["auc"], "gauc": r["model"]["gauc"]} for h, r in rank["heads"].items()}}


def _lap(t: float) -> float:
    return round(time.perf_counter() - t, 2)
