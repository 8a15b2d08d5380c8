"""The model registry: publish -> promote -> rollback, checksums, refusal of a bad
artifact while the old one keeps serving, and atomic versions under concurrency."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from encore.platform.registry import (
    ArtifactRefused, ChecksumError, LiveModel, Registry, RegistryError, data_fingerprint,
)


def _artifact(folder: Path, value: str) -> Path:
    (folder / "sub").mkdir(parents=True)
    (folder / "model.json").write_text(json.dumps({"value": value}))
    (folder / "sub" / "weights.bin").write_bytes(value.encode() * 100)
    return folder


def _loader(path: Path) -> str:
    return json.loads((path / "model.json").read_text())["value"]


def _smoke(model: str) -> bool:
    return not model.startswith("bad")


def test_publish_promote_rollback(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "models")
    v1 = reg.publish("ranker", _artifact(tmp_path / "a", "one"), kind="ranker",
                     data_window={"train": ["2026-01-05", "2026-01-17"]}, data_fingerprint="abc",
                     metrics={"auc": 0.7})
    v2 = reg.publish("ranker", _artifact(tmp_path / "b", "two"), kind="ranker")
    assert (v1, v2) == ("v0001", "v0002")
    assert reg.versions("ranker") == ["v0001", "v0002"]
    assert reg.promoted("ranker") is None
    m = reg.manifest("ranker", v1)
    assert m.metrics == {"auc": 0.7} and m.data_fingerprint == "abc" and m.kind == "ranker"
    assert set(m.files) == {"model.json", "sub/weights.bin"}

    reg.promote("ranker", v1)
    reg.promote("ranker", v2)
    assert reg.promoted("ranker") == v2
    assert reg.load_promoted("ranker", _loader).model == "two"
    assert reg.rollback("ranker") == v1
    assert reg.promoted("ranker") == v1
    assert reg.load_promoted("ranker", _loader).model == "one"
    with pytest.raises(RegistryError, match="no earlier promoted version"):
        reg.rollback("ranker")
    log = reg.promotion("ranker")["log"]
    assert [e["action"] for e in log] == ["promote", "promote", "rollback"]
    with pytest.raises(RegistryError, match="no version v0009"):
        reg.promote("ranker", "v0009")


def test_verify_names_the_corrupted_file(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "models")
    v1 = reg.publish("m", _artifact(tmp_path / "a", "one"), kind="k")
    reg.verify("m", v1)
    (reg.path("m", v1) / "sub" / "weights.bin").write_bytes(b"flipped")
    with pytest.raises(ChecksumError, match="sub/weights.bin") as info:
        reg.verify("m", v1)
    assert info.value.path.name == "weights.bin"
    with pytest.raises(ChecksumError, match="sub/weights.bin"):
        reg.promote("m", v1)  # promotion checks first
    (reg.path("m", v1) / "extra.txt").write_text("x")
    (reg.path("m", v1) / "sub" / "weights.bin").write_bytes(b"one" * 100)
    with pytest.raises(ChecksumError, match="unexpected file extra.txt"):
        reg.verify("m", v1)


def test_bad_artifact_is_refused_and_the_old_one_keeps_serving(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "models")
    v1 = reg.publish("m", _artifact(tmp_path / "a", "one"), kind="k")
    reg.promote("m", v1)
    live = LiveModel(reg, "m", _loader, _smoke)
    assert live.refresh() is True and live.current().model == "one"
    assert live.refresh() is False  # nothing new

    # promoted, then corrupted on disk: the checksum refuses it, v1 keeps serving
    v2 = reg.publish("m", _artifact(tmp_path / "b", "two"), kind="k")
    reg.promote("m", v2)
    (reg.path("m", v2) / "model.json").write_text(json.dumps({"value": "evil"}))
    assert live.refresh() is False
    assert live.current().version == v1 and live.current().model == "one"
    assert isinstance(live.last_error, ArtifactRefused) and "model.json" in str(live.last_error)
    assert live.refused == v2

    # intact files but a failing smoke test: refused as well
    v3 = reg.publish("m", _artifact(tmp_path / "c", "bad-three"), kind="k")
    reg.promote("m", v3)
    assert live.refresh() is False and live.current().model == "one"
    with pytest.raises(ArtifactRefused, match="smoke test"):
        reg.load_promoted("m", _loader, _smoke)

    # a good one is swapped in; a rollback swaps back
    v4 = reg.publish("m", _artifact(tmp_path / "d", "four"), kind="k")
    reg.promote("m", v4)
    assert live.refresh() is True and live.current().model == "four"
    reg.rollback("m")  # to v3, which is refused: four keeps serving
    assert live.refresh() is False and live.current().model == "four"


def test_concurrent_readers_never_see_a_half_written_version(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "models")
    src = _artifact(tmp_path / "a", "x" * 5000)
    errors: list[BaseException] = []
    done = threading.Event()

    def publisher() -> None:
        try:
            for _ in range(15):
                reg.publish("m", src, kind="k")
        except BaseException as err:  # noqa: BLE001
            errors.append(err)
        finally:
            done.set()

    def reader() -> None:
        try:
            while not done.is_set():
                for version in reg.versions("m"):
                    reg.verify("m", version)  # whole and consistent
        except BaseException as err:  # noqa: BLE001
            errors.append(err)

    threads = [threading.Thread(target=publisher), threading.Thread(target=publisher),
               threading.Thread(target=reader), threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert reg.versions("m") == [f"v{i:04d}" for i in range(1, 31)]  # two publishers, no clash
    assert not [p for p in (tmp_path / "models" / "m").iterdir() if p.name.startswith(".tmp")]


def test_data_fingerprint_depends_on_names_and_content(tmp_path: Path) -> None:
    a = tmp_path / "a.parquet"
    a.write_bytes(b"1")
    first = data_fingerprint({"t/date=1/a.parquet": a})
    assert first == data_fingerprint({"t/date=1/a.parquet": str(a)})
    assert first != data_fingerprint({"t/date=2/a.parquet": a})
    a.write_bytes(b"2")
    assert data_fingerprint({"t/date=1/a.parquet": a}) != first


def test_models_cli(tmp_path: Path) -> None:
    from encore.cli.main import app

    reg = Registry(tmp_path / "models")
    v1 = reg.publish("m", _artifact(tmp_path / "a", "one"), kind="k", metrics={"auc": 0.5})
    v2 = reg.publish("m", _artifact(tmp_path / "b", "two"), kind="k")
    runner = CliRunner()
    root = ["--registry", str(tmp_path / "models")]
    assert runner.invoke(app, ["models", "promote", "m", v1, *root]).exit_code == 0
    assert runner.invoke(app, ["models", "promote", "m", v2, *root]).exit_code == 0
    listed = runner.invoke(app, ["models", "list", *root], terminal_width=200)
    assert listed.exit_code == 0 and "v0002" in listed.output and "auc=0.5" in listed.output
    result = runner.invoke(app, ["models", "rollback", "m", *root])
    assert result.exit_code == 0 and "v0001" in result.output
    assert reg.promoted("m") == v1
    bad = runner.invoke(app, ["models", "rollback", "m", *root])
    assert bad.exit_code == 1 and "no earlier promoted version" in bad.output


def test_live_model_polls_for_promotions(tmp_path: Path) -> None:
    import time

    reg = Registry(tmp_path / "models")
    reg.promote("m", reg.publish("m", _artifact(tmp_path / "a", "one"), kind="k"))
    live = LiveModel(reg, "m", _loader, _smoke)
    with pytest.raises(RegistryError, match="nothing loaded"):
        live.current()
    live.refresh()
    live.start(0.01)
    try:
        reg.promote("m", reg.publish("m", _artifact(tmp_path / "b", "two"), kind="k"))
        deadline = time.monotonic() + 30
        while live.current().model != "two" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert live.current().model == "two" and live.version == "v0002"
    finally:
        live.stop()
