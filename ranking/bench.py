"""``encore bench rank``: how fast each ranker scores one listener's candidates through
its exported SavedModel (``Ranker.score``, the call the serving Pipeline makes).

For every model (baseline, DIN, DIEN, the session ranker; plus any ``--variant``) in
one run: a synthetic catalog of ``tracks`` tracks and random training rows (histories of
``sequence_length`` plays, hearts and skips spread over several sessions) fit the
spec, the model is built from ``RankingConfig`` (``item_dim`` D, ``gru_units`` H, ...;
the weights stay untrained: speed does not depend on them), and it is exported and
loaded back as a ``Ranker``. Then, per request size N (100 / 500 / 1000 candidates),
``repeats`` timed calls after ``warmup`` untimed ones give the latency percentiles and
candidates scored per second. The same run also times the straightforward way, the
per-row signature (``score_rows``) with the listener's features copied to every
candidate row, so the listener's sequence work (embeddings, the extractor GRU,
projections) runs N times instead of once.

Writes JSON (default ``docs/benchmarks/rank.json``) with the machine
(``platform.bench.machine``), the library versions, the configuration and the numbers;
``--train-report LABEL=FILE`` adds the held-out AUC / GAUC / logloss per head of
``encore train rank --report`` runs (``accuracy_table``) and ``--pipeline-report
LABEL=FILE`` the served lists' ground-truth reward of ``encore eval pipeline --report``
runs with each ranker promoted (``pipeline_table``), so the speed and the quality of each
model and ablation sit in one file.
"""

from __future__ import annotations

import json
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from encore.platform.config import RankingConfig
from encore.ranking import inputs
from encore.ranking.features import HEADS, sequence_column, sequence_ts_column

SIZES: tuple[int, ...] = (100, 500, 1000)
GENRES = ("pop", "rock", "jazz", "classical", "hiphop", "electronic", "folk", "metal")
LANGUAGES = ("en", "zh", "es", "ja", "ko")


def synthetic_catalog(tracks: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "track_id": np.arange(1, tracks + 1, dtype=np.int64),
        "artist_id": rng.integers(0, max(tracks // 15, 1), tracks).astype(np.int64),
        "album_id": rng.integers(0, max(tracks // 8, 1), tracks).astype(np.int64),
        "genre": rng.choice(np.array(GENRES), tracks),
        "language": rng.choice(np.array(LANGUAGES), tracks),
        "valence": rng.uniform(-1, 1, tracks).astype(np.float32),
        "arousal": rng.uniform(-1, 1, tracks).astype(np.float32),
        "duration_ms": rng.integers(120_000, 360_000, tracks).astype(np.int64),
        "release_year": rng.integers(1970, 2026, tracks).astype(np.int32),
    })


def synthetic_rows(catalog: pd.DataFrame, rows: int, history: int, seed: int = 1) -> pd.DataFrame:
    """ranking_samples-like rows with full histories (every behaviour kind)."""
    rng = np.random.default_rng(seed)
    ids = catalog["track_id"].to_numpy()
    frame = pd.DataFrame({
        "user_id": pd.array(rng.integers(0, 10_000, rows), dtype="Int64"),
        "anonymous": np.zeros(rows, bool), "scenario": rng.choice(np.array(["DAILY_RECOMMEND", "PRIVATE_RADIO"]), rows),
        "ts_ms": rng.integers(1_767_225_600_000, 1_768_000_000_000, rows),
        "track_id": rng.choice(ids, rows),
        **{c: rng.poisson(20, rows).astype(np.float64) for c in (
            "user_exposures_30d", "user_plays_30d", "user_completes_30d", "user_skips_30d", "user_hearts_30d",
            "user_plays_today", "user_track_plays_30d", "track_plays", "track_listeners")},
        **{c: rng.uniform(0, 1, rows) for c in ("track_completion_rate", "track_skip_rate", "track_heart_rate")},
    })
    for b in ("play", "heart", "skip"):
        frame[sequence_column(b)] = list(rng.choice(ids, (rows, history)))
        gaps = rng.choice([60_000, 240_000, 7_200_000], (rows, history), p=[0.6, 0.3, 0.1])  # several sessions
        frame[sequence_ts_column(b)] = list(frame["ts_ms"].to_numpy()[:, None] - np.cumsum(gaps, axis=1)[:, ::-1])
    return frame


def _percentiles(ms: np.ndarray) -> dict[str, float]:
    return {"p50_ms": round(float(np.percentile(ms, 50)), 3), "p90_ms": round(float(np.percentile(ms, 90)), 3),
            "p99_ms": round(float(np.percentile(ms, 99)), 3), "mean_ms": round(float(ms.mean()), 3)}


def _time(fn: Callable[[], Any], warmup: int, repeats: int) -> np.ndarray:
    for _ in range(warmup):
        fn()
    out = np.empty(repeats)
    for i in range(repeats):
        t0 = time.perf_counter()
        fn()
        out[i] = (time.perf_counter() - t0) * 1000
    return out


def bench_model(name: str, cfg: RankingConfig, catalog: pd.DataFrame, rows: pd.DataFrame, *,
                sizes: Sequence[int] = SIZES, warmup: int = 5, repeats: int = 50, naive: bool = True,
                workdir: Path) -> dict[str, Any]:
    """Export ``name`` built from ``cfg`` and time its serving call at every size."""
    import tensorflow as tf

    from encore.ranking.ranker import Ranker, export_ranker
    from encore.ranking.train import build_model, model_spec

    tf.keras.utils.set_random_seed(cfg.seed)
    cat = inputs.Catalog.from_frame(catalog)
    spec = model_spec(name, cfg)
    raw = inputs.raw_features(rows, cat, spec)
    spec = spec.fit(raw)
    model = build_model(name, spec, cfg)
    model({k: tf.constant(v[:8]) for k, v in raw.items()})  # build the variables eagerly
    t0 = time.perf_counter()
    out = workdir / name
    export_ranker(model, spec, out, model_name=name)
    export_s = time.perf_counter() - t0
    ranker = Ranker.load(out)
    listener = {n: raw[n][:1] for n in spec.listener_names}
    pool = inputs.raw_features(rows, cat, spec, ("candidate",))
    result: dict[str, Any] = {"model": name, "export_seconds": round(export_s, 2), "sizes": {}}
    for n in sizes:
        take = np.arange(n) % len(rows)
        cands = {k: v[take] for k, v in pool.items()}
        scored = ranker.score(listener, cands)
        assert all(scored[h].shape == (n,) for h in ranker.heads)
        ms = _time(partial(ranker.score, listener, cands), warmup, repeats)
        row: dict[str, Any] = {**_percentiles(ms), "candidates_per_s": round(n / (ms.mean() / 1000))}
        if naive:
            tiled = {**{k: np.repeat(v, n, axis=0) for k, v in listener.items()}, **cands}
            naive_ms = _time(partial(ranker.score_rows, tiled), max(1, warmup // 2), max(5, repeats // 5))
            row["per_row_signature"] = _percentiles(naive_ms)
            row["speedup_p50"] = round(float(np.percentile(naive_ms, 50) / np.percentile(ms, 50)), 2)
        result["sizes"][str(n)] = row
    return result


def bench_rank(cfg: RankingConfig, models: Sequence[str] = ("baseline", "din", "dien", "session"), *,
               variants: Sequence[tuple[str, str, dict[str, Any]]] = (), sizes: Sequence[int] = SIZES,
               tracks: int = 5_000, fit_rows: int = 2_048, warmup: int = 5, repeats: int = 50, naive: bool = True,
               progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Every model (and ``variants``: (label, model, config overrides)) in one run."""
    import os

    import tensorflow as tf

    say = progress or (lambda msg: None)
    load_before = os.getloadavg()  # the host may be shared: the load says how quiet it was
    catalog = synthetic_catalog(tracks, cfg.seed)
    rows = synthetic_rows(catalog, fit_rows, cfg.sequence_length, cfg.seed + 1)
    runs: list[tuple[str, str, dict[str, Any]]] = [(m, m, {}) for m in models] + list(variants)
    results = []
    with tempfile.TemporaryDirectory(prefix="encore-bench-rank-") as tmp:
        for label, model, overrides in runs:
            mcfg = cfg.model_copy(update=dict(overrides))
            say(f"{label}: exporting and timing {list(sizes)} candidates")
            row = bench_model(model, mcfg, catalog, rows, sizes=sizes, warmup=warmup, repeats=repeats,
                              naive=naive, workdir=Path(tmp) / label)
            row["label"], row["overrides"] = label, dict(overrides)
            results.append(row)
            say(f"{label}: " + ", ".join(f"N={n}: p50 {r['p50_ms']:.2f} ms" for n, r in row["sizes"].items()))
    return {
        "benchmark": "rank", "what": "Ranker.score (serving signature: one listener, N candidates, one call)",
        "data": {"tracks": tracks, "fit_rows": fit_rows, "sequence_length": cfg.sequence_length,
                 "synthetic": True, "heads": list(HEADS)},
        "config": cfg.model_dump(mode="json"), "sizes": list(sizes), "warmup": warmup, "repeats": repeats,
        "threads": {"intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                    "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
                    "cpus": os.cpu_count()},
        "load_average": {"before": list(load_before), "after": list(os.getloadavg())},
        "results": results,
    }


def write_report(report: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    return path


def accuracy_table(items: Sequence[str]) -> dict[str, Any]:
    """``LABEL=FILE`` train-rank reports -> label -> model, data window, overrides and,
    per head, AUC / GAUC / logloss (and the popularity reference's AUC / GAUC)."""
    out: dict[str, Any] = {}
    for item in items:
        label, _, path = item.partition("=")
        report = json.loads(Path(path).read_text())
        heads = report["evaluation"]["heads"]
        out[label] = {
            "model": report["model"], "data_window": report["data_window"], "world": report.get("world"),
            "train_rows": report["train_rows"], "eval_rows": report["eval_rows"],
            "epochs": report["training"]["epochs"], "train_seconds": report["training"]["seconds"],
            "config": {k: report["config"].get(k) for k in (
                "behaviours", "sequence_length", "item_dim", "activation", "pooling", "gru_units", "evolution",
                "aux_loss_weight", "mba_lambda", "embedding_dim", "hidden_units")},
            "heads": {h: {"auc": r["model"]["auc"], "gauc": r["model"]["gauc"], "logloss": r["model"]["logloss"],
                          "reference_auc": r["reference"]["auc"], "reference_gauc": r["reference"]["gauc"]}
                      for h, r in heads.items()},
        }
    return out


def pipeline_table(items: Sequence[str]) -> dict[str, Any]:
    """``LABEL=FILE`` eval-pipeline reports -> label -> the ranker version and model, the
    final lists' reward (mean, CI), HR / NDCG@10, repeat share, and the popularity list's
    reward (the same day and listeners)."""
    out: dict[str, Any] = {}
    for item in items:
        label, _, path = item.partition("=")
        report = json.loads(Path(path).read_text())
        lists = report["lists"]
        pipe, pop = lists["pipeline"], lists["popularity"]
        out[label] = {
            "ranker": report["models"]["ranker"], "ranker_model": report["ranker"].get("model"),
            "days": report.get("held_out_days"), "listeners": pipe["reward"]["n"],
            "reward": pipe["reward"], "hr@10": pipe["hr@10"], "ndcg@10": pipe["ndcg@10"],
            "repeat_share": pipe["repeat_share"], "popularity_reward": pop["reward"],
        }
    return out
