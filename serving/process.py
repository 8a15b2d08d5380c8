"""One way to run an Encore gRPC service as a process: every service (Events today,
the Recommender next) starts, reports and stops through :func:`run_until_stopped`.

It starts the server (health and reflection included, :mod:`encore.serving.grpc_server`),
optionally the Prometheus ``/metrics`` endpoint, prints one parseable line
``<service> listening on <host>:<port>`` (so scripts and tests find a port the OS
picked), then waits for SIGTERM or SIGINT. On the signal, in-flight calls get
``serving.shutdown_grace_s`` to finish, then each ``on_stop`` callback runs in order
(flush a producer, close a model), so a clean stop loses nothing.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Sequence

from encore.platform.config import ServingConfig
from encore.serving.grpc_server import Service, start_server


class ServiceStartError(RuntimeError):
    """The service could not start (port taken, metrics port taken); the message says why."""


def run_until_stopped(
    services: Sequence[Service],
    config: ServingConfig,
    *,
    port: int,
    host: str | None = None,
    metrics_port: int | None = None,
    on_stop: Sequence[Callable[[], None]] = (),
    announce: Callable[[str], None] = print,
    stop: threading.Event | None = None,
) -> None:
    """Serve ``services`` on ``host:port`` until SIGTERM / SIGINT (or ``stop`` is set).

    ``host`` and ``metrics_port`` default to ``config``'s; ``port`` 0 picks a free port.
    ``on_stop`` callbacks also run when the start fails, so resources opened for the
    service are released either way. Signal handlers are installed only when called on
    the main thread (a test may drive it through ``stop`` instead).
    """
    host = host or config.host
    stop = stop or threading.Event()
    try:
        try:
            server, bound = start_server(*services, host=host, port=port,
                                         max_workers=config.max_workers)
        except OSError as err:
            raise ServiceStartError(str(err)) from err
        try:
            metrics = config.metrics_port if metrics_port is None else metrics_port
            if metrics:
                from prometheus_client import start_http_server

                try:
                    start_http_server(metrics, addr=host)
                except OSError as err:
                    raise ServiceStartError(f"cannot serve metrics on {host}:{metrics}: {err}") from err
            if threading.current_thread() is threading.main_thread():
                for sig in (signal.SIGTERM, signal.SIGINT):
                    signal.signal(sig, lambda *_: stop.set())
            names = ", ".join(s.full_name for s in services)
            announce(f"{names} listening on {host}:{bound}")
            stop.wait()
        finally:
            server.stop(config.shutdown_grace_s).wait()
    finally:
        for close in on_stop:
            close()
