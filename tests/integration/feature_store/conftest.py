"""Fixtures for the Feast integration tests: a private Redis and applied stores.

Each store gets its own registry and online database under a temporary folder, so the
tests never touch a developer's .runtime or running stack.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from feast import FeatureStore

from encore.feature_store import schema
from encore.feature_store.store import apply_repo, open_store
from encore.platform.config import FeatureStoreConfig, StackConfig
from encore.platform.stack import StackError, free_port
from encore.platform.stack.services import redis_service


@pytest.fixture(scope="module")
def redis_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """host:port of a private Redis (the stack's own service definition, on a free port
    in a temporary folder), stopped after the module."""
    config = StackConfig(redis_port=free_port())
    try:
        redis = redis_service(config, tmp_path_factory.mktemp("redis"))
    except StackError as err:  # redis-server is not installed
        pytest.skip(str(err))
    redis.start(config.start_timeout_s)
    yield f"{config.host}:{config.redis_port}"
    redis.stop(config.stop_timeout_s)


@pytest.fixture(scope="module")
def make_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., FeatureStore]]:
    """Factory: an applied store on ``offline_dir`` with its own registry/online db.

    open_store sets $ENCORE_FEATURES_OFFLINE_DIR; it is restored when the module ends.
    """

    def make(offline_dir: Path, online_store: str = "sqlite", redis_address: str = "") -> FeatureStore:
        state = tmp_path_factory.mktemp(f"feast-{online_store}")
        config = FeatureStoreConfig().under(state, online_store=online_store, offline_dir=offline_dir)
        if redis_address:
            config = config.model_copy(update={"redis_connection_string": redis_address})
        store = open_store(config)
        apply_repo(store, offline_dir)
        return store

    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(schema.OFFLINE_DIR_ENV, raising=False)
        yield make
