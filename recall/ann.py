"""``ItemIndex``: maximum-inner-product search over item embeddings, for the neural
recall channels (``AnnConfig``: each neural channel's ``params.ann``).

An index holds the item embeddings (n, D) float32 and their track ids (n,) int64 and
answers ``search(queries (B, D), k)`` with the ``k`` items of highest ``query . item``
per query. It is either

* **ScaNN** (tree + asymmetric hashing + exact reorder), approximate and fast; or
* **brute force**: exact numpy/BLAS search, when ``settings.kind == "brute_force"`` or
  the catalog has fewer than ``settings.min_items_for_scann`` items (a tiny catalog is
  searched exactly in well under a millisecond; its partitions would be too small to
  train).

``search_exact`` (the brute-force reference) is always available: the embeddings are
kept. ScaNN is used through its pybind numpy API only (``scann_ops_pybind``), never
inside a TensorFlow SavedModel, and imported lazily (it imports TensorFlow).

ScaNN does not seed its k-means, so two builds of one catalog differ slightly; the saved
folder is what reproduces an index exactly.

Artifact (``save(folder)``, conventionally ``<channel folder>/ann/``)::

    index.json      kind, format_version, settings, n, dim, num_leaves, the sha256 of
                    embeddings.npy and ids.npy, and of every file in scann/
    embeddings.npy  (n, D) float32   (np.save; loaded memory-mapped, allow_pickle=False)
    ids.npy         (n,) int64
    scann/          ScaNN's own serialized assets (only for a ScaNN index), with paths
                    relative to scann/, so the folder can be copied or moved

``ItemIndex.load`` raises ``ChannelArtifactError`` on a wrong kind, format version or
embeddings/ids checksum, and falls back to brute force (logging a warning) when the
ScaNN assets are missing, altered or unreadable: the answers stay exact, only slower.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from encore.platform.checksums import sha256_file
from encore.platform.config import AnnConfig
from encore.recall.channel import ChannelArtifactError, read_artifact_json

log = logging.getLogger(__name__)

INDEX_FILE = "index.json"
EMBEDDINGS_FILE = "embeddings.npy"
IDS_FILE = "ids.npy"
SCANN_DIR = "scann"
KIND = "item_index"
FORMAT_VERSION = 1
# Query rows scored at once by the exact search: bounds its (rows, n) score matrix to
# ~256 MB at 1M items.
_EXACT_BYTES = 256 << 20


class ItemIndex:
    """Maximum-inner-product index of ``embeddings`` (n, D) float32 with track ``ids``
    (n,) int64. Build with :meth:`build` or :meth:`load`."""

    def __init__(self, embeddings: np.ndarray, ids: np.ndarray, settings: AnnConfig,
                 searcher: Any = None, num_leaves: int = 0) -> None:
        self.embeddings = embeddings
        self.ids = ids
        self.settings = settings
        self.searcher = searcher  # a ScannSearcher, or None for brute force
        self.num_leaves = num_leaves

    @property
    def kind(self) -> str:
        """``"scann"`` or ``"brute_force"``: how ``search`` answers."""
        return "brute_force" if self.searcher is None else "scann"

    @property
    def n(self) -> int:
        return int(self.embeddings.shape[0])

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])

    # -- build -------------------------------------------------------------------------
    @classmethod
    def build(cls, embeddings: np.ndarray, ids: np.ndarray, settings: AnnConfig | None = None) -> "ItemIndex":
        """An index of ``embeddings`` (n, D) with track ``ids`` (n,), unique."""
        settings = settings or AnnConfig()
        embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if embeddings.ndim != 2 or embeddings.shape[0] == 0 or ids.shape != embeddings.shape[:1]:
            raise ValueError(f"need embeddings (n, D) with n >= 1 and ids (n,); got "
                             f"{embeddings.shape} and {ids.shape}")
        if len(np.unique(ids)) != len(ids):
            raise ValueError("track ids must be unique")
        n = embeddings.shape[0]
        if settings.kind == "brute_force" or n < settings.min_items_for_scann:
            return cls(embeddings, ids, settings)
        from scann.scann_ops.py import scann_ops_pybind

        leaves = settings.leaves_for(n)
        searcher = (
            scann_ops_pybind.builder(embeddings, settings.reorder_k, "dot_product")
            .tree(num_leaves=leaves, num_leaves_to_search=min(settings.num_leaves_to_search, leaves),
                  training_sample_size=settings.training_sample_size)
            .score_ah(settings.dimensions_per_block,
                      anisotropic_quantization_threshold=settings.anisotropic_quantization_threshold)
            .reorder(settings.reorder_k)
            .build())
        return cls(embeddings, ids, settings, searcher, leaves)

    # -- search ------------------------------------------------------------------------
    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` items of each query (B, D) by inner product: track ids (B, k') int64
        and scores (B, k') float32, best first, k' = min(k, n)."""
        queries = self._check(queries, k)
        if self.searcher is None:
            return self.search_exact(queries, k)
        k = min(k, self.n)
        leaves = min(self.settings.num_leaves_to_search, self.num_leaves)
        # ScaNN cuts its answer to the reordered candidates: ask for at least k of them.
        reorder = max(self.settings.reorder_k, k)
        if len(queries) == 1:  # the serving path: one listener, no batching overhead
            idx, scores = self.searcher.search(queries[0], k, reorder, leaves)
            idx, scores = idx[None, :], scores[None, :]
        else:
            idx, scores = self.searcher.search_batched(queries, k, reorder, leaves)
        idx = np.asarray(idx, dtype=np.int64)
        scores = np.asarray(scores, dtype=np.float32)
        short = np.isnan(scores).any(axis=1) if scores.shape[1] == k else np.ones(len(queries), bool)
        if short.any():
            # The searched partitions held fewer than k items (ScaNN pads with NaN or
            # answers fewer): answer those queries exactly, to keep k' = min(k, n).
            ids, exact = self.search_exact(queries[short], k)
            out_ids = np.empty((len(queries), k), np.int64)
            out_scores = np.empty((len(queries), k), np.float32)
            out_ids[short], out_scores[short] = ids, exact
            if (~short).any():
                out_ids[~short], out_scores[~short] = self.ids[idx[~short]], scores[~short]
            return out_ids, out_scores
        return self.ids[idx], scores

    def search_exact(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The exact reference of :meth:`search`: brute force over every item, equal
        scores in the answer ordered by the smaller track id first."""
        queries = self._check(queries, k)
        k = min(k, self.n)
        out_ids = np.empty((len(queries), k), np.int64)
        out_scores = np.empty((len(queries), k), np.float32)
        rows = max(1, _EXACT_BYTES // (4 * self.n))
        for start in range(0, len(queries), rows):
            scores = queries[start:start + rows] @ self.embeddings.T  # (b, n)
            top = (np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < self.n
                   else np.broadcast_to(np.arange(self.n), scores.shape))
            top_scores = np.take_along_axis(scores, top, axis=1)
            top_ids = self.ids[top]
            order = np.lexsort((top_ids, -top_scores), axis=1)
            out_ids[start:start + rows] = np.take_along_axis(top_ids, order, axis=1)
            out_scores[start:start + rows] = np.take_along_axis(top_scores, order, axis=1)
        return out_ids, out_scores

    def _check(self, queries: np.ndarray, k: int) -> np.ndarray:
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if queries.ndim != 2 or queries.shape[1] != self.dim:
            raise ValueError(f"queries must be (B, {self.dim}); got {queries.shape}")
        if k < 1:
            raise ValueError(f"k must be >= 1; got {k}")
        return queries

    # -- artifact ----------------------------------------------------------------------
    def save(self, folder: Path | str) -> Path:
        """Write the index to ``folder`` (created; see the module docstring)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        _save_array(folder / EMBEDDINGS_FILE, self.embeddings)
        _save_array(folder / IDS_FILE, self.ids)
        scann_dir = folder / SCANN_DIR
        shutil.rmtree(scann_dir, ignore_errors=True)
        scann_files: dict[str, str] = {}
        if self.searcher is not None:
            scann_dir.mkdir()
            # relative_path: the assets file names its files relative to scann/, so a
            # copied or moved folder still loads (absolute paths would point at the old one).
            self.searcher.serialize(str(scann_dir), relative_path=True)
            scann_files = {p.name: sha256_file(p) for p in sorted(scann_dir.iterdir())}
        meta = {
            "kind": KIND, "format_version": FORMAT_VERSION, "index": self.kind,
            "settings": self.settings.model_dump(mode="json"), "n": self.n, "dim": self.dim,
            "num_leaves": self.num_leaves,
            "embeddings_sha256": sha256_file(folder / EMBEDDINGS_FILE),
            "ids_sha256": sha256_file(folder / IDS_FILE), "scann_files": scann_files,
        }
        (folder / INDEX_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        return folder

    @classmethod
    def load(cls, folder: Path | str) -> "ItemIndex":
        """The index saved in ``folder``; brute force if its ScaNN assets cannot be used."""
        folder = Path(folder)
        meta = _read_meta(folder)
        for name, key in ((EMBEDDINGS_FILE, "embeddings_sha256"), (IDS_FILE, "ids_sha256")):
            path = folder / name
            if not path.is_file():
                raise ChannelArtifactError(f"{path} is missing")
            if sha256_file(path) != meta[key]:
                raise ChannelArtifactError(f"{path}: sha256 differs from {INDEX_FILE} (corrupt or replaced)")
        try:
            # Memory-mapped: a ScaNN index holds its own copy, so these pages are read
            # only by search_exact (and by a brute-force index, which needs them all).
            embeddings = np.load(folder / EMBEDDINGS_FILE, mmap_mode="r", allow_pickle=False)
            ids = np.load(folder / IDS_FILE, allow_pickle=False)
        except ValueError as err:
            raise ChannelArtifactError(f"{folder}: unreadable arrays: {err}") from err
        if embeddings.shape != (meta["n"], meta["dim"]) or ids.shape != (meta["n"],):
            raise ChannelArtifactError(f"{folder}: arrays of shape {embeddings.shape}, {ids.shape} "
                                       f"do not match n={meta['n']}, dim={meta['dim']}")
        settings = AnnConfig.model_validate(meta["settings"])
        searcher = None
        if meta["index"] == "scann":
            searcher = _load_scann(folder / SCANN_DIR, meta["scann_files"])
        return cls(embeddings, ids, settings, searcher, meta["num_leaves"] if searcher else 0)


def _save_array(path: Path, array: np.ndarray) -> None:
    # Written beside and renamed over: a loaded index memory-maps its embeddings, and
    # rewriting that file in place (saving into the folder it came from) would pull the
    # pages from under it.
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as fh:
        np.save(fh, array, allow_pickle=False)
    partial.replace(path)


def _read_meta(folder: Path) -> dict[str, Any]:
    file = folder / INDEX_FILE
    meta = read_artifact_json(file, "an item index")
    if meta.get("kind") != KIND:
        raise ChannelArtifactError(f"{file}: kind {meta.get('kind')!r}, not {KIND!r}")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ChannelArtifactError(
            f"{file}: format version {meta.get('format_version')}, this code reads {FORMAT_VERSION}")
    for key in ("index", "settings", "n", "dim", "num_leaves", "embeddings_sha256", "ids_sha256", "scann_files"):
        if key not in meta:
            raise ChannelArtifactError(f"{file} lacks {key!r}")
    return meta


def _load_scann(scann_dir: Path, files: dict[str, str]) -> Any:
    """ScaNN's searcher from ``scann_dir``, or None (with a warning) when its assets are
    missing, differ from their recorded checksums or do not load."""
    problem = None
    present = {p.name for p in scann_dir.iterdir()} if scann_dir.is_dir() else set()
    if not files or not present:
        problem = "are missing"
    elif present != set(files):
        # Only the files written by save: ScaNN would unpickle a scann_docids.pkl.
        problem = f"are not the recorded files (differing: {sorted(present ^ set(files))})"
    else:
        changed = sorted(name for name, digest in files.items() if sha256_file(scann_dir / name) != digest)
        if changed:
            problem = f"were altered ({changed} differ from their recorded sha256)"
    if problem is None:
        try:
            from scann.scann_ops.py import scann_ops_pybind

            return scann_ops_pybind.load_searcher(str(scann_dir), assets_backcompat_shim=False)
        except Exception as err:  # noqa: BLE001 (any loader failure: serve exactly instead)
            problem = f"are unreadable ({type(err).__name__}: {err})"
    log.warning("ScaNN assets in %s %s: searching by brute force (exact, slower)", scann_dir, problem)
    return None
