"""LocalStack: the Kafka-protocol broker and Redis on 127.0.0.1, plus the Java/Spark check.

    stack = LocalStack(StackConfig(kafka_port=p1, redis_port=p2), runtime_dir=tmp)
    stack.up()                  # idempotent; waits until every service is healthy
    stack.kafka_bootstrap       # "127.0.0.1:p1"
    stack.redis_url             # "redis://127.0.0.1:p2/0"
    stack.status().healthy      # False if a service that should run does not
    stack.down()                # SIGTERM, graceful; fine when nothing runs

``tied_to_this_process=True`` (tests, the demo) makes the services exit with the process
that started them, even when it is killed; ``encore stack up`` leaves them running.

State lives in ``<runtime_dir>/stack/<service>/`` (PID file, log, data), so a later
process (another ``encore stack`` command) finds the same services again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from encore.platform.config import StackConfig
from encore.platform.spark import SparkEnvironmentError, find_java, pyspark_version
from encore.platform.stack.process import ManagedProcess, StackError, ensure_port_free
from encore.platform.stack.services import kafka_service, redis_service


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    state: str  # running | stopped | stale | unhealthy | available | missing
    healthy: bool  # False only when something that should work does not
    detail: str = ""
    pid: int | None = None
    port: int | None = None
    log_path: Path | None = None


@dataclass(frozen=True)
class StackStatus:
    services: tuple[ServiceStatus, ...]

    @property
    def healthy(self) -> bool:
        return all(s.healthy for s in self.services)

    @property
    def running(self) -> bool:
        """True while any managed process is running (healthy or not)."""
        return any(s.state in ("running", "unhealthy") for s in self.services)

    def __getitem__(self, name: str) -> ServiceStatus:
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(name)


class LocalStack:
    def __init__(self, config: StackConfig, runtime_dir: Path, *, tied_to_this_process: bool = False):
        self.config = config
        self.runtime_dir = Path(runtime_dir).resolve()
        root = self.runtime_dir / "stack"
        self._processes: list[ManagedProcess] = [
            kafka_service(self.config, root / "kafka"),
            redis_service(self.config, root / "redis"),
        ]
        for process in self._processes:
            process.tied_to_starter = tied_to_this_process

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.config.host}:{self.config.kafka_port}"

    @property
    def redis_url(self) -> str:
        return f"redis://{self.config.host}:{self.config.redis_port}/0"

    def up(self) -> StackStatus:
        """Start whatever is not running yet and wait until all of it is healthy.
        Every needed port is checked first, so a taken port starts nothing."""
        for process in self._processes:
            if process.inspect().state != "running":
                ensure_port_free(process.host, process.port, process.name)
        started: list[ManagedProcess] = []
        try:
            for process in self._processes:
                if process.inspect().state != "running":
                    started.append(process)
                process.start(self.config.start_timeout_s)
            status = self.status()
            if not status.healthy:
                broken = "; ".join(f"{s.name}: {s.detail}" for s in status.services if not s.healthy)
                raise StackError(f"stack started but is not healthy: {broken}")
        except BaseException:
            # A half-started stack is stopped again: what this call started, it stops.
            for process in reversed(started):
                process.stop(self.config.stop_timeout_s)
            raise
        return status

    def down(self) -> list[str]:
        """Stop every running service gracefully; returns the names that were stopped."""
        return [p.name for p in reversed(self._processes) if p.stop(self.config.stop_timeout_s)]

    def status(self) -> StackStatus:
        return StackStatus(
            tuple(_process_status(p) for p in self._processes) + (_java_status(), _spark_status())
        )


def _process_status(process: ManagedProcess) -> ServiceStatus:
    found = process.inspect()

    def status(state: str, healthy: bool, detail: str) -> ServiceStatus:
        return ServiceStatus(name=process.name, state=state, healthy=healthy, detail=detail,
                             pid=found.pid, port=process.port, log_path=process.log_file)

    if found.state == "stopped":
        return status("stopped", True, "not started")
    if found.state == "stale":
        # A PID file without its process: the service was meant to run and died.
        return status("stale", False, found.detail)
    try:
        return status("running", True, process.health())
    except StackError as err:
        return status("unhealthy", False, str(err))


def _java_status() -> ServiceStatus:
    try:
        java = find_java()
    except SparkEnvironmentError as err:
        return ServiceStatus(name="java", state="missing", healthy=False, detail=str(err))
    return ServiceStatus(
        name="java", state="available", healthy=True,
        detail=f"Java {java.version}, JAVA_HOME={java.home}",
    )


def _spark_status() -> ServiceStatus:
    try:
        version = pyspark_version()
    except SparkEnvironmentError as err:
        return ServiceStatus(name="spark", state="missing", healthy=False, detail=str(err))
    return ServiceStatus(name="spark", state="available", healthy=True, detail=f"pyspark {version}")
