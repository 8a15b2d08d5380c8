"""Runs a StreamProcessor in its own process for the kill/SIGTERM tests.

    python -m testkit.stream_worker CONFIG_JSON [--fast]   (tests/ on PYTHONPATH)

Without --fast it sleeps 0.3 s after each push, so a test can SIGKILL it mid-stream.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from encore.platform.config import EncoreConfig
from encore.platform.stream.processor import StreamProcessor


#: Track durations of the stream integration tests' catalog (ms).
TRACK_DURATIONS = {t: 100_000 + 1000 * t for t in range(1, 21)}


def main() -> None:
    config = EncoreConfig.model_validate_json(Path(sys.argv[1]).read_text())
    fast = "--fast" in sys.argv
    processor = StreamProcessor.from_config(
        config, durations=TRACK_DURATIONS,
        consumer_options={"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000},
        after_push=None if fast else (lambda stats: time.sleep(0.3)),
    )
    stats = processor.run()
    print(f"stopped_by={stats.stopped_by} records={stats.records}", flush=True)


if __name__ == "__main__":
    main()
