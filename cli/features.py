"""`encore features ...`: apply the Feast repo, materialize, inspect online features.

Every command opens the store from the Encore config (``--online-store`` overrides
``feature_store.online_store``), so the same commands work on SQLite and Redis. It lives
in the command line rather than in encore.feature_store because it reads Encore's
configuration, which the feature store itself never imports.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from enum import Enum
from typing import Optional

import typer

app = typer.Typer(help="Feast feature store: apply, materialize, read.", no_args_is_help=True)


class OnlineStore(str, Enum):
    sqlite = "sqlite"
    redis = "redis"


_ONLINE_STORE = typer.Option(None, "--online-store", help="Override feature_store.online_store.")


def _name(online_store: Optional[OnlineStore]) -> Optional[str]:
    return online_store.value if online_store else None


def _settings():
    from encore.platform.config import default_config

    return default_config().feature_store


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


@app.command("apply")
def apply(online_store: Optional[OnlineStore] = _ONLINE_STORE) -> None:
    """Register entities, views and services (creates online tables, offline files)."""
    from encore.feature_store.store import apply_repo, open_store

    definitions = apply_repo(open_store(_settings(), online_store=_name(online_store)))
    typer.echo(f"applied {len(definitions.objects())} objects to project encore")


@app.command("materialize")
def materialize(
    start: datetime = typer.Option(..., help="Start of the event-time window (UTC if naive)."),
    end: datetime = typer.Option(..., help="End of the event-time window (UTC if naive)."),
    view: Optional[list[str]] = typer.Option(None, help="Only these feature views (repeatable)."),
    online_store: Optional[OnlineStore] = _ONLINE_STORE,
) -> None:
    """Copy the latest offline row per entity between --start and --end online."""
    from encore.feature_store.store import open_store

    if end <= start:
        raise typer.BadParameter("--end must be after --start", param_hint="--end")
    open_store(_settings(), online_store=_name(online_store)).materialize(_utc(start), _utc(end), feature_views=view or None)
    typer.echo(f"materialized {', '.join(view) if view else 'all views'} for {start} .. {end}")


@app.command("online-read")
def online_read(
    user_id: int = typer.Option(..., help="User whose online features to print."),
    online_store: Optional[OnlineStore] = _ONLINE_STORE,
) -> None:
    """Print a user's profile and real-time features as JSON (null where absent)."""
    from encore.feature_store.client import FeatureClient

    features = FeatureClient.from_config(_settings(), online_store=_name(online_store)).user_features([user_id])[user_id]
    typer.echo(json.dumps(features, indent=2, sort_keys=True, default=str))
