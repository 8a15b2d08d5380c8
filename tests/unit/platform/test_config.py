from __future__ import annotations

from pathlib import Path

import pytest

from encore.platform.config import ConfigError, load_config


def test_defaults_load_and_are_typed() -> None:
    cfg = load_config()
    assert cfg.world.users == 2000
    assert cfg.stack.host == "127.0.0.1"
    assert cfg.kafka.bootstrap_servers.endswith(str(cfg.stack.kafka_port))


def test_override_file_changes_only_the_keys_it_names(tmp_path: Path) -> None:
    override = tmp_path / "my.yaml"
    override.write_text("world:\n  users: 17\nspark:\n  shuffle_partitions: 2\n")
    cfg = load_config(override)
    assert cfg.world.users == 17
    assert cfg.world.days == load_config().world.days
    assert cfg.spark.shuffle_partitions == 2


def test_environment_variable_selects_the_override(tmp_path: Path, monkeypatch) -> None:
    override = tmp_path / "env.yaml"
    override.write_text("world:\n  seed: 99\n")
    monkeypatch.setenv("ENCORE_CONFIG", str(override))
    assert load_config().world.seed == 99


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("world:\n  userz: 3\n", "world.userz"),
        ("world:\n  users: -1\n", "world.users"),
        ("world: [1, 2\n", "not valid YAML"),
        ("- 1\n- 2\n", "mapping at the top level"),
    ],
)
def test_bad_files_fail_naming_the_problem(tmp_path: Path, text: str, fragment: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    with pytest.raises(ConfigError, match=fragment.replace("[", r"\[")) as err:
        load_config(bad)
    assert str(bad) in str(err.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
