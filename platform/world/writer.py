"""Byte-reproducible parquet and manifest writing.

Same seed and config, same library versions -> byte-identical files: tables are built
from Arrow arrays (no pandas metadata), written with fixed options, and the manifest
holds no wall-clock time and is written with sorted keys.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 3,
    "version": "2.6",
    "data_page_version": "1.0",
    "use_dictionary": True,
    "write_statistics": True,
    "row_group_size": 1 << 20,
}


def write_table(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, **PARQUET_OPTIONS)


class TableAppender:
    """Writes a table day by day (one row group per append) with a fixed schema."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        options = {k: v for k, v in PARQUET_OPTIONS.items() if k != "row_group_size"}
        self._writer = pq.ParquetWriter(path, schema, **options)

    def append(self, table: pa.Table) -> None:
        self._writer.write_table(table, row_group_size=max(table.num_rows, 1))

    def close(self) -> None:
        self._writer.close()




def write_json(data: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(data, sort_keys=True, indent=2) + "\n")
