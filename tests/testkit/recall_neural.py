"""A small music-streaming log with a planted taste signal for the neural recall tests.

Three taste groups of listeners; each listens only to its group's 20 tracks (its own
genre and artists), every play complete, spread over 6 days in sessions of 8 plays.
One always-on listener (user 999) loops group 0's tracks all day, every day: the
sample cap must bound it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from encore.recall.tables import RecallTables

from testkit.recall import AS_OF, DAY, catalog

GENRES = ("rock", "pop", "jazz")
TASTE_GROUPS = {g: list(range(100 * (g + 1), 100 * (g + 1) + 20)) for g in range(len(GENRES))}
DURATION_MS = 200_000


def planted_tables(users_per_group: int = 30, days: int = 6, seed: int = 0) -> RecallTables:
    rng = np.random.default_rng(seed)
    track_ids = [t for tracks in TASTE_GROUPS.values() for t in tracks]
    tracks = catalog(track_ids, genres=[GENRES[t // 100 - 1] for t in track_ids],
                     artists=[t // 100 * 10 + t % 4 for t in track_ids])
    rows = []
    start = AS_OF - days * DAY

    def listen(user: int, pool: list[int], day: int, hour: int, n: int) -> None:
        t = start + day * DAY + hour * 3_600_000
        session = f"{user}-{day}-{hour}"
        for track in rng.choice(pool, size=n):
            rows.append((user, session, int(track), t, "play_start", None))
            rows.append((user, session, int(track), t + DURATION_MS, "play_end", DURATION_MS))
            t += DURATION_MS + 1000

    for group, pool in TASTE_GROUPS.items():
        for u in range(users_per_group):
            user = 1 + group * users_per_group + u
            for day in range(days):
                listen(user, pool, day, int(rng.integers(6, 22)), 8)
    for day in range(days):  # the always-on player: 16 sessions of 8 plays a day
        for hour in range(4, 20):
            listen(999, TASTE_GROUPS[0], day, hour, 8)
    events = pd.DataFrame(rows, columns=["user_id", "session_id", "track_id", "ts_ms", "action", "played_ms"])
    events = events.sort_values(["ts_ms", "user_id"], kind="mergesort").reset_index(drop=True)
    events["user_id"] = events["user_id"].astype("Int64")
    events["played_ms"] = events["played_ms"].astype("Int64")
    events["event_id"] = [f"e{i:07d}" for i in range(len(events))]
    events["scenario"] = "private_radio"
    events["ts"] = pd.to_datetime(events["ts_ms"], unit="ms", utc=True)
    tracks["duration_ms"] = DURATION_MS
    return RecallTables(tracks=tracks, events=events, as_of_ms=AS_OF)
