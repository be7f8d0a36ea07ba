# Dependency faults (scripts/fault_test.py): Garage stopped or hung under
# running uploads (its own Garage on free ports), Redis stopped under three
# instances behind HAProxy (its own redis-server), a full disk on the fs
# store (a 16 MiB tmpfs, else a loop-mounted image: needs root). Every
# acknowledged byte is verified after recovery. A stalled store is tested by
# cargo test (examples/axum/tests/slow_store.rs). TUS_LONG=1 (or
# TUS_FAULT_LONG=1) runs more outages.
if [[ -z "${GARAGE_BIN:-}" ]] || ! command -v redis-server >/dev/null 2>&1 || ! command -v haproxy >/dev/null 2>&1; then
    echo "83-faults: needs 20-s3-server.sh, 25-redis.sh and 82-scale.sh (garage, redis-server, haproxy)" >&2
    exit 1
fi
cargo build -p tus-axum-example --bin tus-axum
export TUS_FAULT_LONG="${TUS_FAULT_LONG:-${TUS_LONG:-0}}"
python3 scripts/fault_test.py --bin "$TARGET_DIR/debug/tus-axum"
