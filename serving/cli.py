"""Service commands: ``encore events serve`` (the Events gRPC service) and, as they
arrive, the Recommender. Each runs through :func:`encore.serving.process.run_until_stopped`.
The root command line (:mod:`encore.cli`) mounts them."""

from __future__ import annotations

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
