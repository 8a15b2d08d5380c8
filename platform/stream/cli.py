"""`encore stream ...` commands (the lead mounts ``app`` as ``encore stream``)."""

from __future__ import annotations

import gc
import logging
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(help="The stream processor: Kafka events -> sessions -> Feast.",
                  no_args_is_help=True)


@app.command("run")
def run(
    tracks: Optional[Path] = typer.Option(
        None, "--tracks", help="World folder or catalog tracks.parquet with track_id, "
        "duration_ms (needed to count complete plays; loaded once at start).",
        exists=True,
    ),
    bootstrap: Optional[str] = typer.Option(None, help="Override kafka.bootstrap_servers."),
    max_events: Optional[int] = typer.Option(None, help="Stop after this many records."),
    max_idle_s: Optional[float] = typer.Option(None, help="Stop after this long without records."),
    log_interval_s: float = typer.Option(10.0, help="Seconds between progress log lines."),
) -> None:
    """Consume the events topic and keep the user_realtime features up to date.

    Stops cleanly on SIGTERM / Ctrl-C (the batch in hand is pushed and committed)."""
    from kafka.errors import KafkaError

    from encore.platform.config import default_config
    from encore.platform.events.producer import ProduceError, TopicSetupError
    from encore.feature_store.store import StorePathError, open_store
    from encore.platform.stream.admin import prepare_stream
    from encore.platform.stream.catalog import load_track_durations
    from encore.platform.stream.processor import StreamProcessor, StreamStalledError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = default_config()
    durations = load_track_durations(tracks) if tracks else None
    if durations is None:
        typer.echo("warning: no --tracks catalog given; completes_today stays 0", err=True)
    try:
        store = open_store(config.feature_store)
    except StorePathError as err:
        typer.echo(f"error: cannot open the feature store: {err}", err=True)
        raise typer.Exit(code=1) from err
    try:
        prepare_stream(config, store, bootstrap_servers=bootstrap)
        processor = StreamProcessor.from_config(
            config, store=store, durations=durations, bootstrap_servers=bootstrap,
            log_interval_s=log_interval_s,
        )
    except (KafkaError, ProduceError, TopicSetupError) as err:
        typer.echo(f"error: cannot start the stream processor on Kafka at "
                   f"{bootstrap or config.kafka.bootstrap_servers}: {err}", err=True)
        raise typer.Exit(code=1) from err
    # Everything loaded so far (Feast, pandas, pyarrow, kafka) lives as long as the
    # process: move it out of the collector's way, so a full collection scans only the
    # objects of recent batches (a full pass over the whole heap stalls a batch ~80 ms).
    gc.collect()
    gc.freeze()
    if config.stream.metrics_port:
        processor.metrics.serve(config.stream.metrics_port, addr=config.serving.host)
    try:
        stats = processor.run(max_idle_s=max_idle_s, max_events=max_events)
    except StreamStalledError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(code=1) from err
    typer.echo(
        f"stopped ({stats.stopped_by}): {stats.records} records, {stats.applied} applied, "
        f"{stats.duplicate_offset + stats.duplicate_id} duplicates, {stats.too_late} too late, "
        f"{stats.future_skewed} future-dated, {stats.dead_lettered} "
        f"dead-lettered, {stats.anonymous} anonymous, {stats.users_pushed} user pushes"
    )


@app.command("evict-members")
def evict_members(
    bootstrap: Optional[str] = typer.Option(None, help="Override kafka.bootstrap_servers."),
) -> None:
    """Remove every member of the stream's consumer group (committed offsets stay).

    Use only when no processor runs: after a processor was killed, the local noida-db
    broker keeps its member forever and a restarted processor never gets partitions.
    Real Kafka expires such a member by itself after the session timeout."""
    from encore.platform.config import default_config
    from encore.platform.stream.admin import evict_group_members

    config = default_config()
    ids = evict_group_members(bootstrap or config.kafka.bootstrap_servers,
                              config.stream.consumer_group)
    typer.echo(f"removed {len(ids)} member(s) from {config.stream.consumer_group}")
