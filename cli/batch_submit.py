"""The spark-submit entry point of every batch job including ``recall`` (which lives in
encore.recall, so platform/batch/submit.py cannot reach it): ``spark-submit
cli/batch_submit.py recall --events DIR --channels item_cf ...`` runs the ``encore
batch`` group of the composition root, the same commands and options as ``encore
batch``. Needs the ``encore`` package installed in spark-submit's Python.
"""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> None:
    """Run ``encore batch`` on ``argv`` (default: the command line); exits like a CLI."""
    from encore.cli.main import batch_app

    batch_app(args=list(argv) if argv is not None else None, prog_name="batch_submit.py")


if __name__ == "__main__":
    main()
