"""The distribution maps encore.<part> -> ./<part>; a package folder missing from
pyproject's explicit list would be silently left out of a wheel."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _declared() -> tuple[dict[str, str], set[str]]:
    tool = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    return tool["package-dir"], set(tool["packages"])


def test_every_package_folder_is_declared() -> None:
    package_dir, packages = _declared()
    found = set()
    for root_name, folder in package_dir.items():
        for init in (REPO / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(REPO / folder)
            found.add(".".join([root_name, *relative.parts]))
    assert found - packages == set(), "add these to [tool.setuptools] packages"
    assert packages - found == set(), "declared packages with no folder"


def test_parts_map_to_top_level_folders() -> None:
    package_dir, _ = _declared()
    for name, folder in package_dir.items():
        assert name == f"encore.{folder}"
        assert (REPO / folder / "__init__.py").is_file()
