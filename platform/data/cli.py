"""`encore data ...` commands."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(help="The read-only real data sets in the shared data folder.", no_args_is_help=True)


@app.command("check")
def check(
    data_dir: Optional[Path] = typer.Option(
        None, "--dir", help="Shared data folder (default: paths.shared_data_dir, "
        "relative to the repository root).", file_okay=False,
    ),
) -> None:
    """Load and validate all four real data sets and print their counts."""
    from rich.console import Console
    from rich.table import Table

    from encore.platform.data.common import DataFileError, resolve_data_dir
    from encore.platform.data.emomusic import load_emomusic
    from encore.platform.data.lastfm_kg import load_lastfm_kg
    from encore.platform.data.nowplaying import load_nowplaying
    from encore.platform.data.spotify import load_spotify

    from encore.platform.config import default_config

    folder = resolve_data_dir(data_dir, default_config().paths)
    if not folder.is_dir():
        typer.secho(f"shared data folder {folder} does not exist (pass --dir or set "
                    "paths.shared_data_dir in the config)", fg="red", err=True)
        raise typer.Exit(1)
    try:
        nowplaying = load_nowplaying(folder)
        lastfm = load_lastfm_kg(folder)
        spotify = load_spotify(folder)
        emo = load_emomusic(folder)
    except DataFileError as error:
        typer.secho(f"malformed data: {error}", fg="red", err=True)
        raise typer.Exit(1) from None

    table = Table(title=f"Real data in {folder}")
    table.add_column("data set")
    table.add_column("counts")
    table.add_row("nowplaying", f"{nowplaying.num_sessions:,} sessions, {nowplaying.num_items:,} "
                  f"items, {nowplaying.num_next_item_pairs:,} next-item pairs")
    table.add_row("lastfm-kg", f"{len(lastfm.user_artists):,} plays rows, {lastfm.num_users:,} users, "
                  f"{lastfm.num_artists:,} artists; {lastfm.num_triples:,} triples, "
                  f"{lastfm.num_entities:,} entities, {lastfm.num_relations} relations; "
                  f"{lastfm.num_mapped_artists:,} mapped artists")
    table.add_row("spotify-features", f"{spotify.rows_read:,} rows, {spotify.incomplete_dropped} "
                  f"incomplete dropped, {spotify.duplicates_dropped} duplicates dropped, "
                  f"{spotify.num_tracks:,} tracks")
    table.add_row("emomusic", f"{emo.num_songs:,} rated songs")
    Console().print(table)
