"""The Spark session factory: local defaults, loopback binding, a tiny job and parquet."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from encore.platform.spark import spark_session

pytestmark = pytest.mark.integration


def _listening_addresses(port: int) -> set[str]:
    """Local addresses (hex, as in /proc/net/tcp{,6}) of LISTEN sockets on ``port``."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].split(":")
            if fields[3] == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


# 127.0.0.1 as /proc/net/tcp writes it, and as an IPv4-mapped IPv6 address in tcp6.
LOOPBACK_HEX = {"0100007F", "0000000000000000FFFF00000100007F"}


def test_session_defaults_and_reuse(spark) -> None:
    conf = spark.conf
    assert spark.sparkContext.master == "local[2]"
    assert conf.get("spark.sql.session.timeZone") == "UTC"
    assert conf.get("spark.sql.shuffle.partitions") == "2"
    assert conf.get("spark.driver.host") == "127.0.0.1"
    listening = _listening_addresses(int(conf.get("spark.driver.port")))
    assert listening and listening <= LOOPBACK_HEX
    jvm_tmp = spark.sparkContext._jvm.System.getProperty("java.io.tmpdir")
    assert jvm_tmp.endswith("spark/tmp")
    assert spark_session() is spark


def test_tiny_job_and_parquet(spark, tmp_path: Path) -> None:
    frame = pd.DataFrame({"user": [1, 1, 2], "track": [10, 11, 10], "played_ms": [1000, 2500, 400]})
    path = tmp_path / "plays.parquet"
    frame.to_parquet(path)

    plays = spark.read.parquet(str(path))
    totals = plays.groupBy("user").sum("played_ms").orderBy("user").toPandas()
    assert totals["sum(played_ms)"].tolist() == [3500, 400]

    squared = spark.range(5).selectExpr("id * id AS sq").collect()
    assert [row.sq for row in squared] == [0, 1, 4, 9, 16]

    # Python workers start too (they must not see the repo root's platform/ folder).
    assert spark.sparkContext.parallelize(range(4), 2).map(lambda x: x + 1).sum() == 10
