"""Set-up and maintenance of what the stream processor runs against (Kafka topics and
consumer group, the Feast repo). Nothing here runs implicitly: ``encore stream run``
calls :func:`prepare_stream` before it builds the processor."""

from __future__ import annotations

from typing import Any

from encore.platform.config import EncoreConfig, KafkaConfig


def ensure_feast_repo(store: Any) -> bool:
    """Apply the Encore Feast definitions to ``store`` when its ``user_realtime`` view
    is missing; returns whether it applied them."""
    from encore.platform.stream.online_state import USER_REALTIME_VIEW

    try:
        store.get_feature_view(USER_REALTIME_VIEW)
        return False
    except Exception:  # noqa: BLE001 - FeatureViewNotFoundException and registry errors
        from encore.feature_store.store import apply_repo

        apply_repo(store)
        return True


def ensure_stream_topics(kafka_config: KafkaConfig) -> list[str]:
    """Create the events and dead-letter topics if absent; returns those created."""
    from encore.platform.events.producer import setup_topics

    return setup_topics(kafka_config, client_id="encore-stream-admin")


def prepare_stream(config: EncoreConfig, store: Any, *,
                   bootstrap_servers: str | None = None) -> None:
    """Everything a processor of ``config`` needs before it starts: the Feast repo
    applied to ``store`` and the topics created (both idempotent)."""
    kafka_config = config.kafka
    if bootstrap_servers:
        kafka_config = kafka_config.model_copy(update={"bootstrap_servers": bootstrap_servers})
    ensure_feast_repo(store)
    ensure_stream_topics(kafka_config)


def evict_group_members(bootstrap_servers: str, group_id: str) -> list[str]:
    """Remove every member of ``group_id`` from the group; returns their member ids.

    Only for when NO processor of the group is running: real Kafka expires a dead
    member after ``session_timeout_ms``, but the local noida-db broker keeps a member
    whose process was killed (SIGKILL, OOM) forever, and the group then never
    rebalances. Committed offsets are kept."""
    from kafka.admin import KafkaAdminClient, MemberToRemove

    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="encore-stream-admin")
    try:
        members = admin.describe_groups([group_id])[group_id].get("members") or []
        ids = [m["member_id"] for m in members]
        if ids:
            admin.remove_group_members(group_id, [MemberToRemove(member_id=i) for i in ids])
        return ids
    finally:
        admin.close()


def leave_group(bootstrap_servers: str, group_id: str, member_id: str) -> None:
    """Send a LeaveGroup for one (dynamic) member of ``group_id`` over a connection of
    its own: how a processor leaves while its own connection waits on a JoinGroup."""
    from kafka.admin import KafkaAdminClient, MemberToRemove

    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="encore-stream-leave",
                             request_timeout_ms=5000)
    try:
        admin.remove_group_members(group_id, [MemberToRemove(member_id=member_id)])
    finally:
        admin.close()


def group_member_ids(bootstrap_servers: str, group_id: str) -> list[str]:
    """The member ids the broker lists for ``group_id`` now."""
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="encore-stream-admin")
    try:
        members = admin.describe_groups([group_id])[group_id].get("members") or []
        return [m["member_id"] for m in members]
    finally:
        admin.close()
