"""``encore bench emotion`` pieces: the Spotify inputs and their errors, one tiny
end-to-end benchmark run, the claims. (``train emotion`` into the registry is tested on
its way to Feast: tests/integration/feature_store/test_track_emotion_feast.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from encore.platform.data.common import DataFileError
from encore.recall.emotion_bench import (
    SPOTIFY_INPUTS,
    claims,
    neural_descriptors,
    run_bench,
    spotify_emotion_data,
)
from encore.recall.emotion_inputs import ALL_DESCRIPTORS

from testkit.emotion import TINY

HEADER = (",id,name,preview_url,artist,duration,popularity,release_date,valence,danceability,energy,key,loudness,"
          "mode,speechiness,acousticness,instrumentalness,liveness,tempo")


def _write_spotify(root: Path, n: int, seed: int = 0) -> Path:
    """n tracks whose energy follows loudness and valence danceability, plus one repeated id."""
    rng = np.random.default_rng(seed)
    lines = [HEADER]
    for i in range(n):
        dance, loud = rng.uniform(0.2, 0.9), rng.uniform(-20, -2)
        energy = float(np.clip((loud + 20) / 18 + rng.normal(0, 0.05), 0, 1))
        valence = float(np.clip(dance + rng.normal(0, 0.1), 0, 1))
        date = "0000" if i == 3 else ("2019" if i % 2 else f"20{i % 20:02d}-01-01")  # 0000: an unknown date
        lines.append(f"{i},id{i},Song {i},,art{i % 7},{rng.integers(90_000, 400_000)}.0,{i % 90}.0,{date},"
                     f"{valence:.3f},{dance:.3f},{energy:.3f},{i % 12},{loud:.3f},1,{rng.uniform(0.02, 0.3):.4f},"
                     f"{rng.uniform(0, 1):.3f},{rng.uniform(0, 0.5):.4f},{rng.uniform(0.05, 0.6):.3f},"
                     f"{rng.uniform(70, 180):.3f}")
    lines.append(lines[1].replace("0,id0,Song 0", f"{n},id0,Song 0 again", 1))
    path = root / "spotify-features" / "spotify_tracks.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def test_spotify_inputs_dedupe_ids_and_keep_the_readme_order(tmp_path: Path) -> None:
    _write_spotify(tmp_path, 30)
    data = spotify_emotion_data(tmp_path)
    x, y, info = data.descriptors, data.targets, data.info
    assert x.shape == (30, len(ALL_DESCRIPTORS)) and y.shape == (30, 2) and len(set(data.ids)) == 30
    assert ALL_DESCRIPTORS[:9] == SPOTIFY_INPUTS
    assert info["duplicate_ids_dropped"] == 1 and info["rows_read"] == 31
    assert info["release_year_missing"] == 1 and np.isnan(x[3, -1]) and x[1, -1] == 2019 and x[2, -1] == 2002
    assert info["artists"] == 7 and info["name_artist_groups"] == 30 and data.artists[8] == "art1"
    # log(x + shift) of the skewed descriptors only; loudness (index 2) passes as it is
    x = x[:, :9]
    xn = neural_descriptors(x)
    assert xn[:, 2] == pytest.approx(x[:, 2]) and xn[:, 3] == pytest.approx(np.log(x[:, 3] + 0.01), rel=1e-6)


def _set_field(text: str, row: int, column: str, value: str) -> str:
    lines = text.splitlines()
    fields = lines[row].split(",")
    fields[HEADER.split(",").index(column)] = value
    lines[row] = ",".join(fields)
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(("edit", "problem"), [
    (lambda text: text.replace(",tempo", ",tempi", 1), "missing required column.*tempo"),
    (lambda text: "\n".join(text.splitlines()[:11]) + "\n", "only 10 unique tracks"),
    (lambda text: _set_field(text, row=3, column="loudness", value="nope"), "row 3: column 'loudness'"),
])
def test_bad_spotify_files_are_named(tmp_path: Path, edit, problem: str) -> None:
    path = _write_spotify(tmp_path, 30)
    path.write_text(edit(path.read_text()))
    with pytest.raises(DataFileError, match=problem) as err:
        spotify_emotion_data(tmp_path)
    assert str(path) in str(err.value)


@pytest.mark.slow
def test_tiny_spotify_benchmark_writes_every_set_model_and_the_claims(tmp_path: Path) -> None:
    _write_spotify(tmp_path, 60)
    cfg = TINY.model_copy(update={"epochs": 1, "gbt_trees": 5, "artist_inner_folds": 2,
                                  "spotify_input_sets": ["all_descriptors_artist"]})  # the other sets: same code
    report = run_bench(None, tmp_path, tmp_path / "emotion.json", cfg, say=lambda _: None)
    assert json.loads((tmp_path / "emotion.json").read_text())["claims"] == report["claims"]
    spotify = report["spotify"]
    for sets in (spotify["input_sets"], spotify["grouped_folds"]["input_sets"]):
        assert set(sets) == {"all_descriptors_artist"}
        for name, table in sets.items():
            assert set(table["models"]) == {"emotion_model", "ridge", "gradient_boosted_trees",
                                            "ensemble_emotion_model_gbt_mean"}
            for row in table["models"].values():
                assert set(row["valence"]) >= {"r2", "mae"} and set(row["energy"]) >= {"r2", "mae"}
            assert table["uses_artist_id"] == (name == "all_descriptors_artist")
            assert len(table["training"]) == cfg.folds
    assert spotify["input_sets"]["all_descriptors_artist"]["fills"]["release_year"]["rows"] == 1
    assert spotify["data"]["release_year_missing"] == 1 and spotify["grouped_folds"]["groups"] == 60
    assert "spotify_all_descriptors_artist_valence_r2_target_0.35_met_by_ensemble" in report["claims"]
    assert "spotify_grouped_folds_all_descriptors_artist_energy_r2_target_0.76_met_by_emotion_model" in report["claims"]
    assert report["machine"]["cpu_count"] and "world" not in report


def _row(valence: float, arousal: float, axes=("valence", "arousal")) -> dict:
    return {axes[0]: {"r2": valence}, axes[1]: {"r2": arousal}}


def test_claims_judge_the_numbers() -> None:
    spotify_axes = ("valence", "energy")
    report = {
        "world": {"models": {"emotion_model": _row(0.9, 0.93), "emotion_model_audio_only": _row(0.89, 0.94),
                             "ridge_audio_lyrics_bow": _row(0.86, 0.92),
                             "gradient_boosted_trees_audio_lyrics_lsa": _row(0.8, 0.95)}},
        "spotify": {"input_sets": {
            "readme_nine": {"models": {
                "emotion_model": _row(0.30, 0.70, spotify_axes), "ridge": _row(0.17, 0.64, spotify_axes),
                "gradient_boosted_trees": _row(0.31, 0.73, spotify_axes),
                "ensemble_emotion_model_gbt_mean": _row(0.32, 0.72, spotify_axes)}},
            "all_descriptors": {"models": {
                "emotion_model": _row(0.30, 0.77, spotify_axes), "ridge": _row(0.17, 0.64, spotify_axes),
                "gradient_boosted_trees": _row(0.31, 0.73, spotify_axes),
                "ensemble_emotion_model_gbt_mean": _row(0.36, 0.75, spotify_axes)}}}},
    }
    got = claims(report)
    assert got["world_emotion_model_beats_both_baselines_on_valence_r2"] is True
    assert got["world_emotion_model_beats_both_baselines_on_arousal_r2"] is False  # trees 0.95
    assert got["world_lyrics_branch_helps_valence_r2"] is True and got["world_lyrics_branch_helps_arousal_r2"] is False
    assert got["spotify_all_descriptors_valence_r2_target_0.35_met_by_emotion_model"] is False
    assert got["spotify_all_descriptors_valence_r2_target_0.35_met_by_ensemble"] is True
    assert got["spotify_all_descriptors_energy_r2_target_0.76_met_by_emotion_model"] is True
    assert got["spotify_all_descriptors_energy_r2_target_0.76_met_by_ensemble"] is False
    assert got["spotify_all_descriptors_emotion_model_beats_gradient_boosted_trees_same_run_on_valence_r2"] is False
    assert got["spotify_all_descriptors_ensemble_beats_gradient_boosted_trees_same_run_on_valence_r2"] is True
    # the README's nine: against the README figures, and no target claim (the targets need all descriptors)
    assert got["spotify_readme_nine_emotion_model_beats_readme_gradient_boosted_trees_0.285_on_valence_r2"] is True
    assert got["spotify_readme_nine_emotion_model_beats_readme_gradient_boosted_trees_0.729_on_energy_r2"] is False
    assert not any(k.startswith("spotify_readme_nine") and "target" in k for k in got)
    assert not any(k.startswith("spotify_grouped_folds") for k in got)


def test_train_spotify_fits_the_configured_input_set(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    from encore.platform.registry import Registry
    from encore.recall.emotion import EmotionModel
    from encore.recall.emotion_bench import train_emotion

    _write_spotify(tmp_path, 40)
    summary = train_emotion(TINY.model_copy(update={"epochs": 2}), tmp_path / "registry", data_dir=tmp_path,
                            say=lambda _: None)
    folder = Registry(summary["registry"]).path(summary["registry_name"], summary["version"])
    assert summary["registry_name"] == "emotion.spotify" and summary["tracks"] == 40
    assert EmotionModel.load(folder).state["n_audio"] == len(ALL_DESCRIPTORS)  # spotify_train_inputs: all_descriptors
    assert pq.read_table(folder / "track_emotion.parquet").num_rows == 40
