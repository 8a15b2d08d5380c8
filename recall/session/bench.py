"""``encore bench session``: the session models against the simple methods, in one run,
written to ``docs/benchmarks/session.json``.

* Nowplaying (``../shared/data/nowplaying``): the last ``--valid-fraction`` of the
  training sessions validate (every prefix predicts its next item; targets never seen in
  the training part dropped). Methods: popularity, item-KNN, session-kNN, first-order
  transitions, the kNN + last-item transition hybrid, SR-GNN-style (no emotion, no
  heterogeneous graph), the full model (heterogeneous co-occurrence graph; no emotion:
  the ids join no track metadata), and the stronger simple methods STAN, V-SKNN and
  sequential rules (:mod:`encore.recall.session.knn`) and the tuned ensembles (STAN + SR
  [+ a model's softmax]): the sampled validation pairs are split by session into a
  tuning half, on which every hyper-parameter and weight is chosen, and a reported half,
  on which every method is scored (:mod:`encore.recall.session.tuned`). The models are
  loaded (``--np-model`` / ``--np-srgnn-model``: their training is read from the
  registry's manifest) or trained here.
* The world (``--world``): the same split rule over its sessions; the same methods plus
  the paper's ablations (no emotion, no heterogeneous graph, global only, local only),
  emotion read from ``--emotion-source`` (the catalog's true valence/arousal by default).

Every method of a data set is scored on the same pairs in one pass (P@20, MRR@20, P@10, MRR@10, full
ranking over all items); epochs, training pairs and wall times are recorded.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import numpy as np
import typer

from encore.recall.session.baselines import SessionBaselines, _normalise_rows
from encore.recall.session.data import pair_batches
from encore.recall.session.ensemble import MRR_TARGET, P_TARGET, model_component
from encore.recall.session.metrics import RankAccumulator, target_ranks
from encore.recall.session.model import ModelSpec, SessionGNN
from encore.recall.session.tuned import run_nowplaying

log = logging.getLogger(__name__)

BASELINES = ("popularity", "item_knn", "session_knn", "transition", "hybrid")
WORLD_VARIANTS: dict[str, dict[str, Any]] = {
    "srgnn_style": {"emotion": False, "hetero": False},
    "full": {},
    "no_emotion": {"emotion": False},
    "no_hetero": {"hetero": False},
    "global_only": {"readout": "global"},
    "local_only": {"readout": "local"},
}
NOWPLAYING_VARIANTS: dict[str, dict[str, Any]] = {
    "srgnn_style": {"emotion": False, "hetero": False},
    "full": {"emotion": False},  # no emotion data on Nowplaying
}


def score_all(baselines: SessionBaselines, models: dict[str, SessionGNN], pairs, *, batch_size: int = 256,
              ensembles: tuple[str, ...] = (), say: Callable[[str], None] = print,
              ranks_out: Optional[dict[str, list[np.ndarray]]] = None) -> dict[str, dict[str, float]]:
    """Every baseline, model and ``ensemble_<model>`` on the same pairs, one pass
    (``ranks_out`` collects each method's per-pair ranks, for paired comparisons)."""
    accs = {m: RankAccumulator() for m in (*BASELINES, *models, *(f"ensemble_{m}" for m in ensembles))}
    seconds = dict.fromkeys(accs, 0.0)
    for seqs, labels in pair_batches(pairs, batch_size, say, "scored"):
        got: dict[str, np.ndarray] = {}
        for m in ("popularity", "item_knn", "session_knn", "transition"):
            t0 = time.perf_counter()
            got[m] = baselines.scores(m, seqs)
            seconds[m] += time.perf_counter() - t0
        t0 = time.perf_counter()
        knn, trans = _normalise_rows(np.maximum(got["session_knn"], 0)), _normalise_rows(np.maximum(got["transition"], 0))
        hybrid = knn + trans
        got["hybrid"] = hybrid.copy()
        got["hybrid"][:, 0] = -np.inf
        seconds["hybrid"] += time.perf_counter() - t0  # on top of the session_knn and transition times
        for name, model in models.items():
            t0 = time.perf_counter()
            logits = next(model.scores(seqs, batch_size=len(seqs)))
            got[name] = logits
            seconds[name] += time.perf_counter() - t0
            if name in ensembles:
                ens = hybrid + model_component(logits)
                ens[:, 0] = -np.inf
                got[f"ensemble_{name}"] = ens
        for m, scores in got.items():
            ranks = target_ranks(scores, labels)
            accs[m].add(ranks)
            if ranks_out is not None:
                ranks_out.setdefault(m, []).append(ranks)
    return {m: {**acc.result(), "score_seconds": round(seconds[m], 1)} for m, acc in accs.items()}


def _train(data, name: str, overrides: dict[str, Any], base: dict[str, Any], max_train_pairs: int | None,
           graph, say: Callable[[str], None]) -> tuple[SessionGNN, dict[str, Any]]:
    from encore.recall.session.train import train_model

    spec = ModelSpec(num_items=data.split.num_items, **{**base, **overrides})
    say(f"  training {name}: {spec.readout}, emotion={spec.emotion}, hetero={spec.hetero}, "
        f"{spec.epochs} epoch(s) on the most recent {max_train_pairs or len(data.split.train)} pairs")
    model, summary = train_model(data, spec, max_train_pairs=max_train_pairs, graph=graph)
    say(f"  {name}: losses {summary['losses']}, {summary['train_seconds']} s")
    return model, summary


def run_dataset(data, variants: dict[str, dict[str, Any]], base: dict[str, Any], *, max_train_pairs: int | None,
                max_valid_pairs: int | None, ensembles: tuple[str, ...], say: Callable[[str], None],
                keep: Optional[dict[str, SessionGNN]] = None) -> dict[str, Any]:
    from encore.recall.session.hetero import HeteroGraph

    split = data.split
    valid = sample_pairs(split.valid, max_valid_pairs)
    t0 = time.perf_counter()
    graph = HeteroGraph.build(split.train_sessions, split.num_items, users=split.users, emotion=data.emotion)
    graph_s = round(time.perf_counter() - t0, 1)
    baselines = SessionBaselines.fit(split.train_sessions, split.num_items)
    models, training = {}, {}
    for name, overrides in variants.items():
        models[name], training[name] = _train(data, name, overrides, base, max_train_pairs, graph, say)
    say(f"  scoring {len(valid)} held-out pairs")
    ranks: dict[str, list[np.ndarray]] = {}
    results = score_all(baselines, models, valid, ensembles=ensembles, say=say, ranks_out=ranks)
    paired = {f"{a}_minus_{b}": paired_difference(np.concatenate(ranks[a]), np.concatenate(ranks[b]))
              for a, b in PAIRS if a in ranks and b in ranks}
    if keep is not None:
        keep.update(models)
    return {
        "data": {"train_sessions": len(split.train_sessions), "train_pairs": len(split.train),
                 "valid_pairs": len(valid), "valid_pairs_available": len(split.valid),
                 "valid_pairs_dropped_unseen_target": split.dropped_unseen, "items": split.num_items,
                 "hetero_graph_relations": graph.sizes, "hetero_graph_seconds": graph_s},
        "training": training, "results": results, "paired_differences": paired,
    }


PAIRS = (("full", "no_emotion"), ("full", "no_hetero"), ("full", "srgnn_style"), ("ensemble_full", "hybrid"))


def paired_difference(a: np.ndarray, b: np.ndarray, k: int = 20) -> dict[str, float]:
    """Mean per-pair difference of hit@k and reciprocal rank@k (percent points) between
    two methods on the same pairs, with its standard error (paired, so the pairs'
    difficulty cancels)."""
    out: dict[str, float] = {}
    for name, fa, fb in (("P", a <= k, b <= k), ("MRR", np.where(a <= k, 1.0 / a, 0.0), np.where(b <= k, 1.0 / b, 0.0))):
        d = 100.0 * (fa.astype(np.float64) - fb.astype(np.float64))
        out[f"{name}@{k}_diff"] = round(float(d.mean()), 3)
        out[f"{name}@{k}_diff_se"] = round(float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else 0.0, 3)
    return out


def load_nowplaying_model(ref: str, registry_root: Path, data, valid_fraction: float
                          ) -> tuple[SessionGNN, dict[str, Any]]:
    """A stored Nowplaying model (registry name[@version] or artifact folder) and what
    its manifest says of it: where it came from, how it was trained, the exact command.
    Refused when its items are not Nowplaying's or when it held out a different tail of
    the sessions (it would then have trained on validation pairs)."""
    from encore.platform.registry import Registry
    from encore.recall.channel import ChannelArtifactError
    from encore.recall.session import train as t

    try:
        channel, where = t.load_model_channel(ref, registry_root)
    except ChannelArtifactError as err:
        raise ValueError(f"{ref}: {err}") from err
    model = channel.model
    assert model is not None
    if model.spec.num_items != data.split.num_items:
        raise ValueError(f"{ref}: a model of {model.spec.num_items} items, Nowplaying has {data.split.num_items}")
    info: dict[str, Any] = {"source": where, "training": dict(channel.training or {}), "spec": model.spec.to_json()}
    if "@" in where and not (Path(ref) / "channel.json").is_file():
        name, _, version = where.partition("@")
        manifest = Registry(registry_root).manifest(name, version)
        info.update({"command": manifest.extra.get("command"), "data_window": manifest.data_window,
                     "created": manifest.created, "metrics_at_publish": manifest.metrics})
        info["training"] = dict(manifest.extra.get("training") or info["training"])
        held = manifest.data_window.get("valid_fraction")
        if held is not None and float(held) != valid_fraction:
            raise ValueError(f"{ref} held out valid_fraction={held}, this run holds out {valid_fraction}: "
                             "it would be scored on pairs it trained on")
        sessions = manifest.data_window.get("train_sessions")
        if sessions is not None and int(sessions) != len(data.split.train_sessions):
            raise ValueError(f"{ref} trained on {sessions} sessions, this run's training part has "
                             f"{len(data.split.train_sessions)}")
    info["spec"].pop("relations", None)
    return model, info


def sample_pairs(pairs, max_pairs: int | None):
    """A seeded sample of ``max_pairs`` pairs (in their order), or all."""
    if max_pairs is None or len(pairs) <= max_pairs:
        return pairs
    return pairs.subset(np.sort(np.random.default_rng(0).choice(len(pairs), max_pairs, replace=False)))


def claims(out: dict[str, Any]) -> dict[str, Any]:
    c: dict[str, Any] = {}
    now = out.get("nowplaying", {}).get("results", {})
    if now:
        for m in ("full", "ensemble_full", "srgnn_style", "ensemble_srgnn_style", "stan", "vsknn", "sr",
                  "ensemble_simple", "hybrid_plus_full"):
            if m in now:
                c[f"nowplaying_{m}_P@20_above_{P_TARGET:.2f}_and_MRR@20_above_{MRR_TARGET:.2f}"] = (
                    now[m]["P@20"] > P_TARGET and now[m]["MRR@20"] > MRR_TARGET)
                c[f"nowplaying_{m}_beats_the_hybrid_on_this_split_on_both"] = (
                    now[m]["P@20"] > now["hybrid"]["P@20"] and now[m]["MRR@20"] > now["hybrid"]["MRR@20"])
        paired = out["nowplaying"].get("paired_differences", {})
        for a, b in (("ensemble_full", "hybrid"), ("ensemble_simple", "hybrid"), ("ensemble_full", "full"),
                     ("ensemble_full", "ensemble_simple")):
            d = paired.get(f"{a}_minus_{b}")
            if d:
                c[f"nowplaying_{a}_beats_{b}_on_both_beyond_two_standard_errors"] = (
                    d["P@20_diff"] > 2 * d["P@20_diff_se"] and d["MRR@20_diff"] > 2 * d["MRR@20_diff_se"])
        if {"full", "srgnn_style"} <= set(now):
            c["nowplaying_hetero_graph_helps_P@20"] = now["full"]["P@20"] > now["srgnn_style"]["P@20"]
    world = out.get("world", {}).get("results", {})
    if {"full", "no_emotion"} <= set(world):
        c["world_emotion_helps_P@20_and_MRR@20"] = (world["full"]["P@20"] > world["no_emotion"]["P@20"]
                                                    and world["full"]["MRR@20"] > world["no_emotion"]["MRR@20"])
        d = out["world"].get("paired_differences", {}).get("full_minus_no_emotion")
        if d:
            c["world_emotion_gain_P@20_beyond_two_standard_errors"] = d["P@20_diff"] > 2 * d["P@20_diff_se"]
            c["world_emotion_gain_MRR@20_beyond_two_standard_errors"] = d["MRR@20_diff"] > 2 * d["MRR@20_diff_se"]
    if {"full", "no_hetero"} <= set(world):
        c["world_hetero_graph_helps_P@20"] = world["full"]["P@20"] > world["no_hetero"]["P@20"]
    if {"full", "global_only", "local_only"} <= set(world):
        c["world_hybrid_readout_beats_global_only_and_local_only_MRR@20"] = (
            world["full"]["MRR@20"] > max(world["global_only"]["MRR@20"], world["local_only"]["MRR@20"]))
    if {"full", "hybrid"} <= set(world):
        c["world_full_beats_the_hybrid_on_both"] = (world["full"]["P@20"] > world["hybrid"]["P@20"]
                                                   and world["full"]["MRR@20"] > world["hybrid"]["MRR@20"])
    return c


def bench_session_command(
    ctx: typer.Context,
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Shared data folder (default ../shared/data)."),
    world: Optional[Path] = typer.Option(None, "--world", exists=True, file_okay=False,
                                         help="World folder (skipped when not given)."),
    skip_nowplaying: bool = typer.Option(False, "--skip-nowplaying", help="Only the world part."),
    world_from: Optional[Path] = typer.Option(None, "--world-from", exists=True, dir_okay=False,
                                              help="Without --world: copy the world part of an earlier "
                                              "session.json (marked as carried over, with its command and date)."),
    valid_fraction: float = typer.Option(0.1, help="Tail share of the sessions held out."),
    np_epochs: int = typer.Option(1, help="Nowplaying training epochs."),
    np_max_train_pairs: Optional[int] = typer.Option(None, help="Nowplaying: train on the most recent pairs only."),
    np_max_valid_pairs: Optional[int] = typer.Option(None, help="Nowplaying: a seeded sample of held-out pairs."),
    np_hidden: int = typer.Option(100, help="Nowplaying hidden size."),
    np_batch_size: int = typer.Option(256, help="Nowplaying pairs per training step."),
    np_learning_rate: float = typer.Option(0.002, help="Nowplaying Adam learning rate."),
    world_epochs: int = typer.Option(2, help="World training epochs."),
    world_max_train_pairs: Optional[int] = typer.Option(100_000, help="World: most recent training pairs."),
    world_max_valid_pairs: Optional[int] = typer.Option(10_000, help="World: a seeded sample of held-out pairs."),
    world_hidden: int = typer.Option(64, help="World hidden size."),
    emotion_source: str = typer.Option("catalog", help="catalog | audio | predicted:<file>."),
    batch_size: int = typer.Option(100, help="World pairs per training step."),
    publish: bool = typer.Option(False, "--publish", help="Publish the Nowplaying full model as session.nowplaying "
                                 "(only when trained in this run)."),
    registry: Optional[Path] = typer.Option(None, "--registry", help="Registry root (default: the config's)."),
    valid_out: Optional[Path] = typer.Option(None, "--valid-out", help="Write the Nowplaying held-out pairs."),
    np_model: Optional[str] = typer.Option(None, "--np-model", help="Nowplaying full model: registry "
                                           "name[@version] (under --registry) or artifact folder; trained when absent."),
    np_srgnn_model: Optional[str] = typer.Option(None, "--np-srgnn-model", help="Nowplaying SR-GNN-style model "
                                                 "(as --np-model); trained when absent."),
    np_no_srgnn: bool = typer.Option(False, "--np-no-srgnn", help="Nowplaying: leave the SR-GNN-style model out."),
    np_grid_pairs: int = typer.Option(4000, min=1, help="Nowplaying tuning pairs for the simple methods' grids."),
    np_weight_pairs: Optional[int] = typer.Option(None, min=1, help="Nowplaying tuning pairs for the ensemble "
                                                  "weights (default: the whole tuning half)."),
    out: Path = typer.Option(Path("docs/benchmarks/session.json"), "--out", help="Result JSON."),
) -> None:
    """Session GNN vs popularity / item-KNN / session-kNN / hybrid on Nowplaying and a world."""
    from encore.platform.bench.machine import machine_info
    from encore.recall.session import train as t
    from encore.recall.session.cli import _registry_root, command_line
    from encore.recall.session.data import write_pairs

    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(message)s", datefmt="%H:%M:%S")

    def say(msg: str) -> None:
        typer.echo(f"[{time.strftime('%H:%M:%S')}] {msg}", err=True)

    started = time.perf_counter()
    result: dict[str, Any] = {"benchmark": "session", "command": command_line(ctx), "machine": machine_info(),
                              "protocol": __doc__}
    def checkpoint() -> None:
        result["claims"] = claims(result)
        result["wall_seconds"] = round(time.perf_counter() - started, 1)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")

    if world is not None:
        say(f"world {world}: loading")
        wdata = t.load_data("world", world=world, valid_fraction=valid_fraction, emotion_source=emotion_source)
        wbase = {"hidden": world_hidden, "epochs": world_epochs, "batch_size": batch_size}
        t0 = time.perf_counter()
        result["world"] = run_dataset(wdata, WORLD_VARIANTS, wbase, max_train_pairs=world_max_train_pairs,
                                      max_valid_pairs=world_max_valid_pairs, ensembles=("full",), say=say)
        result["world"]["seconds"] = round(time.perf_counter() - t0, 1)
        result["world"]["world"] = str(world)
        result["world"]["emotion_source"] = emotion_source
        checkpoint()
        say(f"world done: {json.dumps(result['world']['paired_differences'])}")
    elif world_from is not None:
        earlier = json.loads(world_from.read_text())
        if "world" not in earlier:
            raise typer.BadParameter(f"{world_from} has no world part", param_hint="--world-from")
        result["world"] = {**earlier["world"], "carried_from": {
            "file": str(world_from), "command": earlier.get("command"),
            "timestamp_utc": earlier.get("machine", {}).get("timestamp_utc"),
            "note": "not measured in this run: copied from the earlier run named here"}}
        say(f"world part carried over from {world_from}")
    if not skip_nowplaying:
        say("nowplaying: loading")
        data = t.load_data("nowplaying", data_dir=data_dir, valid_fraction=valid_fraction)
        if valid_out is not None:  # the sampled pairs (tuning and reported halves together)
            write_pairs(sample_pairs(data.split.valid, np_max_valid_pairs), valid_out)
        base = {"hidden": np_hidden, "epochs": np_epochs, "batch_size": np_batch_size,
                "learning_rate": np_learning_rate}
        t0 = time.perf_counter()
        refs = {"full": np_model, "srgnn_style": np_srgnn_model}
        models: dict[str, SessionGNN] = {}
        training: dict[str, Any] = {}
        sources: dict[str, Any] = {}
        graph = None
        for name, overrides in NOWPLAYING_VARIANTS.items():
            if name == "srgnn_style" and np_no_srgnn:
                continue
            ref = refs.get(name)
            if ref:
                try:
                    models[name], sources[name] = load_nowplaying_model(ref, _registry_root(registry), data,
                                                                        valid_fraction)
                except ValueError as err:
                    hint = "--np-model" if name == "full" else "--np-srgnn-model"
                    raise typer.BadParameter(str(err), param_hint=hint) from err
                training[name] = sources[name].get("training", {})
                say(f"  {name}: loaded {sources[name]['source']} (trained {training[name].get('epochs')} epoch(s) "
                    f"on {training[name].get('pairs')} pairs in {training[name].get('train_seconds')} s)")
            else:
                if graph is None:
                    from encore.recall.session.hetero import HeteroGraph

                    graph = HeteroGraph.build(data.split.train_sessions, data.split.num_items)
                models[name], training[name] = _train(data, name, overrides, base, np_max_train_pairs, graph, say)
                sources[name] = {"source": "trained in this run", "command": command_line(ctx)}
        result["nowplaying"] = run_nowplaying(data, models, max_valid_pairs=np_max_valid_pairs,
                                              grid_pairs=np_grid_pairs, weight_pairs=np_weight_pairs, say=say)
        result["nowplaying"]["training"] = training
        result["nowplaying"]["models"] = sources
        result["nowplaying"]["seconds"] = round(time.perf_counter() - t0, 1)
        result["nowplaying"]["published_figures_official_test"] = {
            "S2-DHCN": [23.50, None], "GCE-GNN": [22.37, 8.40], "emotion HGNN (the paper)": [19.28, 7.89],
            "SR-GNN": [18.87, 7.39], "session-kNN (README)": [21.94, 6.79], "hybrid (README)": [20.92, 9.02]}
        if publish and not np_model:
            channel = t.as_channel(models["full"], data.track_ids, training["full"])
            version = t.publish(channel, _registry_root(registry), "session.nowplaying", command=command_line(ctx),
                                data_window={"data": "nowplaying", "valid_fraction": valid_fraction},
                                metrics=result["nowplaying"]["results"]["full"])
            result["nowplaying"]["published"] = {"name": "session.nowplaying", "version": version}
            say(f"published session.nowplaying {version}")
    checkpoint()
    say(f"wrote {out}")
    typer.echo(json.dumps(result["claims"], indent=2))
