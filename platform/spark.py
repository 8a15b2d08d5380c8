"""Local Spark sessions for Encore's batch jobs and tests.

``spark_session()`` returns the active session or builds one with local defaults:
``local[2]``, driver bound to 127.0.0.1, UI off, few shuffle partitions, UTC session
time zone, Arrow for pandas conversion, and warehouse / scratch folders under the
runtime dir. Spark needs Java 17+; ``find_java()`` locates it and ``spark_session``
sets ``JAVA_HOME`` from it when the caller has not.

PySpark is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import os
import re
import shutil
import importlib.util
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from encore.platform.config import PathsConfig, SparkConfig

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

MIN_JAVA = 17
LOOPBACK = "127.0.0.1"


class SparkEnvironmentError(RuntimeError):
    """Java or PySpark is missing or too old for Spark."""


@dataclass(frozen=True)
class JavaRuntime:
    home: Path
    version: int


def find_java() -> JavaRuntime:
    """Java from $JAVA_HOME, else the ``java`` on PATH; raises unless it is 17 or newer."""
    env_home = os.environ.get("JAVA_HOME")
    if env_home:
        java = Path(env_home) / "bin" / "java"
        if not java.is_file():
            raise SparkEnvironmentError(f"JAVA_HOME={env_home} has no bin/java")
    else:
        on_path = shutil.which("java")
        if on_path is None:
            raise SparkEnvironmentError(f"no Java found: install Java {MIN_JAVA}+ or set JAVA_HOME")
        java = Path(on_path).resolve()
    try:
        out = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=30, check=True
        ).stderr
    except (OSError, subprocess.SubprocessError) as err:
        raise SparkEnvironmentError(f"{java} -version failed: {err}") from err
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if match is None:
        raise SparkEnvironmentError(f"cannot read the Java version from: {out.strip()}")
    major = int(match.group(1))
    if major == 1:  # "1.8.0_392" style
        major = int(match.group(2) or 0)
    if major < MIN_JAVA:
        raise SparkEnvironmentError(f"{java} is Java {major}; Spark needs Java {MIN_JAVA}+")
    return JavaRuntime(home=java.parent.parent, version=major)


def pyspark_version() -> str:
    """The installed PySpark version; raises SparkEnvironmentError when it is missing."""
    try:
        if importlib.util.find_spec("pyspark") is None:
            raise metadata.PackageNotFoundError("pyspark")
        return metadata.version("pyspark")
    except metadata.PackageNotFoundError as err:
        raise SparkEnvironmentError("pyspark is not installed; run scripts/bootstrap.sh") from err


def default_conf(config: SparkConfig, app_name: str, runtime_dir: Path) -> dict[str, str]:
    """The Spark settings ``spark_session`` starts from (before the caller's overrides)."""
    spark_dir = runtime_dir.resolve() / "spark"
    return {
        "spark.api.mode": "classic",
        "spark.master": config.master,
        "spark.app.name": app_name,
        "spark.driver.host": LOOPBACK,
        "spark.driver.bindAddress": LOOPBACK,
        "spark.driver.memory": config.driver_memory,
        "spark.ui.enabled": str(config.ui_enabled).lower(),
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": str(config.shuffle_partitions),
        "spark.default.parallelism": str(config.shuffle_partitions),
        "spark.sql.session.timeZone": "UTC",
        # Scratch space (spark.local.dir defaults to java.io.tmpdir; setting that key
        # directly makes Spark warn on every start).
        "spark.driver.extraJavaOptions": f"-Duser.timezone=UTC -Djava.io.tmpdir={spark_dir / 'tmp'}",
        # Python workers start as `python -m pyspark.daemon` in the driver's cwd; without
        # this, the repo root's platform/ folder would shadow the stdlib `platform` there.
        "spark.executorEnv.PYTHONSAFEPATH": "1",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.execution.arrow.pyspark.fallback.enabled": "true",
        "spark.sql.warehouse.dir": str(spark_dir / "warehouse"),
    }


def spark_session(
    config: SparkConfig | None = None,
    app_name: str | None = None,
    *,
    runtime_dir: Path | None = None,
    **overrides: str | int | float | bool,
) -> SparkSession:
    """The active SparkSession, or a new local one with Encore's defaults.

    ``overrides`` are Spark settings by their full key, e.g.
    ``spark_session(**{"spark.sql.shuffle.partitions": 8})``. When a session is already
    active it is returned as is, with runtime-settable overrides applied to it.
    """
    from pyspark.sql import SparkSession

    settings = {key: _conf_value(value) for key, value in overrides.items()}
    active = SparkSession.getActiveSession()
    if active is not None:
        for key, value in settings.items():
            active.conf.set(key, value)
        return active

    config = config or SparkConfig()
    runtime_dir = runtime_dir or PathsConfig().runtime_dir
    if "JAVA_HOME" not in os.environ:
        os.environ["JAVA_HOME"] = str(find_java().home)
    conf: dict[str, bool | float | int | str | None] = {
        **default_conf(config, app_name or config.app_name, runtime_dir), **settings}
    (runtime_dir.resolve() / "spark" / "tmp").mkdir(parents=True, exist_ok=True)
    session = SparkSession.builder.config(map=conf).getOrCreate()
    session.sparkContext.setLogLevel(config.log_level)
    return session


def stop_spark() -> None:
    """Stop the active session (and its JVM-side context), if any."""
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()
    if session is not None:
        session.stop()


def _conf_value(value: str | int | float | bool) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
