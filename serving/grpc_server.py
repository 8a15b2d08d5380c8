"""One way to start an Encore gRPC server, shared by every service (Events, Recommender).

Each server also answers the standard health service (grpc.health.v1.Health, so load
balancers and ``grpc_health_probe`` can check it) and server reflection (so ``grpcurl``
can list and call it without the .proto files). Services are passed in as ``Service``
values that say how to mount themselves, so this module knows none of them.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

DEFAULT_MAX_WORKERS = 8


@dataclass(frozen=True)
class Service:
    """A servicer and how to mount it.

    ``add_to_server`` is the generated ``add_<Name>Servicer_to_server`` function and
    ``full_name`` the proto service name (e.g. "encore.v1.Events"), used for its health
    status and for reflection.
    """

    servicer: Any
    add_to_server: Callable[[Any, grpc.Server], None]
    full_name: str


def start_server(
    *services: Service,
    host: str = "127.0.0.1",
    port: int = 0,
    max_workers: int = DEFAULT_MAX_WORKERS,
    options: list[tuple[str, Any]] | None = None,
) -> tuple[grpc.Server, int]:
    """Start an insecure server with ``services`` plus health and reflection on
    ``host:port`` (port 0: a free port the OS picks); returns (server, bound port).
    Every service (and the overall "" entry) reports SERVING. Stop it with
    ``server.stop(grace_seconds)``."""
    if not services:
        raise ValueError("start_server needs at least one Service")
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=max_workers), options=options)
    for service in services:
        service.add_to_server(service.servicer, server)

    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ["", *(s.full_name for s in services)]:
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)

    reflection.enable_server_reflection(
        [*(s.full_name for s in services), health.SERVICE_NAME, reflection.SERVICE_NAME], server,
    )
    try:
        bound = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError as err:  # grpc raises instead of returning 0 in recent versions
        raise OSError(f"cannot bind a gRPC server to {host}:{port}: {err}") from err
    if bound == 0:
        raise OSError(f"cannot bind a gRPC server to {host}:{port}")
    server.start()
    return server, bound
