"""Training and offline evaluation of a ranker on ``ranking_samples``.

``train_rank(batch_dir, world_dir, cfg, registry, ...)``: reads every day of the table,
trains on all but the last ``cfg.eval_days`` days, evaluates on those (through the
exported SavedModel, the artifact that will serve), and publishes the artifact to the
registry with its data window, data fingerprint and metrics (optionally promoting it).

``evaluate_ranker(ranker, frame, catalog, base_rates)``: AUC, GAUC per listener and log
loss per head, against the reference scorer ``reference_scores``: the popularity order
(the track's plays up to the previous day, ``track_plays``) for ``complete_play`` and
``heart``, its reverse for ``skip`` (popular tracks are skipped less); plus the log loss
of predicting the training base rate.

Sequence rankers (``din``, ``dien``) read the listener's behaviour sequences at each
exposure: a ``BehaviourSource`` (sample rows -> ``<b>_track_ids`` columns) supplies
them. This part may not import the Query builder (``encore.recall``), so the
composition root passes one in: ``encore.serving.behaviours.log_behaviours`` builds
them point in time from the event log with ``encore.recall.queries.queries_from_log``,
the same builder that gives the serving Pipeline its Query.

Library code receives its config (``RankingConfig``) and the registry explicitly.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from encore.platform.config import RankingConfig, SessionsConfig
from encore.platform.registry import Registry
from encore.ranking import inputs
from encore.ranking.features import HEADS, POSITION, FeatureSpec, ranking_feature_spec
from encore.ranking.metrics import evaluate

log = logging.getLogger("encore.ranking")
MODELS = ("baseline", "din", "dien", "session")
SEQUENCE_MODELS = ("din", "dien", "session")
SESSION_RULE = (SessionsConfig().max_session_ms, SessionsConfig().inactivity_gap_ms)
BehaviourSource = Callable[[pd.DataFrame], Mapping[str, Any]]
"""Sample rows (``user_id``, ``session_id``, ``ts``, ...) -> ``<b>_track_ids`` columns
(one sequence of track ids per row, oldest first, strictly before the row's ts)."""
REFERENCE = "popularity order: track_plays (previous day) for complete_play and heart, -track_plays for skip"


def split_dates(dates: Sequence[date], eval_days: int) -> tuple[list[date], list[date]]:
    """(train, eval) days: the last ``eval_days`` are held out."""
    dates = sorted(dates)
    if len(dates) <= eval_days:
        raise inputs.RankingInputError(
            f"ranking_samples has {len(dates)} day(s); need more than eval_days={eval_days}")
    return dates[:-eval_days], dates[-eval_days:]


def reference_scores(frame: pd.DataFrame, heads: Sequence[str] = HEADS) -> dict[str, np.ndarray]:
    plays = frame["track_plays"].fillna(0).to_numpy(dtype=np.float64)
    return {h: (-plays if h == "skip" else plays) for h in heads}


def model_spec(name: str, cfg: RankingConfig, session_rule: tuple[int, int] = SESSION_RULE) -> FeatureSpec:
    """The (unfitted) spec of ranker ``name``: behaviour sequences for the sequence
    rankers (with their sessions for the session ranker: ``session_rule`` =
    (max_session_ms, inactivity_gap_ms), the platform's rule), none for the baseline."""
    if name not in MODELS:
        raise ValueError(f"unknown ranker {name!r}; known: {MODELS}")
    if name == "session":
        return ranking_feature_spec(use_user_id=cfg.use_user_id, user_id_buckets=cfg.user_id_buckets,
                                    behaviours=cfg.session_behaviours, sequence_length=cfg.sequence_length,
                                    sessions={"max_session_ms": session_rule[0], "inactivity_gap_ms": session_rule[1],
                                              "max_sessions": cfg.max_sessions})
    return ranking_feature_spec(use_user_id=cfg.use_user_id, user_id_buckets=cfg.user_id_buckets,
                                behaviours=cfg.behaviours if name in SEQUENCE_MODELS else (),
                                sequence_length=cfg.sequence_length)


def with_behaviours(frame: pd.DataFrame, source: BehaviourSource | None, spec: FeatureSpec) -> pd.DataFrame:
    """``frame`` with the ``<b>_track_ids`` columns the spec needs (from ``source``);
    unchanged when the spec has no behaviours or the columns are there."""
    from encore.ranking.features import SESSION, sequence_column, sequence_feature, sequence_ts_column

    need = [sequence_column(b) for b in spec.behaviours]
    need += [sequence_ts_column(b) for b in spec.behaviours if sequence_feature(b, SESSION) in spec.names]
    if not need or all(c in frame.columns for c in need):
        return frame
    if source is None:
        raise inputs.RankingInputError(f"this ranker reads behaviour sequences {need}: pass a behaviour source "
                                       "(encore.serving.behaviours.log_behaviours)")
    columns = source(frame)
    return frame.assign(**{c: list(columns[c]) for c in need})


def build_model(name: str, spec: FeatureSpec, cfg: RankingConfig) -> Any:
    if name == "baseline":
        from encore.ranking.baseline import build_baseline

        return build_baseline(spec, cfg)
    if name == "din":
        from encore.ranking.sequence import build_din

        return build_din(spec, cfg)
    if name == "dien":
        from encore.ranking.sequence import build_dien

        return build_dien(spec, cfg)
    if name == "session":
        from encore.ranking.sequence import build_session

        return build_session(spec, cfg)
    raise ValueError(f"unknown ranker {name!r}; known: {MODELS}")


@dataclass
class Fitted:
    model: Any
    spec: FeatureSpec
    history: list[dict[str, float]]
    seconds: float
    rows: int


def fit_ranker(frame: pd.DataFrame, catalog: inputs.Catalog, cfg: RankingConfig, *, model_name: str = "baseline",
               progress: Callable[[str], None] | None = None, session_rule: tuple[int, int] = SESSION_RULE) -> Fitted:
    """Fit the spec on ``frame`` (the training split), build ``model_name`` and train it
    for ``cfg.epochs`` epochs; ``progress`` gets one line per epoch (loss, AUCs, rows/s)."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(cfg.seed)
    spec = model_spec(model_name, cfg, session_rule)
    raw = inputs.raw_features(frame, catalog, spec)
    spec = spec.fit(raw)
    model = build_model(model_name, spec, cfg)
    model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate=cfg.learning_rate))
    train_inputs = dict(raw)
    if cfg.position_buckets > 0:  # training-only input of the position-bias tower
        train_inputs[POSITION] = frame[POSITION].fillna(0).to_numpy(dtype=np.int64)
    ds = inputs.make_dataset(train_inputs, inputs.labels(frame, model.heads), batch_size=cfg.batch_size,
                             shuffle=True, seed=cfg.seed)
    history: list[dict[str, float]] = []
    n = len(frame)

    class _Progress(tf.keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self._t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds = time.perf_counter() - self._t0
            row = {k: float(v) for k, v in (logs or {}).items()}
            row.update({"epoch": epoch + 1, "seconds": round(seconds, 2), "rows_per_s": round(n / seconds)})
            history.append(row)
            if progress:
                aucs = " ".join(f"{h}_auc={row.get(f'{h}_auc', float('nan')):.4f}" for h in model.heads)
                progress(f"epoch {epoch + 1}/{cfg.epochs}: loss={row.get('total_loss', row.get('loss', 0)):.4f} "
                         f"{aucs} ({seconds:.1f}s, {n / seconds:,.0f} rows/s)")

    t0 = time.perf_counter()
    model.fit(ds, epochs=cfg.epochs, verbose=0, callbacks=[_Progress()])
    return Fitted(model=model, spec=spec, history=history, seconds=time.perf_counter() - t0, rows=n)


def example_request(frame: pd.DataFrame, catalog: inputs.Catalog, spec: FeatureSpec,
                    n: int = 8) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The first listener row of ``frame`` and its first ``n`` rows as candidates: the
    smoke example stored with an artifact."""
    head = frame.head(n)
    listener = inputs.raw_features(head.head(1), catalog, spec, ("user", "context"))
    candidates = inputs.raw_features(head, catalog, spec, ("candidate",))
    return listener, candidates


def evaluate_ranker(ranker, frame: pd.DataFrame, catalog: inputs.Catalog,
                    base_rates: Mapping[str, float]) -> dict[str, Any]:
    """Metrics per head of a loaded ``Ranker`` on ``frame`` vs the reference scorer."""
    feats = inputs.raw_features(frame, catalog, ranker.spec)
    t0 = time.perf_counter()
    probs = ranker.score_rows(feats)
    seconds = time.perf_counter() - t0
    report = evaluate(inputs.labels(frame, ranker.heads), probs, inputs.listener_keys(frame),
                      reference_scores(frame, ranker.heads), base_rates)
    return {"heads": report, "reference": REFERENCE, "rows": len(frame),
            "listeners": int(len(set(inputs.listener_keys(frame)))),
            "scoring_seconds": round(seconds, 3)}


def world_summary(world_dir: Path) -> dict[str, Any]:
    """Size of the world the samples came from (its manifest), for reports; {} when the
    folder has no world manifest (real data)."""
    path = Path(world_dir) / "manifest.json"
    if not path.is_file():
        return {}
    manifest = json.loads(path.read_text())
    cfg = manifest.get("config", {})
    return {k: cfg.get(k) for k in ("users", "days", "tracks", "artists", "seed")} | {
        "events": manifest.get("counts", {}).get("events")}


def train_rank(batch_dir: Path, world_dir: Path, cfg: RankingConfig, registry: Registry | None = None, *,
               model_name: str = "baseline", promote: bool = False, progress: Callable[[str], None] | None = None,
               artifact_dir: Path | None = None, behaviours: BehaviourSource | None = None,
               session_rule: tuple[int, int] = SESSION_RULE) -> dict[str, Any]:
    """Train on the first days, evaluate on the last ``cfg.eval_days``, export and
    (with a ``registry``) publish; returns the JSON-able report (with ``version``).
    ``behaviours``: the behaviour source sequence rankers need."""
    from encore.platform.registry import data_fingerprint
    from encore.ranking.ranker import Ranker, export_ranker

    say = progress or (lambda msg: None)
    dates = inputs.sample_dates(batch_dir)
    train_days, eval_days = split_dates(dates, cfg.eval_days)
    catalog = inputs.Catalog.from_world(world_dir)
    t0 = time.perf_counter()
    train = inputs.read_samples(batch_dir, train_days)
    held = inputs.read_samples(batch_dir, eval_days)
    say(f"read {len(train):,} training rows ({train_days[0]}..{train_days[-1]}) and {len(held):,} "
        f"evaluation rows ({eval_days[0]}..{eval_days[-1]}) in {time.perf_counter() - t0:.1f}s")
    spec = model_spec(model_name, cfg, session_rule)
    if spec.behaviours:
        t0 = time.perf_counter()
        train, held = with_behaviours(train, behaviours, spec), with_behaviours(held, behaviours, spec)
        say(f"behaviour sequences {spec.behaviours} (T={spec.sequence_length}) of every row "
            f"in {time.perf_counter() - t0:.1f}s")
    fitted = fit_ranker(train, catalog, cfg, model_name=model_name, progress=say, session_rule=session_rule)
    base_rates = {h: float(train[h].mean()) for h in fitted.model.heads}

    window = {"train": [train_days[0].isoformat(), train_days[-1].isoformat()],
              "eval": [eval_days[0].isoformat(), eval_days[-1].isoformat()]}
    files = {f"{inputs.TABLE}/{p.parent.name}/{p.name}": p for p in inputs.sample_files(batch_dir, dates)}
    files[inputs.CATALOG_FILE] = Path(world_dir) / inputs.CATALOG_FILE
    fingerprint = data_fingerprint(files)
    with tempfile.TemporaryDirectory(prefix="encore-ranker-") as tmp:
        out = Path(artifact_dir) if artifact_dir is not None else Path(tmp) / "artifact"
        export_ranker(fitted.model, fitted.spec, out, model_name=model_name,
                      example=example_request(held, catalog, fitted.spec),
                      info={"config": cfg.model_dump(mode="json"), "data_window": window,
                            "base_rates": base_rates})
        ranker = Ranker.load(out)
        ranker.smoke_test()
        evaluation = evaluate_ranker(ranker, held, catalog, base_rates)
        report: dict[str, Any] = {
            "model": model_name, "data_window": window, "data_fingerprint": fingerprint,
            "world": world_summary(world_dir),
            "train_rows": len(train), "eval_rows": len(held),
            "training": {"epochs": cfg.epochs, "seconds": round(fitted.seconds, 2),
                         "rows_per_s": round(fitted.rows * cfg.epochs / fitted.seconds), "history": fitted.history},
            "evaluation": evaluation, "base_rates": base_rates,
            "config": cfg.model_dump(mode="json"), "version": None, "promoted": False,
        }
        if registry is not None:
            metrics = {h: {"auc": r["model"]["auc"], "gauc": r["model"]["gauc"], "logloss": r["model"]["logloss"],
                           "reference_auc": r["reference"]["auc"]} for h, r in evaluation["heads"].items()}
            version = registry.publish(cfg.registry_name, out, kind=f"ranker/{model_name}", data_window=window,
                                       data_fingerprint=fingerprint, metrics=metrics,
                                       extra={"train_rows": len(train), "eval_rows": len(held)})
            report["version"] = version
            say(f"published {cfg.registry_name} {version} under {registry.root}")
            if promote:
                registry.promote(cfg.registry_name, version)
                report["promoted"] = True
                say(f"promoted {cfg.registry_name} {version}")
    return report


def eval_rank(ranker, batch_dir: Path, world_dir: Path, dates: Sequence[date] | None = None,
              eval_days: int = 1, behaviours: BehaviourSource | None = None) -> dict[str, Any]:
    """Evaluate a loaded ``Ranker`` on ``dates`` (default: the last ``eval_days``); the
    base rates for the log-loss reference come from the artifact (its training split).
    ``behaviours``: the behaviour source a sequence ranker needs."""
    all_dates = inputs.sample_dates(batch_dir)
    days = list(dates) if dates else all_dates[-eval_days:]
    frame = with_behaviours(inputs.read_samples(batch_dir, days), behaviours, ranker.spec)
    catalog = inputs.Catalog.from_world(world_dir)
    base = ranker.info.get("info", {}).get("base_rates") or {h: float(frame[h].mean()) for h in ranker.heads}
    out = evaluate_ranker(ranker, frame, catalog, base)
    out["dates"] = [d.isoformat() for d in days]
    out["model"] = ranker.model_name
    return out
