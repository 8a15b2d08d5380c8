"""Daily and weekly rhythm: when people listen and what they want at that hour.

- When: a session starts in one of three daily peaks (morning commute, lunch, evening);
  each listener has their own mix of peaks.
- What mood: the emotion wanted drifts with the clock (``hour_emotion``): upbeat and
  energetic in the morning, calm in the evening, calmest at night. A session's target
  emotion blends this clock mood with the centre of the interest active in the session.
- Weekly: on Saturday and Sunday rock (and a little metal) gets a lift
  (``weekend_lift``), the ``rhythm`` part of the utility.
"""

from __future__ import annotations

import numpy as np

from encore.platform.world.seeds import draw_columns

# (hour, valence, arousal) anchors, linearly interpolated.
_HOUR_ANCHORS = np.array([
    (0.0, 0.0, -0.7), (6.0, 0.3, 0.2), (8.0, 0.5, 0.6), (12.0, 0.3, 0.2),
    (15.0, 0.2, 0.0), (18.0, 0.2, -0.2), (21.0, 0.1, -0.5), (24.0, 0.0, -0.7),
])
# Daily listening peaks: (centre hour, spread in hours).
PEAKS = np.array([(8.0, 1.2), (12.5, 1.0), (20.0, 1.8)])
WEEKEND_GENRE_LIFT = {"rock": 1.5, "metal": 0.75}
CLOCK_SHARE_OF_TARGET = 0.6  # the rest of the session target is the interest's centre


def hour_emotion(hour: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Clock mood (valence, arousal) wanted at fractional ``hour`` of the day."""
    return (np.interp(hour, _HOUR_ANCHORS[:, 0], _HOUR_ANCHORS[:, 1]),
            np.interp(hour, _HOUR_ANCHORS[:, 0], _HOUR_ANCHORS[:, 2]))


def is_weekend(day_of_week: int) -> bool:
    """``day_of_week`` 0 = Monday."""
    return day_of_week >= 5


def weekend_lift(genres: tuple[str, ...]) -> np.ndarray:
    """Per genre code: the rhythm part's value on a weekend day (0 on weekdays)."""
    return np.array([WEEKEND_GENRE_LIFT.get(g, 0.0) for g in genres])


def day_lift(genres: tuple[str, ...], day_of_week: int) -> np.ndarray:
    """Per genre code: the rhythm part's value on ``day_of_week`` (the weekend lift on
    Saturday and Sunday, 0 on weekdays)."""
    return weekend_lift(genres) if is_weekend(day_of_week) else np.zeros(len(genres))


def sample_start_hours(peak_mix: np.ndarray, rng: np.random.Generator,
                       earliest: float, latest: float) -> np.ndarray:
    """One start hour per row of ``peak_mix`` (rows: users' weights over PEAKS)."""
    peak = draw_columns(peak_mix, rng)
    hours = rng.normal(PEAKS[peak, 0], PEAKS[peak, 1])
    return np.clip(hours, earliest, latest)
