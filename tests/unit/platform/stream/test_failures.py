"""Issue 10: what the processor does with bad inputs and a broken environment (fakes,
no Kafka): future-dated events, an unwritable offline log, a SQLite path under a file."""

from __future__ import annotations

import logging

import pytest

from encore.platform.stream.offline_log import OfflineLog
from encore.platform.stream.processor import StreamProcessor, StreamStalledError
from encore.platform.stream.state import StateParams, UserState
from encore.protos.encore.v1 import event_pb2
from testkit.stream_fakes import DAY0, FakeDLQ, FakeStore, Record







def event(i, user=1):
    e = event_pb2.Event(event_id=f"e{i}", user_id=user, track_id=5,
                        scenario=event_pb2.PRIVATE_RADIO, action=event_pb2.PLAY_START)
    e.timestamp.FromMilliseconds(DAY0 + i * 1000)
    return e


def records(events, start=0):
    return [Record("t", 0, start + i, b"k", e.SerializeToString()) for i, e in enumerate(events)]


def test_an_event_from_a_fast_clock_does_not_move_today(tmp_path):
    store, dlq = FakeStore(), FakeDLQ()
    proc = StreamProcessor(state_store=store, dead_letter=dlq, offline_log=OfflineLog(tmp_path),
                           params=StateParams(), max_future_skew_s=300,
                           clock=lambda: DAY0 / 1000 + 3600)  # the processor's wall clock
    plays = [event(i) for i in range(20)]
    fast = event(99)
    fast.timestamp.FromMilliseconds(DAY0 + 23 * 3_600_000)  # a clock running ~a day fast
    stats = proc.process_batch(records(plays[:10] + [fast] + plays[10:]))
    assert stats.future_skewed == 1 and stats.applied == 20
    state = UserState.from_feature_row(1, store.rows[1])
    assert state.counters_day == "2026-01-05" and state.plays_today == 20
    assert dlq.records[0][3] == "e99" and "ahead of the stream processor's clock" in dlq.records[0][1][0]
    assert dlq.flushed == 1


class FakeConsumer:
    """Hands out the same batch on every poll (the processor rewinds after a failure)."""

    def __init__(self, batch):
        self.batch, self.commits, self.closed = batch, [], False

    def poll(self, timeout_ms, max_records):
        return {"t-0": list(self.batch)}

    def seek(self, tp, offset):
        pass

    def commit(self, offsets):
        self.commits.append(offsets)

    def assignment(self):
        return {"t-0"}

    def close(self, **kwargs):
        self.closed = True


def test_an_unwritable_offline_log_backs_off_reports_once_and_gives_up(tmp_path, caplog):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    consumer = FakeConsumer(records([event(i) for i in range(3)]))
    proc = StreamProcessor(state_store=FakeStore(), dead_letter=FakeDLQ(),
                           offline_log=OfflineLog(blocker / "events"), params=StateParams(),
                           consumer=consumer, retry_backoff_s=0.01, retry_backoff_max_s=0.02,
                           give_up_after_s=0.3)
    with caplog.at_level(logging.INFO, logger="encore.stream"):
        with pytest.raises(StreamStalledError, match=str(blocker)):
            proc.run(install_signal_handlers=False, max_idle_s=30)
    assert consumer.commits == [] and consumer.closed
    assert proc.stats.batches_failed >= 3
    assert proc.metrics.value("encore_stream_batches_failed_total") == proc.stats.batches_failed
    assert proc.metrics.value("encore_stream_failing_seconds") > 0
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(errors) == 1 and str(blocker) in errors[0].getMessage()


def test_a_sqlite_path_under_a_plain_file_is_a_clear_error(tmp_path):
    from encore.feature_store.store import StorePathError, repo_config
    from encore.platform.config import FeatureStoreConfig

    blocker = tmp_path / "plain-file"
    blocker.write_text("x")
    config = FeatureStoreConfig().under(tmp_path / "features",
                                        sqlite_path=blocker / "online.db")
    with pytest.raises(StorePathError, match="sqlite_path") as err:
        repo_config(config)
    assert str(blocker / "online.db") in str(err.value) and "is a file" in str(err.value)


def test_metrics_count_too_late_and_duplicates(tmp_path):
    consumer = FakeConsumer(records([event(i) for i in range(3)] + [event(0)]))
    proc = StreamProcessor(state_store=FakeStore(), dead_letter=FakeDLQ(), offline_log=None,
                           params=StateParams(), consumer=consumer)
    proc.poll_once()
    assert proc.metrics.value("encore_stream_applied_total") == 3
    assert proc.metrics.value("encore_stream_duplicate_id_total") == 1
    assert proc.metrics.value("encore_stream_batches_total") == 1
