#!/usr/bin/env bash
# Set-up command 2: install whatever is missing (idempotent), then run the whole test suite.
# Extra arguments go to pytest (e.g. scripts/test.sh tests/unit -k world).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/bootstrap.sh"
cd "$root"
exec .venv/bin/pytest "$@"
