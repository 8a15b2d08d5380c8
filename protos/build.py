"""Regenerate the committed Python modules of the Encore wire contract.

For every ``encore/v1/*.proto`` under this folder, grpc_tools' bundled protoc writes
``*_pb2.py``, ``*_pb2.pyi`` and ``*_pb2_grpc.py`` next to it (or under ``out_dir``).
protoc names cross-file imports after the proto package path (``from encore.v1 import
event_pb2``); this folder is installed as the Python package ``encore.protos``, so those
imports are rewritten to ``from encore.protos.encore.v1 import event_pb2``.

The output depends only on the .proto files and the grpcio-tools version, so running
the build twice gives byte-identical files. Run it with ``encore protos build``.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

PROTO_ROOT = Path(__file__).resolve().parent
"""The protoc include root: .proto files are named ``encore/v1/<name>.proto`` from here."""

PROTO_PACKAGE_DIR = Path("encore") / "v1"
"""Where the .proto files and the generated modules live, relative to PROTO_ROOT."""

GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")
"""The files protoc generates for each .proto file."""

_CROSS_IMPORT = re.compile(r"^(\s*)from encore\.v1 import ", re.MULTILINE)


def proto_files() -> list[Path]:
    """The contract's .proto files, sorted, as paths relative to PROTO_ROOT."""
    return sorted(p.relative_to(PROTO_ROOT) for p in (PROTO_ROOT / PROTO_PACKAGE_DIR).glob("*.proto"))


def generated_files(out_dir: Path) -> list[Path]:
    """The files build(out_dir) writes, sorted."""
    return sorted(
        out_dir / proto.with_name(proto.stem + suffix) for proto in proto_files() for suffix in GENERATED_SUFFIXES
    )


def include_paths() -> list[Path]:
    """protoc's --proto_path list: the contract root, then grpc_tools' well-known protos."""
    return [PROTO_ROOT, Path(str(resources.files("grpc_tools") / "_proto"))]


def build(out_dir: Path | None = None) -> list[Path]:
    """Generate the Python modules into ``out_dir`` (default: next to the .proto files).

    Returns the written files, sorted. Raises RuntimeError when protoc fails.
    """
    out = Path(out_dir) if out_dir is not None else PROTO_ROOT
    (out / PROTO_PACKAGE_DIR).mkdir(parents=True, exist_ok=True)
    args = [
        "grpc_tools.protoc",
        *(f"--proto_path={path}" for path in include_paths()),
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *(str(PROTO_ROOT / proto) for proto in proto_files()),
    ]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed: {' '.join(args)}")
    written = generated_files(out)
    for path in written:
        text = path.read_text(encoding="utf-8")
        path.write_text(_CROSS_IMPORT.sub(r"\1from encore.protos.encore.v1 import ", text), encoding="utf-8")
    return written
