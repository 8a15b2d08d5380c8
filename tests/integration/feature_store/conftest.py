"""Fixtures for the Feast integration tests: a private redis-server and applied stores.

Each store gets its own registry and online database under a temporary folder, so the
tests never touch a developer's .runtime or running stack.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from feast import FeatureStore

from encore.feature_store import schema
from encore.feature_store.store import apply_repo, open_store
from encore.platform.config import FeatureStoreConfig
from encore.platform.stack import free_port

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


@pytest.fixture(scope="module")
def redis_address() -> Iterator[str]:
    """host:port of a throw-away redis-server (no persistence), stopped after the module."""
    if not Path(REDIS_SERVER).exists():
        pytest.skip("redis-server is not installed")
    import redis

    port = free_port()
    proc = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--save", "", "--appendonly", "no", "--bind", "127.0.0.1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError as err:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"redis-server did not start on port {port}") from err
            time.sleep(0.05)
    yield f"127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def make_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., FeatureStore]]:
    """Factory: an applied store on ``offline_dir`` with its own registry/online db.

    open_store sets $ENCORE_FEATURES_OFFLINE_DIR; it is restored when the module ends.
    """

    def make(offline_dir: Path, online_store: str = "sqlite", redis_address: str = "") -> FeatureStore:
        state = tmp_path_factory.mktemp(f"feast-{online_store}")
        config = FeatureStoreConfig(
            online_store=online_store,
            redis_connection_string=redis_address or FeatureStoreConfig().redis_connection_string,
            registry_path=state / "registry.db",
            sqlite_path=state / "online.db",
            offline_dir=offline_dir,
        )
        store = open_store(config)
        apply_repo(store, offline_dir)
        return store

    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(schema.OFFLINE_DIR_ENV, raising=False)
        yield make
