"""The import rules between Encore's top-level parts (docs/architecture.md, "Parts and
their imports"): each part may import only the parts below it, so there are no import
cycles and the composition root (encore.cli) is the only part that sees everything.
Every import counts, including those inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

#: part -> the parts it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "protos": set(),
    "feature_store": {"protos"},
    "platform": {"protos", "feature_store"},
    "recall": {"platform", "feature_store", "protos"},
    "ranking": {"platform", "feature_store", "protos"},
    "serving": {"platform", "feature_store", "recall", "ranking", "protos"},
    "cli": {"platform", "feature_store", "recall", "ranking", "serving", "protos"},
}


def imported_parts(source: str) -> set[str]:
    """The ``encore.<part>`` names a module imports, wherever the import statement is."""
    parts = set()
    for node in ast.walk(ast.parse(source)):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names if node.module == "encore"]
        for name in names:
            pieces = name.split(".")
            if pieces[0] == "encore" and len(pieces) > 1:
                parts.add(pieces[1])
    return parts


def test_the_rule_reads_imports_anywhere_in_a_module() -> None:
    source = "import encore.recall.channel\nfrom encore import serving\ndef f():\n    from encore.ranking import x\n"
    assert imported_parts(source) == {"recall", "serving", "ranking"}


@pytest.mark.parametrize("part", sorted(ALLOWED))
def test_a_part_imports_only_the_parts_below_it(part: str) -> None:
    forbidden = {}
    for path in sorted((REPO / part).rglob("*.py")):
        bad = imported_parts(path.read_text()) - ALLOWED[part] - {part}
        if bad:
            forbidden[str(path.relative_to(REPO))] = sorted(bad)
    assert forbidden == {}, f"{part} may import only {sorted(ALLOWED[part])}"


def test_every_part_has_a_rule() -> None:
    import tomllib

    package_dir = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    assert {name.split(".", 1)[1] for name in package_dir} == set(ALLOWED)
