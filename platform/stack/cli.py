"""`encore stack up|down|status`: the local broker and Redis on 127.0.0.1."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from encore.platform.stack.local import LocalStack, StackStatus
from encore.platform.stack.process import StackError

app = typer.Typer(help="Start, stop and check the local Kafka-protocol broker and Redis.",
                  no_args_is_help=True)
console = Console()

_STATE_STYLE = {
    "running": "green", "available": "green", "stopped": "dim",
    "stale": "red", "unhealthy": "red", "missing": "red",
}


def _table(status: StackStatus) -> Table:
    table = Table(title="encore stack")
    for column in ("service", "state", "pid", "port", "health", "log"):
        table.add_column(column, overflow="fold")
    for s in status.services:
        style = _STATE_STYLE.get(s.state, "")
        table.add_row(
            s.name,
            f"[{style}]{s.state}[/]",
            str(s.pid) if s.pid and s.state in ("running", "unhealthy") else "-",
            str(s.port) if s.port else "-",
            s.detail,
            str(s.log_path) if s.log_path else "-",
        )
    return table


def _fail(err: StackError) -> typer.Exit:
    console.print(f"[red]error:[/] {err}", markup=True, highlight=False)
    return typer.Exit(code=1)


def _stack() -> LocalStack:
    from encore.platform.config import default_config

    config = default_config()
    try:
        return LocalStack(config.stack, config.paths.runtime_dir)
    except StackError as err:  # e.g. redis-server or the noida-db binary is missing
        raise _fail(err) from err


@app.command("up")
def up() -> None:
    """Start the broker and Redis (idempotent) and wait until they are healthy."""
    stack = _stack()
    try:
        status = stack.up()
    except StackError as err:
        raise _fail(err) from err
    console.print(_table(status))
    console.print(f"kafka bootstrap: {stack.kafka_bootstrap}   redis: {stack.redis_url}")


@app.command("down")
def down() -> None:
    """Stop the broker and Redis gracefully (SIGTERM; data is kept)."""
    try:
        stopped = _stack().down()
    except StackError as err:
        raise _fail(err) from err
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@app.command("status")
def status() -> None:
    """Show every service; exit 1 if something that should run is unhealthy."""
    result = _stack().status()
    console.print(_table(result))
    if not result.healthy:
        raise typer.Exit(code=1)
