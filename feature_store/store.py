"""Open the Encore Feast store from Encore configuration.

The RepoConfig is built in code from ``StoreSettings`` rather than read from
``repo/feature_store.yaml`` so a deployment switches SQLite <-> Redis (and moves its
files) through Encore's one config file, never by editing Feast's yaml.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow.parquet as pq
from feast import FeatureStore, RepoConfig
from feast.infra.online_stores.redis import RedisOnlineStoreConfig
from feast.infra.online_stores.sqlite import SqliteOnlineStoreConfig

from encore.feature_store import schema
from encore.feature_store.definitions import REPO_DIR, Definitions, build_definitions, offline_dir_from_env
from encore.feature_store.settings import StoreSettings

PROJECT = "encore"
EMPTY_PART_FILE = "part-00000-empty.parquet"


class StorePathError(ValueError):
    """A configured feature-store file cannot be used where it is (the message names
    the configured path and what is in the way)."""


def _file_path(path: Path, setting: str) -> Path:
    """``path`` made absolute with its folder created; StorePathError when something
    other than a folder is in the way (a plain file as a parent, a folder at the
    file's own path) or the folder cannot be created."""
    path = Path(path).resolve()
    if path.is_dir():
        raise StorePathError(f"feature_store.{setting} {path} is a folder, not a file")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise StorePathError(
                    f"feature_store.{setting} {path}: {parent} is a file, not a folder")
            break
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StorePathError(f"feature_store.{setting} {path}: cannot create its folder "
                             f"{path.parent}: {err.strerror or err}") from err
    return path


def _online_store_config(config: StoreSettings, online_store: str):
    if online_store == "sqlite":
        path = _file_path(config.sqlite_path, "sqlite_path")
        return SqliteOnlineStoreConfig(path=str(path))
    if online_store == "redis":
        return RedisOnlineStoreConfig(connection_string=config.redis_connection_string)
    raise ValueError(f"unknown online store {online_store!r}: expected 'sqlite' or 'redis'")


def repo_config(
    config: StoreSettings,
    *,
    online_store: str | None = None,
    repo_dir: Path = REPO_DIR,
) -> RepoConfig:
    """Feast RepoConfig equivalent to repo/feature_store.yaml, paths made absolute."""
    registry = _file_path(config.registry_path, "registry_path")
    return RepoConfig(
        project=PROJECT,
        provider="local",
        registry=str(registry),
        online_store=_online_store_config(config, online_store or config.online_store),
        offline_store={"type": "file"},
        entity_key_serialization_version=3,
        repo_path=Path(repo_dir).resolve(),
    )


def open_store(
    config: StoreSettings,
    *,
    online_store: str | None = None,
    repo_dir: Path = REPO_DIR,
) -> FeatureStore:
    """A FeatureStore for ``config`` (Encore's ``feature_store`` section), ready to apply/serve.

    ``online_store`` ("sqlite" or "redis") overrides ``config.online_store``. Also sets
    $ENCORE_FEATURES_OFFLINE_DIR so definitions built later in this process, and
    ``feast`` subprocesses it starts, point at the same offline folder, and creates that
    folder's initial parquet files so Feast finds every source.
    """
    offline_dir = Path(config.offline_dir).resolve()
    os.environ[schema.OFFLINE_DIR_ENV] = str(offline_dir)
    ensure_offline_sources(offline_dir)
    return FeatureStore(config=repo_config(config, online_store=online_store, repo_dir=repo_dir))


def apply_repo(store: FeatureStore, offline_dir: Path | None = None) -> Definitions:
    """Register the Encore definitions in ``store`` (create/update tables), return them.

    ``offline_dir`` defaults to the folder ``open_store`` selected.
    """
    definitions = build_definitions(Path(offline_dir) if offline_dir else offline_dir_from_env())
    store.apply(definitions.objects())
    return definitions


def ensure_offline_sources(offline_dir: Path) -> list[Path]:
    """Write an empty parquet file with the right schema for every absent source.

    Feast reads a source's schema when applying and materializing, so each source must
    exist before the first Spark run or push. Folder sources get one empty part file,
    which later Spark writes (overwrite or append) leave harmless. Returns the created files.
    """
    created = []
    for spec in schema.ALL_SOURCES:
        location = spec.location(offline_dir)
        if spec.is_single_file:
            target = location
            if target.exists():
                continue
        else:
            if location.is_dir() and any(location.glob("*.parquet")):
                continue
            target = location / EMPTY_PART_FILE
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(spec.arrow_schema.empty_table(), target)
        created.append(target)
    return created
