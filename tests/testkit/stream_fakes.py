"""In-memory stand-ins for the stream processor's ports (no Kafka, no Feast): the
online state store, the dead-letter producer and Kafka records."""

from __future__ import annotations

from collections import namedtuple
from datetime import datetime, timezone

Record = namedtuple("Record", "topic partition offset key value")
DAY0 = int(datetime(2026, 1, 5, 10, tzinfo=timezone.utc).timestamp() * 1000)


class FakeStore:
    """A UserStateStore that records every read and push."""

    def __init__(self):
        self.rows, self.reads, self.pushes = {}, [], []

    def read(self, user_ids):
        self.reads.append(list(user_ids))
        return {u: self.rows.get(u) for u in user_ids}

    def push(self, rows):
        self.pushes.append(rows)
        for row in rows:  # a row updates the features it names (as Feast writes)
            self.rows.setdefault(row["user_id"], {}).update(row)


class FakeDLQ:
    """A dead-letter producer that keeps what it is given."""

    def __init__(self):
        self.records, self.flushed = [], 0

    def dead_letter(self, payload, reasons, *, key=None, event_id=""):
        self.records.append((payload, list(reasons), key, event_id))

    def flush(self):
        self.flushed += 1
