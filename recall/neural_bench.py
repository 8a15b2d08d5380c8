"""``encore bench recall-neural``: the neural recall channels against popularity and
item-CF on a world's held-out day, and the ablations that carry their design claims,
each judged by the world's ground truth, in one run -> docs/benchmarks/recall_neural.json.

Every model is fitted on the ``window_days`` days before the held-out day (the neural
ones on the complete plays of ``recall_samples`` when ``--batch`` holds it, else on the
log by the same rule) and measured on it:

* **recall@50/200/500** of the tracks each listener completes that day (the
  :mod:`encore.recall.evaluate` protocol: one Query at the listener's first event), and
  of the new ones (not played in the window).
* **self-attention vs average pooling** (YouTube-DNN): the same table, two models.
* **MIND dynamic K vs fixed K vs one vector**: coverage of the listener's true
  interests of that day (``truth/interests``): the share of a listener's interests with
  at least one of the top-K candidates by one of the interest's artists (and, looser,
  of its genre), weighted by the interests' weights.
* **SDM two spaces vs gated fusion**: a next-in-session protocol, because a day-start
  Query has no session: for sampled held-out sessions with at least 4 plays, a Query
  at the start of the 3rd play; targets = the session's later complete plays, split by
  the world's truth: tracks of the session's active interest genre (``truth/sessions``)
  are "session interest"; of the others, tracks by one of the listener's favourite
  artists or of a genre they weigh >= ``LONG_TERM_GENRE_WEIGHT`` (``truth/user_taste``)
  are "long-term taste"; the rest (popularity, chance) "other". Recall@K on each. The
  gated model's learned gate values are reported from its training.
* **sample cap on vs off** (YouTube-DNN, bots in the world): recall for regular
  listeners and the bots' share of training samples, with and without the cap.
* **profile-only queries**: the held-out Queries with every sequence removed (what a
  new listener sends: profile and context only): YouTube-DNN vs popularity vs the
  profile channel; and the listeners who signed up in the last week, as they are.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import pandas as pd
import typer

from encore.platform.config import ChannelConfig, default_config
from encore.recall.query import Query, Session

log = logging.getLogger(__name__)

KS = (50, 200, 500)
LONG_TERM_GENRE_WEIGHT = 0.5


def _neural_variants(samples: int, epochs: int) -> dict[str, tuple[str, dict[str, Any]]]:
    common = {"max_train_samples": samples, "epochs": epochs}
    return {
        "youtube_dnn": ("youtube_dnn", dict(common)),
        "youtube_dnn_mean_pooling": ("youtube_dnn", {**common, "pooling": "mean"}),
        "youtube_dnn_no_sample_cap": ("youtube_dnn", {**common, "sample_cap": False}),
        "mind": ("mind", dict(common)),
        "mind_fixed_k": ("mind", {**common, "interests": "fixed"}),
        "mind_single_vector": ("mind", {**common, "interests": "single"}),
        "sdm": ("sdm", dict(common)),
        "sdm_gated": ("sdm", {**common, "fusion": "gated"}),
    }


def _interest_coverage(found, users: np.ndarray, interests: pd.DataFrame, tracks: pd.DataFrame,
                       k: int) -> dict[str, float]:
    """Weighted share of each listener's true interests that the top-k touch, by
    artist and by genre, averaged over listeners with interests."""
    artist_of = dict(zip(tracks["track_id"].tolist(), tracks["artist_id"].tolist()))
    genre_of = dict(zip(tracks["track_id"].tolist(), tracks["genre"].tolist()))
    by_user = {u: g for u, g in interests.groupby("user_id")}
    artist_cov, genre_cov = [], []
    for user, cands in zip(users.tolist(), found):
        rows = by_user.get(user)
        if rows is None or rows.empty:
            continue
        top = cands.track_ids[:k].tolist()
        artists = {artist_of.get(t) for t in top}
        genres = {genre_of.get(t) for t in top}
        w = rows["weight"].to_numpy(np.float64)
        hit_a = np.array([bool(artists.intersection(a)) for a in rows["artist_ids"]], np.float64)
        hit_g = np.array([g in genres for g in rows["genre"]], np.float64)
        artist_cov.append(float((w * hit_a).sum() / w.sum()))
        genre_cov.append(float((w * hit_g).sum() / w.sum()))
    return {f"artist_coverage@{k}": float(np.mean(artist_cov)) if artist_cov else 0.0,
            f"genre_coverage@{k}": float(np.mean(genre_cov)) if genre_cov else 0.0,
            "listeners": len(artist_cov)}


def _session_protocol(world, holdout, test_day: date, params, max_sessions: int, seed: int, bots: set[int]
                      ) -> tuple[list[Query], dict[str, list[np.ndarray]]]:
    """Queries at the 3rd play of sampled held-out sessions and their targets by kind:
    "session_interest", "long_term_taste", "other" (see the module docstring)."""
    from encore.platform.contracts.labels import is_complete_play
    from encore.recall.queries import queries_from_log
    from encore.recall.tables import read_events

    tracks = holdout.tables.tracks
    day = read_events(Path(world.path), [test_day])
    day = day[day["user_id"].notna() & ~day["user_id"].isin(bots)]
    interest = dict(world.truth("sessions", ["session_id", "interest_genre"]).itertuples(index=False))
    taste = world.truth("user_taste", ["user_id", "genre_weights", "artist_weights"])
    liked_genres = {u: {g for g, w in (gw or []) if w >= LONG_TERM_GENRE_WEIGHT}
                    for u, gw in zip(taste["user_id"], taste["genre_weights"])}
    liked_artists = {u: {a for a, w in (aw or []) if w > 0} for u, aw in zip(taste["user_id"], taste["artist_weights"])}
    genre_of = dict(zip(tracks["track_id"].tolist(), tracks["genre"].tolist()))
    artist_of = dict(zip(tracks["track_id"].tolist(), tracks["artist_id"].tolist()))
    plays = day[day["action"] == "play_start"].sort_values(["ts_ms", "event_id"])
    ends = day[day["action"] == "play_end"].merge(tracks[["track_id", "duration_ms"]], on="track_id")
    ends = ends[is_complete_play(ends["played_ms"].astype("float64"), ends["duration_ms"]).fillna(False)]
    counts = plays.groupby("session_id").size()
    eligible = counts[counts >= 4].index.to_numpy()
    if len(eligible) > max_sessions:
        eligible = np.random.default_rng(seed).choice(eligible, size=max_sessions, replace=False)
    chosen = set(eligible.tolist()) & set(interest)
    ends_by_session = {s: g for s, g in ends[ends["session_id"].isin(chosen)].groupby("session_id")}
    at_rows = []
    targets: dict[str, list[np.ndarray]] = {"session_interest": [], "long_term_taste": [], "other": []}
    for sid, g in plays[plays["session_id"].isin(chosen)].groupby("session_id"):
        third = g.iloc[2]
        later = ends_by_session.get(sid)
        if later is None:
            continue
        done = np.unique(later.loc[later["ts_ms"] >= third["ts_ms"], "track_id"].to_numpy(np.int64))
        if not len(done):
            continue
        user = int(third["user_id"])
        kind = {t: "session_interest" if genre_of.get(t) == interest[sid]
                else "long_term_taste" if (genre_of.get(t) in liked_genres.get(user, ())
                                           or artist_of.get(t) in liked_artists.get(user, ()))
                else "other" for t in done.tolist()}
        at_rows.append((user, int(third["ts_ms"]), third["scenario"]))
        for name, kept in targets.items():
            kept.append(np.array([t for t in done.tolist() if kind[t] == name], np.int64))
    at = pd.DataFrame(at_rows, columns=["user_id", "request_ms", "scenario"])
    at["user_id"] = at["user_id"].astype("Int64")
    events = pd.concat([holdout.tables.events, day], ignore_index=True)
    queries = queries_from_log(events, at, tracks=tracks, users=holdout.tables.users, params=params)
    return queries, targets


def _profile_only(q: Query) -> Query:
    return replace(q, play_track_ids=(), play_ts_ms=(), heart_track_ids=(), heart_ts_ms=(), skip_track_ids=(),
                   skip_ts_ms=(), skip_at_ms=(), dislike_track_ids=(), session=Session())


def _recall_table(channels, queries, truth, ks=KS) -> dict[str, dict[str, float]]:
    from encore.recall.evaluate import evaluate_channels

    rows = evaluate_channels(channels, queries, truth, ks)
    return {name: {k: v for k, v in row.items() if k.startswith("recall@") or k == "queries"}
            for name, row in rows.items()}


def run(world_dir: Path, batch_dir: Optional[Path], out: Path, *, test_day: Optional[date] = None,
        window_days: int = 14, max_queries: int = 1500, max_sessions: int = 1500, samples: int = 100_000,
        epochs: int = 4, only: Optional[list[str]] = None, say: Callable[[str], None] = print) -> dict[str, Any]:
    """The whole benchmark (module docstring); writes and returns the report."""
    import scann  # noqa: F401  (ScaNN's ops load before any SavedModel)
    import tensorflow as tf
    import tensorflow_recommenders as tfrs

    from encore.platform.bench.machine import machine_info, write_report
    from encore.platform.world import load_world
    from encore.recall.evaluate import bot_ids, evaluate_channels, holdout_day, last_day
    from encore.recall.queries import QueryParams
    from encore.recall.registry import build_channel
    from encore.recall.tables import item_graph_frame

    config = default_config()
    params = QueryParams.from_config(config)
    world = load_world(world_dir)
    day = test_day or last_day(world_dir)
    load_before = os.getloadavg()
    started = time.perf_counter()
    holdout = holdout_day(world_dir, batch_dir, day, params=params, sampling=config.sampling,
                          window_days=window_days, max_queries=max_queries, seed=0)
    bots = set(bot_ids(world_dir).tolist())
    tables = holdout.tables
    if tables.item_graph is None:
        say("no item_graph partition in --batch: building it in pandas by the job's rule")
        tables = replace(tables, item_graph=item_graph_frame(tables.events))
    say(f"held-out day {day}: {len(holdout.queries)} listeners; fitted window: {len(tables.events):,} events "
        f"({time.perf_counter() - started:.0f}s)")

    channels: dict[str, Any] = {}
    fits: dict[str, Any] = {}
    baselines = {"popularity": ChannelConfig(name="popularity", kind="popularity", k=500, quota=100),
                 "item_cf": ChannelConfig(name="item_cf", kind="item_cf", k=500, quota=100),
                 "profile": ChannelConfig(name="profile", kind="profile", k=500, quota=100)}
    variants = {name: ChannelConfig(name=name, kind=kind, k=500, quota=100, params=p)
                for name, (kind, p) in _neural_variants(samples, epochs).items()
                if only is None or name in only}
    todo = {**baselines, **variants}
    for i, (name, channel_config) in enumerate(todo.items(), 1):
        t0 = time.perf_counter()
        source = tables
        if channel_config.kind in ("youtube_dnn", "mind", "sdm") and not channel_config.settings.sample_cap:
            source = replace(tables, recall_samples=None)  # the cap-off samples come from the log
        channels[name] = build_channel(channel_config).fit(source)
        fit_s = time.perf_counter() - t0
        fits[name] = {"fit_seconds": round(fit_s, 1), **({"training": channels[name].training}
                                                         if getattr(channels[name], "training", None) else {})}
        say(f"[{i}/{len(todo)}] fitted {name} in {fit_s:.0f}s")

    ordered = list(channels.values())
    main = evaluate_channels(ordered, holdout.queries, holdout.truth, KS, new_truth=holdout.new_truth)
    say("recall on the held-out day:")
    for name, row in main.items():
        say(f"  {name:28s} " + "  ".join(f"@{k} {row[f'recall@{k}']:.3f}" for k in KS))

    report: dict[str, Any] = {"recall": main, "ablations": {}}
    ab = report["ablations"]
    users = np.array([q.user_id for q in holdout.queries], np.int64)

    def pick(*names: str) -> list[Any]:
        return [channels[n] for n in names if n in channels]

    if "youtube_dnn" in channels and "youtube_dnn_mean_pooling" in channels:
        ab["pooling"] = {n: main[n] for n in ("youtube_dnn", "youtube_dnn_mean_pooling")}

    mind = pick("mind", "mind_fixed_k", "mind_single_vector", "youtube_dnn")
    if mind:
        interests = world.truth("interests")
        interests = interests[pd.to_datetime(interests["date"]).dt.date == day]
        cov: dict[str, Any] = {}
        for channel in mind:
            found = channel.recall(holdout.queries, 200)
            cov[channel.name] = {**_interest_coverage(found, users, interests, tables.tracks, 50),
                                 **_interest_coverage(found, users, interests, tables.tracks, 200)}
            if "report" in channel.training:
                cov[channel.name]["interests"] = channel.training["report"]
        ab["mind_interest_coverage"] = cov

    sdm = pick("sdm", "sdm_gated", "youtube_dnn", "item_cf", "popularity")
    if any(c.kind == "sdm" for c in sdm):
        queries, targets = _session_protocol(world, holdout, day, params, max_sessions, seed=1, bots=bots)
        ab["sdm_session_protocol"] = {
            "sessions": len(queries),
            **{f"{name}_targets": _recall_table(sdm, queries, truth, (50, 200)) for name, truth in targets.items()},
            "gate": channels["sdm_gated"].training.get("report") if "sdm_gated" in channels else None,
        }

    if "youtube_dnn_no_sample_cap" in channels:
        shares = {key[2]: float(np.isin(cached.user_ids, list(bots)).mean())
                  for key, cached in tables.derived.items() if key[0] == "training_samples"}
        ab["sample_cap"] = {n: {**main[n], "training_samples": fits[n]["training"]["samples"],
                                "bot_share_of_samples": shares.get(channels[n].settings.sample_cap)}
                            for n in ("youtube_dnn", "youtube_dnn_no_sample_cap") if n in main}
        ab["sample_cap"]["bot_share_of_users"] = len(bots) / max(len(tables.users), 1) \
            if tables.users is not None else None

    cold = [_profile_only(q) for q in holdout.queries]
    ab["profile_only_queries"] = _recall_table(pick("youtube_dnn", "mind", "sdm", "profile", "popularity"),
                                               cold, holdout.truth)
    if tables.users is not None:
        signup = pd.to_datetime(tables.users.set_index("user_id")["signup_date"]).dt.date
        recent = {u for u, d in signup.items() if d >= day - timedelta(days=7)}
        new = [i for i, u in enumerate(users.tolist()) if u in recent]
        if new:
            ab["new_listeners"] = _recall_table(pick("youtube_dnn", "mind", "sdm", "profile", "popularity"),
                                                [holdout.queries[i] for i in new], [holdout.truth[i] for i in new])

    report.update({
        "benchmark": "recall_neural", "world": str(world_dir), "batch": str(batch_dir) if batch_dir else None,
        "test_day": day.isoformat(), "window_days": window_days,
        "data": {"listeners_evaluated": len(holdout.queries), "fit_events": int(len(tables.events)),
                 "tracks": int(len(tables.tracks)), "users": int(len(tables.users)) if tables.users is not None else None,
                 "recall_samples_from": "batch recall_samples" if tables.recall_samples is not None else "event log"},
        "fits": fits, "channels": {n: c.config.model_dump(mode="json") for n, c in channels.items()},
        "seconds": round(time.perf_counter() - started, 1),
        "machine": machine_info(), "load_average_1_5_15": {"before": load_before, "after": os.getloadavg()},
        "versions": {"tensorflow": tf.__version__, "tensorflow_recommenders": tfrs.__version__,
                     "scann": _version("scann"), "numpy": np.__version__},
    })
    write_report(report, out, claims, say)
    say(f"wrote {out}")
    return report


def claims(report: dict[str, Any]) -> dict[str, Any]:
    """The design's claims, each checked on this run's numbers (True: it holds here)."""
    main, ab = report["recall"], report["ablations"]
    out: dict[str, Any] = {}

    def at(name: str, metric: str) -> float:
        return float(main[name][metric])

    if "item_cf" in main:
        out["each_neural_channel_beats_item_cf_at_recall_200"] = {
            n: at(n, "recall@200") > at("item_cf", "recall@200") for n in ("youtube_dnn", "mind", "sdm") if n in main}
    if "pooling" in ab:
        out["self_attention_beats_mean_pooling_at_recall_200"] = (
            at("youtube_dnn", "recall@200") > at("youtube_dnn_mean_pooling", "recall@200"))
    cov = ab.get("mind_interest_coverage", {})
    if {"mind", "mind_single_vector", "mind_fixed_k"} <= set(cov):
        for k in (50, 200):
            key = f"artist_coverage@{k}"
            out[f"mind_dynamic_k_covers_more_interests_than_one_vector_{key}"] = (
                cov["mind"][key] > cov["mind_single_vector"][key])
            out[f"mind_dynamic_k_covers_more_interests_than_fixed_k_{key}"] = (
                cov["mind"][key] > cov["mind_fixed_k"][key])
    sdm = ab.get("sdm_session_protocol", {})
    for target in ("session_interest", "long_term_taste"):
        table = sdm.get(f"{target}_targets", {})
        if {"sdm", "sdm_gated"} <= set(table):
            out[f"sdm_two_spaces_beat_gated_fusion_on_{target}_recall_200"] = (
                table["sdm"]["recall@200"] > table["sdm_gated"]["recall@200"])
    gate = (sdm.get("gate") or {}).get("long_term_gate")
    if gate:
        out["gated_fusion_starves_the_long_term_part (mean long-term gate < 0.1)"] = gate["mean"] < 0.1
    cap = ab.get("sample_cap", {})
    if {"youtube_dnn", "youtube_dnn_no_sample_cap"} <= set(cap):
        out["sample_cap_helps_regular_listeners_at_recall_500"] = (
            cap["youtube_dnn"]["recall@500"] > cap["youtube_dnn_no_sample_cap"]["recall@500"])
    cold = ab.get("profile_only_queries", {})
    if {"youtube_dnn", "popularity"} <= set(cold):
        out["profile_only_youtube_dnn_beats_popularity_at_recall_200"] = (
            cold["youtube_dnn"]["recall@200"] > cold["popularity"]["recall@200"])
    return out


def _version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


def bench_recall_neural_command(
    world: Path = typer.Option(..., "--world", exists=True, file_okay=False, help="World folder."),
    batch: Optional[Path] = typer.Option(None, "--batch", help="Batch output root (item_graph, recall_samples)."),
    test_day: Optional[str] = typer.Option(None, "--test-day", help="Held-out YYYY-MM-DD (default: the last day)."),
    window_days: int = typer.Option(14, help="Days before the test day to fit on."),
    max_queries: int = typer.Option(1500, help="Listeners evaluated (a seeded sample)."),
    max_sessions: int = typer.Option(1500, help="Held-out sessions of the SDM protocol."),
    samples: int = typer.Option(100_000, help="max_train_samples of every neural model."),
    epochs: int = typer.Option(4, help="Training epochs of every neural model."),
    only: Optional[list[str]] = typer.Option(None, "--only", help="Neural variants to run (repeatable)."),
    out: Path = typer.Option(Path("docs/benchmarks/recall_neural.json"), "--out", help="Result JSON."),
) -> None:
    """Neural recall channels vs popularity and item-CF on a held-out day, with the
    ablations judged by the world's ground truth, in one run."""
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(message)s", datefmt="%H:%M:%S")

    def say(msg: str) -> None:
        typer.echo(f"[{time.strftime('%H:%M:%S')}] {msg}", err=True)

    run(world, batch, out, test_day=date.fromisoformat(test_day) if test_day else None, window_days=window_days,
        max_queries=max_queries, max_sessions=max_sessions, samples=samples, epochs=epochs, only=only, say=say)
