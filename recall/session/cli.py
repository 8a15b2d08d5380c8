"""``encore train session`` and ``encore eval session``.

``train session --data nowplaying|world``: train the session GNN on the data's training
part (the tail ``--valid-fraction`` of the sessions is held out), evaluate it on the
held-out pairs, publish it to the registry (promoted) with the exact command in the
manifest, and optionally write the held-out pairs as an SR-GNN pickle (``--valid-out``)
for ``eval session``.

``eval session --test PATH [--model NAME|NAME@vNNNN|FOLDER]``: P@20, MRR@20, P@10,
MRR@10 over the full item set of a stored model on any SR-GNN ``(sequences, labels)``
pickle (read with the restricted unpickler); item ids are the model's (Nowplaying ids;
track_id + 1 on a world).
"""

from __future__ import annotations

import json
import logging
import shlex
import sys
import time
from pathlib import Path
from typing import Any, Optional

import typer

DEFAULT_MODEL = "session.nowplaying"


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(message)s", datefmt="%H:%M:%S")


def _registry_root(registry: Optional[Path]) -> Path:
    from encore.platform import config as config_mod

    return registry if registry is not None else config_mod.default_config().registry.root


def command_line(ctx: Any = None) -> str:
    """The command that is running, for the registry's manifest: the command path
    (``encore train session``) and every option given on the command line, as given
    (read from the typer context, so it is right in process too, e.g. under CliRunner);
    ``encore`` + ``sys.argv`` without a context."""
    if ctx is None:
        return shlex.join(["encore", *sys.argv[1:]])
    names, node = [], ctx
    while node.parent is not None:  # the sub-command names; the root is `encore` however it was started
        names.append(node.info_name)
        node = node.parent
    words = ["encore", *reversed(names)]
    for param in ctx.command.params:
        name = param.name or ""
        source = ctx.get_parameter_source(name)
        if source is None or source.name != "COMMANDLINE":
            continue
        value = ctx.params[name]
        if getattr(param, "is_flag", False):
            flags = param.opts if value else (getattr(param, "secondary_opts", None) or param.opts)
            words.append(flags[0])
        else:
            words += [param.opts[0], str(value)]
    return shlex.join(words)


def _parent(ref: str, registry: Optional[Path], spec: Any, data: str, valid_fraction: float):
    """(weights, {model, command, training}) of the ``--init-from`` model, refused with the
    reason when it cannot be continued (another architecture, data or held-out tail)."""
    from encore.platform.registry import Registry, RegistryError
    from encore.recall.session import train as t

    try:
        parent, label = t.load_model_channel(ref, _registry_root(registry))
        weights = t.warm_start(parent, spec)
    except (RegistryError, ValueError, OSError) as err:
        raise typer.BadParameter(str(err), param_hint="--init-from") from err
    info: dict[str, Any] = {"model": label, "training": parent.training}
    name, _, version = label.partition("@")
    if version:
        manifest = Registry(_registry_root(registry)).manifest(name, version)
        window = manifest.data_window
        if window.get("data") != data or window.get("valid_fraction") != valid_fraction:
            raise typer.BadParameter(f"{label} was trained on {window.get('data')} holding out "
                                     f"{window.get('valid_fraction')}, not {data} / {valid_fraction}",
                                     param_hint="--init-from")
        info["command"] = manifest.extra.get("command")
    return weights, info


def train_session_command(
    ctx: typer.Context,
    data: str = typer.Option(..., "--data", help="nowplaying (../shared/data) or world (--world FOLDER)."),
    world: Optional[Path] = typer.Option(None, "--world", exists=True, file_okay=False, help="World folder."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Shared data folder (default ../shared/data)."),
    valid_fraction: float = typer.Option(0.1, help="Tail share of the sessions held out."),
    epochs: int = typer.Option(1, help="Training epochs."),
    max_train_pairs: Optional[int] = typer.Option(None, help="Train on the most recent pairs only."),
    hidden: int = typer.Option(100, help="Hidden size D."),
    batch_size: int = typer.Option(100, help="Pairs per step."),
    learning_rate: float = typer.Option(0.001, help="Adam learning rate."),
    lr_decay: float = typer.Option(0.1, help="Learning rate factor every --lr-decay-epochs."),
    lr_decay_epochs: int = typer.Option(3, help="Epochs between learning-rate decays."),
    negatives: int = typer.Option(0, help="Sampled-softmax negatives per training step (0 = full softmax)."),
    negative_alpha: float = typer.Option(0.75, help="Negatives drawn from popularity^alpha."),
    readout: str = typer.Option("hybrid", help="hybrid | global | local."),
    emotion: Optional[bool] = typer.Option(None, "--emotion/--no-emotion",
                                           help="Fuse emotion (default: on for world, off for nowplaying)."),
    emotion_source: str = typer.Option("catalog", help="catalog | audio | predicted:<file> (world)."),
    hetero: bool = typer.Option(True, "--hetero/--no-hetero", help="Heterogeneous-graph initial nodes."),
    name: Optional[str] = typer.Option(None, "--name", help="Registry name (default session.<data>)."),
    registry: Optional[Path] = typer.Option(None, "--registry", help="Registry root (default: the config's)."),
    valid_out: Optional[Path] = typer.Option(None, "--valid-out", help="Write the held-out pairs (SR-GNN pickle)."),
    max_valid_pairs: Optional[int] = typer.Option(None, help="Evaluate on the first this many held-out pairs."),
    epoch_check_pairs: int = typer.Option(0, help="Score the first this many held-out pairs after every epoch."),
    init_from: Optional[str] = typer.Option(
        None, "--init-from", help="Warm start: a stored model (registry name[@version] or artifact folder) of the "
        "same architecture and held-out tail; --epochs more epochs from its weights."),
) -> None:
    """Train the emotion-aware heterogeneous session GNN and publish it to the registry."""
    from encore.platform.data.common import DataFileError
    from encore.recall.session import train as t
    from encore.recall.session.data import write_pairs
    from encore.recall.session.model import ModelSpec

    _logging()
    if data not in t.DATASETS:
        raise typer.BadParameter(f"{data!r}; known: {', '.join(t.DATASETS)}", param_hint="--data")
    use_emotion = (data == "world") if emotion is None else emotion
    if use_emotion and data == "nowplaying":
        raise typer.BadParameter("nowplaying has no emotion vectors (its ids join no track metadata)",
                                 param_hint="--emotion")
    try:
        loaded = t.load_data(data, data_dir=data_dir, world=world, valid_fraction=valid_fraction,
                             emotion_source=emotion_source)
        spec = ModelSpec(num_items=loaded.split.num_items, hidden=hidden, readout=readout, emotion=use_emotion,
                         hetero=hetero, batch_size=batch_size, epochs=epochs, learning_rate=learning_rate,
                         lr_decay=lr_decay, lr_decay_epochs=lr_decay_epochs, negatives=negatives,
                         negative_alpha=negative_alpha)
        t.channel_config(spec)  # the published channel's settings, checked before any training
    except (DataFileError, ValueError) as err:
        raise typer.BadParameter(str(err)) from err
    import numpy as np

    valid = loaded.split.valid
    if max_valid_pairs is not None:
        valid = valid.subset(np.arange(min(max_valid_pairs, len(valid))))
    if valid_out is not None:
        write_pairs(valid, valid_out)
        typer.echo(f"held-out pairs: {valid_out} ({len(valid)})", err=True)
    check = valid.subset(np.arange(min(epoch_check_pairs, len(valid)))) if epoch_check_pairs > 0 else None
    init_weights, parent_info = None, None
    if init_from is not None:
        init_weights, parent_info = _parent(init_from, registry, spec, data, valid_fraction)
    model, training = t.train_model(loaded, spec, max_train_pairs=max_train_pairs, epoch_check=check,
                                    init_weights=init_weights)
    if parent_info is not None:
        training["init_from"] = parent_info
    metrics = t.evaluate(t.model_scorer(model), valid, what="held-out")
    channel = t.as_channel(model, loaded.track_ids, training)
    reg_name = name or f"session.{data}"
    version = t.publish(channel, _registry_root(registry), reg_name, command=command_line(ctx),
                        data_window={"data": data, "valid_fraction": valid_fraction,
                                     "train_sessions": len(loaded.split.train_sessions),
                                     "valid_pairs": len(valid)}, metrics=metrics)
    typer.echo(json.dumps({"registry_name": reg_name, "version": version, "training": training,
                           "held_out": metrics}, indent=2))


def eval_session_command(
    test: Path = typer.Option(..., "--test", help="SR-GNN (sequences, labels) pickle."),
    model: str = typer.Option(DEFAULT_MODEL, "--model", help="Registry name[@version] or artifact folder."),
    registry: Optional[Path] = typer.Option(None, "--registry", help="Registry root (default: the config's)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Also write the result as JSON."),
) -> None:
    """P@20 / MRR@20 / P@10 / MRR@10 of a stored session model over the full item set."""
    from encore.platform.data.common import DataFileError
    from encore.recall.channel import ChannelArtifactError
    from encore.recall.session import train as t
    from encore.recall.session.data import load_pairs

    _logging()
    try:
        pairs = load_pairs(test)
    except DataFileError as err:
        raise typer.BadParameter(str(err), param_hint="--test") from err
    started = time.perf_counter()
    try:
        channel, where = t.load_model_channel(model, _registry_root(registry))
    except (ValueError, ChannelArtifactError) as err:
        raise typer.BadParameter(str(err), param_hint="--model") from err
    load_s = time.perf_counter() - started
    assert channel.model is not None
    if pairs.max_item > channel.model.spec.num_items:
        raise typer.BadParameter(f"{test} holds item id {pairs.max_item}, the model knows 1.."
                                 f"{channel.model.spec.num_items}", param_hint="--test")
    metrics = t.evaluate(t.model_scorer(channel.model), pairs, what=str(test))
    result = {"model": where, "test": str(test), **metrics, "load_seconds": round(load_s, 2)}
    text = json.dumps(result, indent=2)
    typer.echo(text)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
