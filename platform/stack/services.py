"""The services of the local stack: a Kafka-protocol broker (noida-db) and Redis.

Each factory returns a ManagedProcess that runs the server in the foreground on
127.0.0.1 with its data, config and log under ``<runtime_dir>/stack/<service>/``.
Clients talk to them with the ordinary Kafka and Redis client libraries, so the same
code works against a real cluster.
"""

from __future__ import annotations

import shutil
from importlib.resources import files
from pathlib import Path

from encore.platform.config import StackConfig
from encore.platform.stack.process import ManagedProcess, StackError

HEALTH_TIMEOUT_MS = 3000


def noida_binary() -> Path:
    """The noida-db server binary shipped inside the noida-db wheel (the ``noida-db``
    console script is only a wrapper that re-executes it)."""
    path = Path(str(files("noida_db").joinpath("noida-db")))
    if not path.is_file():
        raise StackError(f"noida-db binary not found at {path}; reinstall noida-db")
    if not path.stat().st_mode & 0o111:
        path.chmod(0o755)
    return path


def kafka_service(config: StackConfig, service_dir: Path) -> ManagedProcess:
    data_dir = service_dir / "data"

    def check() -> str:
        from kafka.admin import KafkaAdminClient

        admin = KafkaAdminClient(
            bootstrap_servers=f"{config.host}:{config.kafka_port}",
            client_id="encore-stack-health",
            request_timeout_ms=HEALTH_TIMEOUT_MS,
            bootstrap_timeout_ms=HEALTH_TIMEOUT_MS,
        )
        try:
            topics = [t for t in admin.list_topics() if not t.startswith("__")]
        finally:
            admin.close()
        return f"ok, {len(topics)} topic{'s' * (len(topics) != 1)}"

    return ManagedProcess(
        name="kafka",
        argv=[
            str(noida_binary()), "start", "--only", "kafka",
            "--host", config.host, "--kafka-port", str(config.kafka_port),
            "--data-dir", str(data_dir),
        ],
        host=config.host,
        port=config.kafka_port,
        workdir=service_dir,
        health_check=check,
    )


def redis_service(config: StackConfig, service_dir: Path) -> ManagedProcess:
    binary = shutil.which("redis-server")
    if binary is None:
        raise StackError("redis-server is not on PATH; run scripts/bootstrap.sh to install it")
    conf_file = service_dir / "redis.conf"

    def check() -> str:
        import redis

        client = redis.Redis(
            host=config.host, port=config.redis_port,
            socket_timeout=HEALTH_TIMEOUT_MS / 1000, socket_connect_timeout=HEALTH_TIMEOUT_MS / 1000,
        )
        try:
            if not client.ping():
                raise StackError("PING did not return PONG")
        finally:
            client.close()
        return "PONG"

    conf = (
        "# Written by `encore stack up`; regenerated on every start.\n"
        f"bind {config.host}\n"
        "protected-mode yes\n"
        f"port {config.redis_port}\n"
        "daemonize no\n"
        'logfile ""\n'  # stdout, which goes to redis.log
        f"dir {service_dir}\n"  # appendonlydir/ and dump.rdb live beside the log
        "appendonly yes\n"
    )
    return ManagedProcess(
        name="redis",
        argv=[binary, str(conf_file)],
        host=config.host,
        port=config.redis_port,
        workdir=service_dir,
        health_check=check,
        config_files={conf_file: conf},
    )
