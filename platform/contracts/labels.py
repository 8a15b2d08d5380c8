"""Outcome definitions of the event log, shared by the stream processor, every batch job and the tests.

A play is **complete** when ``played_ms >= COMPLETE_PLAY_FRACTION * duration_ms`` on its
``play_end`` event. This module is the one place that says so: Spark jobs use
:func:`complete_play_col`, pandas code uses :func:`is_complete_play`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import Column

COMPLETE_PLAY_FRACTION = 0.9



def is_complete_play(played_ms: Any, duration_ms: Any) -> Any:
    """True where a play_end's ``played_ms`` reaches 90% of the track (scalars or arrays).

    Nulls compare False (a play_end without played_ms is not complete).
    """
    return played_ms >= COMPLETE_PLAY_FRACTION * duration_ms


def complete_play_col(played_ms: "Column | str", duration_ms: "Column | str") -> "Column":
    """The same rule as a Spark boolean column (null-safe: null -> False)."""
    from pyspark.sql import functions as F

    played = F.col(played_ms) if isinstance(played_ms, str) else played_ms
    duration = F.col(duration_ms) if isinstance(duration_ms, str) else duration_ms
    return F.coalesce(played >= F.lit(COMPLETE_PLAY_FRACTION) * duration, F.lit(False))
