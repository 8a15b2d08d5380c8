"""The committed *_pb2*.py(i) modules are exactly what `encore protos build` generates."""

from __future__ import annotations

from pathlib import Path

from encore.protos import build

GENERATED_DIR = build.PROTO_ROOT / build.PROTO_PACKAGE_DIR
STALE_HINT = "generated code is out of date with the .proto files: run `encore protos build`"


def test_committed_generated_files_are_up_to_date(tmp_path: Path) -> None:
    fresh = build.build(tmp_path)

    committed = sorted(p for suffix in build.GENERATED_SUFFIXES for p in GENERATED_DIR.glob(f"*{suffix}"))
    assert [p.relative_to(tmp_path) for p in fresh] == [p.relative_to(build.PROTO_ROOT) for p in committed], STALE_HINT
    for new in fresh:
        old = build.PROTO_ROOT / new.relative_to(tmp_path)
        assert new.read_bytes() == old.read_bytes(), f"{old.name}: {STALE_HINT}"


def test_build_is_deterministic(tmp_path: Path) -> None:
    first = {p.relative_to(tmp_path / "a"): p.read_bytes() for p in build.build(tmp_path / "a")}
    second = {p.relative_to(tmp_path / "b"): p.read_bytes() for p in build.build(tmp_path / "b")}
    assert first == second


def test_generated_modules_import_under_the_encore_protos_root() -> None:
    for path in GENERATED_DIR.glob("*.py*"):
        if path.name.endswith(build.GENERATED_SUFFIXES):
            assert "from encore.v1 import" not in path.read_text(encoding="utf-8"), path.name
