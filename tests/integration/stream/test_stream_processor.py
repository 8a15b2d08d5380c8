"""The stream processor against the real broker and a Feast SQLite online store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from kafka import KafkaProducer

from encore.platform.events.reader import read_records
from encore.platform.stream.offline_log import read_offline_log
from encore.platform.stream.processor import evict_group_members
from encore.protos.encore.v1 import event_pb2

from .conftest import USERS, expected_features, make_events

pytestmark = pytest.mark.integration


def _run_in_thread(processor):
    stop = threading.Event()
    thread = threading.Thread(
        target=processor.run, kwargs=dict(stop_event=stop, install_signal_handlers=False),
        daemon=True,
    )
    thread.start()
    return stop, thread


def _start_worker(stream_env, tmp_path, *flags: str) -> subprocess.Popen:
    """testkit.stream_worker on ``stream_env``'s config in a process of its own (text output)."""
    config_file = tmp_path / "config.json"
    config_file.write_text(stream_env.config.model_dump_json())
    tests_dir = str(Path(__file__).resolve().parents[2])
    env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [tests_dir, os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen([sys.executable, "-m", "testkit.stream_worker", str(config_file), *flags],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_events_become_online_features_with_offline_log(stream_env):
    events = make_events(n_per_user=40)
    stream_env.produce(events)
    processor = stream_env.processor(log_interval_s=1.0)
    stop, thread = _run_in_thread(processor)
    try:
        expected = expected_features(stream_env.config, events)
        got = stream_env.wait_for(expected, deadline_s=30)
        assert got == expected
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive()
    assert processor.stats.anonymous == 5 and processor.stats.dead_lettered == 0
    log = read_offline_log(stream_env.config.stream.offline_log_dir)
    assert sorted(log["event_id"]) == sorted(e.event_id for e in events)
    assert log["user_id"].isna().sum() == 5
    assert all(p.parent.name.startswith("date=")
               for p in Path(stream_env.config.stream.offline_log_dir).rglob("*.parquet"))


class Crash(BaseException):
    """Not an Exception: escapes the processor's retry like a process crash would."""


def test_crash_between_push_and_commit_then_restart_counts_each_event_once(stream_env):
    events = make_events(n_per_user=60, seed=5)
    stream_env.produce(events)
    pushes = []

    def crash_on_third_push(stats):
        pushes.append(stats)
        if len(pushes) == 3:
            raise Crash("killed after push, before commit")

    first = stream_env.processor(after_push=crash_on_third_push)
    with pytest.raises(Crash):
        first.run(max_idle_s=10, install_signal_handlers=False)
    # restart: a new member of the same group resumes from the last commit
    second = stream_env.processor()
    stats = second.run(max_idle_s=3, install_signal_handlers=False)
    assert stats.duplicate_offset > 0  # the crashed batch came back and was skipped
    expected = expected_features(stream_env.config, events)
    assert stream_env.online(USERS) == expected


@pytest.mark.slow
def test_sigkill_mid_stream_then_restart_counts_each_event_once(stream_env, tmp_path):
    events = make_events(n_per_user=80, seed=11, anonymous=0)
    stream_env.produce(events)
    proc = _start_worker(stream_env, tmp_path)
    try:
        # wait until some, not all, events are visible, then kill without warning
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            totals = [r["plays_total"] for r in stream_env.online(USERS).values()]
            if any(totals):
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"worker produced nothing: {proc.stdout.read() if proc.poll() is not None else ''}")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    expected = expected_features(stream_env.config, events)
    assert stream_env.online(USERS) != expected  # it really stopped mid-stream
    # noida-db never expires the killed member (real Kafka does after the session
    # timeout), so the group would never rebalance: remove it, keeping the commits
    evict_group_members(stream_env.kafka.bootstrap_servers, stream_env.config.stream.consumer_group)
    stats = stream_env.processor().run(max_idle_s=8, install_signal_handlers=False)
    assert stats.records > 0
    assert stream_env.online(USERS) == expected


def test_events_produced_twice_are_counted_once(stream_env):
    events = make_events(n_per_user=30, seed=7)
    stream_env.produce(events)
    stream_env.produce(events)  # every event id again, at new offsets
    stats = stream_env.processor().run(max_idle_s=3, install_signal_handlers=False)
    assert stats.records == 2 * len(events)
    assert stats.duplicate_id == len(events) - 5  # anonymous events have no user state
    assert stream_env.online(USERS) == expected_features(stream_env.config, events)
    log = read_offline_log(stream_env.config.stream.offline_log_dir)  # at-least-once,
    assert len(log) == len(events)  # de-duplicated by event_id on read
    raw = read_offline_log(stream_env.config.stream.offline_log_dir, dedupe=False)
    assert len(raw) == 2 * len(events)


def test_malformed_records_go_to_the_dead_letter_topic(stream_env):
    good = make_events(n_per_user=10, seed=9, anonymous=0)
    stream_env.produce(good)
    bad_event = event_pb2.Event(event_id="no-subject", track_id=3,
                                scenario=event_pb2.SEARCH, action=event_pb2.PLAY_START)
    bad_event.timestamp.FromMilliseconds(int(time.time() * 1000))
    raw = KafkaProducer(bootstrap_servers=stream_env.kafka.bootstrap_servers, acks="all")
    raw.send(stream_env.kafka.events_topic, key=b"u:101", value=b"\xff\x00 not a protobuf")
    raw.send(stream_env.kafka.events_topic, key=None, value=bad_event.SerializeToString())
    raw.flush(10)
    raw.close()
    more = make_events(n_per_user=10, seed=10, anonymous=0)
    stream_env.produce(more)

    stats = stream_env.processor().run(max_idle_s=3, install_signal_handlers=False)
    assert stats.dead_lettered == 2
    assert stream_env.online(USERS) == expected_features(stream_env.config, good + more)

    # run() flushed the dead-letter producer before returning: read the topic as it is
    records = [json.loads(r.value) for r in
               read_records(stream_env.kafka.bootstrap_servers, stream_env.kafka.dead_letter_topic)]
    assert len(records) == 2
    by_id = {r["event_id"]: r for r in records}
    assert "missing subject (user_id or anonymous_id)" in by_id["no-subject"]["reasons"]
    assert "not an encore.v1.Event" in by_id[""]["reasons"][0]
    assert all(r["source"] == "stream" for r in records)


@pytest.mark.slow
def test_sigterm_finishes_the_batch_and_commits(stream_env, tmp_path):
    """`run` stops on SIGTERM after committing; a restart then finds nothing to redo."""
    events = make_events(n_per_user=20, seed=13, anonymous=0)
    stream_env.produce(events)
    proc = _start_worker(stream_env, tmp_path, "--fast")
    expected = expected_features(stream_env.config, events)
    try:
        assert stream_env.wait_for(expected, deadline_s=40) == expected
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "stopped_by=SIGTERM" in out
    stats = stream_env.processor().run(max_idle_s=2, install_signal_handlers=False)
    assert stats.records == 0


@pytest.mark.slow
def test_sigterm_while_joining_behind_a_killed_member_leaves_the_group(stream_env, tmp_path):
    """Issue 10: a processor stopped with SIGTERM while its join waits behind a killed
    member (noida-db never expires it) must still leave the group: afterwards only the
    killed member is listed, so a clean stop needs no eviction."""
    from encore.platform.stream.admin import group_member_ids

    stream_env.produce(make_events(n_per_user=5, seed=17, anonymous=0))
    bootstrap, group = stream_env.kafka.bootstrap_servers, stream_env.config.stream.consumer_group
    first = _start_worker(stream_env, tmp_path, "--fast")
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and not any(
                r["plays_total"] for r in stream_env.online(USERS).values()):
            time.sleep(0.1)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    killed = group_member_ids(bootstrap, group)
    assert len(killed) == 1
    second = _start_worker(stream_env, tmp_path, "--fast")
    try:
        deadline = time.monotonic() + 30  # until the second member shows up, joining
        while time.monotonic() < deadline and len(group_member_ids(bootstrap, group)) < 2:
            time.sleep(0.2)
        time.sleep(1.0)
    finally:
        second.send_signal(signal.SIGTERM)
        out, _ = second.communicate(timeout=40)
    assert second.returncode == 0, out
    assert group_member_ids(bootstrap, group) == killed
    evict_group_members(bootstrap, group)


@pytest.mark.parametrize("online_store", ["sqlite", "redis"])
def test_state_store_writes_partial_rows_that_feast_reads_back(stream_env, redis_url, tmp_path,
                                                               online_store):
    """The adapter writes straight to the provider (only the features that changed);
    get_online_features must see exactly what a full push would show, on both stores."""
    from datetime import datetime, timedelta, timezone

    from encore.feature_store.store import apply_repo, open_store
    from encore.platform.stream.online_state import FeastUserStateStore
    from encore.platform.stream.state import StateParams, StreamEvent, UserState, apply_record

    config = stream_env.config.feature_store.model_copy(update={
        "online_store": online_store,
        "redis_connection_string": redis_url.removeprefix("redis://").split("/")[0]})
    store = open_store(config.under(tmp_path / f"fs-{online_store}",
                                    online_store=online_store,
                                    redis_connection_string=config.redis_connection_string))
    apply_repo(store)
    adapter = FeastUserStateStore(store)
    user = 900_000 + int(time.time() * 1000) % 100_000  # fresh in a shared Redis
    now = datetime.now(timezone.utc) - timedelta(minutes=5)
    state = UserState(user_id=user)
    apply_record(state, StreamEvent("a", user, 4, "SEARCH", "PLAY_START",
                                    int(now.timestamp() * 1000)), StateParams())
    first = state.feature_row()
    adapter.push([{**first, "event_timestamp": state.next_push_timestamp()}])
    apply_record(state, StreamEvent("b", user, 4, "SEARCH", "HEART",
                                    int(now.timestamp() * 1000) + 1000), StateParams())
    second = state.feature_row()
    changed = {k: v for k, v in second.items() if first[k] != v}
    assert "plays_total" not in changed and "hearts_today" in changed
    adapter.push([{**changed, "user_id": user, "event_timestamp": state.next_push_timestamp()}])
    assert adapter.read([user])[user] == {k: v for k, v in second.items() if k != "user_id"}
    names = [k for k in second if k != "user_id"]
    online = store.get_online_features(features=[f"user_realtime:{n}" for n in names],
                                       entity_rows=[{"user_id": user}]).to_dict()
    assert {n: online[n][0] for n in names} == {n: second[n] for n in names}
