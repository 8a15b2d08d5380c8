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
  de-duplicates ids); targets valence and energy (arousal). Every input set of
  ``emotion.spotify_input_sets`` (``encore.recall.emotion_inputs``: ``readme_nine``, the
  README baselines' nine descriptors; ``all_descriptors``, + mode, popularity, release
  year; ``all_descriptors_artist``, + the leak-free artist target encoding) is run with
  every model on the same folds: ridge and trees read the inputs as they are (the
  README's baselines on ``readme_nine``); the emotion model reads them after monotone log
  transforms of the skewed ones (``neural_descriptors``; trees are blind to such
  transforms); the mean of the emotion model's and the trees' predictions is reported as
  an ensemble beside the model alone. With ``emotion.spotify_grouped_folds`` the same
  table is run again on folds grouped by (lower-cased name, artist), so tracks the file
  repeats under different ids never sit on both sides of a fold (a robustness line).

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
from encore.recall.emotion_baselines import GradientBoostedTrees, Ridge, group_kfold, kfold, mae, r2
from encore.recall.emotion_inputs import INPUT_SETS, README_NINE, SpotifyData, fold_inputs, track_groups

log = logging.getLogger(__name__)

SPOTIFY_INPUTS = README_NINE
SPOTIFY_TARGETS = ("valence", "energy")  # energy stands in for arousal
_LOG_SHIFT = {"speechiness": 0.01, "acousticness": 0.01, "instrumentalness": 0.01, "liveness": 0.01,
              "duration": 1000.0, "artist_count": 1.0}
LSA_DIM = 32
README_BASELINES = {"ridge": {"valence": 0.174, "energy": 0.643},
                    "gradient_boosted_trees": {"valence": 0.285, "energy": 0.729}}
TARGET_R2 = {"valence": 0.35, "energy": 0.76}


def spotify_emotion_data(data_dir: str | os.PathLike[str] | None = None) -> SpotifyData:
    """Every track's descriptors (N, 12, release year NaN where unknown), targets (N, 2)
    valence and energy, artist, (name, artist) group, and what the loader dropped.
    Raises ``DataFileError`` naming the file, column and row on a malformed CSV."""
    from encore.platform.data.common import DataFileError
    from encore.platform.data.spotify import load_spotify
    from encore.recall.emotion_inputs import ALL_DESCRIPTORS

    data = load_spotify(data_dir)
    frame = data.tracks
    for column in tuple(c for c in ALL_DESCRIPTORS if c != "release_year") + SPOTIFY_TARGETS:
        values = frame[column].to_numpy(np.float64)
        if not np.isfinite(values).all():
            row = int(np.flatnonzero(~np.isfinite(values))[0])
            raise DataFileError(data.path, f"column {column!r}: expected a number, found {frame[column].iloc[row]!r}",
                                f"track {frame['id'].iloc[row]!r}")
    if data.num_tracks < 20:
        raise DataFileError(data.path, f"only {data.num_tracks} unique tracks: too few to cross-validate")
    groups = track_groups(frame["name"], frame["artist"], frame["id"])
    sizes = np.bincount(groups)
    artists = frame["artist"].fillna("").astype(str).str.strip().to_numpy(object)
    info = {"file": str(data.path), "rows_read": data.rows_read, "incomplete_dropped": data.incomplete_dropped,
            "duplicate_ids_dropped": data.duplicates_dropped, "tracks": data.num_tracks,
            "release_year_missing": data.release_year_missing, "popularity_missing": 0,
            "popularity_zero": int((frame["popularity"] == 0).sum()),
            "artists": int(len(set(artists) - {""})), "tracks_without_artist": int((artists == "").sum()),
            "name_artist_groups": int(len(sizes)), "name_artist_groups_repeated": int((sizes > 1).sum()),
            "tracks_in_repeated_groups": int(sizes[sizes > 1].sum())}
    return SpotifyData(ids=frame["id"].to_numpy(object), descriptors=frame[list(ALL_DESCRIPTORS)].to_numpy(np.float64),
                       targets=frame[list(SPOTIFY_TARGETS)].to_numpy(np.float64), artists=artists, groups=groups,
                       info=info)


def neural_descriptors(x: np.ndarray, columns: tuple[str, ...] = SPOTIFY_INPUTS) -> np.ndarray:
    """(N, F) Spotify inputs named ``columns`` -> (N, F): log(x + shift) of the skewed
    ones (they pile up near 0), so standardisation does not squash most tracks together."""
    out = np.array(x, np.float64)
    for j, name in enumerate(columns):
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


def _spotify_models(data: SpotifyData, input_set: str, cfg: EmotionConfig, groups: np.ndarray | None,
                    training: list[dict[str, Any]], fills: list[dict[str, Any]]) -> dict[str, Fitter]:
    """The emotion model, ridge and trees on ``input_set``, each fold's inputs assembled
    from its training rows (``fold_inputs``); the model's training summaries and the
    fills go to ``training`` and ``fills``."""
    y, columns = data.targets, INPUT_SETS[input_set]

    def inputs(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        x, fill = fold_inputs(data, input_set, train, test, prior=cfg.artist_prior,
                              inner_folds=cfg.artist_inner_folds, seed=cfg.seed + 1, groups=groups)
        fills.append(fill)
        return x

    def neural(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        xn = neural_descriptors(inputs(train, test), columns)
        model = EmotionModel(cfg).fit(EmotionInputs(xn[train]), y[train])
        training.append(model.training)
        return model.predict(EmotionInputs(xn[test]))

    def ridge(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        x = inputs(train, test)
        return Ridge(tuple(cfg.ridge_alphas)).fit(x[train], y[train]).predict(x[test])

    def trees(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        x = inputs(train, test)
        return _gbt(cfg).fit(x[train], y[train]).predict(x[test])

    return {"emotion_model": neural, "ridge": ridge, "gradient_boosted_trees": trees}


def _spotify_sets(data: SpotifyData, folds: list[np.ndarray], cfg: EmotionConfig, grouped: bool,
                  say: Callable[[str], None]) -> dict[str, Any]:
    """Every input set of ``cfg.spotify_input_sets`` with every model on ``folds``."""
    y = data.targets
    out: dict[str, Any] = {}
    for input_set in cfg.spotify_input_sets:
        columns = INPUT_SETS[input_set]
        training: list[dict[str, Any]] = []
        fills: list[dict[str, Any]] = []
        models = _spotify_models(data, input_set, cfg, data.groups if grouped else None, training, fills)
        say(f"spotify{' grouped folds' if grouped else ''}, inputs {input_set} ({len(columns)}: "
            f"{', '.join(columns)})")
        table, oof = cross_validate(models, y, folds, SPOTIFY_TARGETS, say)
        ensemble = (oof["emotion_model"] + oof["gradient_boosted_trees"]) / 2
        fold_r2 = np.array([r2(y[f], ensemble[f]) for f in folds])
        table["ensemble_emotion_model_gbt_mean"] = _scores(y, ensemble, SPOTIFY_TARGETS, fold_r2, None)
        filled = {name: {"fill": "training-fold median", "rows": fill[name]["rows"],
                         "values": sorted({round(f[name]["value"], 4) for f in fills if name in f})}
                  for fill in fills[:1] for name in fill}
        out[input_set] = {"inputs": list(columns), "uses_artist_id": input_set.endswith("_artist"),
                          "fills": filled, "models": table, "training": training}
    return out


def spotify_table(data_dir: Optional[Path], cfg: EmotionConfig, say: Callable[[str], None]) -> dict[str, Any]:
    data = spotify_emotion_data(data_dir)
    n = len(data.ids)
    say(f"spotify {data.info['file']}: {n:,} unique tracks, {data.info['artists']:,} artists, "
        f"{data.info['name_artist_groups']:,} (name, artist) groups")
    report: dict[str, Any] = {
        "data": {**data.info, "targets": {"valence": "valence", "arousal": "energy"},
                 "input_sets": {name: list(INPUT_SETS[name]) for name in cfg.spotify_input_sets},
                 "neural_input_transforms": {k: f"log(x + {v})" for k, v in _LOG_SHIFT.items()},
                 "missing_values": "release_year (no date or year 0000) filled with the training fold's median",
                 "artist_encoding": {"prior": cfg.artist_prior, "inner_folds": cfg.artist_inner_folds,
                                     "formula": "(sum of the artist's targets + prior * fitting rows' mean) / "
                                                "(artist's rows + prior), fitted on the fold's training rows; "
                                                "training rows encoded out of inner folds"},
                 "folds": cfg.folds},
        "input_sets": _spotify_sets(data, kfold(n, cfg.folds, cfg.seed), cfg, False, say)}
    if cfg.spotify_grouped_folds:
        report["grouped_folds"] = {
            "folds": "grouped by (lower-cased name, artist): no repeated track on both sides of a fold; the "
                     "artist encoding's inner folds are grouped the same way",
            "groups": data.info["name_artist_groups"],
            "input_sets": _spotify_sets(data, group_kfold(data.groups, cfg.folds, cfg.seed), cfg, True, say)}
    return report


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
    spotify = report.get("spotify", {})
    out.update(_spotify_claims("spotify", spotify.get("input_sets", {})))
    out.update(_spotify_claims("spotify_grouped_folds", spotify.get("grouped_folds", {}).get("input_sets", {})))
    return out


def _spotify_claims(prefix: str, sets: dict[str, Any]) -> dict[str, Any]:
    """The issue's targets on the sets beyond the README's nine (model alone and
    ensemble); the nine against the README baselines; every set against the same run's
    baselines."""
    out: dict[str, Any] = {}
    for input_set, row in sets.items():
        models = row["models"]
        for axis in SPOTIFY_TARGETS:
            model, ens = models["emotion_model"][axis]["r2"], models["ensemble_emotion_model_gbt_mean"][axis]["r2"]
            head = f"{prefix}_{input_set}"
            if input_set != "readme_nine":
                out[f"{head}_{axis}_r2_target_{TARGET_R2[axis]}_met_by_emotion_model"] = model >= TARGET_R2[axis]
                out[f"{head}_{axis}_r2_target_{TARGET_R2[axis]}_met_by_ensemble"] = ens >= TARGET_R2[axis]
            for base in ("ridge", "gradient_boosted_trees"):
                out[f"{head}_emotion_model_beats_{base}_same_run_on_{axis}_r2"] = model > models[base][axis]["r2"]
                if input_set == "readme_nine":
                    out[f"{head}_emotion_model_beats_readme_{base}_{README_BASELINES[base][axis]}_on_{axis}_r2"] = (
                        model > README_BASELINES[base][axis])
            out[f"{head}_ensemble_beats_gradient_boosted_trees_same_run_on_{axis}_r2"] = (
                ens > models["gradient_boosted_trees"][axis]["r2"])
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
        data = spotify_emotion_data(data_dir)
        ids, y, every = data.ids, data.targets, np.arange(len(data.ids))
        columns = INPUT_SETS[cfg.spotify_train_inputs]
        x, _ = fold_inputs(data, cfg.spotify_train_inputs, every, every, prior=cfg.artist_prior,
                           inner_folds=cfg.artist_inner_folds, seed=cfg.seed + 1)  # fills: medians of all rows
        inputs = EmotionInputs(neural_descriptors(x, columns))
        name, kind = f"{cfg.registry_name}.spotify", "emotion/audio"
        source = Path(data.info["file"])
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
