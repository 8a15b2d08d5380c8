"""The spark-submit entry point of every batch job: ``spark-submit
platform/batch/submit.py <job> --events DIR [options]`` runs the ``encore batch`` app
itself (:mod:`encore.platform.batch.cli`), so both take the same jobs and options,
e.g. ``spark-submit platform/batch/submit.py activity-stats --entity track --events
DIR --dates 2026-01-05``. Needs the ``encore`` package installed in spark-submit's
Python. (spark-submit puts this folder first on ``sys.path``: no module here may be
named after a standard library module.)
"""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> None:
    """Run the batch app on ``argv`` (default: the command line); exits like a CLI."""
    from encore.platform.batch.cli import app

    app(args=list(argv) if argv is not None else None, prog_name="submit.py")


if __name__ == "__main__":
    main()
