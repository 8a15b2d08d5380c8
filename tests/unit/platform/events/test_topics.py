"""ensure_topics against a fake admin client: what it creates, and the partition check."""

from __future__ import annotations

import pytest
from kafka.errors import TopicAlreadyExistsError, UnknownTopicOrPartitionError

from encore.platform.events.topics import TopicSetupError, ensure_topics


class FakeAdmin:
    """kafka-python 3.x KafkaAdminClient surface: describe_topics, create_topics,
    wait_for_topics. ``topics`` maps an existing topic to its partition count;
    ``create_codes`` forces an error code for a created topic."""

    def __init__(self, topics: dict[str, int] | None = None,
                 create_codes: dict[str, int] | None = None) -> None:
        self.topics = dict(topics or {})
        self.create_codes = create_codes or {}
        self.requested: dict | None = None
        self.waited: list[str] | None = None

    def describe_topics(self, topics=None):
        return [
            {"name": n, "error_code": 0,
             "partitions": [{"partition_index": i, "leader_id": 1, "error_code": 0}
                            for i in range(self.topics[n])]}
            if n in self.topics else
            {"name": n, "error_code": UnknownTopicOrPartitionError.errno, "partitions": []}
            for n in topics
        ]

    def create_topics(self, topics, timeout_ms=None, raise_errors=True):
        self.requested = topics
        response = []
        for name, options in topics.items():
            code = self.create_codes.get(name, 0)
            if code == 0:
                self.topics[name] = options["num_partitions"]
            response.append({"name": name, "error_code": code, "error_message": None})
        return {"topics": response}

    def wait_for_topics(self, names, timeout_ms=None):
        self.waited = list(names)


@pytest.fixture
def config(kafka_config):
    return kafka_config.model_copy(update={"partitions": 4, "dead_letter_partitions": 2})


def test_creates_both_topics_with_their_configured_partitions(config) -> None:
    admin = FakeAdmin()
    assert ensure_topics(admin, config) == ["ev", "dlq"]
    assert admin.requested == {"ev": {"num_partitions": 4}, "dlq": {"num_partitions": 2}}
    assert admin.waited == ["ev", "dlq"]


def test_only_the_missing_topic_is_created(config) -> None:
    """The issue's case: only the dead-letter topic exists; the events topic must get
    the configured 4 partitions, not the broker's auto-create default of 1."""
    admin = FakeAdmin({"dlq": 2})
    assert ensure_topics(admin, config) == ["ev"]
    assert admin.requested == {"ev": {"num_partitions": 4}}
    assert admin.topics == {"ev": 4, "dlq": 2}


def test_existing_topics_are_left_alone(config) -> None:
    admin = FakeAdmin({"ev": 4, "dlq": 2})
    assert ensure_topics(admin, config) == []
    assert admin.requested is None


def test_more_partitions_than_configured_is_accepted(config) -> None:
    assert ensure_topics(FakeAdmin({"ev": 12, "dlq": 3}), config) == []


def test_fewer_partitions_than_configured_is_a_clear_error(config) -> None:
    with pytest.raises(TopicSetupError) as err:
        ensure_topics(FakeAdmin({"ev": 1, "dlq": 2}), config)
    message = str(err.value)
    assert "topic ev has 1 partition(s) but kafka.partitions is 4" in message
    assert "dlq" not in message.split("(")[0]


def test_created_meanwhile_by_another_client_is_fine(config) -> None:
    admin = FakeAdmin(create_codes={"ev": TopicAlreadyExistsError.errno})
    admin.topics["ev"] = 4  # visible by the time we check the counts
    assert ensure_topics(admin, config) == ["dlq"]


def test_other_create_errors_are_reported(config) -> None:
    with pytest.raises(TopicSetupError, match="dlq: error 29"):
        ensure_topics(FakeAdmin({"ev": 4}, create_codes={"dlq": 29}), config)


def test_one_topic_for_both_is_refused(config) -> None:
    with pytest.raises(TopicSetupError, match="both 'ev'"):
        ensure_topics(FakeAdmin(), config.model_copy(update={"dead_letter_topic": "ev"}))
