"""Job ``artist_stats``: daily and cumulative activity per artist (table ``artist_stats``).

Columns: date, artist_id, exposures, plays, completes, skips, hearts, listeners,
completion_rate, skip_rate, heart_rate, and the same counts and rates with a ``cum_``
prefix (all-time as of the end of the date). Definitions:
:mod:`encore.platform.batch.activity_stats`.
"""

from __future__ import annotations

from encore.platform.batch import batch_io as bio
from encore.platform.batch.activity_stats import run_stats
from encore.platform.batch.job import JobContext, run_main

JOB = TABLE = "artist_stats"
KEY = "artist_id"


def run(ctx: JobContext) -> bio.JobReport:
    return run_stats(ctx, TABLE, KEY)


def main(argv=None) -> None:
    run_main(JOB, run, argv)


if __name__ == "__main__":
    main()
