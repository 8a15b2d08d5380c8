"""The item-embedding index (encore.recall.ann): exact reference, ScaNN recall against it,
the saved folder and its fallbacks."""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest

from encore.platform.config import AnnConfig
from encore.recall.ann import EMBEDDINGS_FILE, INDEX_FILE, SCANN_DIR, ItemIndex
from encore.recall.channel import ChannelArtifactError

pytest.importorskip("scann")

N, DIM, CLUSTERS = 20_000, 32, 100


def clustered(rng: np.random.Generator, m: int, centers: np.ndarray) -> np.ndarray:
    """``m`` vectors of a mixture of Gaussians around ``centers`` (C, D)."""
    noisy = centers[rng.integers(0, len(centers), m)] + 0.5 * rng.standard_normal((m, centers.shape[1]))
    return (noisy / np.sqrt(centers.shape[1])).astype(np.float32)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(11)
    centers = rng.standard_normal((CLUSTERS, DIM))
    ids = rng.permutation(np.arange(1_000, 1_000 + 3 * N, 3, dtype=np.int64))
    return clustered(rng, N, centers), ids, clustered(rng, 64, centers)


@pytest.fixture(scope="module")
def scann_index(data):
    embeddings, ids, _ = data
    index = ItemIndex.build(embeddings, ids, AnnConfig())
    assert index.kind == "scann" and index.num_leaves == round(2 * N ** 0.5)
    return index


def test_exact_search_on_a_case_computed_by_hand():
    embeddings = np.array([[1, 0], [0, 2], [3, 1], [-1, -1]], np.float32)
    index = ItemIndex.build(embeddings, np.array([10, 20, 30, 40]), AnnConfig())
    assert index.kind == "brute_force"  # 4 items: below min_items_for_scann
    queries = np.array([[1, 0], [0, 1], [-1, 1]], np.float32)
    # scores: q0 -> 1, 0, 3, -1; q1 -> 0, 2, 1, -1; q2 -> -1, 2, -2, 0
    ids, scores = index.search(queries, 3)
    assert ids.tolist() == [[30, 10, 20], [20, 30, 10], [20, 40, 10]]
    assert scores.tolist() == [[3, 1, 0], [2, 1, 0], [2, 0, -1]]
    assert ids.dtype == np.int64 and scores.dtype == np.float32
    full = np.argsort(-(queries @ embeddings.T), axis=1, kind="stable")[:, :3]
    assert (ids == np.array([10, 20, 30, 40])[full]).all()


def test_scann_recall_at_10_against_exact(data, scann_index):
    _, _, queries = data
    approx, _ = scann_index.search(queries, 10)
    exact, _ = scann_index.search_exact(queries, 10)
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx.tolist(), exact.tolist())])
    assert recall >= 0.9


def test_one_query_and_a_batch_agree(data, scann_index):
    _, _, queries = data
    ids, scores = scann_index.search(queries[:8], 20)
    assert ids.shape == scores.shape == (8, 20)
    assert (np.diff(scores, axis=1) <= 0).all()
    for i in range(8):
        one_ids, one_scores = scann_index.search(queries[i:i + 1], 20)
        assert one_ids[0].tolist() == ids[i].tolist()
        np.testing.assert_allclose(one_scores[0], scores[i], rtol=1e-6)


def test_saved_folder_copied_elsewhere_loads_the_same_index(data, scann_index, tmp_path):
    _, _, queries = data
    scann_index.save(tmp_path / "a" / "ann")
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    shutil.rmtree(tmp_path / "a")  # ScaNN's assets must not point into the first folder
    loaded = ItemIndex.load(tmp_path / "b" / "ann")
    assert loaded.kind == "scann" and loaded.settings == scann_index.settings
    for got, want in zip(loaded.search(queries, 50), scann_index.search(queries, 50)):
        assert (got == want).all()
    loaded.save(tmp_path / "b" / "ann")  # over the folder its embeddings are mapped from
    for got, want in zip(ItemIndex.load(tmp_path / "b" / "ann").search_exact(queries, 5),
                         scann_index.search_exact(queries, 5)):
        assert (got == want).all()


@pytest.mark.parametrize("damage", ["delete", "alter", "pickle"])
def test_unusable_scann_assets_fall_back_to_exact_search(data, scann_index, tmp_path, caplog, damage):
    _, _, queries = data
    folder = scann_index.save(tmp_path / "ann")
    scann = folder / SCANN_DIR
    if damage == "delete":
        shutil.rmtree(scann)
    elif damage == "alter":
        with open(scann / "datapoint_to_token.npy", "r+b") as fh:
            fh.seek(-4, 2)
            fh.write(b"\xff\xff\xff\xff")
    else:  # ScaNN's loader would unpickle this file
        (scann / "scann_docids.pkl").write_bytes(b"not loaded")
    with caplog.at_level(logging.WARNING, logger="encore.recall.ann"):
        loaded = ItemIndex.load(folder)
    assert loaded.kind == "brute_force" and "brute force" in caplog.text
    for got, want in zip(loaded.search(queries, 10), scann_index.search_exact(queries, 10)):
        assert (got == want).all()


def test_corrupt_embeddings_or_another_format_are_refused(scann_index, tmp_path):
    folder = scann_index.save(tmp_path / "ann")
    embeddings = np.load(folder / EMBEDDINGS_FILE)
    embeddings[0, 0] += 1
    np.save(folder / EMBEDDINGS_FILE, embeddings)
    with pytest.raises(ChannelArtifactError, match="sha256 differs"):
        ItemIndex.load(folder)
    folder = scann_index.save(tmp_path / "ann2")
    meta = json.loads((folder / INDEX_FILE).read_text())
    (folder / INDEX_FILE).write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(ChannelArtifactError, match="format version 99"):
        ItemIndex.load(folder)


def test_k_above_n_returns_every_item(data):
    embeddings, ids, queries = data
    tiny = ItemIndex.build(embeddings[:5], ids[:5])
    got, scores = tiny.search(queries[:3], 10)
    assert got.shape == scores.shape == (3, 5) and sorted(got[0]) == sorted(ids[:5])
    # A ScaNN index whose searched partitions hold fewer than k items answers exactly.
    small = ItemIndex.build(embeddings[:400], ids[:400], AnnConfig(min_items_for_scann=100, num_leaves=10,
                                                                    num_leaves_to_search=1))
    assert small.kind == "scann"
    for b in (1, 3):
        got, scores = small.search(queries[:b], 500)
        want, want_scores = small.search_exact(queries[:b], 500)
        assert got.shape == (b, 400) and (got == want).all() and (scores == want_scores).all()


def test_brute_force_kind_and_bad_input(data):
    embeddings, ids, queries = data
    index = ItemIndex.build(embeddings, ids, AnnConfig(kind="brute_force"))
    assert index.kind == "brute_force"
    assert (index.search(queries, 7)[0] == index.search_exact(queries, 7)[0]).all()
    with pytest.raises(ValueError, match=r"queries must be \(B, 32\)"):
        index.search(queries[:, :5], 7)
    with pytest.raises(ValueError, match="unique"):
        ItemIndex.build(embeddings[:3], np.array([1, 1, 2]))


def test_each_neural_channel_carries_its_index_settings():
    from encore.platform.config import ChannelConfig

    channel = ChannelConfig(name="yt", kind="youtube_dnn", params={"ann": {"reorder_k": 300}})
    assert channel.settings.ann == AnnConfig(reorder_k=300)
    assert ChannelConfig(name="yt", kind="youtube_dnn").settings.ann == AnnConfig()
    assert AnnConfig().leaves_for(1_000_000) == 2000 and AnnConfig(num_leaves=50).leaves_for(20) == 20


def test_bench_ann_writes_its_json_on_a_small_catalog(tmp_path):
    from encore.recall.ann_bench import SWEEP, run

    lines: list[str] = []
    result = run(tmp_path / "ann.json", n=12_000, dim=16, queries=20, clusters=20, say=lines.append)
    assert json.loads((tmp_path / "ann.json").read_text()) == result
    assert result["scann_index"]["kind"] == "scann" and result["scann_index"]["size_bytes"] > 0
    assert len(result["scann"]) >= len(SWEEP) and sum(r["default"] for r in result["scann"]) == 1
    assert all(0 <= r["recall_at_100"] <= 1 and r["single_query_qps"] > 0 for r in result["scann"])
    assert set(result["load_average_1_5_15"]) == {"before", "after"} and any("default" in x for x in lines)
