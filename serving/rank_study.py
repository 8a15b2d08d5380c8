"""``encore bench rank-study``: docs/benchmarks/rank.json from one run on a world.

One process, one data window, one seed, in this order:

1. **speed** (:func:`encore.ranking.bench.bench_rank`): every ranker's serving call
   (one listener, N candidates, one SavedModel call) at 100 / 500 / 1000 candidates,
   at the serving dimensions (``speed_item_dim`` D, ``sequence_length`` T), beside the
   straightforward per-row signature; the host's load average before and after.
2. **accuracy**: ``ranking_samples`` of the last ``train_days`` days before the held-out
   last day (``eval_days`` = 1) are read once, at most ``train_rows`` training rows
   kept (a seeded uniform sample, the same for every model); the listeners' behaviour
   sequences (play / heart / skip and their times) are built once, point in time, with
   the one Query builder (:func:`encore.serving.behaviours.log_behaviours`). Every
   variant (the baseline, DIN, DIEN, the session ranker and the ablations,
   :data:`VARIANTS`) is trained on those rows for ``epochs``, exported, loaded back and
   scored through its SavedModel on every held-out row: AUC, GAUC and log loss per head
   (complete play, heart, skip) against the popularity order.
3. **claims on AUC**: each design claim is a pair (better, worse) of variants
   (:data:`CLAIMS`); per head the paired AUC difference on the same held-out rows with a
   cluster (listener) bootstrap CI (:func:`encore.ranking.metrics.paired_auc_difference`).
   Verdict: ``holds`` when some head's CI is above 0 and none is below, ``reversed``
   when some head's CI is below 0 and none above, ``mixed`` when both, ``not
   resolved`` when every CI straddles 0.
4. **pipeline reward**: the recall channels fitted on the days before the held-out day
   (:func:`encore.serving.train_all.train_all`, ``train_ranker=False``), then one
   ``eval pipeline`` run (:func:`encore.serving.evaluate.evaluate_pipeline`) serving the
   same held-out requests with each of ``pipeline_rankers`` (the artifacts of step 2):
   each one's ground-truth reward with its bootstrap CI and the paired difference vs the
   baseline ranker.

Progress lines carry the elapsed time and an ETA (per trained variant).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Optional

import numpy as np
import typer

from encore.platform.config import EncoreConfig

Variant = tuple[str, str, dict[str, Any]]
"""(label, model, ranking config overrides)."""

VARIANTS: tuple[Variant, ...] = (
    ("baseline", "baseline", {}),
    ("din", "din", {}),
    ("din-sum-pooling", "din", {"pooling": "sum"}),
    ("din-mean-pooling", "din", {"pooling": "mean"}),
    ("dien", "dien", {}),
    ("dien-gru", "dien", {"evolution": "gru"}),
    ("dien-no-aux-loss", "dien", {"aux_loss_weight": 0.0}),
    ("dien-complete", "dien", {"behaviours": ["complete"]}),
    ("session", "session", {}),
    ("session-play-only", "session", {"session_behaviours": ["play"]}),
    ("session-one-sequence", "session", {"session_split": False}),
)

CLAIMS: tuple[tuple[str, str, str], ...] = (
    ("DIN beats the no-sequence baseline", "din", "baseline"),
    ("DIEN beats the no-sequence baseline", "dien", "baseline"),
    ("the session ranker beats the no-sequence baseline", "session", "baseline"),
    ("DIEN beats DIN", "dien", "din"),
    ("attention beats sum pooling (DIN)", "din", "din-sum-pooling"),
    ("attention beats mean pooling (DIN)", "din", "din-mean-pooling"),
    ("AUGRU beats a plain GRU in the interest-evolving layer (DIEN)", "dien", "dien-gru"),
    ("the auxiliary loss helps (DIEN)", "dien", "dien-no-aux-loss"),
    ("DIEN over the complete-play sequence beats DIEN over play starts", "dien-complete", "dien"),
    ("play + heart + skip beats play only (session ranker)", "session", "session-play-only"),
    ("split sessions beat one sequence (session ranker)", "session", "session-one-sequence"),
)

PIPELINE_RANKERS: tuple[str, ...] = ("baseline", "din", "dien", "dien-complete", "session")


def verdict(heads: dict[str, dict[str, float] | None]) -> str:
    """``holds`` / ``reversed`` / ``mixed`` / ``not resolved`` from per-head paired CIs."""
    rows = [r for r in heads.values() if r is not None]
    up = any(r["ci_low"] > 0 for r in rows)
    down = any(r["ci_high"] < 0 for r in rows)
    return "mixed" if up and down else "holds" if up else "reversed" if down else "not resolved"


def _eta(t0: float, done: int, total: int) -> str:
    spent = time.perf_counter() - t0
    left = spent / done * (total - done) if done else float("nan")
    return f"{spent / 60:.1f} min elapsed, ETA {left / 60:.1f} min"


def _prefixed(say: Callable[[str], None], prefix: str) -> Callable[[str], None]:
    return lambda msg: say(prefix + msg)


def accuracy_study(world_dir: Path, batch_dir: Path, config: EncoreConfig, workdir: Path, *,
                   variants: Sequence[Variant] = VARIANTS, train_days: int = 5, train_rows: int | None = 150_000,
                   epochs: int | None = None, bootstrap_samples: int = 200,
                   say: Callable[[str], None] | None = None,
                   checkpoint: Callable[[dict[str, Any]], None] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Steps 2 and 3 of the module docstring. Returns (report section, label -> loaded
    ``Ranker``); artifacts are written under ``workdir/<label>``."""
    from encore.ranking import inputs
    from encore.ranking.metrics import evaluate, paired_auc_difference
    from encore.ranking.ranker import Ranker, export_ranker
    from encore.ranking.train import example_request, fit_ranker, reference_scores, split_dates, with_behaviours
    from encore.recall.queries import QueryParams
    from encore.serving.behaviours import log_behaviours

    say = say or (lambda msg: None)
    base = config.ranking if epochs is None else config.ranking.model_copy(update={"epochs": epochs})
    rule = (config.sessions.max_session_ms, config.sessions.inactivity_gap_ms)
    all_days, held_days = split_dates(inputs.sample_dates(batch_dir), 1)
    days = all_days[-train_days:]
    catalog = inputs.Catalog.from_world(world_dir)
    t0 = time.perf_counter()
    train = inputs.read_samples(batch_dir, days)
    held = inputs.read_samples(batch_dir, held_days)
    available = len(train)
    if train_rows is not None and len(train) > train_rows:
        keep = np.sort(np.random.default_rng(base.seed).choice(len(train), train_rows, replace=False))
        train = train.iloc[keep].reset_index(drop=True)
    say(f"samples: {len(train):,} training rows (of {available:,}, {days[0]}..{days[-1]}), {len(held):,} held-out "
        f"rows ({held_days[0]}) in {time.perf_counter() - t0:.1f}s")
    t1 = time.perf_counter()
    source = log_behaviours(world_dir, QueryParams.from_config(config))
    from encore.ranking.train import model_spec

    # the widest spec (session: every behaviour with its times) so every variant finds its columns
    widest = model_spec("session", base.model_copy(
        update={"session_behaviours": ["play", "heart", "skip", "complete"]}), rule)
    train, held = with_behaviours(train, source, widest), with_behaviours(held, source, widest)
    behaviour_seconds = time.perf_counter() - t1
    say(f"behaviour sequences of {len(train) + len(held):,} rows in {behaviour_seconds:.1f}s")
    labels = inputs.labels(held)
    groups = inputs.listener_keys(held)
    reference = reference_scores(held)
    results: dict[str, Any] = {}
    scores: dict[str, dict[str, np.ndarray]] = {}
    rankers: dict[str, Any] = {}
    t_train = time.perf_counter()
    for i, (label, model, overrides) in enumerate(variants):
        cfg = type(base).model_validate({**base.model_dump(), **overrides, "model": model})
        say(f"[{i + 1}/{len(variants)}] {label}: training {model} {overrides or ''}")
        fitted = fit_ranker(train, catalog, cfg, model_name=model, session_rule=rule,
                            progress=_prefixed(say, f"  {label} "))
        base_rates = {h: float(train[h].mean()) for h in fitted.model.heads}
        out = workdir / label
        export_ranker(fitted.model, fitted.spec, out, model_name=model,
                      example=example_request(held, catalog, fitted.spec),
                      info={"config": cfg.model_dump(mode="json"), "base_rates": base_rates,
                            "data_window": {"train": [days[0].isoformat(), days[-1].isoformat()],
                                            "eval": [held_days[0].isoformat()] * 2}})
        ranker = Ranker.load(out)
        ranker.smoke_test()
        t_score = time.perf_counter()
        probs = ranker.score_rows(inputs.raw_features(held, catalog, ranker.spec))
        score_s = time.perf_counter() - t_score
        heads = evaluate({h: labels[h] for h in ranker.heads}, probs, groups, reference, base_rates)
        rankers[label], scores[label] = ranker, {h: np.asarray(v, np.float64) for h, v in probs.items()}
        results[label] = {
            "model": model, "overrides": dict(overrides), "epochs": cfg.epochs,
            "train_seconds": round(fitted.seconds, 1), "scoring_seconds": round(score_s, 2),
            "history": fitted.history,
            "config": {k: cfg.model_dump(mode="json").get(k) for k in (
                "behaviours", "session_behaviours", "sequence_length", "item_dim", "activation", "pooling",
                "gru_units", "evolution", "aux_loss_weight", "session_split", "max_sessions", "mba_lambda",
                "embedding_dim", "hidden_units")},
            "heads": {h: {"auc": r["model"]["auc"], "gauc": r["model"]["gauc"], "logloss": r["model"]["logloss"],
                          "reference_auc": r["reference"]["auc"], "reference_gauc": r["reference"]["gauc"],
                          "positive_rate": r["positive_rate"]} for h, r in heads.items()},
        }
        say(f"[{i + 1}/{len(variants)}] {label}: " + ", ".join(
            f"{h} AUC {r['auc']:.4f} GAUC {r['gauc']:.4f}" for h, r in results[label]["heads"].items())
            + f" (trained in {fitted.seconds:.0f}s; {_eta(t_train, i + 1, len(variants))})")
        if checkpoint:
            checkpoint({"results": results, "partial": True})
    claims = []
    for text, better, worse in CLAIMS:
        if better not in scores or worse not in scores:
            continue
        per_head = {h: paired_auc_difference(labels[h], scores[better][h], scores[worse][h], groups,
                                             samples=bootstrap_samples, seed=base.seed)
                    for h in scores[better] if h in scores[worse]}
        claims.append({"claim": text, "better": better, "worse": worse, "verdict": verdict(per_head),
                       "auc_difference": {h: None if r is None else {k: round(v, 4) for k, v in r.items()}
                                          for h, r in per_head.items()}})
    section = {
        "data": {"train_days": [d.isoformat() for d in days], "held_out_day": held_days[0].isoformat(),
                 "train_rows": len(train), "train_rows_available": available, "eval_rows": len(held),
                 "eval_listeners": int(len(set(groups))), "behaviour_seconds": round(behaviour_seconds, 1),
                 "sample": "seeded uniform sample of the training rows, the same for every variant"},
        "reference": "popularity order: track_plays (previous day) for complete_play and heart, -track_plays for skip",
        "results": results,
        "claims_method": "paired AUC difference (better - worse) per head on the same held-out rows, 95% CI by "
                         f"resampling listeners {bootstrap_samples} times; holds = some head's CI above 0 and none "
                         "below; reversed = the opposite; mixed = both; not resolved = every CI straddles 0. Each "
                         "variant is trained once (one seed): the CI covers the held-out listeners, not training "
                         "noise, so a difference of a few thousandths of AUC may not survive another seed",
        "claims": claims,
    }
    return section, rankers


def pipeline_study(world_dir: Path, batch_dir: Path, config: EncoreConfig, workdir: Path, rankers: dict[str, Any],
                   *, max_listeners: int | None, say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Step 4 of the module docstring: the recall channels into ``workdir/registry``,
    then one ``evaluate_pipeline`` with every ranker of ``rankers`` on the same requests."""
    from encore.platform.registry import Registry
    from encore.serving.evaluate import build_pipeline, evaluate_pipeline
    from encore.serving.train_all import train_all

    say = say or (lambda msg: None)
    cfg = config.model_copy(update={"evaluation": config.evaluation.model_copy(
        update={"test_days": 1, "max_listeners": max_listeners})})
    registry = Registry(workdir / "registry")
    t0 = time.perf_counter()
    fitted = train_all(world_dir, batch_dir, cfg, registry, promote=True, say=say, train_ranker=False)
    fit_s = time.perf_counter() - t0
    pipeline = build_pipeline(world_dir, batch_dir, cfg, registry)
    try:
        report = evaluate_pipeline(world_dir, batch_dir, cfg, pipeline, say=say, rankers=rankers,
                                   reference_ranker="baseline" if "baseline" in rankers else None)
    finally:
        pipeline.close()
    comp = report["ranker_comparison"]
    return {
        "what": "one `eval pipeline` run: the same held-out requests served by the same Pipeline (same recall "
                "channels, merge and re-rank) with each ranker in turn; reward = the world's ground-truth expected "
                "complete plays of the first reward_length tracks; CIs: bootstrap over listeners; the difference "
                "is paired per listener",
        "held_out_days": report["held_out_days"], "listeners": report["data"]["listeners"],
        "reference": comp["reference"], "channels_fit_seconds": round(fit_s, 1),
        "channels": {name: row.get("version") for name, row in fitted["channels"].items()},
        "rankers": {label: {"model": row["model"], "reward": row["reward"],
                            "reward_minus_reference": row["reward_minus_reference"],
                            "beats_reference": row["beats_reference"], "hr@10": row.get("hr@10"),
                            "ndcg@10": row.get("ndcg@10"), "repeat_share": row["repeat_share"],
                            "degraded": row["degraded_channels"], "seconds": row["seconds"]}
                    for label, row in comp["rankers"].items()},
        "merged_order_without_ranker": report["lists"]["pipeline"]["reward"],
        "popularity_list": report["lists"]["popularity"]["reward"],
        "oracle": report["comparison"]["oracle"],
        "config": report["config"], "seconds": report["seconds"],
    }


def rank_study(world_dir: Path | str, batch_dir: Path | str, config: EncoreConfig, workdir: Path | str, *,
               variants: Sequence[Variant] = VARIANTS, train_days: int = 5, train_rows: int | None = 150_000,
               epochs: int | None = None, speed: bool = True, speed_item_dim: int = 64, repeats: int = 50,
               pipeline: bool = True, pipeline_rankers: Sequence[str] = PIPELINE_RANKERS,
               max_listeners: int | None = 800, bootstrap_samples: int = 200,
               say: Callable[[str], None] | None = None,
               checkpoint: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """The whole report (module docstring). ``checkpoint(report so far)`` is called
    after every stage and trained variant (a long run leaves its partial numbers)."""
    save = checkpoint or (lambda report: None)
    from encore.ranking.bench import bench_rank
    from encore.ranking.train import world_summary

    say = say or (lambda msg: None)
    world_dir, batch_dir, workdir = Path(world_dir), Path(batch_dir), Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    report: dict[str, Any] = {"benchmark": "rank", "run": "encore bench rank-study (one process)",
                              "world": {"path": str(world_dir)} | world_summary(world_dir),
                              "batch": str(batch_dir), "seconds": {}}
    load: dict[str, Any] = {"start": list(os.getloadavg())}
    if speed:
        t = time.perf_counter()
        scfg = config.ranking.model_copy(update={"item_dim": speed_item_dim})
        report["speed"] = bench_rank(scfg, ("baseline", "din", "dien", "session"), repeats=repeats, progress=say)
        report["seconds"]["speed"] = round(time.perf_counter() - t, 1)
        save(report)
    t = time.perf_counter()
    accuracy, rankers = accuracy_study(world_dir, batch_dir, config, workdir / "rankers", variants=variants,
                                       train_days=train_days, train_rows=train_rows, epochs=epochs,
                                       bootstrap_samples=bootstrap_samples, say=say,
                                       checkpoint=lambda part: save(report | {"accuracy": part}))
    report["accuracy"] = accuracy
    report["seconds"]["accuracy"] = round(time.perf_counter() - t, 1)
    load["after_accuracy"] = list(os.getloadavg())
    save(report)
    if pipeline:
        t = time.perf_counter()
        chosen = {label: rankers[label] for label in pipeline_rankers if label in rankers}
        report["pipeline"] = pipeline_study(world_dir, batch_dir, config, workdir, chosen,
                                            max_listeners=max_listeners, say=say)
        report["seconds"]["pipeline"] = round(time.perf_counter() - t, 1)
    load["end"] = list(os.getloadavg())
    report["load_average"] = load
    report["seconds"]["total"] = round(time.perf_counter() - t0, 1)
    report["claims"] = claims(report)
    return report


def claims(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Every claim of the issue judged on this run's numbers."""
    out: list[dict[str, Any]] = []
    speed = report.get("speed")
    if speed:
        dien = next((r for r in speed["results"] if r["label"] == "dien"), None)
        if dien and "500" in dien["sizes"]:
            row = dien["sizes"]["500"]
            out.append({"claim": "DIEN scores 500 candidates (T=50, D=64) in <= 8 ms p50 on these 2 cores",
                        "holds": row["p50_ms"] <= 8.0, "p50_ms": row["p50_ms"],
                        "per_row_signature_p50_ms": row.get("per_row_signature", {}).get("p50_ms"),
                        "load_average_at_start": speed["load_average"]["before"]})
    for c in report.get("accuracy", {}).get("claims", []):
        out.append({"claim": c["claim"] + " (held-out AUC, paired CI per head)", "holds": c["verdict"] == "holds",
                    "verdict": c["verdict"],
                    "auc_difference": {h: r and r["diff"] for h, r in c["auc_difference"].items()}})
    pipe = report.get("pipeline")
    if pipe:
        for label, row in pipe["rankers"].items():
            if label == pipe["reference"]:
                continue
            d = row["reward_minus_reference"]
            out.append({"claim": f"serving with the {label} ranker raises the ground-truth reward of the served "
                                 f"lists over the {pipe['reference']} ranker (same day, same listeners, same run)",
                        "holds": bool(row["beats_reference"]), "reward_difference": round(d["mean"], 4),
                        "ci": [round(d["ci_low"], 4), round(d["ci_high"], 4)]})
    return out



def rank_study_command(
    world: Path = typer.Option(..., "--world", exists=True, file_okay=False, help="World folder."),
    batch: Path = typer.Option(..., "--batch", exists=True, file_okay=False,
                               help="Batch output root (ranking_samples, item_graph, item_stats)."),
    workdir: Path = typer.Option(..., "--workdir", help="Folder for the trained artifacts and the registry."),
    out: Path = typer.Option(Path("docs/benchmarks/rank.json"), "--out", help="Report file."),
    train_days: int = typer.Option(5, "--train-days", min=1, help="Days of ranking_samples before the held-out one."),
    train_rows: Optional[int] = typer.Option(150_000, "--train-rows", min=1,
                                             help="At most this many training rows (seeded sample)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="Override ranking.epochs."),
    variants: Optional[str] = typer.Option(None, "--variants", help="Comma-separated labels (default: all)."),
    speed: bool = typer.Option(True, "--speed/--no-speed", help="Time the serving call first."),
    repeats: int = typer.Option(50, "--repeats", min=1, help="Timed calls per request size."),
    pipeline: bool = typer.Option(True, "--pipeline/--no-pipeline", help="Serve the held-out day with each ranker."),
    max_listeners: Optional[int] = typer.Option(800, "--max-listeners", min=1,
                                                help="Held-out listeners served (a seeded sample)."),
    bootstrap_samples: int = typer.Option(200, "--bootstrap-samples", min=10, help="Resamples of the AUC CIs."),
) -> None:
    """Speed, held-out AUC / GAUC per head of every ranker and ablation, the claims, and
    the served lists' reward per ranker: docs/benchmarks/rank.json from one run."""
    import json

    from encore.platform.bench.machine import machine_info
    from encore.platform.config import default_config
    from encore.ranking.inputs import RankingInputError

    def say(msg: str) -> None:
        typer.echo(f"[{time.strftime('%H:%M:%S')}] {msg}", err=True)

    chosen = list(VARIANTS)
    if variants:
        wanted = [v.strip() for v in variants.split(",") if v.strip()]
        known = {v[0] for v in VARIANTS}
        bad = [v for v in wanted if v not in known]
        if bad:
            raise typer.BadParameter(f"unknown variants {bad}; known: {sorted(known)}", param_hint="--variants")
        chosen = [v for v in VARIANTS if v[0] in wanted]
    previous = json.loads(out.read_text()) if out.is_file() else {}

    def write(report: dict[str, Any]) -> None:
        if "nowplaying" in previous:  # written by `encore bench rank-nowplaying`, a separate run: kept
            kept = [c for c in previous.get("claims", []) if c.get("source") == "nowplaying"]
            report = report | {"nowplaying": previous["nowplaying"], "claims": report.get("claims", []) + kept}
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2, default=str) + "\n")

    try:
        report = rank_study(world, batch, default_config(), workdir, variants=chosen, train_days=train_days,
                            train_rows=train_rows, epochs=epochs, speed=speed, repeats=repeats, pipeline=pipeline,
                            max_listeners=max_listeners, bootstrap_samples=bootstrap_samples, say=say,
                            checkpoint=lambda part: write(part | {"partial": True}))
    except (RankingInputError, FileNotFoundError) as err:
        typer.echo(f"error: bench rank-study: {err}", err=True)
        raise typer.Exit(code=1) from err
    report["machine"] = machine_info()
    write(report)
    say(f"wrote {out}")
    for c in report["claims"]:
        typer.echo(f"{'HOLDS' if c['holds'] else 'no   '}  {c['claim']}")
