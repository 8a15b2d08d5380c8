"""Fixtures for integration tests: real services on 127.0.0.1, on free ports, with their
state in a temporary runtime dir, so tests never touch a developer's running stack.
Every service is tied to the pytest process: an interrupted or killed run leaves none
behind."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from encore.platform.config import KafkaConfig, StackConfig
from encore.platform.events.producer import setup_topics
from encore.platform.stack import LocalStack, free_port


def _private_ports() -> StackConfig:
    return StackConfig(kafka_port=free_port(), redis_port=free_port(), start_timeout_s=20)


@pytest.fixture
def make_stack(tmp_path: Path) -> Iterator[Callable[[], LocalStack]]:
    """Factory for a stopped LocalStack on fresh ports; every one is brought down after."""
    stacks: list[LocalStack] = []

    def make() -> LocalStack:
        stack = LocalStack(_private_ports(), runtime_dir=tmp_path / f"runtime{len(stacks)}",
                           tied_to_this_process=True)
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.down()


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """One running broker + Redis shared by the whole test session."""
    stack = LocalStack(_private_ports(), runtime_dir=tmp_path_factory.mktemp("stack-runtime"),
                       tied_to_this_process=True)
    stack.up()
    yield stack
    stack.down()


@pytest.fixture(scope="session")
def kafka_bootstrap(local_stack: LocalStack) -> str:
    return local_stack.kafka_bootstrap


@pytest.fixture
def kafka_config(kafka_bootstrap: str) -> KafkaConfig:
    """A config naming topics of this test only, created on the broker."""
    suffix = uuid.uuid4().hex[:8]
    config = KafkaConfig(
        bootstrap_servers=kafka_bootstrap, events_topic=f"events-{suffix}",
        dead_letter_topic=f"events-dlq-{suffix}", partitions=4,
    )
    setup_topics(config, client_id="events-tests")
    return config


@pytest.fixture(scope="session")
def redis_url(local_stack: LocalStack) -> str:
    return local_stack.redis_url


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory):
    """A local SparkSession (see encore.platform.spark), stopped after the session."""
    from encore.platform.config import SparkConfig
    from encore.platform.spark import spark_session, stop_spark

    session = spark_session(
        SparkConfig(shuffle_partitions=2, driver_memory="1g"),
        app_name="encore-tests",
        runtime_dir=tmp_path_factory.mktemp("spark-runtime"),
    )
    yield session
    stop_spark()
