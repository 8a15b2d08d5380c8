"""The Nowplaying part of ``encore bench session``: every method chosen on a tuning part
of the validation pairs and reported on the other part.

Protocol (:func:`run_nowplaying`):

1. The sampled validation pairs are split by session (seeded, :func:`tune_report_split`)
   into a tuning half and a reported half.
2. On a seeded sample of ``grid_pairs`` tuning pairs: SR's window is chosen from
   ``SR_STEPS``; a coordinate search over a small grid chooses STAN's (k, lambda1,
   lambda2, lambda3, after_only) and V-SKNN's (k, match weight, IDF weight), twice each:
   alone (``stan``, ``vsknn``) and as SR's partner (``stan_part``, ``vsknn_part``:
   judged by the best kNN + w * SR). Objective: min(P@20 / 23.50, MRR@20 / 9.02) (both
   targets at once), ties by P@20.
3. On the whole tuning half (at most ``weight_pairs``), the ensemble weights are
   chosen from a grid: ``ensemble_simple`` = kNN + w_sr * SR + w_tr * transitions,
   ``ensemble_<model>`` = the same + w_model * the model's softmax (w_tr, w_model = 0
   allowed), each component divided by its row maximum; the kNN part is ``stan_part``
   or ``vsknn_part``, whichever did better as SR's partner in step 2.
4. Every method -- the fixed baselines (popularity, item-KNN, session-kNN, transitions,
   the kNN + transition hybrid), the tuned V-SKNN, STAN and SR, each model alone, the
   tuned ensembles and the fixed-weight ``hybrid_plus_<model>`` (hybrid + the model's
   softmax, equal weights, the earlier runs' ensemble) -- is scored once on the reported
   half; paired differences (with standard errors) compare them on the same pairs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from encore.recall.session.baselines import SessionBaselines
from encore.recall.session.data import pair_batches
from encore.recall.session.ensemble import (
    GridAccumulator,
    combine,
    coordinate_search,
    grid_ranks,
    model_component,
    normalise_rows,
    sparse_grid_ranks,
    tune_report_split,
    weight_grid,
    weights_name,
)
from encore.recall.session.knn import KnnParams, rule_coo, rule_scores
from encore.recall.session.metrics import RankAccumulator, target_ranks

STAN_START: dict[str, Any] = {"k": 100, "lambda1": 2.0, "lambda2": 20_000.0, "lambda3": 2.0, "after_only": False}
STAN_AXES: dict[str, list[Any]] = {"k": [50, 100, 250, 500], "lambda1": [0.25, 0.5, 1.0, 2.0, 4.0, 8.0],
                                   "lambda2": [None, 5_000.0, 20_000.0, 80_000.0, 320_000.0],
                                   "lambda3": [None, 1.0, 2.0, 4.0, 8.0, 16.0], "after_only": [False, True]}
VSKNN_START: dict[str, Any] = {"k": 100, "match_weight": None, "idf_weight": 0.0}
VSKNN_AXES: dict[str, list[Any]] = {"k": [50, 100, 250, 500], "match_weight": [None, "div"],
                                    "idf_weight": [0.0, 1.0, 3.0, 10.0, 30.0]}
SR_STEPS = (1, 2, 3, 5, 10, 20)
KNN_COMPONENTS = ("stan_part", "vsknn_part")  # the ensembles' kNN part: whichever does better on the tuning half
WEIGHT_VALUES: dict[str, tuple[float, ...]] = {"sr": (0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0),
                                               "transition": (0.0, 0.25, 0.5, 1.0),
                                               "model": (0.0, 0.1, 0.25, 0.5, 1.0, 2.0)}
ENSEMBLE_SR = (0.1, 0.2, 0.35, 0.5, 1.0, 2.0)  # the SR weights of the ensembles' grid (coarser: more parts)
SPLIT_SEED = 10
BASELINES = ("popularity", "item_knn", "session_knn", "transition", "hybrid")
PAIRS = (("stan", "session_knn"), ("vsknn", "session_knn"), ("sr", "transition"), ("ensemble_simple", "hybrid"),
         ("full", "srgnn_style"), ("full", "hybrid"), ("ensemble_full", "hybrid"), ("ensemble_full", "full"),
         ("ensemble_full", "ensemble_simple"), ("ensemble_srgnn_style", "ensemble_simple"),
         ("ensemble_full", "hybrid_plus_full"))

Say = Callable[[str], None]
Scorer = Callable[[Sequence[Sequence[int]]], np.ndarray]


def _masked(scores: np.ndarray) -> np.ndarray:
    scores[:, 0] = -np.inf
    return scores


def evaluate_scorer(scorer: Scorer, pairs, batch_size: int) -> dict[str, float]:
    acc = RankAccumulator()
    for i in range(0, len(pairs), batch_size):
        acc.add(target_ranks(_masked(scorer(pairs.sequences[i:i + batch_size])), pairs.labels[i:i + batch_size]))
    return acc.result()


def knn_params(point: dict[str, Any]) -> KnnParams:
    return KnnParams(**point)


def _partner_result(index, params: KnnParams, rules, pairs, batch_size: int) -> dict[str, float]:
    """The kNN as the ensembles' partner of SR: the best of kNN + w * SR over the SR
    weights of ``WEIGHT_VALUES`` (each divided by its row maximum), with that weight."""
    grid = weight_grid(["knn", "sr"], {"sr": WEIGHT_VALUES["sr"]})
    acc = GridAccumulator()
    for i in range(0, len(pairs), batch_size):
        seqs, labels = pairs.sequences[i:i + batch_size], pairs.labels[i:i + batch_size]
        parts = {"knn": index.knn_coo(seqs, params), "sr": rule_coo(rules, seqs)}
        for w, ranks in zip(grid, sparse_grid_ranks(parts, labels, grid)):
            acc.add_ranks(weights_name(w), ranks)
    res = acc.results()
    best = acc.best()
    return {**res[best], "sr_weight": float(best.split("sr=")[1])}


def choose_simple_methods(baselines: SessionBaselines, pairs, *, batch_size: int, say: Say) -> dict[str, Any]:
    """SR, then STAN and V-SKNN chosen on ``pairs`` (the tuning sample): each alone
    (``stan``, ``vsknn``) and each as SR's partner in the ensembles (``stan_part``,
    ``vsknn_part``: judged by the best kNN + w * SR), since the ensemble wants from its
    kNN part the coverage that the rules lack, not the best figure alone."""
    index = baselines.index
    assert index is not None
    out: dict[str, Any] = {}
    t0 = time.perf_counter()
    grid = GridAccumulator()
    rules = {}
    for steps in SR_STEPS:
        rules[steps] = index.sequential_rules(steps)
        for i in range(0, len(pairs), batch_size):
            seqs, labels = pairs.sequences[i:i + batch_size], pairs.labels[i:i + batch_size]
            grid.add(str(steps), _masked(rule_scores(rules[steps], seqs)), labels)
    res = grid.results()
    best_steps = grid.best()
    out["sr"] = {"chosen": {"steps": int(best_steps)}, "grid": {"steps": list(SR_STEPS)},
                 "evaluated": [{"params": {"steps": int(k)}, **v} for k, v in res.items()],
                 "seconds": round(time.perf_counter() - t0, 1)}
    chosen_rules = rules[int(best_steps)]
    del rules
    say(f"  sr: chose steps={best_steps}")
    for name, start, axes in (("stan", STAN_START, STAN_AXES), ("vsknn", VSKNN_START, VSKNN_AXES)):
        for label in (name, f"{name}_part"):
            t0 = time.perf_counter()

            def run(point: dict[str, Any], label: str = label) -> dict[str, float]:
                t1 = time.perf_counter()
                if label.endswith("_part"):
                    res = _partner_result(index, knn_params(point), chosen_rules, pairs, batch_size)
                else:
                    res = evaluate_scorer(lambda s: index.scores(s, knn_params(point)), pairs, batch_size)
                say(f"    {label} {point}: P@20 {res['P@20']} MRR@20 {res['MRR@20']} "
                    f"({time.perf_counter() - t1:.1f} s)")
                return res

            best, seen = coordinate_search(start, axes, run,
                                           valid=lambda p: not (p.get("after_only") and p.get("lambda3") is None))
            out[label] = {"chosen": best, "start": start, "axes": axes, "evaluated": seen,
                          "seconds": round(time.perf_counter() - t0, 1)}
            say(f"  {label}: chose {best} ({len(seen)} points, {out[label]['seconds']} s)")
    out["_rules"] = chosen_rules
    return out


def _components(baselines: SessionBaselines, knn: dict[str, KnnParams], rules, models: dict[str, Any], seqs,
                seconds: dict[str, float]) -> dict[str, np.ndarray]:
    """Raw (B, N + 1) scores of the ensembles' parts: each kNN in ``knn``, each rule set
    in ``rules``, each model."""
    assert baselines.index is not None
    comps: dict[str, np.ndarray] = {}

    def timed(name: str, fn: Callable[..., np.ndarray], *args: Any) -> None:
        t0 = time.perf_counter()
        comps[name] = fn(*args)
        seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - t0

    for name, params in knn.items():
        timed(name, baselines.index.scores, seqs, params)
    for name, csr in rules.items():  # "sr", and "transition" (one-step rules = the transition counts)
        timed(name, rule_scores, csr, seqs)
    for name, model in models.items():
        timed(name, lambda model=model: next(model.scores(seqs, batch_size=len(seqs))))
    return comps


def choose_weights(baselines: SessionBaselines, knn: dict[str, KnnParams], rules, models: dict[str, Any], pairs, *,
                   batch_size: int, say: Say) -> dict[str, Any]:
    """The ensembles' weights, chosen on ``pairs`` (the tuning half) from the grid: the
    kNN part (``knn``: one, chosen before), SR, the transitions and each model."""
    (k,) = knn
    values = {"sr": ENSEMBLE_SR, "transition": WEIGHT_VALUES["transition"]}
    grids: dict[str, list[dict[str, float]]] = {"ensemble_simple": weight_grid([k, "sr", "transition"], values)}
    for m in models:
        grids[f"ensemble_{m}"] = weight_grid([k, "sr", "transition", m], {**values, m: WEIGHT_VALUES["model"]})
    accs = {e: GridAccumulator() for e in grids}
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    for seqs, labels in pair_batches(pairs, batch_size, say, "tuning the ensemble weights"):
        raw = _components(baselines, knn, rules, models, seqs, seconds)
        comps = {m: model_component(raw[m]) if m in models else normalise_rows(raw[m]) for m in raw}
        del raw
        for e, grid in grids.items():
            for w, ranks in zip(grid, grid_ranks(comps, labels, grid)):
                accs[e].add_ranks(weights_name(w), ranks)
    out: dict[str, Any] = {}
    for e, grid in grids.items():
        res = accs[e].results()
        best = accs[e].best()
        chosen = next(w for w in grid if weights_name(w) == best)
        out[e] = {"chosen": chosen, "tuning_result": res[best], "grid": grid, "evaluated": res}
        say(f"  {e}: chose {best}: tuning P@20 {res[best]['P@20']} MRR@20 {res[best]['MRR@20']}")
    out["_seconds"] = round(time.perf_counter() - t0, 1)
    return out


def report(baselines: SessionBaselines, knn: dict[str, KnnParams], rules, models: dict[str, Any],
           weights: dict[str, dict[str, float]], pairs, *, batch_size: int, say: Say
           ) -> tuple[dict[str, dict[str, float]], dict[str, np.ndarray]]:
    """Every method once on ``pairs`` (the reported half): results and per-pair ranks."""
    names = [*BASELINES, *knn, "sr", *models, "ensemble_simple", *(f"ensemble_{m}" for m in models),
             *(f"hybrid_plus_{m}" for m in models)]
    accs = {n: RankAccumulator() for n in names}
    ranks: dict[str, list[np.ndarray]] = {n: [] for n in names}
    seconds: dict[str, float] = {}

    def timed(name: str, fn: Callable[..., np.ndarray], *args: Any) -> np.ndarray:
        t0 = time.perf_counter()
        out = fn(*args)
        seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - t0
        return out

    def record(name: str, scores: np.ndarray, labels: np.ndarray) -> None:
        r = target_ranks(scores, labels)
        accs[name].add(r)
        ranks[name].append(r)

    for seqs, labels in pair_batches(pairs, batch_size, say, "scoring the reported half"):
        # each method is ranked as soon as it is scored, so few (B, N + 1) arrays live at once
        for m in ("popularity", "item_knn"):
            record(m, timed(m, baselines.scores, m, seqs), labels)
        knn_s = timed("session_knn", baselines.scores, "session_knn", seqs)
        record("session_knn", knn_s, labels)
        knn_n = normalise_rows(knn_s)
        del knn_s
        trans = timed("transition", baselines.scores, "transition", seqs)
        record("transition", trans, labels)
        trans_n = normalise_rows(trans)
        del trans
        record("hybrid", timed("hybrid", combine, {"k": knn_n, "t": trans_n}, {"k": 1.0, "t": 1.0}), labels)
        raw = _components(baselines, knn, rules, models, seqs, seconds)
        comps: dict[str, np.ndarray] = {}
        for name in list(raw):
            comps[name] = model_component(raw[name]) if name in models else normalise_rows(raw[name])
            if name != "transition":  # recorded above, from the baselines
                record(name, _masked(raw.pop(name)), labels)
        raw.clear()
        for m in models:
            record(f"hybrid_plus_{m}", combine({"k": knn_n, "t": trans_n, "m": comps[m]},
                                               {"k": 1.0, "t": 1.0, "m": 1.0}), labels)
        for e, w in weights.items():
            record(e, timed(e, combine, comps, w), labels)
    results = {n: {**accs[n].result(), "score_seconds": round(seconds.get(n, 0.0), 1)} for n in names}
    return results, {n: np.concatenate(r) for n, r in ranks.items()}


def run_nowplaying(data, models: dict[str, Any], *, max_valid_pairs: int | None, grid_pairs: int,
                   weight_pairs: int | None, batch_size: int = 256, say: Say = print) -> dict[str, Any]:
    """The protocol of the module docstring; ``models``: name -> a trained ``SessionGNN``."""
    from encore.recall.session.bench import paired_difference, sample_pairs

    split = data.split
    valid = sample_pairs(split.valid, max_valid_pairs)
    tune_idx, report_idx = tune_report_split(valid.sequences, seed=SPLIT_SEED)
    tune, reported = valid.subset(tune_idx), valid.subset(report_idx)
    rng = np.random.default_rng(SPLIT_SEED)
    grid_set = tune if len(tune) <= grid_pairs else tune.subset(np.sort(rng.choice(len(tune), grid_pairs,
                                                                                     replace=False)))
    weight_set = tune if weight_pairs is None or len(tune) <= weight_pairs else tune.subset(
        np.sort(rng.choice(len(tune), weight_pairs, replace=False)))
    say(f"  {len(valid)} validation pairs: {len(tune)} tune ({len(grid_set)} for the methods' grids, "
        f"{len(weight_set)} for the weights), {len(reported)} reported")
    t0 = time.perf_counter()
    baselines = SessionBaselines.fit(split.train_sessions, split.num_items)
    fit_s = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    simple = choose_simple_methods(baselines, grid_set, batch_size=batch_size, say=say)
    simple_s = round(time.perf_counter() - t0, 1)
    assert baselines.index is not None
    rules = {"sr": simple.pop("_rules"), "transition": baselines.index.sequential_rules(1)}
    knn = {name: knn_params(simple[name]["chosen"]) for name in ("stan", "vsknn", *KNN_COMPONENTS)}
    # the ensembles' kNN part: the partner search's better one (best kNN + w * SR on the grid pairs)
    part = max(KNN_COMPONENTS, key=lambda n: max((p["objective"], p["P@20"]) for p in simple[n]["evaluated"]))
    simple["ensemble_knn_part"] = part
    say(f"  the ensembles' kNN part: {part}")
    ens = choose_weights(baselines, {part: knn[part]}, rules, models, weight_set, batch_size=batch_size, say=say)
    weights_s = ens.pop("_seconds")
    t0 = time.perf_counter()
    results, ranks = report(baselines, knn, rules, models, {e: v["chosen"] for e, v in ens.items()},
                            reported, batch_size=batch_size, say=say)
    report_s = round(time.perf_counter() - t0, 1)
    paired = {f"{a}_minus_{b}": paired_difference(ranks[a], ranks[b]) for a, b in PAIRS if a in ranks and b in ranks}
    return {
        "data": {"train_sessions": len(split.train_sessions), "train_pairs": len(split.train),
                 "valid_pairs_sampled": len(valid), "valid_pairs_available": len(split.valid),
                 "valid_pairs_dropped_unseen_target": split.dropped_unseen, "items": split.num_items,
                 "tune_pairs": len(tune), "tune_pairs_for_method_grids": len(grid_set),
                 "tune_pairs_for_weights": len(weight_set), "report_pairs": len(reported),
                 "split": f"the sampled validation pairs split by session, seed {SPLIT_SEED}: a session's pairs "
                          "all go to the tuning half or all to the reported half; everything tuned on the "
                          "tuning half, every figure in results from the reported half"},
        "tuning": {"objective": "min(P@20 / 23.50, MRR@20 / 9.02), ties by P@20", **simple, **ens},
        "results": results, "paired_differences": paired,
        "timings": {"fit_seconds": fit_s, "choose_methods_seconds": simple_s, "choose_weights_seconds": weights_s,
                    "report_seconds": report_s},
    }
