"""Training and benchmarking the emotion model (:mod:`encore.recall.emotion`):
``encore train emotion`` and ``encore bench emotion`` -> docs/benchmarks/emotion.json.

Two data sets, the same protocol: ``folds``-fold cross-validation over seeded shuffled
folds; every model of a data set is fitted and scored on the same folds in the same run;
R^2 and MAE per axis of the pooled out-of-fold predictions, and the mean and standard
deviation of the per-fold R^2.

* **world** (``--world``): every catalog track; inputs its audio vector (A = 16) and
  lyrics (L = 24 tokens); targets the world's true (valence, arousal). Models: the
  emotion model (audio + lyrics), the emotion model on audio only (the lyrics branch
  ablated), ridge and gradient-boosted trees on the audio and on audio + lyrics (ridge:
  the bag of words; trees: its 32-d LSA, a truncated SVD of the tf-idf matrix fitted on
  the training folds), and the mean of the emotion model's and those trees' predictions
  (an ensemble, reported beside the model alone).
* **spotify** (``../shared/data/spotify-features``, audio only): the 9,025 unique track
  ids of ``spotify_tracks.csv`` (``encore.platform.data.spotify`` validates it and
  de-duplicates ids); inputs the README baselines' nine descriptors (``SPOTIFY_INPUTS``);
  targets valence and energy (arousal). Ridge and trees read the descriptors as they
  are (the README's baselines); the emotion model reads them after monotone log
  transforms of the skewed ones (``neural_descriptors``; trees are blind to such
  transforms, ridge is also reported on them). The mean of the emotion model's and the
  trees' predictions is reported as an ensemble beside the model alone.

``train_emotion`` fits the model on all rows (its early-stopping share held out of
them), predicts every track and publishes ``emotion.registry_name`` (world) or
``<name>.spotify`` (audio-only) with ``track_emotion.parquet`` in the artifact.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import typer

from encore.platform.config import EmotionConfig
from encore.recall.emotion import EmotionInputs, EmotionModel, predictions_table, world_inputs
from encore.recall.emotion_baselines import GradientBoostedTrees, Ridge, kfold, mae, r2

log = logging.getLogger(__name__)

SPOTIFY_INPUTS = ("danceability", "key", "loudness", "speechiness", "acousticness", "instrumentalness",
                  "liveness", "tempo", "duration")
SPOTIFY_TARGETS = ("valence", "energy")  # energy stands in for arousal
_LOG_SHIFT = {"speechiness": 0.01, "acousticness": 0.01, "instrumentalness": 0.01, "liveness": 0.01,
              "duration": 1000.0}
LSA_DIM = 32
README_BASELINES = {"ridge": {"valence": 0.174, "energy": 0.643},
                    "gradient_boosted_trees": {"valence": 0.285, "energy": 0.729}}
TARGET_R2 = {"valence": 0.35, "energy": 0.76}


def spotify_emotion_data(data_dir: str | os.PathLike[str] | None = None
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """(track ids (N,), descriptors (N, 9) in ``SPOTIFY_INPUTS`` order, targets (N, 2)
    valence and energy, what the loader dropped). Raises ``DataFileError`` naming the
    file, column and row on a malformed CSV."""
    from encore.platform.data.common import DataFileError
    from encore.platform.data.spotify import load_spotify

    data = load_spotify(data_dir)
    frame = data.tracks
    for column in SPOTIFY_INPUTS + SPOTIFY_TARGETS:
        values = frame[column].to_numpy(np.float64)
        if not np.isfinite(values).all():
            row = int(np.flatnonzero(~np.isfinite(values))[0])
            raise DataFileError(data.path, f"column {column!r}: expected a number, found {frame[column].iloc[row]!r}",
                                f"track {frame['id'].iloc[row]!r}")
    if data.num_tracks < 20:
        raise DataFileError(data.path, f"only {data.num_tracks} unique tracks: too few to cross-validate")
    info = {"file": str(data.path), "rows_read": data.rows_read, "incomplete_dropped": data.incomplete_dropped,
            "duplicate_ids_dropped": data.duplicates_dropped, "tracks": data.num_tracks}
    return (frame["id"].to_numpy(object), frame[list(SPOTIFY_INPUTS)].to_numpy(np.float64),
            frame[list(SPOTIFY_TARGETS)].to_numpy(np.float64), info)


def neural_descriptors(x: np.ndarray) -> np.ndarray:
    """(N, 9) Spotify descriptors -> (N, 9): log(x + shift) of the skewed ones (they
    pile up near 0), so standardisation does not squash most tracks together."""
    out = np.array(x, np.float64)
    for j, name in enumerate(SPOTIFY_INPUTS):
        if name in _LOG_SHIFT:
            out[:, j] = np.log(out[:, j] + _LOG_SHIFT[name])
    return out.astype(np.float32)


def bag_of_words(lyrics: np.ndarray, vocab: int) -> np.ndarray:
    """(N, L) token ids -> (N, vocab - 1) counts (padding 0 dropped)."""
    counts = np.zeros((len(lyrics), vocab), np.float64)
    np.add.at(counts, (np.repeat(np.arange(len(lyrics)), lyrics.shape[1]), lyrics.ravel()), 1.0)
    return counts[:, 1:]


class LSA:
    """tf-idf of counts -> top-``dim`` right singular vectors (fitted on training rows)."""

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def fit(self, counts: np.ndarray) -> "LSA":
        self.idf = np.log((1 + len(counts)) / (1 + (counts > 0).sum(0))) + 1
        _, _, vt = np.linalg.svd(counts * self.idf, full_matrices=False)
        self.components = vt[: self.dim].T
        return self

    def transform(self, counts: np.ndarray) -> np.ndarray:
        return (counts * self.idf) @ self.components


def _gbt(cfg: EmotionConfig) -> GradientBoostedTrees:
    return GradientBoostedTrees(trees=cfg.gbt_trees, depth=cfg.gbt_depth, learning_rate=cfg.gbt_learning_rate,
                                min_leaf=cfg.gbt_min_leaf, subsample=cfg.gbt_subsample, bins=cfg.gbt_bins,
                                seed=cfg.seed)


Fitter = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (train rows, test rows) -> (n_test, 2) predictions


def cross_validate(models: dict[str, Fitter], targets: np.ndarray, folds: list[np.ndarray], axes: tuple[str, str],
                   say: Callable[[str], None]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Every model on the same folds: pooled out-of-fold R^2 / MAE per axis, per-fold
    R^2 mean and std, fit seconds; and the out-of-fold predictions."""
    n = len(targets)
    table: dict[str, Any] = {}
    oof: dict[str, np.ndarray] = {}
    for name, fit_predict in models.items():
        pred = np.zeros((n, 2))
        fold_r2 = []
        started = time.perf_counter()
        for i, test in enumerate(folds, 1):
            train = np.setdiff1d(np.arange(n), test)
            pred[test] = fit_predict(train, test)
            fold_r2.append(r2(targets[test], pred[test]))
            spent = time.perf_counter() - started
            say(f"  {name}: fold {i}/{len(folds)} R^2 {fold_r2[-1][0]:.3f} / {fold_r2[-1][1]:.3f} "
                f"({spent / i:.0f}s/fold, ~{spent / i * (len(folds) - i):.0f}s left)")
        oof[name] = pred
        table[name] = _scores(targets, pred, axes, np.array(fold_r2), time.perf_counter() - started)
    return table, oof


def _scores(targets: np.ndarray, pred: np.ndarray, axes: tuple[str, str], fold_r2: np.ndarray | None,
            seconds: float | None) -> dict[str, Any]:
    pooled_r2, pooled_mae = r2(targets, pred), mae(targets, pred)
    out: dict[str, Any] = {}
    for k, axis in enumerate(axes):
        out[axis] = {"r2": round(float(pooled_r2[k]), 4), "mae": round(float(pooled_mae[k]), 4)}
        if fold_r2 is not None:
            out[axis].update({"r2_fold_mean": round(float(fold_r2[:, k].mean()), 4),
                              "r2_fold_std": round(float(fold_r2[:, k].std()), 4)})
    if seconds is not None:
        out["seconds"] = round(seconds, 1)
    return out


def world_table(world_dir: Path, cfg: EmotionConfig, say: Callable[[str], None]) -> dict[str, Any]:
    ids, inputs, y = world_inputs(world_dir)
    assert inputs.lyrics is not None
    vocab = int(inputs.lyrics.max()) + 1
    bow = bag_of_words(inputs.lyrics, vocab)
    audio = inputs.audio.astype(np.float64)
    folds = kfold(len(ids), cfg.folds, cfg.seed)
    training: dict[str, list[dict[str, Any]]] = {"emotion_model": [], "emotion_model_audio_only": []}

    def neural(name: str, with_lyrics: bool) -> Fitter:
        def fit_predict(train: np.ndarray, test: np.ndarray) -> np.ndarray:
            data = inputs if with_lyrics else EmotionInputs(inputs.audio)
            model = EmotionModel(cfg).fit(data.take(train), y[train])
            training[name].append(model.training)
            return model.predict(data.take(test))
        return fit_predict

    def lsa_gbt(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        lsa = LSA(LSA_DIM).fit(bow[train])
        x = np.hstack([audio, lsa.transform(bow)])
        return _gbt(cfg).fit(x[train], y[train]).predict(x[test])

    audio_bow = np.hstack([audio, bow])
    models: dict[str, Fitter] = {
        "emotion_model": neural("emotion_model", True),
        "emotion_model_audio_only": neural("emotion_model_audio_only", False),
        "ridge_audio": lambda tr, te: Ridge(tuple(cfg.ridge_alphas)).fit(audio[tr], y[tr]).predict(audio[te]),
        "ridge_audio_lyrics_bow": lambda tr, te: Ridge(tuple(cfg.ridge_alphas)).fit(audio_bow[tr], y[tr]).predict(audio_bow[te]),
        "gradient_boosted_trees_audio": lambda tr, te: _gbt(cfg).fit(audio[tr], y[tr]).predict(audio[te]),
        "gradient_boosted_trees_audio_lyrics_lsa": lsa_gbt,
    }
    say(f"world {world_dir}: {len(ids):,} tracks, audio {inputs.audio.shape[1]}, lyrics {inputs.lyrics.shape[1]} "
        f"tokens (vocabulary {vocab})")
    table, oof = cross_validate(models, y, folds, ("valence", "arousal"), say)
    ensemble = (oof["emotion_model"] + oof["gradient_boosted_trees_audio_lyrics_lsa"]) / 2
    table["ensemble_emotion_model_gbt_mean"] = _scores(
        y, ensemble, ("valence", "arousal"), np.array([r2(y[f], ensemble[f]) for f in folds]), None)
    return {"data": {"world": str(world_dir), "tracks": int(len(ids)), "audio_dim": int(inputs.audio.shape[1]),
                     "lyrics_len": int(inputs.lyrics.shape[1]), "lyrics_vocabulary": vocab, "folds": cfg.folds},
            "models": table, "training": training}


def spotify_table(data_dir: Optional[Path], cfg: EmotionConfig, say: Callable[[str], None]) -> dict[str, Any]:
    ids, x, y, info = spotify_emotion_data(data_dir)
    xn = neural_descriptors(x)
    folds = kfold(len(ids), cfg.folds, cfg.seed)
    training: list[dict[str, Any]] = []

    def neural(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        model = EmotionModel(cfg).fit(EmotionInputs(xn[train]), y[train])
        training.append(model.training)
        return model.predict(EmotionInputs(xn[test]))

    models: dict[str, Fitter] = {
        "emotion_model": neural,
        "ridge": lambda tr, te: Ridge(tuple(cfg.ridge_alphas)).fit(x[tr], y[tr]).predict(x[te]),
        "ridge_log_inputs": lambda tr, te: Ridge(tuple(cfg.ridge_alphas)).fit(xn[tr], y[tr]).predict(xn[te]),
        "gradient_boosted_trees": lambda tr, te: _gbt(cfg).fit(x[tr], y[tr]).predict(x[te]),
    }
    say(f"spotify {info['file']}: {len(ids):,} unique tracks, inputs {', '.join(SPOTIFY_INPUTS)}")
    table, oof = cross_validate(models, y, folds, SPOTIFY_TARGETS, say)
    ensemble = (oof["emotion_model"] + oof["gradient_boosted_trees"]) / 2
    fold_r2 = np.array([r2(y[f], ensemble[f]) for f in folds])
    table["ensemble_emotion_model_gbt_mean"] = _scores(y, ensemble, SPOTIFY_TARGETS, fold_r2, None)
    return {"data": {**info, "inputs": list(SPOTIFY_INPUTS), "targets": {"valence": "valence", "arousal": "energy"},
                     "neural_input_transforms": {k: f"log(x + {v})" for k, v in _LOG_SHIFT.items()},
                     "folds": cfg.folds},
            "models": table, "training": training}


def claims(report: dict[str, Any]) -> dict[str, Any]:
    """The issue's targets and the design's claims, judged on this run's numbers."""
    out: dict[str, Any] = {}
    world = report.get("world", {}).get("models", {})
    if world:
        for axis in ("valence", "arousal"):
            best = max(("ridge_audio_lyrics_bow", "gradient_boosted_trees_audio_lyrics_lsa"),
                       key=lambda m: world[m][axis]["r2"])
            out[f"world_emotion_model_beats_both_baselines_on_{axis}_r2"] = (
                world["emotion_model"][axis]["r2"] > world[best][axis]["r2"])
            if "ensemble_emotion_model_gbt_mean" in world:
                out[f"world_ensemble_beats_both_baselines_on_{axis}_r2"] = (
                    world["ensemble_emotion_model_gbt_mean"][axis]["r2"] > world[best][axis]["r2"])
            out[f"world_lyrics_branch_helps_{axis}_r2"] = (
                world["emotion_model"][axis]["r2"] > world["emotion_model_audio_only"][axis]["r2"])
    spotify = report.get("spotify", {}).get("models", {})
    if spotify:
        for axis in SPOTIFY_TARGETS:
            model, ens = spotify["emotion_model"][axis]["r2"], spotify["ensemble_emotion_model_gbt_mean"][axis]["r2"]
            out[f"spotify_{axis}_r2_target_{TARGET_R2[axis]}_met_by_emotion_model"] = model >= TARGET_R2[axis]
            out[f"spotify_{axis}_r2_target_{TARGET_R2[axis]}_met_by_ensemble"] = ens >= TARGET_R2[axis]
            for base in ("ridge", "gradient_boosted_trees"):
                out[f"spotify_emotion_model_beats_{base}_same_run_on_{axis}_r2"] = model > spotify[base][axis]["r2"]
                out[f"spotify_emotion_model_beats_readme_{base}_{README_BASELINES[base][axis]}_on_{axis}_r2"] = (
                    model > README_BASELINES[base][axis])
            out[f"spotify_ensemble_beats_gradient_boosted_trees_same_run_on_{axis}_r2"] = (
                ens > spotify["gradient_boosted_trees"][axis]["r2"])
    return out


def run_bench(world_dir: Optional[Path], data_dir: Optional[Path], out: Path, cfg: EmotionConfig,
              say: Callable[[str], None] = print) -> dict[str, Any]:
    """The whole benchmark (module docstring); writes and returns the report."""
    import tensorflow as tf

    from encore.platform.bench.machine import machine_info, write_report

    load_before = os.getloadavg()
    started = time.perf_counter()
    report: dict[str, Any] = {"benchmark": "emotion", "config": cfg.model_dump(mode="json"),
                              "protocol": f"{cfg.folds}-fold CV, seeded shuffled folds (seed {cfg.seed}), every model "
                                          "on the same folds in this run; r2/mae of the pooled out-of-fold predictions",
                              "readme_baselines_r2": README_BASELINES, "targets_r2": TARGET_R2}
    if world_dir is not None:
        report["world"] = world_table(world_dir, cfg, say)
    report["spotify"] = spotify_table(data_dir, cfg, say)
    report.update({"seconds": round(time.perf_counter() - started, 1), "machine": machine_info(),
                   "load_average_1_5_15": {"before": load_before, "after": os.getloadavg()},
                   "versions": {"tensorflow": tf.__version__, "numpy": np.__version__}})
    write_report(report, out, claims, say)
    say(f"wrote {out}")
    return report


def train_emotion(cfg: EmotionConfig, registry_root: Path, *, world_dir: Optional[Path] = None,
                  data_dir: Optional[Path] = None, promote: bool = True,
                  say: Callable[[str], None] = print) -> dict[str, Any]:
    """Fit on every track of the world (audio + lyrics) or of the Spotify file (audio
    only), publish (and promote) it with the predictions of every track; returns the
    summary (registry name, version, training, files)."""
    from encore.platform.registry import Registry, data_fingerprint

    started = time.perf_counter()
    if world_dir is not None:
        ids, inputs, y = world_inputs(world_dir)
        name, kind = cfg.registry_name, "emotion/audio_lyrics"
        source = world_dir / "catalog" / "tracks.parquet"
        files = {"catalog/tracks.parquet": source}
    else:
        ids, x, y, info = spotify_emotion_data(data_dir)
        inputs = EmotionInputs(neural_descriptors(x))
        name, kind = f"{cfg.registry_name}.spotify", "emotion/audio"
        source = Path(info["file"])
        files = {"spotify-features/spotify_tracks.csv": source}
    say(f"fitting {name} on {len(ids):,} tracks ({'audio + lyrics' if inputs.lyrics is not None else 'audio only'})")
    model = EmotionModel(cfg).fit(inputs, y, say=say)
    predicted = model.predict(inputs)
    fitted_r2 = r2(y, predicted)
    reg = Registry(registry_root)
    with tempfile.TemporaryDirectory(prefix="encore-emotion-") as tmp:
        folder = model.save(Path(tmp) / "artifact")
        table = predictions_table(ids, predicted) if world_dir is not None else _spotify_predictions(ids, predicted)
        import pyarrow.parquet as pq

        pq.write_table(table, folder / "track_emotion.parquet")
        version = reg.publish(name, folder, kind=kind, data_window={"source": str(source), "tracks": int(len(ids))},
                              data_fingerprint=data_fingerprint(files),
                              metrics={"fit_r2_valence": float(fitted_r2[0]), "fit_r2_arousal": float(fitted_r2[1])},
                              extra={"training": model.training})
    if promote:
        reg.promote(name, version)
    summary = {"registry_name": name, "version": version, "registry": str(reg.root), "promoted": promote,
               "tracks": int(len(ids)), "training": model.training,
               "in_sample_r2": {"valence": round(float(fitted_r2[0]), 4), "arousal": round(float(fitted_r2[1]), 4)},
               "seconds": round(time.perf_counter() - started, 1)}
    say(f"{name} {version}: {len(ids):,} tracks, {model.training['epochs_run']} epochs "
        f"({model.training['seconds']:.0f}s), in-sample R^2 {fitted_r2[0]:.3f} / {fitted_r2[1]:.3f}"
        + (", promoted" if promote else ""))
    return summary


def _spotify_predictions(ids: np.ndarray, predicted: np.ndarray):
    import pyarrow as pa

    return pa.table({"spotify_id": pa.array(ids.astype(str)),
                     "predicted_valence": pa.array(predicted[:, 0].astype(np.float32)),
                     "predicted_arousal": pa.array(predicted[:, 1].astype(np.float32))})


def _say(msg: str) -> None:
    typer.echo(f"[{time.strftime('%H:%M:%S')}] {msg}", err=True)


def _overrides(cfg: EmotionConfig, epochs: Optional[int], folds: Optional[int]) -> EmotionConfig:
    update = {k: v for k, v in (("epochs", epochs), ("folds", folds)) if v is not None}
    return cfg.model_copy(update=update) if update else cfg


def train_emotion_command(
    world: Optional[Path] = typer.Option(None, "--world", exists=True, file_okay=False,
                                         help="World folder: fit on its tracks' audio + lyrics."),
    spotify: bool = typer.Option(False, "--spotify", help="Fit audio-only on spotify-features instead."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Shared data folder (default paths.shared_data_dir)."),
    registry: Optional[Path] = typer.Option(None, "--registry", help="Registry root (default registry.root)."),
    epochs: Optional[int] = typer.Option(None, help="Override emotion.epochs."),
    promote: bool = typer.Option(True, "--promote/--no-promote", help="Promote the published version."),
    report: Optional[Path] = typer.Option(None, "--report", help="Write the JSON summary to this file."),
) -> None:
    """Fit the emotion model on every track and publish it (with every track's predicted
    valence and arousal) as emotion (world) or emotion.spotify."""
    from encore.platform.config import default_config
    from encore.platform.data.common import DataFileError
    from encore.recall.emotion import EmotionInputError

    if (world is None) == (not spotify):
        raise typer.BadParameter("give exactly one of --world W or --spotify", param_hint="--world")
    config = default_config()
    cfg = _overrides(config.emotion, epochs, None)
    try:
        summary = train_emotion(cfg, registry if registry is not None else config.registry.root, world_dir=world,
                                data_dir=data_dir, promote=promote, say=_say)
    except (DataFileError, EmotionInputError, FileNotFoundError) as err:
        typer.echo(f"error: train emotion: {err}", err=True)
        raise typer.Exit(code=1) from err
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n")
        typer.echo(f"wrote {report}")


def bench_emotion_command(
    world: Optional[Path] = typer.Option(None, "--world", exists=True, file_okay=False,
                                         help="World folder (audio + lyrics; omit for Spotify only)."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Shared data folder (default paths.shared_data_dir)."),
    epochs: Optional[int] = typer.Option(None, help="Override emotion.epochs."),
    folds: Optional[int] = typer.Option(None, help="Override emotion.folds."),
    out: Path = typer.Option(Path("docs/benchmarks/emotion.json"), "--out", help="Result JSON."),
) -> None:
    """The emotion model vs ridge and gradient-boosted trees, R^2 / MAE per axis, same
    folds, one run: on a world (audio + lyrics) and on spotify-features (audio only)."""
    from encore.platform.config import default_config
    from encore.platform.data.common import DataFileError

    cfg = _overrides(default_config().emotion, epochs, folds)
    try:
        run_bench(world, data_dir, out, cfg, say=_say)
    except DataFileError as err:
        typer.echo(f"error: bench emotion: {err}", err=True)
        raise typer.Exit(code=1) from err
