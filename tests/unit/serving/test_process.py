"""run_until_stopped: the one process entry point of the gRPC services."""

from __future__ import annotations

import socket
import threading

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from encore.platform.config import ServingConfig
from encore.protos.encore.v1 import events_pb2_grpc
from encore.serving.grpc_server import Service
from encore.serving.process import ServiceStartError, run_until_stopped

SERVICE = Service(events_pb2_grpc.EventsServicer(), events_pb2_grpc.add_EventsServicer_to_server,
                  "encore.v1.Events")
CONFIG = ServingConfig(shutdown_grace_s=0.5, max_workers=2)


def test_a_taken_port_is_a_start_error_and_resources_are_released() -> None:
    closed = []
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(ServiceStartError, match="cannot bind"):
            run_until_stopped([SERVICE], CONFIG, port=taken.getsockname()[1],
                              on_stop=[lambda: closed.append(True)], announce=lambda _: None)
    assert closed == [True]


def test_serves_until_stopped_then_runs_on_stop_in_order() -> None:
    stop, lines, order = threading.Event(), [], []
    runner = threading.Thread(target=run_until_stopped, args=([SERVICE], CONFIG), kwargs=dict(
        port=0, stop=stop, announce=lines.append,
        on_stop=[lambda: order.append("flush"), lambda: order.append("close")]))
    runner.start()
    try:
        while not lines and runner.is_alive():
            runner.join(0.05)
        assert lines and lines[0].startswith("encore.v1.Events listening on 127.0.0.1:")
        port = int(lines[0].rsplit(":", 1)[1])
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="encore.v1.Events"), timeout=10)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        assert order == []
    finally:
        stop.set()
        runner.join(30)
    assert order == ["flush", "close"]
