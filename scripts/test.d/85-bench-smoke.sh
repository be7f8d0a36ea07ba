# Benchmarks stay working (each criterion bench runs once, in test mode, in
# the test build's debug profile), and a tiny tus-load run checks correctness only
# (never speed): 8 MiB as one PATCH and as 1 MiB PATCHes (each answered 204 with
# the right offset, then downloaded and compared byte for byte), and 1 s of
# 4 KiB creation-with-upload at 4 connections (every answer 201 with offset 4096).
# With the S3 server of 20-s3-server.sh, also the S3 scenario: 8 MiB into
# tus-axum on S3 as one PATCH and as 1 MiB PATCHes (verified), beside a direct
# multipart upload.
cargo test --benches -p tus-benches -p tus-store-s3
cargo build -p tus-axum-example --bin tus-axum
cargo build -p tus-benches --bin tus-load
BENCH_SMOKE_DIR="$(mktemp -d)"
on_exit "rm -rf '$BENCH_SMOKE_DIR'"
bench_smoke_s3=()
if [[ -n ${TUS_S3_ENDPOINT:-} && -n ${TUS_S3_BUCKET:-} ]]; then
    bench_smoke_s3=(--s3-bucket "$TUS_S3_BUCKET" --s3-endpoint "$TUS_S3_ENDPOINT" --s3-region "${TUS_S3_REGION:-us-east-1}"
        --s3-prefix "tus-load-smoke-$$/" --s3-size 8M --s3-chunks 1M)
fi
"$TARGET_DIR/debug/tus-load" --size 8M --chunk 1M --reps 1 --small-secs 1 --small-warmup 0.2 --connections 4 \
    --dir "$BENCH_SMOKE_DIR" --verify --no-fsync --server-bin "$TARGET_DIR/debug/tus-axum" "${bench_smoke_s3[@]}"
