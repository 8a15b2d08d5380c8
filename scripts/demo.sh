#!/usr/bin/env bash
# Set-up command 1: install everything (idempotent) and run the demo.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/bootstrap.sh"
cd "$root"
exec .venv/bin/encore demo "$@"
