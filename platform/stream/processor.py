"""The stream processor: Kafka events topic -> per-user state -> Feast online store.

One ``StreamProcessor`` is one member of the consumer group ``StreamConfig.consumer_group``
on ``KafkaConfig.events_topic`` (kafka-python, ``enable_auto_commit=False``). Each batch
of polled records goes through :meth:`StreamProcessor.process_batch`:

1. decode every record (``encore.platform.events.codec``) and validate it
   (``encore.platform.events.validation``); a record that does not decode or validate,
   or whose timestamp is more than ``max_future_skew_s`` ahead of the processor's
   clock, goes to the dead-letter topic with its reasons (the ingestion producer's DLQ
   path, ``EventProducer.dead_letter``) and processing continues;
2. append the valid events to the parquet offline log (:mod:`.offline_log`:
   at-least-once, consumers de-duplicate by ``event_id``);
3. read the current state of every user touched by the batch, and not cached from an
   earlier batch, from the online store in ONE call (``online_read`` of the
   ``user_realtime`` view, which ignores the view's TTL so a user back after a month
   keeps ``plays_total``); the cache is forgotten on every rebalance and failed batch;
4. apply the user's records in offset order (:mod:`.state`: sessions, last-N
   sequences, day counters; records at or below the user's high-water offset and event
   ids already applied within the dedupe retention change nothing, events older than
   the retention are not applied);
5. write the changed features of the changed users to the online store (one batched
   write, :class:`.online_state.FeastUserStateStore`);
6. flush the dead-letter records; then (in :meth:`poll_once`) commit the offsets. A
   failing batch is rewound and retried with backoff, and the processor gives up with
   :class:`StreamStalledError` after ``give_up_after_s`` of failures.

Offsets are committed ONLY after the push. A crash anywhere before the commit makes the
group re-deliver the batch; the re-delivered records are at or below the high-water
offsets stored with the pushed state, so they change nothing, and records the crash
kept from being pushed are applied exactly once. Anonymous events (no user id) have no
user state: they go to the offline log only.

Known limit: a consumer that lost its partitions in a rebalance but is still finishing
a batch (a "zombie") can push an older state over a newer one from the partition's new
owner; Feast has no conditional write to fence it. Keep ``max_poll_interval_ms`` well
above a batch's processing time (a batch takes well under a second here).

The package's other modules: :mod:`.state` (the pure per-user logic), :mod:`.online_state`
(the ``UserStateStore`` protocol and its Feast adapter), :mod:`.offline_log`,
:mod:`.catalog` (track durations), :mod:`.admin` (topics, Feast repo, group members;
nothing there runs implicitly) and :mod:`.stats` (run counters and Prometheus metrics).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from encore.platform.config import EncoreConfig
from encore.platform.events.codec import CodecError, decode_event, event_to_row
from encore.platform.events.validation import validate
from encore.platform.stream.admin import evict_group_members  # noqa: F401 - re-export
from encore.platform.stream.admin import leave_group
from encore.platform.stream.catalog import load_track_durations  # noqa: F401 - re-export
from encore.platform.stream.offline_log import OfflineLog
from encore.platform.stream.online_state import (  # noqa: F401 - re-exports
    USER_REALTIME_PUSH_SOURCE,
    USER_REALTIME_VIEW,
    FeastUserStateStore,
    UserStateStore,
)
from encore.platform.stream.state import (
    APPLIED,
    DUPLICATE_ID,
    DUPLICATE_OFFSET,
    TOO_LATE,
    StateParams,
    StreamEvent,
    UserState,
    apply_record,
)
from encore.platform.stream.stats import BatchStats, RunStats, StreamMetrics

log = logging.getLogger("encore.stream")


_MISSING = object()


class StreamStalledError(RuntimeError):
    """Batches kept failing for longer than ``give_up_after_s``: the processor stopped
    (nothing of the failing batch was committed; a restart retries it)."""


# -- the processor -----------------------------------------------------------------------


class StreamProcessor:
    """One consumer-group member. Build with :meth:`from_config` (real Kafka + Feast) or
    pass the parts (``consumer`` may be None when only :meth:`process_batch` is used).

    ``after_push`` (tests): called after the push and before the commit, e.g. to
    simulate a crash there."""

    def __init__(
        self,
        *,
        state_store: UserStateStore,
        dead_letter: Any,
        offline_log: OfflineLog | None,
        params: StateParams,
        consumer: Any | None = None,
        log_interval_s: float = 10.0,
        after_push: Callable[[BatchStats], None] | None = None,
        max_batch_events: int = 2000,
        poll_timeout_ms: int = 200,
        close_timeout_ms: int = 10_000,
        metrics: StreamMetrics | None = None,
        bootstrap_servers: str | None = None,
        group_id: str | None = None,
        max_future_skew_s: float = 300.0,
        clock: Callable[[], float] = time.time,
        retry_backoff_s: float = 0.5,
        retry_backoff_max_s: float = 30.0,
        give_up_after_s: float = 300.0,
        state_cache_users: int = 100_000,
    ) -> None:
        self.state_store = state_store
        self.dead_letter = dead_letter
        self.offline_log = offline_log
        self.params = params
        self.consumer = consumer
        self.log_interval_s = log_interval_s
        self.after_push = after_push
        self.max_batch_events = max_batch_events
        self.poll_timeout_ms = poll_timeout_ms
        self.close_timeout_ms = close_timeout_ms
        self.stats = RunStats()
        self.metrics = metrics if metrics is not None else StreamMetrics()
        self.bootstrap_servers = bootstrap_servers
        self.group_id = group_id
        self.max_future_skew_ms = int(max_future_skew_s * 1000)
        self.clock = clock
        self.retry_backoff_s = retry_backoff_s
        self.retry_backoff_max_s = retry_backoff_max_s
        self.give_up_after_s = give_up_after_s
        self._failures = 0
        self._failing_since: float | None = None
        self._stop_event: threading.Event | None = None
        self.state_cache_users = state_cache_users
        # user -> (state, the feature row stored for it), for the users of this
        # member's partitions; see forget_states
        self._states: OrderedDict[int, tuple[UserState, dict[str, Any]]] = OrderedDict()
        self._closed = False

    @classmethod
    def from_config(
        cls,
        config: EncoreConfig,
        *,
        store: Any | None = None,
        durations: Mapping[int, int] | None = None,
        bootstrap_servers: str | None = None,
        consumer_options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> "StreamProcessor":
        """A processor wired to Kafka (``config.kafka``, or ``bootstrap_servers``) and to
        Feast (``store``, default ``open_store(config.feature_store)``).

        Only connects: the Feast repo and the topics must exist already
        (:func:`encore.platform.stream.admin.prepare_stream` creates both; ``encore
        stream run`` calls it first)."""
        from kafka import KafkaConsumer

        from encore.platform.events.producer import EventProducer

        kafka_config = config.kafka
        if bootstrap_servers:
            kafka_config = kafka_config.model_copy(update={"bootstrap_servers": bootstrap_servers})
        stream = config.stream

        if store is None:
            from encore.feature_store.store import open_store

            store = open_store(config.feature_store)

        options = dict(
            bootstrap_servers=kafka_config.bootstrap_servers,
            group_id=stream.consumer_group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=stream.max_batch_events,
            client_id="encore-stream",
            check_crcs=stream.check_crcs if stream.check_crcs is not None else _has_c_crc32c(),
        )
        options.update(consumer_options or {})
        consumer = KafkaConsumer(**options)
        dead_letter = EventProducer(kafka_config, source="stream")
        processor = cls(
            state_store=FeastUserStateStore(store),
            dead_letter=dead_letter,
            offline_log=OfflineLog(stream.offline_log_dir),
            params=StateParams.from_config(config, durations),
            consumer=consumer,
            bootstrap_servers=kafka_config.bootstrap_servers,
            group_id=stream.consumer_group,
            max_batch_events=stream.max_batch_events,
            poll_timeout_ms=stream.poll_timeout_ms,
            max_future_skew_s=stream.max_future_skew_s,
            retry_backoff_s=stream.retry_backoff_s,
            retry_backoff_max_s=stream.retry_backoff_max_s,
            give_up_after_s=stream.give_up_after_s,
            state_cache_users=stream.state_cache_users,
            **kwargs,
        )
        consumer.subscribe([kafka_config.events_topic], listener=_rebalance_listener(processor))
        return processor

    def forget_states(self) -> None:
        """Drop the in-memory user states (the next batch reads them from the store)."""
        self._states.clear()

    # -- one batch ---------------------------------------------------------------------

    def process_batch(self, records: Iterable[Any]) -> BatchStats:
        """Apply a batch of Kafka records (objects with topic, partition, offset, key,
        value) and push the result; does not commit. Raises only when the online
        store, the offline log or the dead-letter topic fails (then nothing may be
        committed and the batch must be re-delivered)."""
        started = time.perf_counter()
        stats = BatchStats()
        records = sorted(records, key=lambda r: (r.topic, r.partition, r.offset))
        stats.records = len(records)
        now_ms = int(self.clock() * 1000)
        offline_rows: list[tuple[int, int, dict[str, Any]]] = []
        per_user: dict[int, list[tuple[str, int, StreamEvent]]] = defaultdict(list)

        for record in records:
            try:
                event = decode_event(record.value)
            except CodecError as err:
                self._dead_letter(record, [str(err)], "")
                stats.dead_lettered += 1
                continue
            reasons = validate(event, now_s=now_ms / 1000)
            if reasons:
                self._dead_letter(record, reasons, event.event_id)
                stats.dead_lettered += 1
                continue
            ahead_ms = event.timestamp.ToMilliseconds() - now_ms
            if ahead_ms > self.max_future_skew_ms:
                reason = (f"timestamp {ahead_ms / 1000:.0f} s ahead of the stream processor's "
                          f"clock (stream.max_future_skew_s = {self.max_future_skew_ms / 1000:g})")
                self._dead_letter(record, [reason], event.event_id)
                stats.future_skewed += 1
                continue
            # a validated event always converts (its timestamp is in range)
            offline_rows.append((record.partition, record.offset, event_to_row(event)))
            view = StreamEvent.from_proto(event)
            if view.user_id is None:
                stats.anonymous += 1
                continue
            per_user[view.user_id].append((f"{record.topic}:{record.partition}", record.offset, view))

        if self.offline_log is not None and offline_rows:
            stats.offline_files = len(self.offline_log.write(offline_rows))

        try:
            self._apply_and_push(per_user, stats)
        except BaseException:
            self._states.clear()  # states changed in place but not pushed
            raise
        if self.after_push is not None:
            self.after_push(stats)
        if stats.dead_lettered or stats.future_skewed:
            self.dead_letter.flush()
        stats.seconds = time.perf_counter() - started
        return stats

    def _apply_and_push(self, per_user: dict[int, list[tuple[str, int, StreamEvent]]],
                        stats: BatchStats) -> None:
        cache = self._states
        missing = [u for u in per_user if u not in cache]
        stored = self.state_store.read(missing) if missing else {}
        push_rows = []
        states = []
        for user_id, items in per_user.items():
            cached = cache.get(user_id)
            if cached is None:
                row = stored.get(user_id)
                state = UserState.from_feature_row(user_id, row)
                last_row = dict(row) if row and row.get("stream_state") else {}
            else:
                state, last_row = cached
            states.append((state, last_row))
            changed = False
            for partition_key, offset, view in items:
                outcome = apply_record(state, view, self.params,
                                       partition_key=partition_key, offset=offset)
                if outcome == APPLIED:
                    stats.applied += 1
                    changed = True
                elif outcome == DUPLICATE_OFFSET:
                    stats.duplicate_offset += 1
                elif outcome == DUPLICATE_ID:
                    stats.duplicate_id += 1
                elif outcome == TOO_LATE:
                    stats.too_late += 1
            if changed:
                pushed_at = state.next_push_timestamp()  # first: stream_state keeps pushed_us
                row = state.feature_row()
                # only what changed since the stored row (always stream_state): the
                # online stores write one value per feature, so this is most of a push
                update = {k: v for k, v in row.items() if last_row.get(k, _MISSING) != v}
                update["user_id"] = user_id
                update["event_timestamp"] = pushed_at
                push_rows.append(update)
                last_row.update(row)
        self.state_store.push(push_rows)
        stats.users_pushed = len(push_rows)
        if self.state_cache_users:
            for state, last_row in states:
                cache[state.user_id] = (state, last_row)
                cache.move_to_end(state.user_id)
            while len(cache) > self.state_cache_users:
                cache.popitem(last=False)

    def _dead_letter(self, record: Any, reasons: list[str], event_id: str) -> None:
        value = record.value if isinstance(record.value, (bytes, bytearray)) else b""
        log.warning("dead-lettering %s:%s@%s: %s", record.topic, record.partition,
                    record.offset, "; ".join(reasons))
        self.dead_letter.dead_letter(bytes(value), reasons, key=record.key, event_id=event_id)

    # -- the consumer loop -------------------------------------------------------------

    @property
    def _kafka(self) -> Any:
        """The Kafka consumer; a processor built without one (tests of process_batch)
        cannot poll."""
        if self.consumer is None:
            raise RuntimeError("this StreamProcessor has no Kafka consumer (use from_config to poll)")
        return self.consumer

    def poll_once(self) -> BatchStats | None:
        """Poll one batch, process it and commit its offsets; None when nothing came."""
        from kafka.errors import CommitFailedError, KafkaError
        from kafka.structs import OffsetAndMetadata, TopicPartition

        polled = self._kafka.poll(timeout_ms=self.poll_timeout_ms,
                                    max_records=self.max_batch_events)
        records = [r for batch in polled.values() for r in batch]
        if not records:
            return None
        first: dict[TopicPartition, int] = {}
        last: dict[TopicPartition, int] = {}
        for r in records:
            tp = TopicPartition(r.topic, r.partition)
            first[tp] = min(first.get(tp, r.offset), r.offset)
            last[tp] = max(last.get(tp, r.offset), r.offset)
        try:
            stats = self.process_batch(records)
        except Exception as err:  # noqa: BLE001 - never lose a batch: rewind and retry it
            self.stats.batches_failed += 1
            self.metrics.batches_failed.inc()
            for tp, offset in first.items():
                try:
                    self._kafka.seek(tp, offset)
                except Exception:  # noqa: BLE001 - partition revoked meanwhile
                    pass
            self._wait(self._backoff_after(err, len(records)))
            return BatchStats()
        if self._failing_since is not None:
            log.info("batch processing recovered after %d failed attempts over %.1f s",
                     self._failures, time.monotonic() - self._failing_since)
            self._failures, self._failing_since = 0, None
            self.metrics.failing_since.set(0)
        try:
            self._kafka.commit({tp: OffsetAndMetadata(o + 1, "", -1) for tp, o in last.items()})
        except CommitFailedError as err:
            # A rebalance took the partitions: the new owner re-delivers the batch,
            # and the stored high-water offsets make that a no-op.
            self.stats.commits_failed += 1
            self.metrics.commits_failed.inc()
            log.warning("commit failed (rebalance?): %s; records will be re-delivered", err)
        except KafkaError as err:
            self.stats.commits_failed += 1
            self.metrics.commits_failed.inc()
            log.warning("commit failed: %s; the next commit covers these offsets", err)
        self.stats.batches += 1
        self.stats.add(stats)
        self.metrics.observe_batch(stats)
        return stats

    def _backoff_after(self, err: Exception, n_records: int) -> float:
        """Book a failed batch; the seconds to wait before retrying it. Logs the first
        failure of a run of failures only (with its traceback); raises
        StreamStalledError once the run has lasted ``give_up_after_s``."""
        now = time.monotonic()
        self._failures += 1
        if self._failing_since is None:
            self._failing_since = now
            log.error("batch of %d records failed: %s; retrying with backoff (up to %g s "
                      "apart), giving up after %g s of failures", n_records, err,
                      self.retry_backoff_max_s, self.give_up_after_s, exc_info=err)
        else:
            log.debug("batch failed again (attempt %d): %s", self._failures, err)
        elapsed = now - self._failing_since
        self.metrics.failing_since.set(elapsed)
        if elapsed >= self.give_up_after_s:
            raise StreamStalledError(
                f"stream processor gave up after {self._failures} failed attempts over "
                f"{elapsed:.0f} s (stream.give_up_after_s = {self.give_up_after_s:g}): {err}"
            ) from err
        return min(self.retry_backoff_max_s, self.retry_backoff_s * 2 ** (self._failures - 1))

    def _wait(self, seconds: float) -> None:
        if self._stop_event is not None:
            self._stop_event.wait(seconds)  # a stop request ends the wait
        else:
            time.sleep(seconds)

    def lag(self) -> int | None:
        """Records behind the end of the assigned partitions (None if unknown)."""
        try:
            assigned = list(self._kafka.assignment())
            if not assigned:
                return None
            ends = self._kafka.end_offsets(assigned)
            return int(sum(max(ends[tp] - self._kafka.position(tp), 0) for tp in assigned))
        except Exception:  # noqa: BLE001 - a log line must never stop the loop
            return None

    def run(
        self,
        stop_event: threading.Event | None = None,
        *,
        max_idle_s: float | None = None,
        max_events: int | None = None,
        install_signal_handlers: bool = True,
        close: bool = True,
    ) -> RunStats:
        """Consume until ``stop_event`` is set, SIGTERM/SIGINT arrives (the batch in
        hand is finished and committed first), nothing arrived for ``max_idle_s``
        seconds, or ``max_events`` records were processed. Logs events/s and lag every
        ``log_interval_s``."""
        stop_event = stop_event or threading.Event()
        self._stop_event = stop_event
        previous: dict[signal.Signals, Any] = {}
        if install_signal_handlers and threading.current_thread() is threading.main_thread():
            def _stop(signum: int, _frame: Any) -> None:
                log.info("signal %s: finishing the current batch, then stopping", signum)
                self.stats.stopped_by = signal.Signals(signum).name
                stop_event.set()

            for sig in (signal.SIGTERM, signal.SIGINT):
                previous[sig] = signal.signal(sig, _stop)
        started = last_data = last_log = time.monotonic()
        max_unassigned_s = (max_idle_s or 0.0) + 60.0
        logged_records = self.stats.records
        try:
            while not stop_event.is_set():
                batch = self.poll_once()
                now = time.monotonic()
                if batch is not None and batch.records:
                    last_data = now
                elif not self._kafka.assignment() and now - started < max_unassigned_s:
                    # still joining the group (a dead member must time out first):
                    # idle time counts from the first assignment
                    last_data = now
                elif max_idle_s is not None and now - last_data >= max_idle_s:
                    self.stats.stopped_by = self.stats.stopped_by or "idle"
                    break
                if max_events is not None and self.stats.records >= max_events:
                    self.stats.stopped_by = self.stats.stopped_by or "max_events"
                    break
                if now - last_log >= self.log_interval_s:
                    rate = (self.stats.records - logged_records) / (now - last_log)
                    log.info("stream: %.0f events/s, lag %s, %d events, %d users pushed, "
                             "%d dead-lettered", rate, self.lag(), self.stats.records,
                             self.stats.users_pushed, self.stats.dead_lettered)
                    last_log, logged_records = now, self.stats.records
            if stop_event.is_set():
                self.stats.stopped_by = self.stats.stopped_by or "stop_event"
        finally:
            for stopped_sig, handler in previous.items():
                signal.signal(stopped_sig, handler)
            if close:
                self.close()
        return self.stats

    def close(self) -> None:
        """Leave the group and close the clients. Always leaves: when the member is
        still joining (its JoinGroup held by the broker, e.g. behind a killed member),
        the consumer's own LeaveGroup would queue behind that JoinGroup on the same
        connection and time out, so the member is removed by id over a connection of
        its own first (a LeaveGroup request, which real Kafka honours too)."""
        if self._closed:
            return
        self._closed = True
        try:
            if self.consumer is not None:
                timeout_ms = self.close_timeout_ms
                member_id = _joining_member_id(self.consumer)
                if member_id and self.bootstrap_servers and self.group_id:
                    try:
                        leave_group(self.bootstrap_servers, self.group_id, member_id)
                        log.info("left group %s (member %s) while joining", self.group_id,
                                 member_id)
                        timeout_ms = min(timeout_ms, 1000)
                    except Exception as err:  # noqa: BLE001 - still close the consumer
                        log.warning("could not leave group %s while joining: %s",
                                    self.group_id, err)
                self.consumer.close(autocommit=False, timeout_ms=timeout_ms)
        finally:
            if self.dead_letter is not None and hasattr(self.dead_letter, "close"):
                self.dead_letter.close()


def _has_c_crc32c() -> bool:
    try:
        from kafka.record import util
    except ImportError:  # pragma: no cover
        return False
    return getattr(util, "crc32c_c", None) is not None


def _rebalance_listener(processor: StreamProcessor) -> Any:
    """A kafka-python rebalance listener: partitions moving means other members may
    have pushed newer states of their users, so the processor forgets its cached ones."""
    from kafka import ConsumerRebalanceListener

    class ForgetStatesOnRebalance(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked: Any) -> None:
            processor.forget_states()

        def on_partitions_assigned(self, assigned: Any) -> None:
            processor.forget_states()

    return ForgetStatesOnRebalance()


def _joining_member_id(consumer: Any) -> str | None:
    """The member id of a kafka-python consumer whose group join is in progress (None
    when it is a stable member, has no id yet, or is not a kafka-python consumer).
    Reads the coordinator's private state: kafka-python has no public accessor."""
    coordinator = getattr(consumer, "_coordinator", None)
    generation = getattr(coordinator, "_generation", None)
    if coordinator is None or generation is None:
        return None
    try:
        from kafka.structs import MemberState
    except ImportError:  # pragma: no cover - another client library
        return None
    member_id = getattr(generation, "member_id", "")
    if not member_id or getattr(coordinator, "state", None) is MemberState.STABLE:
        return None
    return member_id
