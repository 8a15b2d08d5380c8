"""Service commands: ``encore events serve`` (the Events gRPC service) and ``encore
serve`` (the Recommender). Each runs through :func:`encore.serving.process.run_until_stopped`.
The root command line (:mod:`encore.cli`) mounts them."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape

console = Console()


def _fail(message: str) -> typer.Exit:
    """One line (never wrapped, markup in the message printed as is), exit code 1."""
    console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    return typer.Exit(code=1)


def events_serve(
    host: Optional[str] = typer.Option(None, help="Override serving.host."),
    port: Optional[int] = typer.Option(None, help="Override serving.events_port (0: any free port)."),
    metrics_port: Optional[int] = typer.Option(
        None, help="Override serving.metrics_port: Prometheus /metrics on this port (0: off)."),
) -> None:
    """Run the Events gRPC service (with health and reflection) until SIGTERM / Ctrl-C.

    Valid events go to the events topic, malformed ones to the dead-letter topic and back
    to the caller as rejections. On shutdown in-flight calls finish (serving.shutdown_grace_s)
    and the producer is flushed, so no accepted event is lost."""
    from encore.platform.config import default_config
    from encore.platform.events.producer import EventProducer, ProduceError
    from encore.serving.events_service import events_service
    from encore.serving.process import ServiceStartError, run_until_stopped

    config = default_config()
    serving = config.serving
    try:
        # creates or verifies both topics first (encore.platform.events.topics)
        producer = EventProducer(config.kafka, source="events-service", limits=config.events)
    except ProduceError as err:  # it names the broker it could not reach, or the topic
        raise _fail(str(err)) from err
    try:
        run_until_stopped(
            [events_service(producer, max_events=serving.max_events_per_log_call)], serving,
            host=host, port=serving.events_port if port is None else port,
            metrics_port=metrics_port, on_stop=[producer.close],
            announce=lambda line: console.print(line, highlight=False, soft_wrap=True),
        )
    except ServiceStartError as err:
        raise _fail(str(err)) from err
    console.print("Events service stopped; producer flushed")


def recommender_serve(
    world: Optional[Path] = typer.Option(None, help="World folder: catalog/tracks.parquet is the catalog; "
                                         "its last day's events give the ranker's track statistics."),
    catalog: Optional[Path] = typer.Option(None, help="tracks.parquet (instead of --world)."),
    host: Optional[str] = typer.Option(None, help="Override serving.host."),
    port: Optional[int] = typer.Option(None, help="Override pipeline.port (0: any free port)."),
    metrics_port: Optional[int] = typer.Option(
        None, help="Override serving.metrics_port: Prometheus /metrics on this port (0: off)."),
    registry: Optional[Path] = typer.Option(None, help="Override registry.root (the promoted models)."),
    no_features: bool = typer.Option(False, "--no-features",
                                     help="Serve without the feature store (every listener is unknown)."),
    now: Optional[datetime] = typer.Option(None, help="Serve as if the clock started at this UTC time "
                                           "(for a replayed world), e.g. 2026-01-19T08:00:00."),
) -> None:
    """Run the Recommender gRPC service (DailyRecommend, NextTrack, SimilarTracks,
    RecommendArtists; health, reflection) until SIGTERM / Ctrl-C.

    Loads the promoted recall channels (``recall.<name>``) and ranker (``ranker``) from the
    registry and swaps each on a new promotion (checked first; a bad version is refused
    and the old one keeps serving). Without a promoted ranker, lists are in merged-score
    order."""
    from datetime import timezone

    from encore.platform.config import default_config
    from encore.serving.app import build_pipeline
    from encore.serving.process import ServiceStartError, run_until_stopped
    from encore.serving.recommender_service import recommender_service

    config = default_config()
    if registry is not None:
        config = config.model_copy(update={"registry": config.registry.model_copy(update={"root": registry})})
    if world is None and catalog is None:
        raise _fail("give --world DIR or --catalog FILE (the catalog the server recommends from)")
    try:
        pipeline = build_pipeline(config, catalog=catalog, world=world, use_features=not no_features,
                                  now=now.replace(tzinfo=now.tzinfo or timezone.utc) if now else None)
    except (FileNotFoundError, ValueError) as err:
        raise _fail(str(err)) from err
    loaded = {name: getattr(src, "version", None) for name, src in pipeline.channels.items()}
    missing = sorted(n for n, v in loaded.items() if v is None)
    console.print(f"recall channels: {', '.join(f'{n}={v}' for n, v in loaded.items())}"
                  + (f" (not loaded, served degraded: {', '.join(missing)})" if missing else ""), soft_wrap=True)
    ranker = getattr(pipeline.ranker, "version", None)
    console.print(f"ranker: {ranker or 'none promoted: merged-score order'}", soft_wrap=True)
    try:
        run_until_stopped(
            [recommender_service(pipeline)], config.serving, host=host,
            port=config.pipeline.port if port is None else port, metrics_port=metrics_port,
            on_stop=[pipeline.close],
            announce=lambda line: console.print(line, highlight=False, soft_wrap=True),
        )
    except ServiceStartError as err:
        raise _fail(str(err)) from err
    console.print("Recommender stopped")
