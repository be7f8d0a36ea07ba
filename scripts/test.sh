#!/usr/bin/env bash
# Runs the whole test suite: unit, scenario, store and HTTP tests (cargo), then
# the real clients (tuspy, tus-js-client) against the tus-axum binary.
# Installs the Python and Node clients it needs on first run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup-clients.sh

echo "== cargo test (workspace)"
cargo test --workspace

echo "== real clients against tus-axum"
cargo build -p tus-axum-example --bin tus-axum
TUS_CLIENTS_SKIP_SETUP=1 TUS_AXUM_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/tus-axum" tests/clients/.venv/bin/python tests/clients/run_client_tests.py
