"""``encore bench ann``: the item-embedding index (``encore.recall.ann``) on a synthetic
catalog, exact brute force against ScaNN at several search settings, in one run.

Data: ``n`` x ``dim`` float32 items from a seeded mixture of ``clusters`` Gaussians
(centers ~ N(0, I); an item is (center + 0.5 * N(0, I)) / sqrt(dim)), **not**
normalised (norms about 1.1, as unnormalised two-tower embeddings), searched by inner
product; ``queries`` held-out queries drawn the same way (not in the catalog).

Measured, k = 100:

* brute force (numpy/BLAS, the exact reference): single-query queries/s (one query per
  call, over the first ``BRUTE_SINGLE_QUERIES`` queries) and batched queries/s (every
  query in one call, scored in blocks);
* ScaNN, one index built with the project's default ``AnnConfig``: build time, size
  on disk, save and load time; then for each (num_leaves_to_search, reorder_k) of the
  sweep (both are search-time settings, so the index is built once), recall@100
  against exact, single-query queries/s (``ItemIndex.search`` over one query at a time,
  as a serving request calls it) and batched queries/s (every query in one call;
  ScaNN's ``search_batched`` runs on one thread, numpy's BLAS on all cores).

Queries/s are the best of ``PASSES`` timed passes after a warm-up (the machine is
shared); the 1-minute load average is recorded before, after, and with each setting.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import typer

from encore.platform.config import AnnConfig
from encore.recall.ann import SCANN_DIR, ItemIndex

K = 100
TARGET_RECALL = 0.95
TARGET_SINGLE_QPS = 8_000.0
BRUTE_SINGLE_QUERIES = 100
PASSES = 2
SWEEP: tuple[tuple[int, int], ...] = (
    (2, 200), (5, 100), (5, 200), (10, 150), (10, 200), (10, 300), (20, 200), (20, 400), (40, 400),
)
"""(num_leaves_to_search, reorder_k) settings measured besides the project default."""


def mixture(n: int, dim: int, queries: int, clusters: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Items (n, dim) and held-out queries (queries, dim), float32 (module docstring)."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((clusters, dim), dtype=np.float32)

    def draw(m: int) -> np.ndarray:
        points = centers[rng.integers(0, clusters, m)]
        points += 0.5 * rng.standard_normal((m, dim), dtype=np.float32)
        points /= np.float32(np.sqrt(dim))
        return points

    return draw(n), draw(queries)


def _qps(search: Callable[[], Any], count: int) -> float:
    best = float("inf")
    for _ in range(PASSES):
        started = time.perf_counter()
        search()
        best = min(best, time.perf_counter() - started)
    return round(count / best, 1)


def _single(index: ItemIndex, queries: np.ndarray, exact: bool = False) -> Callable[[], None]:
    search = index.search_exact if exact else index.search

    def loop() -> None:
        for i in range(len(queries)):
            search(queries[i:i + 1], K)
    return loop


def _batched(index: ItemIndex, queries: np.ndarray) -> Callable[[], None]:
    def call() -> None:
        index.search(queries, K)
    return call


def _recall(approx: np.ndarray, exact: np.ndarray) -> float:
    hits = [len(np.intersect1d(a, e, assume_unique=True)) for a, e in zip(approx, exact)]
    return round(float(np.mean(hits)) / exact.shape[1], 4)


def _load1() -> float:
    return round(os.getloadavg()[0], 2)


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def run(out: Path, n: int = 1_000_000, dim: int = 64, queries: int = 1_000, clusters: int = 1_000,
        seed: int = 7, settings: AnnConfig | None = None, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the benchmark, write ``out`` (JSON) and return what was written."""
    from encore.platform.bench.machine import machine_info

    settings = settings or AnnConfig()
    load_before = [round(x, 2) for x in os.getloadavg()]
    say(f"data: {n:,} x {dim} items, {queries:,} queries, {clusters:,} clusters (seed {seed}); "
        f"load average {load_before}")
    items, query_rows = mixture(n, dim, queries, clusters, seed)
    ids = np.arange(n, dtype=np.int64)

    exact = ItemIndex.build(items, ids, settings.model_copy(update={"kind": "brute_force"}))
    truth, _ = exact.search_exact(query_rows, K)  # the reference, and the warm-up of the timed passes
    brute = {
        "batched_qps": _qps(lambda: exact.search_exact(query_rows, K), queries),
        "single_query_qps": _qps(_single(exact, query_rows[:BRUTE_SINGLE_QUERIES], exact=True),
                                 min(queries, BRUTE_SINGLE_QUERIES)),
        "single_queries_timed": min(queries, BRUTE_SINGLE_QUERIES),
    }
    say(f"brute force: single {brute['single_query_qps']:,} q/s, batched {brute['batched_qps']:,} q/s")

    say(f"building ScaNN ({settings.leaves_for(n):,} leaves, training sample "
        f"{min(n, settings.training_sample_size):,}) ...")
    started = time.perf_counter()
    index = ItemIndex.build(items, ids, settings)
    build_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="encore-ann-") as tmp:
        started = time.perf_counter()
        folder = index.save(Path(tmp) / "ann")
        save_s = time.perf_counter() - started
        size, scann_size = _folder_bytes(folder), _folder_bytes(folder / SCANN_DIR)
        started = time.perf_counter()
        index = ItemIndex.load(folder)
        load_s = time.perf_counter() - started
        shutil.rmtree(folder)
    built = {"kind": index.kind, "num_leaves": index.num_leaves, "build_s": round(build_s, 2),
             "save_s": round(save_s, 2), "load_s": round(load_s, 2), "size_bytes": size,
             "scann_assets_bytes": scann_size}
    say(f"built {index.kind} in {build_s:.1f} s; {size / 2**20:.0f} MiB on disk "
        f"(ScaNN assets {scann_size / 2**20:.0f} MiB); load {load_s:.1f} s")

    default = (settings.num_leaves_to_search, settings.reorder_k)
    rows = []
    say(f"{'leaves':>6} {'reorder':>7} {'recall@100':>10} {'single q/s':>10} {'batched q/s':>11}")
    for leaves, reorder in sorted({*SWEEP, default}):
        variant = ItemIndex(items, ids, settings.model_copy(
            update={"num_leaves_to_search": leaves, "reorder_k": reorder}), index.searcher, index.num_leaves)
        approx, _ = variant.search(query_rows, K)  # also the warm-up
        row = {
            "num_leaves_to_search": leaves, "reorder_k": reorder, "default": (leaves, reorder) == default,
            "recall_at_100": _recall(approx, truth),
            "single_query_qps": _qps(_single(variant, query_rows), queries),
            "batched_qps": _qps(_batched(variant, query_rows), queries),
            "load_1min": _load1(),
        }
        rows.append(row)
        say(f"{leaves:>6} {reorder:>7} {row['recall_at_100']:>10.4f} {row['single_query_qps']:>10,.0f} "
            f"{row['batched_qps']:>11,.0f}{'  <- default' if row['default'] else ''}")

    chosen = next(r for r in rows if r["default"])
    met = chosen["recall_at_100"] >= TARGET_RECALL and chosen["single_query_qps"] >= TARGET_SINGLE_QPS
    result = {
        "benchmark": "ann",
        "comparison": "ScaNN (encore.recall.ann.ItemIndex, project settings, a sweep of search-time settings) "
                      "vs exact brute force (numpy/BLAS) on the same items and queries, same run",
        "machine": machine_info(),
        "versions": {name: metadata.version(name) for name in ("scann", "numpy")},
        "load_average_1_5_15": {"before": load_before, "after": [round(x, 2) for x in os.getloadavg()]},
        "data": {"n": n, "dim": dim, "queries": queries, "clusters": clusters, "seed": seed, "k": K,
                 "distribution": "mixture of Gaussians: centers ~ N(0, I), item = (center + 0.5 N(0, I)) "
                                 "/ sqrt(dim); not normalised; queries held out, drawn the same way",
                 "measure": "inner product"},
        "timing": f"queries/s: best of {PASSES} passes after a warm-up; single = one query per call; "
                  f"ScaNN batched = search_batched (one thread), brute force batched = BLAS (all cores)",
        "settings": settings.model_dump(mode="json"),
        "target": {"recall_at_100": TARGET_RECALL, "single_query_qps": TARGET_SINGLE_QPS,
                   "default": {k: chosen[k] for k in ("recall_at_100", "single_query_qps", "batched_qps")},
                   "met": met},
        "brute_force": brute,
        "scann_index": built,
        "scann": rows,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return result


def bench_ann_command(
    out: Path = typer.Option(Path("docs/benchmarks/ann.json"), help="Where to write the result JSON."),
    n: int = typer.Option(1_000_000, "--n", min=1, help="Catalog items."),
    dim: int = typer.Option(64, min=1, help="Embedding dimensions."),
    queries: int = typer.Option(1_000, min=1, help="Held-out queries."),
    clusters: int = typer.Option(1_000, min=1, help="Gaussians in the mixture."),
) -> None:
    """Brute force vs ScaNN (the default AnnConfig and a sweep of leaves to search /
    reorder_k) on n x dim clustered vectors: recall@100, single-query and batched
    queries/s, build time and index size; writes docs/benchmarks/ann.json."""
    result = run(out, n=n, dim=dim, queries=queries, clusters=clusters, say=typer.echo)
    t = result["target"]
    typer.echo(f"default: recall@100 {t['default']['recall_at_100']}, {t['default']['single_query_qps']:,} "
               f"single q/s (target >= {TARGET_RECALL}, >= {TARGET_SINGLE_QPS:,.0f} q/s): met {t['met']}")
    typer.echo(f"wrote {out}")
