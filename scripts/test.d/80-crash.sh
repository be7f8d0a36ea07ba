# Crash safety: concurrent uploads against tus-axum on the filesystem store,
# killed with SIGKILL at random moments and restarted (scripts/crash_harness.py).
# The seed is printed; TUS_CRASH_SEED=N replays the same plan. TUS_SERVER_ARGS
# adds server flags (e.g. another store), TUS_CRASH_DISK_CHECK=0 skips the
# check of the fs store's data files.
cargo build -p tus-axum-example --bin tus-axum
python3 scripts/crash_harness.py --bin "$TARGET_DIR/debug/tus-axum" --timeout 150
