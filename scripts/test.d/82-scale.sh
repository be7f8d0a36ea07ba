# Scale-out: three tus-axum instances behind HAProxy (round-robin, no
# stickiness; Debian's haproxy, installed when missing), instances killed and
# restarted one at a time under tus-js-client, tuspy, parallel (concatenation)
# uploads and the crash harness; every byte verified (scripts/scale_test.py).
# Two topologies: one directory on this host with `--locker file`, and the
# Garage bucket (20-s3-server.sh) with `--locker redis` (25-redis.sh). The
# takeover time of an upload whose instance died mid-PATCH is printed.
# TUS_LONG=1 (or TUS_SCALE_LONG=1) runs the long version.
if ! command -v haproxy >/dev/null 2>&1; then
    echo "installing haproxy"
    apt-get install -y haproxy >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y haproxy >/dev/null; }
fi
if [[ -z "${TUS_S3_ENDPOINT:-}" || -z "${TUS_TEST_REDIS_URL:-}" ]]; then
    echo "82-scale: needs 20-s3-server.sh and 25-redis.sh (TUS_S3_ENDPOINT, TUS_TEST_REDIS_URL)" >&2
    exit 1
fi
cargo build -p tus-axum-example --bin tus-axum
export TUS_SCALE_LONG="${TUS_SCALE_LONG:-${TUS_LONG:-0}}"
python3 scripts/scale_test.py --bin "$TARGET_DIR/debug/tus-axum" --topology fs-file
python3 scripts/scale_test.py --bin "$TARGET_DIR/debug/tus-axum" --topology s3-redis
