"""The emotion model (encore.recall.emotion): shapes, save -> load, both branches
learning their planted axis, input errors, the world reader and the registry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from encore.recall.emotion import (
    EmotionInputError,
    EmotionInputs,
    EmotionModel,
    load_promoted_emotion,
    track_emotion,
    world_inputs,
)
from encore.recall.emotion_baselines import r2

from testkit.emotion import AUDIO_DIM, LYRICS_LEN, TINY, planted, write_catalog


@pytest.fixture(scope="module")
def fitted() -> tuple[EmotionModel, EmotionInputs]:
    audio, lyrics, targets = planted(80)
    inputs = EmotionInputs(audio, lyrics)
    return EmotionModel(TINY).fit(inputs, targets), inputs


def test_shapes_and_save_load_give_identical_predictions(fitted, tmp_path: Path) -> None:
    model, inputs = fitted
    predicted = model.predict(inputs)
    assert predicted.shape == (80, 2) and predicted.dtype == np.float32
    assert model.predict(inputs.take(np.arange(0))).shape == (0, 2)
    loaded = EmotionModel.load(model.save(tmp_path / "m"))
    assert loaded.uses_lyrics and np.array_equal(loaded.predict(inputs), predicted)


def test_audio_only_model_has_no_lyrics_input(tmp_path: Path) -> None:
    audio, _, targets = planted(40)
    model = EmotionModel(TINY.model_copy(update={"epochs": 1})).fit(EmotionInputs(audio), targets)
    assert not model.uses_lyrics and set(model._net.input_names) == {"audio"}
    assert np.array_equal(EmotionModel.load(model.save(tmp_path / "a")).predict(EmotionInputs(audio)),
                          model.predict(EmotionInputs(audio)))


@pytest.mark.slow
def test_each_branch_learns_its_planted_axis_and_beats_the_mean() -> None:
    """Valence lives in the audio, arousal in the lyrics: the full model explains both
    on held-out tracks; the audio-only model cannot see arousal."""
    audio, lyrics, targets = planted(700, seed=1)
    train, test = np.arange(500), np.arange(500, 700)
    cfg = TINY.model_copy(update={"epochs": 25, "patience": 6, "batch_size": 64})
    full = EmotionModel(cfg).fit(EmotionInputs(audio[train], lyrics[train]), targets[train])
    got = r2(targets[test], full.predict(EmotionInputs(audio[test], lyrics[test])))
    mean_only = r2(targets[test], np.tile(targets[train].mean(0), (len(test), 1)))
    assert (got > 0.6).all() and (got > mean_only + 0.5).all(), got
    audio_only = EmotionModel(cfg).fit(EmotionInputs(audio[train]), targets[train])
    blind = r2(targets[test], audio_only.predict(EmotionInputs(audio[test])))
    assert blind[1] < 0.2 < got[1] - 0.4, (blind, got)


def test_bad_inputs_are_named() -> None:
    audio, lyrics, targets = planted(20)
    audio[3, 1] = np.nan
    with pytest.raises(EmotionInputError, match="audio row 3"):
        EmotionInputs(audio)
    with pytest.raises(EmotionInputError, match="lyrics must be"):
        EmotionInputs(np.zeros((20, AUDIO_DIM)), lyrics[:5])
    with pytest.raises(EmotionInputError, match="targets must be"):
        EmotionModel(TINY).fit(EmotionInputs(np.zeros((20, AUDIO_DIM))), targets[:, :1])


def test_predict_refuses_other_input_sizes(fitted) -> None:
    model, inputs = fitted
    with pytest.raises(EmotionInputError, match=f"expects {AUDIO_DIM} audio descriptors"):
        model.predict(EmotionInputs(np.zeros((2, AUDIO_DIM + 1))))
    with pytest.raises(EmotionInputError, match=f"lyrics of {LYRICS_LEN} tokens"):
        model.predict(EmotionInputs(inputs.audio[:2]))


def test_unknown_tokens_read_as_padding(fitted) -> None:
    model, inputs = fitted
    lyrics = inputs.lyrics.copy()
    unknown = lyrics.copy()
    unknown[:, -1] = 10_000  # beyond the training vocabulary
    lyrics[:, -1] = 0
    assert np.array_equal(model.predict(EmotionInputs(inputs.audio, unknown)),
                          model.predict(EmotionInputs(inputs.audio, lyrics)))


def test_world_reader_orders_by_track_id_and_track_emotion_follows(fitted, tmp_path: Path) -> None:
    model, _ = fitted
    truth = write_catalog(tmp_path, 30)
    ids, inputs, targets = world_inputs(tmp_path)
    assert ids.tolist() == list(range(30)) and np.array_equal(targets, truth)
    assert inputs.audio.shape == (30, AUDIO_DIM) and inputs.lyrics.shape == (30, LYRICS_LEN)
    vectors = track_emotion(tmp_path, model)
    assert vectors.shape == (30, 2) and np.array_equal(vectors, model.predict(inputs))
    with pytest.raises(FileNotFoundError, match="not a world folder"):
        world_inputs(tmp_path / "nowhere")


def test_promoted_model_loads_from_the_registry(fitted, tmp_path: Path) -> None:
    from encore.platform.registry import Registry

    model, inputs = fitted
    registry = Registry(tmp_path / "models")
    with pytest.raises(LookupError, match="encore train emotion"):
        load_promoted_emotion(registry.root)
    version = registry.publish("emotion", model.save(tmp_path / "artifact"), kind="emotion/audio_lyrics")
    registry.promote("emotion", version)
    loaded, folder = load_promoted_emotion(registry.root)
    assert folder == registry.path("emotion", version)
    assert np.array_equal(loaded.predict(inputs), model.predict(inputs))
