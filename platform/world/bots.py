"""Always-on players (``bot`` users): a shop's speaker looping a small playlist.

Every day each bot plays its playlist (BOT_PLAYLIST tracks, fixed for the world) in a
loop from opening to closing time, back to back, every track to its end: hundreds of
plays a day from one "user". No slates, no reactions. Such a player never tires, so its
continuous play is cut into sessions by the one sessionization rule
(encore.platform.contracts.sessions) at ``max_session_minutes``, exactly as the stream processor
and Spark jobs will cut it. ``cap_samples_per_user`` exists to keep these users from
dominating training.
"""

from __future__ import annotations

import numpy as np

from encore.platform.world.seeds import stream
from encore.platform.world.users import KIND_CODES, Population

BOT_PLAYLIST = (8, 20)  # playlist length range
OPEN_HOURS, CLOSE_HOURS = (5.0, 8.0), (22.0, 23.5)  # the last track ends before midnight
TRACK_GAP_MS = (200, 2_000)


class Bots:
    def __init__(self, seed: int, pop: Population, durations: np.ndarray,
                 track_popularity: np.ndarray) -> None:
        rng = stream(seed, "bots")
        self.users = np.flatnonzero(pop.kind == KIND_CODES["bot"])
        p = track_popularity / track_popularity.sum()
        self.playlists = [rng.choice(len(durations), size=rng.integers(*BOT_PLAYLIST), replace=False, p=p)
                          for _ in self.users]
        self.durations = durations

    def day(self, day_start_ms: int, rng: np.random.Generator
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(user, ts_ms, track, is_play_end) of every bot event of the day, in time order
        per bot (play_start then play_end of each track)."""
        users, ts, tracks, ends = [], [], [], []
        for user, playlist in zip(self.users, self.playlists):
            open_ms = day_start_ms + int(rng.uniform(*OPEN_HOURS) * 3_600_000)
            close_ms = day_start_ms + int(rng.uniform(*CLOSE_HOURS) * 3_600_000)
            first = rng.integers(len(playlist))
            loops = int((close_ms - open_ms) // self.durations[playlist].sum()) + 2
            sequence = np.roll(np.tile(playlist, loops), -first)
            step = self.durations[sequence] + rng.integers(*TRACK_GAP_MS, len(sequence))
            start = open_ms + np.cumsum(step) - step
            start, sequence = start[start < close_ms], sequence[start < close_ms]
            end = start + self.durations[sequence]
            users.append(np.full(2 * len(start), user))
            ts.append(np.column_stack([start, end]).ravel())
            tracks.append(np.repeat(sequence, 2))
            ends.append(np.tile([False, True], len(start)))
        if not users:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty, empty.astype(bool)
        return (np.concatenate(users), np.concatenate(ts).astype(np.int64),
                np.concatenate(tracks), np.concatenate(ends))
