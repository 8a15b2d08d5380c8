"""``encore events``: create the topics, replay a world's log, look at the stream.

Every command reads the Kafka settings from the ``kafka`` section of the configuration
(encore.platform.config), so it talks to the local stack or a real cluster alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from encore.platform.config import KafkaConfig, default_config

app = typer.Typer(help="The event stream: topics, replay of a world's log, tail.",
                  no_args_is_help=True)
console = Console()


def _kafka() -> KafkaConfig:
    return default_config().kafka


def _fail(message: str) -> typer.Exit:
    """One line (never wrapped, markup in the message printed as is), exit code 1."""
    console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    return typer.Exit(code=1)


@app.command("topics")
def topics() -> None:
    """Create the events and dead-letter topics if they are missing."""
    from encore.platform.events.topics import TopicSetupError, setup_topics

    config = _kafka()
    try:
        created = setup_topics(config, client_id="encore-events-cli")
    except TopicSetupError as err:
        raise _fail(str(err)) from err
    for name in (config.events_topic, config.dead_letter_topic):
        console.print(f"{name}: {'created' if name in created else 'already there'}")


@app.command("replay")
def replay(
    world: Path = typer.Option(..., "--world", help="Folder written by `encore world generate`.",
                               exists=True, file_okay=False),
    rate: Optional[float] = typer.Option(None, "--rate", min=0.001,
                                         help="Events per second (default: as fast as possible)."),
    dates: Optional[list[str]] = typer.Option(None, "--dates",
                                              help="Days to replay, YYYY-MM-DD (repeatable)."),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
) -> None:
    """Send a simulated world's event log to the events topic.

    Every selected file is first checked against the world's manifest (sha256) and the
    event schema; a bad file is an error naming it, and nothing is sent. Both topics are
    created (or verified) with their configured partitions before the first record."""
    from encore.platform.events.producer import EventProducer, ProduceError
    from encore.platform.events.replay import ReplayError, replay_world, verified_event_files

    full = default_config()
    config = full.kafka
    try:
        verified_event_files(world, dates or None)  # before touching Kafka
        with EventProducer(config, source="replay", limits=full.events) as producer:
            count = replay_world(world, producer, rate, dates or None, progress)
    except (ReplayError, ProduceError) as err:
        raise _fail(str(err)) from err
    console.print(f"replayed {count:,} events to {config.events_topic}")


@app.command("tail")
def tail(
    n: int = typer.Option(10, "--n", min=1, help="How many of the latest events to show."),
    dead_letters: bool = typer.Option(False, "--dlq", help="Show the dead-letter topic."),
) -> None:
    """Print the latest records (last produced) of the events or dead-letter topic."""
    from encore.platform.events.codec import CodecError, decode_event, event_to_row
    from encore.platform.events.reader import TopicReadError, read_records

    config = _kafka()
    topic = config.dead_letter_topic if dead_letters else config.events_topic
    try:
        records = read_records(config.bootstrap_servers, topic, last_n=n)
    except TopicReadError as err:
        raise _fail(str(err)) from err
    latest = sorted(records, key=lambda r: (r.timestamp_ms, r.partition, r.offset))[-n:]
    table = Table(title=f"last {len(latest)} of {topic}")
    for column in ("partition", "offset", "key", "record"):
        table.add_column(column)
    for record in latest:
        if dead_letters:
            text = record.value.decode("utf-8", "replace")
        else:
            try:
                row = event_to_row(decode_event(record.value))
                text = " ".join(f"{k}={v}" for k, v in row.items() if v is not None)
            except CodecError as err:
                text = f"[red]{err}[/red]"
        key = record.key.decode("utf-8", "replace") if record.key is not None else ""
        table.add_row(str(record.partition), str(record.offset), key, text)
    console.print(table)
