"""``encore bench serve``: the Recommender under closed-loop load, against the same
requests through the Pipeline in-process, serially (the reference), in one run.

Models, two ways:

* ``--world DIR --registry DIR`` (trained models): the world as it is (no generation)
  and the promoted ``recall.<channel>`` and ``ranker`` of the registry, loaded exactly as
  ``encore serve`` loads them (:func:`encore.serving.app.build_pipeline`). The registry
  is copied to a temporary folder first (the original is never touched).
* otherwise (self-contained, the demo / CI): a simulated world (``--users`` x ``--days``)
  is generated, the baseline channels are fitted on every day but the last and published
  to a temporary registry (the demo's models,
  :func:`encore.serving.demo.fit_and_publish_channels`); no ranker is trained, so ranking
  is the merged-score order.

Candidate sizes: by default the channels' ``k`` and ``quota`` are set to
``BENCH_CHANNELS`` (~1,000 candidates recalled per DailyRecommend, ~520 merged) and
``pipeline.rank_limit`` to ``RANK_LIMIT`` (500 ranked); ``--config-sizes`` keeps the
configuration's own. The JSON records both, and the measured recalled / merged /
ranked means.

Listener features: the ``user_realtime`` / ``user_profile`` rows of each benchmark
listener at the serving time (the end of the last day), computed point in time from the
log (:func:`encore.recall.queries.queries_from_log`) and held in memory behind the
``FeatureClient`` interface, so the real ``queries_from_online`` path runs but no Feast
read is timed.

Load: the server runs in this process on 127.0.0.1 (``serving.max_workers`` threads);
clients run in separate processes (``min(concurrency, 4)`` processes, the concurrency
split over their threads), each thread closed-loop (next call when the previous
answers) for ``--seconds``. Measured per rpc (DailyRecommend count 30 for listeners of
the last day; NextTrack from the first 5 plays of the last day's sessions) and
concurrency 1, 4, 16, 64: QPS, latency p50/p95/p99 (client side), failed calls, and
the mean time per pipeline stage and per recall channel (from the server's Prometheus
histograms).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import shutil
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pandas as pd
import typer

STAGES = ("features", "recall", "merge", "rank", "rerank")
TARGET_P99_MS = 30.0
TARGET_QPS = 100.0
RANK_LIMIT = 500
BENCH_CHANNELS: dict[str, tuple[int, int]] = {
    "popular": (100, 100), "trending": (100, 100), "popular_at_hour": (100, 100),
    "item_cf": (300, 300), "session_knn": (200, 200), "profile": (200, 200),
}
"""channel -> (k, quota) for the benchmark: ~1,000 recalled, ~520 merged, 500 ranked."""


class MemoryFeatures:
    """``FeatureClient.user_features`` from rows computed up front (user -> row)."""

    def __init__(self, rows: dict[int, dict[str, Any]]) -> None:
        self.rows = rows

    def user_features(self, user_ids):
        return {int(u): self.rows.get(int(u), {}) for u in user_ids}


def online_row(query) -> dict[str, Any]:
    """The online ``user_profile`` + ``user_realtime`` row that yields ``query`` again
    through ``queries_from_online`` (the stream's own row format)."""
    from encore.platform.stream.state import UserState

    s = query.session
    state = UserState(
        user_id=int(query.user_id), session_id=s.session_id, session_start_ms=s.start_ms,
        session_last_ms=max([s.start_ms, *query.play_ts_ms[-1:]]), session_scenario=s.scenario,
        session_track_ids=list(s.track_ids), recent_play_track_ids=list(query.play_track_ids),
        recent_play_ts_ms=list(query.play_ts_ms), recent_heart_track_ids=list(query.heart_track_ids),
        recent_heart_ts_ms=list(query.heart_ts_ms), recent_skip_track_ids=list(query.skip_track_ids),
        recent_skip_ts_ms=list(query.skip_ts_ms), recent_skip_at_ms=list(query.skip_at_ms),
        recent_dislike_track_ids=list(query.dislike_track_ids),
        recent_complete_track_ids=list(query.complete_track_ids), recent_complete_ts_ms=list(query.complete_ts_ms))
    p = query.profile
    row = state.feature_row()
    row.update({"age_bucket": p.age_bucket, "region": p.region,
                "home_language": p.languages[0] if p.languages else None, "top_genres": list(p.genres),
                "top_artist_ids": list(p.artist_ids), "plays_30d": p.plays_30d, "skip_rate_30d": p.skip_rate_30d,
                "active_days_30d": p.active_days_30d})
    return row


def _percentiles(ms: list[float]) -> dict[str, float]:
    if not ms:
        return {"p50_ms": float("nan"), "p95_ms": float("nan"), "p99_ms": float("nan")}
    a = np.asarray(ms)
    return {f"p{q}_ms": round(float(np.percentile(a, q)), 2) for q in (50, 95, 99)}


# ----------------------------------------------------------------------------- client processes
def _client_process(target: str, rpc: str, payloads: list[dict], threads: int, seconds: float,
                    offset: int, out: Any) -> None:
    from encore.serving.client import RecommenderClient

    latencies: list[list[float]] = [[] for _ in range(threads)]
    failures = [0] * threads
    try:
        _closed_loop(RecommenderClient, target, rpc, payloads, threads, seconds, offset, latencies, failures)
    finally:  # always answer, so the parent never waits for a dead client
        out.put(([x for part in latencies for x in part], sum(failures)))


def _closed_loop(client_cls, target, rpc, payloads, threads, seconds, offset, latencies, failures) -> None:
    with client_cls(target, timeout_s=10) as client:
        client.wait_ready()
        call = client.daily_recommend if rpc == "DailyRecommend" else client.next_track
        for p in payloads[:3]:
            call(**p)  # warm the connection
        barrier = threading.Barrier(threads)

        def loop(t: int) -> None:
            barrier.wait()
            end = time.perf_counter() + seconds
            i = offset + t * 7919
            while time.perf_counter() < end:
                p = payloads[i % len(payloads)]
                i += 1
                t0 = time.perf_counter()
                try:
                    call(**p)
                    latencies[t].append((time.perf_counter() - t0) * 1000)
                except Exception:  # noqa: BLE001 - counted as failed
                    failures[t] += 1

        workers = [threading.Thread(target=loop, args=(t,)) for t in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()


def _load(target: str, rpc: str, payloads: list[dict], concurrency: int, seconds: float) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    processes = min(concurrency, 4)
    per = [concurrency // processes + (1 if i < concurrency % processes else 0) for i in range(processes)]
    queue = ctx.Queue()
    procs = [ctx.Process(target=_client_process, args=(target, rpc, payloads, n, seconds, i * 104729, queue))
             for i, n in enumerate(per)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=seconds + 120) for _ in procs]
    for p in procs:
        p.join(30)
    latencies = [x for lat, _ in results for x in lat]
    failed = sum(f for _, f in results)
    return {"concurrency": concurrency, "client_processes": processes, "calls": len(latencies), "failed": failed,
            "qps": round(len(latencies) / seconds, 1), **_percentiles(latencies)}


def _stage_sums(channels=()) -> dict[str, tuple[float, float]]:
    """(seconds, count) so far per stage and per ``recall.<channel>``."""
    from prometheus_client import REGISTRY

    out = {}
    for metric, label, names, prefix in (("encore_recommender_stage_seconds", "stage", STAGES, ""),
                                         ("encore_recommender_channel_seconds", "channel", channels, "recall.")):
        for name in names:
            total = REGISTRY.get_sample_value(f"{metric}_sum", {label: name}) or 0.0
            count = REGISTRY.get_sample_value(f"{metric}_count", {label: name}) or 0.0
            out[prefix + name] = (total, count)
    return out


def _degraded(names) -> dict[str, float]:
    """Requests answered without each channel (or the feature store) so far."""
    from prometheus_client import REGISTRY

    return {n: REGISTRY.get_sample_value("encore_recommender_degraded_total", {"channel": n}) or 0.0 for n in names}


def _stage_means(before, after) -> dict[str, float]:
    return {s: round((after[s][0] - before[s][0]) / max(after[s][1] - before[s][1], 1) * 1000, 3) for s in after}


def bench_config(base, registry_root: Path, *, issue_sizes: bool = True):
    """The benchmark's configuration: ``registry.root`` set, and with ``issue_sizes``
    every channel's (k, quota) from ``BENCH_CHANNELS`` and ``pipeline.rank_limit``
    ``RANK_LIMIT``."""
    update: dict[str, Any] = {"registry": base.registry.model_copy(update={"root": registry_root})}
    if issue_sizes:
        channels = [c.model_copy(update=dict(zip(("k", "quota"), BENCH_CHANNELS[c.name])))
                    if c.name in BENCH_CHANNELS else c for c in base.recall.channels]
        update["recall"] = base.recall.model_copy(update={"channels": channels})
        update["pipeline"] = base.pipeline.model_copy(update={"rank_limit": RANK_LIMIT})
    return base.model_copy(update=update)


# ----------------------------------------------------------------------------- the run
def run(out_json: Path, *, users: int = 2000, days: int = 14, seconds: float = 10.0,
        concurrencies: tuple[int, ...] = (1, 4, 16, 64), reference_requests: int = 300,
        world: Path | None = None, registry: Path | None = None, issue_sizes: bool = True,
        progress=print) -> dict[str, Any]:
    """Run the benchmark (see the module docstring) and write ``out_json``. ``world`` and
    ``registry`` together: trained models (the registry is copied first); neither: the
    self-contained mode (generate ``users`` x ``days``, fit the channels)."""
    from encore.platform.bench.machine import machine_info
    from encore.platform.config import default_config
    from encore.platform.registry import Registry
    from encore.platform.world import generate_world
    from encore.platform.world.cli import world_config
    from encore.recall.evaluate import last_day
    from encore.recall.queries import QueryParams, queries_from_log
    from encore.recall.tables import read_events
    from encore.serving.app import build_pipeline
    from encore.serving.demo import fit_and_publish_channels
    from encore.serving.grpc_server import start_server
    from encore.serving.pipeline import DAILY, NEXT_TRACK, Request
    from encore.serving.recommender_service import recommender_service

    if (world is None) != (registry is None):
        raise ValueError("give both --world and --registry (trained models) or neither (self-contained)")
    with tempfile.TemporaryDirectory(prefix="encore-bench-serve-") as tmp_name:
        tmp = Path(tmp_name)
        t0 = time.perf_counter()
        config = bench_config(default_config(), tmp / "models", issue_sizes=issue_sizes)
        if world is not None and registry is not None:
            world_dir = Path(world)
            if not Path(registry).is_dir():
                raise FileNotFoundError(f"no model registry at {registry}")
            shutil.copytree(registry, tmp / "models")
            manifest_json = json.loads((world_dir / "manifest.json").read_text())
            counts = manifest_json.get("counts", {})
            users = int(counts.get("users", 0))
            days = int(manifest_json.get("config", {}).get("days", days))
            day = last_day(world_dir)
            mode = {"mode": "trained models", "world": str(world_dir), "registry": str(registry),
                    "registry_copied_to_temp": True}
            progress(f"world {world_dir}: {users} users x {days} days, {counts.get('events', 0):,} events; "
                     f"registry {registry} copied")
        else:
            world_dir = tmp / "world"
            manifest = generate_world(world_config(users=users, days=days), world_dir, progress=False)
            counts = manifest.counts
            progress(f"world: {users} users x {days} days, {counts['events']:,} events "
                     f"({time.perf_counter() - t0:.0f} s)")
            day = last_day(world_dir)
            _, fit_s = fit_and_publish_channels(config, world_dir, day, Registry(tmp / "models"))
            progress(f"channels fitted and published in {fit_s:.1f} s")
            mode = {"mode": "self-contained (world generated, channels fitted, no ranker)"}

        now = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=timezone.utc)
        now_ms = int(now.timestamp() * 1000)
        events = read_events(world_dir, [day - timedelta(days=i) for i in range(min(days, 30) - 1, -1, -1)])
        last = events[events["ts_ms"] >= now_ms - 86_400_000]
        listeners = np.sort(last["user_id"].dropna().astype(np.int64).unique())[:1000]
        at = pd.DataFrame({"user_id": pd.array(listeners, dtype="Int64"), "request_ms": now_ms,
                           "scenario": "daily_recommend"})
        tracks = pd.read_parquet(world_dir / "catalog" / "tracks.parquet")
        users_frame = pd.read_parquet(world_dir / "users" / "users.parquet")
        queries = queries_from_log(events, at, tracks=tracks, users=users_frame, params=QueryParams.from_config(config))
        features = MemoryFeatures({int(q.user_id or 0): online_row(q) for q in queries})
        plays = last[last["action"] == "play_start"].sort_values(["ts_ms", "event_id"])
        sessions = plays.groupby("session_id")["track_id"].apply(lambda s: s.astype(np.int64).head(5).tolist())
        sessions = [s for s in sessions if len(s) >= 3][:1000]
        daily_payloads: list[dict[str, Any]] = [{"user_id": int(u), "count": 30} for u in listeners]
        radio_payloads: list[dict[str, Any]] = [{"recent_track_ids": s, "anonymous_id": f"bench-{i}", "count": 30}
                          for i, s in enumerate(sessions)]
        pipeline = build_pipeline(config, world=world_dir, features=features, now=now, poll=False)
        versions = {name: getattr(src, "version", None) for name, src in pipeline.channels.items()}
        ranker_version = getattr(pipeline.ranker, "version", None) if pipeline.ranker is not None else None
        progress(f"serving channels {versions}, ranker {ranker_version or 'none (merged-score order)'}")

        # the reference: the same requests through the Pipeline in-process, serially
        reference = {}
        for rpc, kind, payloads in (("DailyRecommend", DAILY, daily_payloads), ("NextTrack", NEXT_TRACK, radio_payloads)):
            reqs = [Request(kind=kind, user_id=p.get("user_id"), anonymous_id=p.get("anonymous_id"),
                            recent_track_ids=tuple(p.get("recent_track_ids", ())), count=30)
                    for p in payloads[:reference_requests]]
            for r in reqs[:5]:
                pipeline.recommend_one(r)
            latencies: list[float] = []
            stages: dict[str, list[float]] = {}
            t_start = time.perf_counter()
            for r in reqs:
                t = time.perf_counter()
                answer = pipeline.recommend_one(r)
                latencies.append((time.perf_counter() - t) * 1000)
                for s, ms in answer.timings_ms.items():
                    stages.setdefault(s, []).append(ms)
            reference[rpc] = {"requests": len(reqs), "model_version": answer.model_version,
                              "qps_serial": round(len(reqs) / (time.perf_counter() - t_start), 1),
                              **_percentiles(latencies),
                              "stage_mean_ms": {s: round(float(np.mean(v)), 3) for s, v in stages.items()}}
            progress(f"in-process reference {rpc}: {reference[rpc]}")

        sizes = _candidate_sizes(pipeline, daily_payloads[:50], DAILY, Request)
        server, port = start_server(recommender_service(pipeline), host="127.0.0.1", port=0,
                                    max_workers=config.serving.max_workers)
        loads: dict[str, list[dict[str, Any]]] = {}
        try:
            for rpc, payloads in (("DailyRecommend", daily_payloads), ("NextTrack", radio_payloads)):
                loads[rpc] = []
                for c in concurrencies:
                    names = [*pipeline.channels, "feature_store"]
                    before, degraded_before = _stage_sums(pipeline.channels), _degraded(names)
                    row = _load(f"127.0.0.1:{port}", rpc, payloads, c, seconds)
                    row["server_stage_mean_ms"] = _stage_means(before, _stage_sums(pipeline.channels))
                    row["degraded_requests"] = {n: int(v - degraded_before[n]) for n, v in _degraded(names).items()
                                                if v > degraded_before[n]}
                    loads[rpc].append(row)
                    progress(f"{rpc} c={c}: {row}")
        finally:
            server.stop(1).wait()
            pipeline.close()

    ok = [r for r in loads["DailyRecommend"] if r["p99_ms"] < TARGET_P99_MS and r["failed"] == 0]
    best = max(ok, key=lambda r: r["qps"]) if ok else None
    result = {
        "benchmark": "serve",
        "comparison": "closed-loop gRPC load from separate client processes vs the same requests through "
                      "the Pipeline in-process, serially; same run, same models",
        "machine": machine_info(),
        **mode,
        "data": {"users": users, "days": days, "events": int(counts.get("events", 0)), "tracks": int(len(tracks)),
                 "serving_time_utc": now.isoformat(),
                 "channels": versions, "ranker": ranker_version, "daily_listeners": len(daily_payloads),
                 "radio_sessions": len(radio_payloads), "candidates_per_daily_request": sizes,
                 "features": "in memory (user rows computed point in time from the log; no Feast read timed)"},
        "config": {"server_threads": config.serving.max_workers, "seconds_per_level": seconds,
                   "recall_threads": config.pipeline.recall_threads, "rank_limit": config.pipeline.rank_limit,
                   "sizes": "BENCH_CHANNELS (k, quota) and RANK_LIMIT" if issue_sizes else "configuration's own",
                   "channels": {c.name: {"k": c.k, "quota": c.quota, "deadline_ms": c.deadline_ms}
                                for c in config.recall.enabled}},
        "in_process_reference": reference,
        "load": loads,
        "target": {"daily_p99_ms": TARGET_P99_MS, "qps": TARGET_QPS,
                   "met": bool(best and best["qps"] >= TARGET_QPS),
                   "highest_qps_under_p99_target": best["qps"] if best else None,
                   "at_concurrency": best["concurrency"] if best else None},
    }
    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(result, indent=2) + "\n")
    return result


def _candidate_sizes(pipeline, payloads, kind, request_cls) -> dict[str, float]:
    """Mean recalled (sum over channels) and merged candidates of some daily requests."""
    from encore.serving.rerank import merge

    reqs = [request_cls(kind=kind, user_id=p["user_id"], count=30) for p in payloads]
    prepared, _ = pipeline._prepare(reqs)
    recalled, merged = [], []
    for _, answers, _ in pipeline._recall_groups(prepared, deadlines=False):
        for a in answers:
            recalled.append(sum(len(x.candidates) for x in a))
            merged.append(len(merge(a, np.zeros(0, np.int64), pipeline.config.rrf_k)))
    return {"recalled_mean": round(float(np.mean(recalled)), 1), "merged_mean": round(float(np.mean(merged)), 1),
            "ranked_mean": round(float(np.mean(np.minimum(merged, pipeline.config.rank_limit))), 1)}


def bench_serve_command(
    out: Path = Path("docs/benchmarks/serve.json"),
    users: int = 2000,
    days: int = 14,
    seconds: float = 10.0,
    concurrency: str = "1,4,16,64",
    world: Optional[Path] = typer.Option(None, help="A world folder with trained models (with --registry): "
                                         "no generation, no fitting."),
    registry: Optional[Path] = typer.Option(None, help="Model registry with the promoted recall.<channel> and "
                                            "ranker (with --world); copied to a temporary folder first."),
    config_sizes: bool = typer.Option(False, "--config-sizes", help="Keep the configuration's channel k / quota "
                                      "and rank_limit (default: ~1,000 recalled, 500 ranked)."),
) -> None:
    """Closed-loop load on the Recommender (DailyRecommend, NextTrack) at each
    concurrency vs the in-process Pipeline; writes docs/benchmarks/serve.json.
    Self-contained (generates a world, fits the channels, no ranker) unless --world and
    --registry name trained models."""
    if (world is None) != (registry is None):
        raise typer.BadParameter("give both --world and --registry, or neither")
    result = run(out, users=users, days=days, seconds=seconds, world=world, registry=registry,
                 issue_sizes=not config_sizes, concurrencies=tuple(int(c) for c in concurrency.split(",")))
    t = result["target"]
    print(f"DailyRecommend: highest QPS with p99 < {TARGET_P99_MS:.0f} ms: {t['highest_qps_under_p99_target']} "
          f"(concurrency {t['at_concurrency']}); target {TARGET_QPS:.0f} QPS met: {t['met']}")
    print(f"wrote {out}")
