"""The track catalog the stream processor needs: track durations (for complete plays)."""

from __future__ import annotations

from pathlib import Path


def load_track_durations(path: Path) -> dict[int, int]:
    """track_id -> duration_ms from a world catalog (``WORLD/catalog/tracks.parquet``,
    a world folder, or any parquet with those two columns); loaded once at start."""
    import pyarrow.parquet as pq

    path = Path(path)
    if path.is_dir():
        path = path / "catalog" / "tracks.parquet"
    table = pq.read_table(path, columns=["track_id", "duration_ms"])
    return dict(zip(table.column("track_id").to_pylist(), table.column("duration_ms").to_pylist()))
