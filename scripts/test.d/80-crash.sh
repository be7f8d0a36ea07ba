# Crash safety: concurrent uploads against tus-axum on the filesystem store,
# killed with SIGKILL at random moments and restarted (scripts/crash_harness.py).
# The seed is printed; TUS_CRASH_SEED=N replays the same plan. TUS_SERVER_ARGS
# adds server flags (e.g. another store), TUS_CRASH_DISK_CHECK=0 skips the
# check of the fs store's data files.
cargo build -p tus-axum-example --bin tus-axum
python3 scripts/crash_harness.py --bin "$TARGET_DIR/debug/tus-axum" --timeout 150
if [[ -n "${TUS_S3_ENDPOINT:-}" ]]; then
    echo "-- crash harness on S3 (Garage from 20-s3-server.sh)"
    TUS_SERVER_ARGS="--s3-bucket $TUS_S3_BUCKET --s3-endpoint $TUS_S3_ENDPOINT --s3-region ${TUS_S3_REGION:-us-east-1} --s3-prefix crash-$(date +%s%N)/" \
        TUS_CRASH_DISK_CHECK=0 \
        python3 scripts/crash_harness.py --bin "$TARGET_DIR/debug/tus-axum" --timeout 150
fi
