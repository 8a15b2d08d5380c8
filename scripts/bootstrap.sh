#!/usr/bin/env bash
# Installs everything Encore needs on a fresh Debian machine, idempotently:
# Debian packages (redis-server, a Java 17+ runtime, chromium for the report tests), a virtualenv in .venv with every
# package pinned by requirements/requirements.in and locked by requirements/constraints.txt,
# and Encore itself in editable mode. A second run with nothing changed takes a second.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

log() { printf '[bootstrap] %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)  # headless: tests open the `encore ab` report
java_major() { java -version 2>&1 | awk -F'"' '/version/ {split($2, v, "."); print v[1]; exit}'; }
if ! command -v java >/dev/null 2>&1 || [ "$(java_major)" -lt 17 ]; then
  need_apt+=(openjdk-17-jre-headless)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  log "installing Debian packages: ${need_apt[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
log "java $(java_major) ok (Spark needs 17+); redis-server at $(command -v redis-server)"

python_bin="${PYTHON:-python3.11}"
command -v "$python_bin" >/dev/null 2>&1 || python_bin=python3
"$python_bin" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' \
  || { log "Python 3.11 is required (found $("$python_bin" --version 2>&1))"; exit 1; }
[ -x .venv/bin/python ] || { log "creating .venv"; "$python_bin" -m venv .venv; }

stamp=.venv/.encore-installed
want="$(cat requirements/requirements.in requirements/constraints.txt pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "installing pinned Python packages into .venv (first run takes a few minutes)"
  .venv/bin/python -m pip install -q --upgrade "pip==25.3"
  .venv/bin/python -m pip install -q -r requirements/requirements.in -c requirements/constraints.txt
  .venv/bin/python -m pip install -q --no-deps --no-build-isolation -e .
  echo "$want" > "$stamp"
else
  log ".venv up to date"
fi
