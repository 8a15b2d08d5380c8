"""What every real-data loader shares: the error type, where the data lives, and the
line-based reader for the small tab/comma-separated files.

The shared data folder (``paths.shared_data_dir`` in the config, ``../shared/data`` by
default) is resolved against the repository root (the folder holding pyproject.toml),
never the current directory, so the loaders find it from any cwd. The data is read in
place; nothing is ever copied into the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from encore.platform.config import PathsConfig, resolve_project_path

PathLike = str | os.PathLike[str]


class DataFileError(ValueError):
    """A data file is missing or malformed.

    ``path`` is the file, ``where`` the place in it when one applies ("line 12",
    "row 40", "session 7"), ``problem`` what was found against what was expected.
    """

    def __init__(self, path: PathLike, problem: str, where: str | None = None) -> None:
        self.path = Path(path)
        self.problem = problem
        self.where = where
        location = f"{self.path}, {where}" if where else str(self.path)
        super().__init__(f"{location}: {problem}")


def resolve_data_dir(data_dir: PathLike | None = None, paths: PathsConfig | None = None) -> Path:
    """``data_dir`` as given, or ``paths.shared_data_dir`` (default: the paths section's
    default); a relative configured path is taken relative to the repository root."""
    if data_dir is not None:
        return Path(data_dir)
    return resolve_project_path((paths or PathsConfig()).shared_data_dir)


def read_bytes(path: Path) -> bytes:
    """The file's bytes, or a DataFileError naming it when it cannot be read."""
    try:
        return path.read_bytes()
    except OSError as err:
        raise DataFileError(path, f"cannot be read ({err.strerror or err})") from err


def read_csv(path: Path, **kwargs: object) -> pd.DataFrame:
    """``pandas.read_csv`` whose failures (missing file, unparsable text) name the file."""
    if not path.is_file():
        raise DataFileError(path, "file does not exist")
    try:
        return pd.read_csv(path, **kwargs)
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise DataFileError(path, f"not a readable CSV file: {err}") from err


def read_delimited(
    path: Path, columns: tuple[str, ...], sep: str, header: tuple[str, ...] | None = None
) -> pd.DataFrame:
    """Read a small delimiter-separated text file without quoting into string columns.

    Every line (LF or CRLF) must hold exactly ``len(columns)`` fields; if ``header`` is
    given the first line must equal it. The frame's index is the 1-based line number,
    so later checks can name the offending line.
    """
    try:
        lines = read_bytes(path).decode("utf-8").splitlines()
    except UnicodeDecodeError as err:
        raise DataFileError(path, f"not UTF-8 text ({err.reason} at byte {err.start})") from err
    first = 1
    if header is not None:
        if not lines or tuple(lines[0].split(sep)) != header:
            found = lines[0] if lines else "an empty file"
            raise DataFileError(path, f"expected header {sep.join(header)!r}, found {found!r}", "line 1")
        first = 2
    rows = [line.split(sep) for line in lines[first - 1:]]
    for number, fields in enumerate(rows, start=first):
        if len(fields) != len(columns):
            raise DataFileError(
                path, f"expected {len(columns)} {sep!r}-separated fields "
                f"({', '.join(columns)}), found {len(fields)}", f"line {number}",
            )
    if not rows:
        raise DataFileError(path, "holds no data rows")
    return pd.DataFrame(rows, columns=list(columns), index=range(first, first + len(rows)))


def first_bad(mask: pd.Series) -> object:
    """The index label of the first True in ``mask``."""
    return mask.index[mask.to_numpy().argmax()]


def int_column(
    frame: pd.DataFrame, column: str, path: Path, where: str = "line", minimum: int | None = 0
) -> pd.Series:
    """``frame[column]`` as int64; every value must be a whole number >= ``minimum``
    (written as plain digits when the column is text).

    The first offending value is reported as ``f"{where} {index label}"``.
    """
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce")
    if raw.dtype == object:  # text: digits only, so "1e3" or "7.0" is not an id
        whole = raw.str.fullmatch(r"-?[0-9]+").fillna(False).astype(bool)
    else:
        whole = values.notna() & (values == values.round())
    if not whole.all():
        label = first_bad(~whole)
        raise DataFileError(
            path, f"column {column!r}: expected an integer, found {frame[column][label]!r}",
            f"{where} {label}",
        )
    if minimum is not None and (values < minimum).any():
        label = first_bad(values < minimum)
        raise DataFileError(
            path, f"column {column!r}: expected an integer >= {minimum}, found {values[label]:g}",
            f"{where} {label}",
        )
    return values.astype("int64")


def float_column(
    frame: pd.DataFrame, column: str, path: Path, low: float, high: float, where: str = "line"
) -> pd.Series:
    """``frame[column]`` as float64; every value must be a number in [low, high]."""
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = values.isna() | (values < low) | (values > high)
    if bad.any():
        label = first_bad(bad)
        raise DataFileError(
            path, f"column {column!r}: expected a number in [{low:g}, {high:g}], "
            f"found {frame[column][label]!r}", f"{where} {label}",
        )
    return values.astype("float64")
