#!/usr/bin/env bash
# Static checks run by scripts/test.sh before the suite: ruff over the whole tree and
# mypy over the packages listed below (the ones made type-clean so far; add a package
# here once it passes). Settings live in pyproject.toml ([tool.ruff], [tool.mypy]).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
.venv/bin/ruff check --quiet .
# mypy resolves encore.<part> through links under .venv (pyproject's package-dir maps
# encore.<part> to ./<part>, which mypy cannot read from the editable install).
shim=.venv/typecheck/encore
mkdir -p "$shim"
for part in cli platform recall ranking serving feature_store protos; do ln -sfn "$root/$part" "$shim/$part"; done
MYPYPATH=.venv/typecheck .venv/bin/mypy --no-error-summary \
  -p encore.cli -p encore.serving -p encore.recall -p encore.ranking -p encore.feature_store \
  -p encore.platform.contracts -p encore.platform.events -p encore.platform.stack \
  -p encore.platform.batch -p encore.platform.data -p encore.platform.world -p encore.platform.stream \
  -m encore.platform.config -m encore.platform.registry -m encore.platform.spark
