"""What the feature store needs to know to open itself: a structural type, so this part
depends on nothing above it. Encore's configuration (``feature_store`` section of
``encore.platform.config``, class ``FeatureStoreConfig``) satisfies it; so does any
object with these attributes."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Protocol


class StoreSettings(Protocol):
    """Where the Feast registry, online store and offline sources live.

    ``online_store`` switches the online store: the embedded SQLite file
    (``sqlite_path``) or Redis (``redis_connection_string``, ``host:port``)."""

    @property
    def online_store(self) -> Literal["sqlite", "redis"]: ...
    @property
    def redis_connection_string(self) -> str: ...
    @property
    def registry_path(self) -> Path: ...
    @property
    def sqlite_path(self) -> Path: ...
    @property
    def offline_dir(self) -> Path: ...
    @property
    def item_cache_size(self) -> int: ...
    @property
    def item_cache_ttl_s(self) -> float: ...
