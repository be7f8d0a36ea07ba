#!/usr/bin/env bash
# Install the peer tus servers the tus-upload tests (tests/client) run against,
# pinned and cached, each skipped when already in place:
#   - @tus/server 2.4.5 + @tus/file-store 2.1.1 (npm ci in tests/client/peers)
#   - tuspyserver 4.4.3 + uvicorn (pip, tests/client/peers/.venv)
#   - rustus 0.5.10 with its `hashers` feature (cargo install --locked, ~/.cargo/bin;
#     about 4 minutes to build, so it is cached there)
#   - HAProxy and openssl (Debian packages), for the sticky load balancer and TLS tests
#
# Works from any cwd; talks only to the package registries.
# Env: PYTHON (default python3), SETUP_TIMEOUT seconds per install step (default 900).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEERS="$ROOT/tests/client/peers"
PYTHON="${PYTHON:-python3}"
SETUP_TIMEOUT="${SETUP_TIMEOUT:-900}"
RUSTUS_VERSION=0.5.10

log() { printf 'setup-peers: %s\n' "$*" >&2; }
hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

cd "$PEERS"

# ---- @tus/server -----------------------------------------------------------
node_want="$(hash_of package.json package-lock.json)-$(node --version)"
node_stamp="node_modules/.tus-rs-lock.stamp"
if [[ -d node_modules/@tus/server && -f "$node_stamp" && "$(cat "$node_stamp")" == "$node_want" ]]; then
    log "@tus/server up to date"
else
    log "npm ci (@tus/server, @tus/file-store)"
    timeout "$SETUP_TIMEOUT" npm ci --no-audit --no-fund --loglevel=error >&2
    node --input-type=module -e 'import("@tus/server").then(() => import("@tus/file-store"))'
    printf '%s\n' "$node_want" >"$node_stamp"
fi

# ---- tuspyserver -----------------------------------------------------------
py_version="$("$PYTHON" -c 'import sys; print(sys.version)')"
py_want="$(hash_of requirements.txt)-$(printf '%s' "$py_version" | sha256sum | cut -d' ' -f1)"
py_stamp=".venv/.tus-rs-requirements.stamp"
if [[ -x .venv/bin/uvicorn && -f "$py_stamp" && "$(cat "$py_stamp")" == "$py_want" ]]; then
    log "tuspyserver venv up to date"
else
    rm -rf .venv
    log "creating .venv with $PYTHON; pip install tuspyserver uvicorn"
    "$PYTHON" -m venv .venv
    timeout "$SETUP_TIMEOUT" .venv/bin/python -m pip install \
        --disable-pip-version-check --no-input --quiet -r requirements.txt
    .venv/bin/python -c 'import tuspyserver, uvicorn'
    printf '%s\n' "$py_want" >"$py_stamp"
fi

# ---- rustus ----------------------------------------------------------------
# The installed features are recorded in ~/.cargo/.crates2.json: a rustus
# built without `hashers` advertises checksums it never verifies.
rustus_ok() {
    "$PYTHON" - "$RUSTUS_VERSION" <<'EOF'
import json, os, sys
path = os.path.join(os.environ.get("CARGO_HOME", os.path.expanduser("~/.cargo")), ".crates2.json")
try:
    installs = json.load(open(path))["installs"]
except (OSError, ValueError, KeyError):
    sys.exit(1)
ok = any(key.startswith(f"rustus {sys.argv[1]} ") and "hashers" in value.get("features", [])
         for key, value in installs.items())
sys.exit(0 if ok else 1)
EOF
}
if command -v rustus >/dev/null 2>&1 || [[ -x "$HOME/.cargo/bin/rustus" ]] && rustus_ok; then
    log "rustus $RUSTUS_VERSION (hashers) present"
else
    log "cargo install rustus $RUSTUS_VERSION --features hashers (about 4 minutes, cached in ~/.cargo/bin)"
    timeout "$SETUP_TIMEOUT" cargo install --locked --force "rustus@$RUSTUS_VERSION" --features hashers
fi

# ---- HAProxy (and openssl, for the TLS test's certificates) ----------------------
missing=()
if ! command -v haproxy >/dev/null 2>&1 && [[ ! -x /usr/sbin/haproxy ]]; then missing+=(haproxy); fi
if ! command -v openssl >/dev/null 2>&1; then missing+=(openssl); fi
if [[ ${#missing[@]} -gt 0 ]]; then
    log "apt-get install ${missing[*]}"
    # Debian starts services on install; the tests start their own.
    created_policy=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        created_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    timeout "$SETUP_TIMEOUT" apt-get install -y -qq "${missing[@]}" >&2 ||
        { timeout "$SETUP_TIMEOUT" apt-get update -qq >&2 && timeout "$SETUP_TIMEOUT" apt-get install -y -qq "${missing[@]}" >&2; }
    if [[ $created_policy == 1 ]]; then rm -f /usr/sbin/policy-rc.d; fi
fi

log "ok"
