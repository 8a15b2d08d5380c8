"""The two event topics: create them when missing, refuse to run on a wrong one.

Shared by everything that produces or consumes events (``encore events topics|serve|
replay``, every EventProducer that connects by itself, the stream processor), so they
all agree on one rule:

- a missing topic is created with the configured partition count
  (``kafka.partitions`` for the events topic, ``kafka.dead_letter_partitions`` for the
  dead-letter topic) and the broker's default replication factor; this happens before
  anything is produced, so a broker with automatic topic creation never makes a
  1-partition events topic of its own;
- an existing topic with *fewer* partitions than configured is an error
  (TopicSetupError naming the topic, both counts and the fix): its key -> partition
  mapping is not the one the configuration describes, and Encore never changes a
  topic's partition count itself, because that moves listeners' keys to other
  partitions and breaks per-listener order for records already written;
- an existing topic with *more* partitions is accepted as it is (an operator may have
  grown it on purpose; keying still keeps one listener in one partition).

Only metadata and CreateTopics requests are used (kafka-python 3.x
``KafkaAdminClient.describe_topics`` / ``create_topics`` / ``wait_for_topics``), which a
real Kafka cluster and the local noida-db broker both answer.
"""

from __future__ import annotations

from typing import Any

from kafka.errors import KafkaError, TopicAlreadyExistsError, UnknownTopicOrPartitionError

from encore.platform.config import KafkaConfig


class TopicSetupError(RuntimeError):
    """A topic could not be created or verified (broker unreachable, no permission,
    fewer partitions than configured)."""


def wanted_topics(config: KafkaConfig) -> dict[str, tuple[str, int]]:
    """topic -> (config key of its partition count, that count)."""
    if config.events_topic == config.dead_letter_topic:
        raise TopicSetupError(
            f"kafka.events_topic and kafka.dead_letter_topic are both {config.events_topic!r}")
    return {
        config.events_topic: ("kafka.partitions", config.partitions),
        config.dead_letter_topic: ("kafka.dead_letter_partitions", config.dead_letter_partitions),
    }


def partition_counts(admin: Any, topics: list[str]) -> dict[str, int | None]:
    """Partitions of each topic (None: it does not exist). Never creates a topic: the
    admin client's metadata requests do not ask for automatic creation."""
    try:
        described = admin.describe_topics(topics)
    except KafkaError as err:
        raise TopicSetupError(f"cannot describe topics {topics}: {err}") from err
    by_name = {t.get("name"): t for t in described}
    counts: dict[str, int | None] = {}
    for name in topics:
        info = by_name.get(name)
        if info is None or info.get("error_code", 0) == UnknownTopicOrPartitionError.errno:
            counts[name] = None
        else:  # other errors (leader election under way, ...) are left to wait_for_topics
            counts[name] = len(info.get("partitions") or [])
    return counts


def ensure_topics(admin: Any, config: KafkaConfig, *, timeout_ms: int | None = None) -> list[str]:
    """Create the missing event topics, wait until every partition of both has a
    leader, and check their partition counts (see the module docstring); returns the
    names created. Idempotent. ``admin`` is a kafka-python KafkaAdminClient."""
    timeout_ms = config.topic_setup_timeout_ms if timeout_ms is None else timeout_ms
    wanted = wanted_topics(config)
    names = list(wanted)
    existing = partition_counts(admin, names)
    missing = {name: {"num_partitions": wanted[name][1]}
               for name in names if existing[name] is None}
    created: list[str] = []
    if missing:
        try:
            response = admin.create_topics(missing, timeout_ms=timeout_ms, raise_errors=False)
        except KafkaError as err:
            raise TopicSetupError(f"cannot create topics {sorted(missing)}: {err}") from err
        problems = []
        for topic in response["topics"]:
            code = topic["error_code"]
            if code == 0:
                created.append(topic["name"])
            elif code != TopicAlreadyExistsError.errno:  # already: made meanwhile by another client
                problems.append(f"{topic['name']}: error {code} {topic.get('error_message') or ''}".rstrip())
        if problems:
            raise TopicSetupError("cannot create topics: " + "; ".join(problems))
    try:
        admin.wait_for_topics(names, timeout_ms=timeout_ms)
    except KafkaError as err:
        raise TopicSetupError(f"topics {names} did not become ready: {err}") from err
    counts = partition_counts(admin, names)
    too_few = []
    for name, (key, want) in wanted.items():
        have = counts[name]
        if have is None or have < want:
            too_few.append(f"topic {name} has {have or 0} partition(s) but {key} is {want}")
    if too_few:
        raise TopicSetupError(
            "; ".join(too_few) + " (was it auto-created by the broker?). Delete and recreate "
            "it with `encore events topics`, add partitions with your Kafka tools (this moves "
            "listeners to other partitions), or set the configured count to match")
    return created


def setup_topics(config: KafkaConfig, *, client_id: str = "encore-events-admin") -> list[str]:
    """``ensure_topics`` over an admin client of its own on ``config.bootstrap_servers``
    (closed after); TopicSetupError also when the broker cannot be reached."""
    from kafka.admin import KafkaAdminClient

    try:
        admin = KafkaAdminClient(bootstrap_servers=config.bootstrap_servers, client_id=client_id)
    except KafkaError as err:
        raise TopicSetupError(f"cannot connect to Kafka at {config.bootstrap_servers}: {err}") from err
    try:
        return ensure_topics(admin, config)
    finally:
        admin.close()
