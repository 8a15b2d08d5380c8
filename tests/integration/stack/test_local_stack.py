"""LocalStack against the real processes: lifecycle, persistence, idempotence, errors."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest
import redis
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient

from encore.platform.events.reader import read_records
from encore.platform.stack import LocalStack, PortInUseError, StackError, free_port

pytestmark = pytest.mark.integration

TOPIC = "encore.test.persist"
GROUP = "encore-test-persist"
PARTITIONS = 2
N = 100


def _produce(bootstrap: str) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics(
            {TOPIC: {"num_partitions": PARTITIONS, "replication_factor": 1}},
            wait_for_metadata=True,
        )
    finally:
        admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for i in range(N):
        producer.send(TOPIC, key=f"user-{i % 7}".encode(), value=f"event-{i}".encode())
    producer.flush(timeout=30)
    producer.close()


def _consume_and_commit(bootstrap: str) -> list[bytes]:
    consumer = KafkaConsumer(
        TOPIC, bootstrap_servers=bootstrap, group_id=GROUP,
        auto_offset_reset="earliest", enable_auto_commit=False,
    )
    values: list[bytes] = []
    try:
        for _ in range(60):
            for records in consumer.poll(timeout_ms=500).values():
                values.extend(r.value for r in records)
            if len(values) >= N:
                break
        consumer.commit()
    finally:
        consumer.close()
    return values


def _committed(bootstrap: str) -> dict[TopicPartition, int]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        offsets = admin.list_group_offsets(GROUP)[GROUP]
    finally:
        admin.close()
    return {tp: meta.offset for tp, meta in offsets.items()}


def _read_all(bootstrap: str) -> list[bytes]:
    return [record.value for record in read_records(bootstrap, TOPIC)]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_messages_and_committed_offsets_survive_a_restart(make_stack) -> None:
    stack: LocalStack = make_stack()
    status = stack.up()
    assert status.healthy and status["kafka"].state == "running"

    _produce(stack.kafka_bootstrap)
    consumed = _consume_and_commit(stack.kafka_bootstrap)
    expected = sorted(f"event-{i}".encode() for i in range(N))
    assert sorted(consumed) == expected
    assert sum(_committed(stack.kafka_bootstrap).values()) == N

    pids = [status["kafka"].pid, status["redis"].pid]
    assert stack.down() == ["redis", "kafka"]
    assert not any(_pid_alive(pid) for pid in pids)

    stack.up()
    assert sum(_committed(stack.kafka_bootstrap).values()) == N
    assert sorted(_read_all(stack.kafka_bootstrap)) == expected

    stack.down()
    after = stack.status()
    assert {after[name].state for name in ("kafka", "redis")} == {"stopped"}
    assert not after.running and after.healthy


def test_up_is_idempotent_and_down_when_stopped_is_fine(make_stack) -> None:
    stack: LocalStack = make_stack()
    assert stack.down() == []
    first = stack.up()
    second = stack.up()
    assert [first[n].pid for n in ("kafka", "redis")] == [second[n].pid for n in ("kafka", "redis")]
    # A second LocalStack over the same runtime dir (another CLI call) finds the same processes.
    other = LocalStack(stack.config, runtime_dir=stack.runtime_dir)
    assert other.status()["kafka"].pid == first["kafka"].pid


def test_stale_pid_file_is_reported_then_replaced(make_stack) -> None:
    stack: LocalStack = make_stack()
    pid_file = stack.runtime_dir / "stack" / "kafka" / "kafka.pid"
    pid_file.parent.mkdir(parents=True)
    pid_file.write_text(f"{os.getpid()}\n")  # alive, but not the broker
    status = stack.status()
    assert status["kafka"].state == "stale" and not status.healthy
    assert stack.up()["kafka"].pid != os.getpid()


def test_taken_port_gives_a_clear_error_and_starts_nothing(make_stack) -> None:
    stack: LocalStack = make_stack()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", stack.config.redis_port))
        squatter.listen()
        with pytest.raises(PortInUseError, match=str(stack.config.redis_port)):
            stack.up()
    assert not stack.status().running


def test_redis_ping_set_get(local_stack: LocalStack) -> None:
    client = redis.Redis.from_url(local_stack.redis_url)
    try:
        assert client.ping()
        client.set("encore:test", "ok")
        assert client.get("encore:test") == b"ok"
    finally:
        client.close()


def test_a_failed_up_stops_what_it_started(make_stack) -> None:
    stack = make_stack()
    kafka, redis_process = stack._processes
    redis_process.argv = ["/bin/false"]  # Redis exits at once, after the broker started
    with pytest.raises(StackError, match="redis exited"):
        stack.up()
    assert kafka.inspect().state == "stopped"
    assert not stack.status().running


_STARTER = """
import sys
from pathlib import Path
from encore.platform.config import StackConfig
from encore.platform.stack import LocalStack
stack = LocalStack(StackConfig(kafka_port=int(sys.argv[1]), redis_port=int(sys.argv[2])),
                   runtime_dir=Path(sys.argv[3]), tied_to_this_process=True)
stack.up()
print(" ".join(str(stack.status()[name].pid) for name in ("kafka", "redis")), flush=True)
sys.stdin.read()  # wait to be killed
"""


def test_services_tied_to_a_killed_process_exit_with_it(tmp_path) -> None:
    starter = subprocess.Popen(
        [sys.executable, "-c", _STARTER, str(free_port()), str(free_port()), str(tmp_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=tmp_path,
    )
    try:
        pids = [int(p) for p in starter.stdout.readline().split()]
        assert len(pids) == 2 and all(_running(pid) for pid in pids)
    finally:
        starter.kill()  # SIGKILL: no finalizer, no atexit runs in the starter
        starter.wait()
    deadline = time.monotonic() + 30
    while any(_running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_running(pid) for pid in pids)


def _running(pid: int) -> bool:
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
