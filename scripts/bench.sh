#!/usr/bin/env bash
# The load harness's whole run, as the performance note shows it: builds the
# release binaries, starts a Garage S3 server on free loopback ports in a
# fresh directory, runs `tus-load` (filesystem on disk, small uploads on disk
# and tmpfs, S3) against tus-rs and the peers, prints the Markdown tables on
# stdout (progress on stderr), and stops Garage.
#
#   bash scripts/bench.sh [extra tus-load flags]      e.g. --reps 3 --size 1G
#
# Environment (defaults in brackets):
#   BENCH_DIR       disk directory measured [/tmp/tus-load]
#   BENCH_TMPFS     tmpfs directory for the small uploads [/dev/shm/tus-load]
#   BENCH_PEERS     peers [node,rustus] (installed when missing: npm ci, cargo install rustus)
#   BENCH_NO_S3=1   skip the S3 runs (and Garage)
#   GARAGE_BIN      the garage binary [garage on PATH, else ~/.cargo/bin/garage]
#
# Run it on an idle machine: every other process competes for the same cores.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BENCH_DIR=${BENCH_DIR:-/tmp/tus-load}
BENCH_TMPFS=${BENCH_TMPFS:-/dev/shm/tus-load}
BENCH_PEERS=${BENCH_PEERS:-node,rustus}

echo "building release binaries" >&2
cargo build --release --quiet -p tus-axum-example -p tus-benches --bins >&2
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

s3_flags=()
if [[ -z ${BENCH_NO_S3:-} ]]; then
    GARAGE_DIR=$(mktemp -d -t tus-bench-garage-XXXXXX)
    trap 'bash "$ROOT/scripts/garage.sh" stop "$GARAGE_DIR"; rm -rf "$GARAGE_DIR"' EXIT
    # Three free loopback ports, so a test suite's Garage (3900-3903) is left alone.
    read -r s3_port rpc_port admin_port < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')
    eval "$(GARAGE_S3_ADDR=127.0.0.1:$s3_port GARAGE_RPC_ADDR=127.0.0.1:$rpc_port \
        GARAGE_ADMIN_ADDR=127.0.0.1:$admin_port TUS_S3_BUCKET=tus-bench \
        bash scripts/garage.sh start "$GARAGE_DIR")"
    echo "garage serving $TUS_S3_ENDPOINT" >&2
    s3_flags=(--s3-bucket "$TUS_S3_BUCKET" --s3-endpoint "$TUS_S3_ENDPOINT" --s3-region "$TUS_S3_REGION")
fi

"$TARGET_DIR/release/tus-load" --dir "$BENCH_DIR" --small-dirs "$BENCH_DIR,$BENCH_TMPFS" \
    --peers "$BENCH_PEERS" --install-peers --no-fsync "${s3_flags[@]}" "$@"
