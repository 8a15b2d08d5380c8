#!/usr/bin/env bash
# Static checks run by scripts/test.sh before the suite: ruff over the whole tree and
# mypy over every part (the generated protos are read through their .pyi stubs).
# Settings live in pyproject.toml ([tool.ruff], [tool.mypy]).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
.venv/bin/ruff check --quiet .
# mypy resolves encore.<part> through links under .venv (pyproject's package-dir maps
# encore.<part> to ./<part>, which mypy cannot read from the editable install).
shim=.venv/typecheck/encore
mkdir -p "$shim"
for part in cli platform recall ranking serving feature_store protos; do ln -sfn "$root/$part" "$shim/$part"; done
# Run from the links' folder: mypy also searches its working directory, where the
# repository's platform/ would shadow the standard library's platform module.
cd "$root/.venv/typecheck"
MYPYPATH=. "$root/.venv/bin/mypy" --config-file "$root/pyproject.toml" --cache-dir "$root/.mypy_cache" \
  --no-error-summary -p encore.cli -p encore.platform -p encore.feature_store -p encore.recall \
  -p encore.ranking -p encore.serving
