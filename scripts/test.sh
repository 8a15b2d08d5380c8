#!/usr/bin/env bash
# Set-up command 2: install whatever is missing (idempotent), then run ruff + mypy
# (scripts/check.sh) and the whole test suite.
# Extra arguments go to pytest (e.g. scripts/test.sh tests/unit -k world).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/bootstrap.sh"
cd "$root"
# The whole run (no arguments, as CI calls it) starts with the static checks.
if [ $# -eq 0 ]; then "$root/scripts/check.sh"; fi
exec .venv/bin/pytest "$@"
