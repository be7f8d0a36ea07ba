#!/usr/bin/env bash
# Install the real tus clients used by tests/clients/run_client_tests.py:
#   - tuspy (pinned in tests/clients/requirements.txt) into tests/clients/.venv
#   - tus-js-client (pinned in tests/clients/package-lock.json) via `npm ci`
#
# Idempotent: each half is skipped when a stamp (hash of its pin file plus the
# interpreter version) matches what was installed last time.
# Works from any cwd. Needs python3 (with venv), node + npm; talks only to the
# package registries.
#
# Env: PYTHON (default python3), SETUP_TIMEOUT seconds per install step (default 600).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLIENTS="$ROOT/tests/clients"
PYTHON="${PYTHON:-python3}"
SETUP_TIMEOUT="${SETUP_TIMEOUT:-600}"

cd "$CLIENTS"

log() { printf 'setup-clients: %s\n' "$*" >&2; }

hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

# ---- Python: venv + tuspy -------------------------------------------------
py_version="$("$PYTHON" -c 'import sys; print(sys.version)')"
py_want="$(hash_of requirements.txt)-$(printf '%s' "$py_version" | sha256sum | cut -d' ' -f1)"
py_stamp=".venv/.tus-rs-requirements.stamp"

if [[ -x .venv/bin/python && -f "$py_stamp" && "$(cat "$py_stamp")" == "$py_want" ]]; then
    log "python venv up to date"
else
    if [[ -x .venv/bin/python ]] && [[ "$(.venv/bin/python -c 'import sys; print(sys.version)' 2>/dev/null || true)" != "$py_version" ]]; then
        log "python changed; recreating .venv"
        rm -rf .venv
    fi
    if [[ ! -x .venv/bin/python ]]; then
        log "creating .venv with $PYTHON"
        if ! "$PYTHON" -m venv .venv; then
            log "'$PYTHON -m venv' failed (on Debian: apt-get install python3-venv)"
            rm -rf .venv
            exit 1
        fi
    fi
    log "pip install -r requirements.txt"
    timeout "$SETUP_TIMEOUT" .venv/bin/python -m pip install \
        --disable-pip-version-check --no-input --quiet -r requirements.txt
    .venv/bin/python -c 'import tusclient.client' # sanity check
    printf '%s\n' "$py_want" >"$py_stamp"
fi

# ---- Node: tus-js-client ---------------------------------------------------
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
        log "node/npm missing; installing Debian's nodejs and npm"
        timeout "$SETUP_TIMEOUT" apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive timeout "$SETUP_TIMEOUT" apt-get install -y -qq nodejs npm >&2
    else
        log "node and npm are required (install Node.js 18 or newer)"
        exit 1
    fi
fi
node_version="$(node --version)"
node_want="$(hash_of package.json package-lock.json)-$node_version"
node_stamp="node_modules/.tus-rs-lock.stamp"

if [[ -d node_modules/tus-js-client && -f "$node_stamp" && "$(cat "$node_stamp")" == "$node_want" ]]; then
    log "node_modules up to date"
else
    log "npm ci"
    timeout "$SETUP_TIMEOUT" npm ci --no-audit --no-fund --loglevel=error >&2
    node --input-type=module -e 'import("tus-js-client").then(() => {})' # sanity check
    printf '%s\n' "$node_want" >"$node_stamp"
fi

log "ok"
