"""StreamProcessor.process_batch with in-memory fakes (no Kafka, no Feast)."""

from __future__ import annotations


from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from encore.feature_store import schema
from encore.platform.stream.offline_log import read_offline_log
from encore.platform.stream.processor import StreamProcessor
from encore.platform.stream.state import FEATURE_NAMES, StateParams, StreamEvent, UserState, replay
from encore.protos.encore.v1 import event_pb2
from testkit.stream_fakes import DAY0, FakeDLQ, FakeStore, Record







def event(i, user=1, action=event_pb2.PLAY_START, anonymous=None):
    e = event_pb2.Event(event_id=f"e{i}", track_id=5, scenario=event_pb2.PRIVATE_RADIO, action=action)
    if anonymous:
        e.anonymous_id = anonymous
    else:
        e.user_id = user
    e.timestamp.FromMilliseconds(DAY0 + i * 1000)
    return e


def make(tmp_path):
    from encore.platform.stream.offline_log import OfflineLog

    store, dlq = FakeStore(), FakeDLQ()
    proc = StreamProcessor(state_store=store, dead_letter=dlq, offline_log=OfflineLog(tmp_path),
                           params=StateParams())
    return proc, store, dlq


def records(events, start=0, partition=0):
    return [Record("t", partition, start + i, b"k", e.SerializeToString()) for i, e in enumerate(events)]


def test_feature_names_follow_the_feast_schema():
    assert list(FEATURE_NAMES) == schema.USER_REALTIME.feature_names


def test_batch_reads_once_pushes_touched_users_and_is_idempotent(tmp_path):
    proc, store, dlq = make(tmp_path)
    batch = records([event(0, 1), event(1, 2), event(2, 1), event(3, anonymous="dev")])
    stats = proc.process_batch(batch)
    assert (stats.applied, stats.anonymous, stats.users_pushed) == (3, 1, 2)
    assert store.reads == [[1, 2]]
    assert UserState.from_feature_row(1, store.rows[1]).plays_total == 2
    # the same records re-delivered: nothing is pushed, the state stays
    again = proc.process_batch(batch)
    assert (again.applied, again.duplicate_offset, again.users_pushed) == (0, 3, 0)
    assert len(store.pushes) == 2 and store.pushes[1] == []
    # offline log: at-least-once (the re-delivered batch rewrote the same file)
    assert len(read_offline_log(tmp_path, dedupe=False)) == 4


def test_undecodable_and_invalid_records_are_dead_lettered(tmp_path):
    proc, store, dlq = make(tmp_path)
    bad = event_pb2.Event(event_id="", track_id=0)
    batch = [Record("t", 0, 0, b"u:1", b"\xff\xff garbage"),
             Record("t", 0, 1, None, None),
             Record("t", 0, 2, None, bad.SerializeToString())] + records([event(9)], start=3)
    stats = proc.process_batch(batch)
    assert stats.dead_lettered == 3 and stats.applied == 1
    assert dlq.flushed == 1
    assert dlq.records[0][2] == b"u:1" and "not an encore.v1.Event" in dlq.records[0][1][0]
    assert "missing event_id" in dlq.records[2][1]


def test_push_timestamps_strictly_increase(tmp_path):
    proc, store, _ = make(tmp_path)
    proc.process_batch(records([event(0)]))
    first = store.pushes[-1][0]["event_timestamp"]
    heart = event(0, action=event_pb2.HEART)
    heart.event_id = "h0"  # same event ts as the play
    proc.process_batch(records([heart], start=1))
    assert store.pushes[-1][0]["event_timestamp"] > first

ACTIONS = [event_pb2.PLAY_START, event_pb2.PLAY_END, event_pb2.SKIP, event_pb2.HEART,
           event_pb2.UNHEART, event_pb2.EXPOSURE]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(st.tuples(st.integers(1, 3), st.sampled_from(ACTIONS), st.integers(0, 3_000_000),
                             st.booleans()), min_size=1, max_size=30),
    cuts=st.lists(st.integers(1, 8), min_size=1, max_size=10),
    redeliver=st.lists(st.booleans(), min_size=10, max_size=10),
)
def test_any_batching_with_redeliveries_and_resends_equals_one_replay(steps, cuts, redeliver):
    """Records re-delivered after a 'crash' (same offsets) and events re-sent by a
    producer (same id, new offset) leave exactly the state of one clean replay."""
    params = StateParams(recent_sequence_length=4, durations={5: 1000})
    events, ts = [], DAY0
    for i, (user, action, delta, resend) in enumerate(steps):
        ts += delta
        e = event_pb2.Event(event_id=f"e{i}", user_id=user, track_id=5,
                            scenario=event_pb2.PRIVATE_RADIO, action=action, played_ms=1 + delta % 1500)
        if action == event_pb2.EXPOSURE:
            e.propensity = 0.5
        e.timestamp.FromMilliseconds(ts)
        events.append(e)
        if resend:
            events.append(e)  # producer-side duplicate
    recs = records(events)
    store = FakeStore()
    proc = StreamProcessor(state_store=store, dead_letter=FakeDLQ(), offline_log=None, params=params)
    position, k = 0, 0
    while position < len(recs):
        size = cuts[k % len(cuts)]
        proc.process_batch(recs[position:position + size])
        if redeliver[k % len(redeliver)]:  # crash after push, before commit
            proc.process_batch(recs[position:position + size])
        position += size
        k += 1
    views = [StreamEvent.from_proto(e) for e in events]
    for user in {e.user_id for e in events}:
        want = replay(user, [v for v in views if v.user_id == user], params).feature_row()
        got = UserState.from_feature_row(user, store.rows[user]).feature_row()
        want.pop("stream_state"), got.pop("stream_state")
        assert got == want


def test_a_day_sent_twice_counts_once_for_a_heavy_listener(tmp_path):
    """Issue 6: a listener with thousands of events in a day; the day replayed again
    (every event at a new offset) changes none of the user's features."""
    proc, store, _ = make(tmp_path)
    day = [event(i, user=39) for i in range(2500)]
    for start in range(0, len(day), 400):
        proc.process_batch(records(day[start:start + 400], start=start))
    before = UserState.from_feature_row(39, store.rows[39])
    assert before.plays_today == 2500
    for start in range(0, len(day), 400):
        stats = proc.process_batch(records(day[start:start + 400], start=len(day) + start))
        assert stats.applied == 0 and stats.duplicate_id == len(day[start:start + 400])
    after = UserState.from_feature_row(39, store.rows[39])
    assert after.plays_today == 2500 and after.plays_total == 2500
    assert after.feature_row() == before.feature_row() | {"stream_state": after.stream_state_json()}
