# Benchmarks stay compiling, and a tiny tus-load run checks correctness only
# (never speed): 8 MiB as one PATCH and as 1 MiB PATCHes (each answered 204 with
# the right offset, then downloaded and compared byte for byte), and 1 s of
# 4 KiB creation-with-upload at 4 connections (every answer 201 with offset 4096).
cargo bench -p tus-benches --no-run
cargo build -p tus-axum-example --bin tus-axum
cargo build -p tus-benches --bin tus-load
BENCH_SMOKE_DIR="$(mktemp -d)"
on_exit "rm -rf '$BENCH_SMOKE_DIR'"
"$TARGET_DIR/debug/tus-load" --size 8M --chunk 1M --reps 1 --small-secs 1 --connections 4 \
    --dir "$BENCH_SMOKE_DIR" --verify --no-fsync --server-bin "$TARGET_DIR/debug/tus-axum"
