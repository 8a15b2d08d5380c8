"""``encore bench rank-nowplaying``: DIN and DIEN on real listening sessions (Nowplaying).

The task: given a session's prefix (the behaviour sequence, oldest first, at most the
last ``sequence_length`` items), score a candidate: the true next item (label 1) against
``negatives`` items drawn uniformly from the training split's items (label 0), as in the
DIN / DIEN papers' Amazon experiments. Sessions come from
``<data>/nowplaying/all_train_seq.txt`` (read by :func:`encore.platform.data.nowplaying.
load_nowplaying`, a restricted unpickler); the file's order is time order, so the last
``test_sessions`` of the ``train_sessions + test_sessions`` most recent sessions are the
test split (every prefix of a session is one SR-GNN pair:
:func:`encore.platform.data.nowplaying.make_next_item_pairs`).

There is no track metadata (ids were renumbered): the rankers' track profile is the
item id alone (artist, album, genre, language, emotion are one constant "unknown"); the
listener, context and statistics features are constants except ``track_plays`` (the
candidate's count as a target in the training split). Each session is one anonymous
listener: GAUC groups by session. The rankers are the platform's own
(:func:`encore.ranking.train.fit_ranker`, exported and scored through the SavedModel),
trained on the ``complete_play`` head only (the others' weight 0; their labels are 0):

- ``popularity``: the candidate's training count (no model; no sequence);
- ``baseline``: the no-sequence ranker (target-only: the item embedding and its count);
- ``din`` and ``dien`` (``behaviours = [play]``, the prefix).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pandas as pd
import typer

from encore.platform.config import RankingConfig

CONSTANT_MS = 1_767_600_000_000  # every row's timestamp: no time of day or weekday signal here
MODELS: tuple[str, ...] = ("baseline", "din", "dien")


def _prefixed(say: Callable[[str], None], prefix: str) -> Callable[[str], None]:
    return lambda msg: say(prefix + msg)


def item_catalog(num_items: int) -> pd.DataFrame:
    """Items 1..num_items with every attribute unknown (one constant value)."""
    ids = np.arange(1, num_items + 1, dtype=np.int64)
    return pd.DataFrame({"track_id": ids, "artist_id": np.full(num_items, -1, np.int64),
                         "album_id": np.full(num_items, -1, np.int64), "genre": "", "language": "",
                         "valence": np.zeros(num_items, np.float32), "arousal": np.zeros(num_items, np.float32),
                         "duration_ms": np.full(num_items, 200_000, np.int64),
                         "release_year": np.full(num_items, 2000, np.int32)})


def task_rows(sessions: Sequence[Sequence[int]], first_session: int, items: np.ndarray, counts: np.ndarray,
              negatives: int, sequence_length: int, rng: np.random.Generator) -> pd.DataFrame:
    """One positive row (the true next item) and ``negatives`` rows (items drawn
    uniformly from ``items``, never the true one) per next-item pair of ``sessions``;
    ``counts[i]`` = training count of item i (the ``track_plays`` column)."""
    from encore.platform.data.nowplaying import make_next_item_pairs

    pairs = make_next_item_pairs(sessions)
    n = len(pairs)
    targets = pairs.targets
    neg = items[rng.integers(0, len(items), (n, negatives))]
    clash = neg == targets[:, None]
    while clash.any():  # redraw the (rare) negatives equal to the true item
        neg[clash] = items[rng.integers(0, len(items), int(clash.sum()))]
        clash = neg == targets[:, None]
    session_of_pair = np.repeat(np.arange(len(sessions)) + first_session,
                                [max(len(s) - 1, 0) for s in sessions])
    prefixes = [tuple(int(x) for x in pairs.items[max(pairs.starts[i], pairs.ends[i] - sequence_length):
                                                   pairs.ends[i]]) for i in range(n)]
    per = negatives + 1
    candidates = np.concatenate([targets[:, None], neg], axis=1).reshape(-1)
    rows = n * per
    frame = pd.DataFrame({
        "user_id": pd.array([None] * rows, dtype="Int64"), "anonymous": np.ones(rows, bool),
        "session_id": np.repeat(session_of_pair, per).astype(str), "scenario": "PRIVATE_RADIO",
        "ts_ms": np.full(rows, CONSTANT_MS, np.int64), "track_id": candidates,
        "complete_play": np.tile(np.r_[1, np.zeros(negatives, np.int64)], n).astype(np.int32),
        "heart": np.zeros(rows, np.int32), "skip": np.zeros(rows, np.int32),
        "track_plays": counts[candidates].astype(np.float64),
        **{c: np.zeros(rows) for c in ("user_exposures_30d", "user_plays_30d", "user_completes_30d", "user_skips_30d",
                                      "user_hearts_30d", "user_plays_today", "user_track_plays_30d",
                                      "track_listeners", "track_completion_rate", "track_skip_rate",
                                      "track_heart_rate")},
    })
    frame["play_track_ids"] = [p for p in prefixes for _ in range(per)]
    return frame


def nowplaying_study(sessions: Sequence[Sequence[int]], num_items: int, cfg: RankingConfig, workdir: Any, *,
                     train_sessions: int = 12_000, test_sessions: int = 2_000, negatives: int = 1,
                     models: Sequence[str] = MODELS, seed: int = 7,
                     say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The report section (module docstring); artifacts under ``workdir/<model>``."""
    from encore.ranking import inputs
    from encore.ranking.metrics import auc, gauc, paired_auc_difference
    from encore.ranking.ranker import Ranker, export_ranker
    from encore.ranking.train import fit_ranker

    say = say or (lambda msg: None)
    if train_sessions + test_sessions > len(sessions):
        raise ValueError(f"asked for {train_sessions + test_sessions} sessions; the file has {len(sessions)}")
    first = len(sessions) - train_sessions - test_sessions
    train_s = sessions[first:first + train_sessions]
    test_s = sessions[first + train_sessions:]
    rng = np.random.default_rng(seed)
    flat = np.fromiter((x for s in train_s for x in s[1:]), dtype=np.int64)  # the training targets
    counts = np.bincount(flat, minlength=num_items + 1)
    items = np.unique(np.fromiter((x for s in train_s for x in s), dtype=np.int64))
    t0 = time.perf_counter()
    train = task_rows(train_s, first, items, counts, negatives, cfg.sequence_length, rng)
    test = task_rows(test_s, first + train_sessions, items, counts, negatives, cfg.sequence_length, rng)
    say(f"nowplaying: {len(train):,} training rows from {train_sessions:,} sessions, {len(test):,} test rows from "
        f"{test_sessions:,} sessions ({time.perf_counter() - t0:.1f}s)")
    catalog = inputs.Catalog.from_frame(item_catalog(num_items))
    y = test["complete_play"].to_numpy()
    groups = inputs.listener_keys(test)
    popularity = test["track_plays"].to_numpy(dtype=np.float64)
    scores: dict[str, np.ndarray] = {"popularity": popularity}
    results: dict[str, Any] = {"popularity": {"auc": auc(y, popularity), "gauc": gauc(y, popularity, groups),
                                              "what": "the candidate's count as a target in the training split"}}
    base = cfg.model_copy(update={"use_user_id": False, "behaviours": ["play"], "seed": seed,
                                  "head_weights": {"complete_play": 1.0, "heart": 0.0, "skip": 0.0}})
    for i, name in enumerate(models):
        mcfg = base.model_copy(update={"model": name})
        fitted = fit_ranker(train, catalog, mcfg, model_name=name, progress=_prefixed(say, f"  nowplaying {name} "))
        out = Path(workdir) / name
        export_ranker(fitted.model, fitted.spec, out, model_name=name)
        ranker = Ranker.load(out)
        t1 = time.perf_counter()
        s = np.asarray(ranker.score_rows(inputs.raw_features(test, catalog, ranker.spec))["complete_play"],
                       np.float64)
        scores[name] = s
        results[name] = {"auc": auc(y, s), "gauc": gauc(y, s, groups), "train_seconds": round(fitted.seconds, 1),
                         "scoring_seconds": round(time.perf_counter() - t1, 2), "history": fitted.history}
        say(f"[{i + 1}/{len(models)}] nowplaying {name}: AUC {results[name]['auc']:.4f} "
            f"GAUC {results[name]['gauc']:.4f} (trained in {fitted.seconds:.0f}s)")
    pairs = [(a, b) for a, b in (("din", "baseline"), ("dien", "baseline"), ("dien", "din"),
                                 ("baseline", "popularity")) if a in scores and b in scores]
    differences = {f"{a}-{b}": {k: round(v, 4) for k, v in (paired_auc_difference(
        y, scores[a], scores[b], groups, samples=200, seed=seed) or {}).items()} for a, b in pairs}
    return {
        "task": "true next item vs uniformly sampled negatives given the session prefix (the behaviour sequence); "
                "item ids only (no metadata exists)",
        "data": {"file": "nowplaying/all_train_seq.txt", "sessions_in_file": len(sessions), "items": num_items,
                 "used_sessions": f"the last {train_sessions + test_sessions:,} of the file (time order)",
                 "train_sessions": train_sessions, "test_sessions": test_sessions,
                 "test_split": "the last test_sessions sessions", "negatives_per_positive": negatives,
                 "train_rows": len(train), "test_rows": len(test), "train_items": int(len(items)),
                 "sequence_length": cfg.sequence_length,
                 "test_targets_unseen_in_training": float(np.mean(counts[test["track_id"].to_numpy()[y == 1]] == 0))},
        "config": {k: base.model_dump(mode="json")[k] for k in (
            "epochs", "batch_size", "learning_rate", "item_dim", "embedding_dim", "hidden_units", "gru_units",
            "evolution", "aux_loss_weight", "pooling", "activation")},
        "results": results,
        "paired_auc_difference": differences,
        "method": "AUC over all test rows; GAUC per session; paired differences: 95% CI resampling sessions",
    }


def nowplaying_claims(section: dict[str, Any]) -> list[dict[str, Any]]:
    """The Nowplaying claims judged on the section's paired AUC differences: holds when
    the 95% CI of (model - reference) lies above 0."""
    out = []
    for key, text in (("din-baseline", "DIN beats the no-sequence ranker on Nowplaying next items"),
                      ("dien-baseline", "DIEN beats the no-sequence ranker on Nowplaying next items"),
                      ("dien-din", "DIEN beats DIN on Nowplaying next items")):
        d = section["paired_auc_difference"].get(key)
        if d:
            out.append({"claim": text + " (test AUC, paired CI over sessions)", "source": "nowplaying",
                        "holds": bool(d["ci_low"] > 0), "auc_difference": d["diff"],
                        "ci": [d["ci_low"], d["ci_high"]]})
    return out


def bench_rank_nowplaying_command(
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Shared data folder holding nowplaying/ "
                                            "(default paths.shared_data_dir)."),
    out: Path = typer.Option(Path("docs/benchmarks/rank.json"), "--out",
                             help="Report file: its `nowplaying` section is (re)written, the rest kept."),
    train_sessions: int = typer.Option(12_000, "--train-sessions", min=1),
    test_sessions: int = typer.Option(2_000, "--test-sessions", min=1),
    negatives: int = typer.Option(1, "--negatives", min=1, help="Sampled negatives per true next item."),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="Override ranking.epochs."),
    models: str = typer.Option(",".join(MODELS), "--models", help="Comma-separated: baseline, din, dien."),
) -> None:
    """DIN, DIEN and the no-sequence ranker on Nowplaying: the true next track against
    sampled negatives given the session prefix; AUC / GAUC into rank.json's `nowplaying`."""
    import json
    import os
    import tempfile

    from encore.platform.bench.machine import machine_info
    from encore.platform.config import default_config
    from encore.platform.data.common import DataFileError
    from encore.platform.data.nowplaying import load_nowplaying

    def say(msg: str) -> None:
        typer.echo(f"[{time.strftime('%H:%M:%S')}] {msg}", err=True)

    names = [m.strip() for m in models.split(",") if m.strip()]
    bad = [m for m in names if m not in MODELS]
    if bad:
        raise typer.BadParameter(f"unknown models {bad}; known: {', '.join(MODELS)}", param_hint="--models")
    try:
        data = load_nowplaying(data_dir)
    except (DataFileError, FileNotFoundError) as err:
        typer.echo(f"error: bench rank-nowplaying: {err}", err=True)
        raise typer.Exit(code=1) from err
    cfg = default_config().ranking
    cfg = cfg.model_copy(update={"epochs": epochs}) if epochs else cfg
    t0, load = time.perf_counter(), os.getloadavg()
    try:
        with tempfile.TemporaryDirectory(prefix="encore-nowplaying-") as tmp:
            section = nowplaying_study(data.sessions, data.num_items, cfg, tmp, train_sessions=train_sessions,
                                       test_sessions=test_sessions, negatives=negatives, models=names, say=say)
    except ValueError as err:
        typer.echo(f"error: bench rank-nowplaying: {err}", err=True)
        raise typer.Exit(code=1) from err
    section |= {"seconds": round(time.perf_counter() - t0, 1), "machine": machine_info(),
                "load_average": {"before": list(load), "after": list(os.getloadavg())},
                "run": "encore bench rank-nowplaying (a separate run from the world study)"}
    report = json.loads(out.read_text()) if out.is_file() else {}
    report["nowplaying"] = section
    report["claims"] = [c for c in report.get("claims", []) if c.get("source") != "nowplaying"] + nowplaying_claims(
        section)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    say(f"wrote the nowplaying section of {out}")
    for name, row in section["results"].items():
        typer.echo(f"{name:>10}: AUC {row['auc']:.4f}  GAUC {row['gauc']:.4f}")
