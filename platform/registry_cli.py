"""`encore models list|show|verify|promote|rollback`: the model registry
(:mod:`encore.platform.registry`) under ``registry.root`` (or ``--registry``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(help="The model registry: versions, promotion, rollback.", no_args_is_help=True)

RootOpt = typer.Option(None, "--registry", help="Registry root (default registry.root), as for serve, train and eval.")


def _registry(root: Optional[Path]):
    from encore.platform.config import default_config
    from encore.platform.registry import Registry

    return Registry(root if root is not None else default_config().registry.root)


def _fail(err: Exception) -> None:
    typer.echo(f"error: {err}", err=True)
    raise typer.Exit(code=1)


@app.command("list")
def list_models(name: Optional[str] = typer.Argument(None, help="Only this model."),
                root: Optional[Path] = RootOpt) -> None:
    """Every version of every model (or of NAME): kind, created, data window, metrics,
    and which one is promoted."""
    from rich.console import Console
    from rich.table import Table

    from encore.platform.registry import RegistryError

    registry = _registry(root)
    try:
        names = [name] if name else registry.names()
        table = Table(title=f"models under {registry.root}")
        for col in ("name", "version", "promoted", "kind", "created", "data window", "metrics"):
            table.add_column(col)
        for model in names:
            current = registry.promoted(model)
            for version in registry.versions(model):
                m = registry.manifest(model, version)
                table.add_row(model, version, "*" if version == current else "", m.kind, m.created,
                              _window(m.data_window), _headline(m.metrics))
    except RegistryError as err:
        _fail(err)
    Console().print(table)


def _window(window: dict) -> str:
    """``{"train": [a, b], "eval": [c, d]}`` -> ``train a..b, eval c..d``."""
    parts = []
    for key, value in window.items():
        if isinstance(value, (list, tuple)) and len(value) == 2:
            parts.append(f"{key} {value[0]}..{value[1]}")
        else:
            parts.append(f"{key} {value}")
    return ", ".join(parts)


def _headline(metrics: dict, limit: int = 4) -> str:
    """The AUCs when there are any (the ranking headline), else the first metrics."""
    flat = _flat(metrics)
    chosen = [k for k in flat if k.endswith(".auc") or k == "auc"] or list(flat)
    return ", ".join(f"{k}={flat[k]:.4f}" if isinstance(flat[k], float) else f"{k}={flat[k]}"
                     for k in chosen[:limit])


def _flat(metrics: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in metrics.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


@app.command("show")
def show(name: str, version: Optional[str] = typer.Argument(None, help="Default: the promoted one."),
         root: Optional[Path] = RootOpt) -> None:
    """Print a version's manifest (JSON)."""
    from encore.platform.registry import RegistryError

    registry = _registry(root)
    try:
        version = version or registry.promoted(name)
        if version is None:
            raise RegistryError(f"model {name}: no version is promoted")
        typer.echo(json.dumps(registry.manifest(name, version).to_json(), indent=2))
    except RegistryError as err:
        _fail(err)


@app.command("verify")
def verify(name: str, version: str, root: Optional[Path] = RootOpt) -> None:
    """Check a version's files against its manifest checksums."""
    from encore.platform.registry import RegistryError

    try:
        manifest = _registry(root).verify(name, version)
    except RegistryError as err:
        _fail(err)
    typer.echo(f"{name} {version}: {len(manifest.files)} files OK")


@app.command("promote")
def promote(name: str, version: str, root: Optional[Path] = RootOpt) -> None:
    """Promote VERSION of NAME (verified first); servers pick it up on their next poll."""
    from encore.platform.registry import RegistryError

    try:
        _registry(root).promote(name, version)
    except RegistryError as err:
        _fail(err)
    typer.echo(f"promoted {name} {version}")


@app.command("rollback")
def rollback(name: str, root: Optional[Path] = RootOpt) -> None:
    """Return NAME to the previously promoted version."""
    from encore.platform.registry import RegistryError

    try:
        version = _registry(root).rollback(name)
    except RegistryError as err:
        _fail(err)
    typer.echo(f"rolled back {name} to {version}")
