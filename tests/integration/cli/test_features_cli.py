"""`encore features` commands (cli/features.py) on a temporary config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from encore.feature_store import schema
from encore.cli.features import app
from encore.platform import config as config_mod

pytestmark = pytest.mark.integration


def test_apply_materialize_and_online_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = tmp_path / "features"
    config_file = tmp_path / "encore.yaml"
    config_file.write_text(yaml.safe_dump({"feature_store": {
        "registry_path": str(state / "registry.db"),
        "sqlite_path": str(state / "online.db"),
        "offline_dir": str(state / "offline"),
    }}))
    monkeypatch.setenv(config_mod.CONFIG_ENV, str(config_file))
    monkeypatch.delenv(schema.OFFLINE_DIR_ENV, raising=False)  # open_store sets it; undo after
    config_mod.default_config.cache_clear()
    runner = CliRunner()
    try:
        applied = runner.invoke(app, ["apply"])
        assert applied.exit_code == 0, applied.output
        materialized = runner.invoke(app, ["materialize", "--start", "2026-01-01", "--end", "2026-01-02"])
        assert materialized.exit_code == 0, materialized.output
        read = runner.invoke(app, ["online-read", "--user-id", "42"])
        assert read.exit_code == 0, read.output
        features = json.loads(read.output)
        assert "session_id" in features and all(v is None for v in features.values())
        backwards = runner.invoke(app, ["materialize", "--start", "2026-01-02", "--end", "2026-01-01"])
        assert backwards.exit_code != 0 and "--end" in backwards.output
    finally:
        config_mod.default_config.cache_clear()
