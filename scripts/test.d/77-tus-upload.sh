# tus-upload (the tus-client CLI) against servers nobody here wrote (@tus/server,
# tuspyserver, rustus, from 30-peers.sh) and tus-axum on fs and on S3 (Garage from
# 20-s3-server.sh): chunked, kill -9 and rerun, a fault-injecting proxy, stdin,
# parallel, checksums, --protocol auto (tus). Once: a cookie-sticky HAProxy over three
# tus-axum, TLS with a test CA, exit codes and Ctrl-C, peak RSS for a sparse file and for
# stdin (TUS_UPLOAD_MEMORY_SIZE, 1G here; the bound is TUS_UPLOAD_MEMORY_LIMIT_MIB, 64), and
# the IETF draft (--protocol ietf, interop 9/8/6) against tus-axum (kill and rerun, cuts,
# a creation killed after its 104) and tus-actix.
# Separate builds, not one: together they would rebuild the S3 stack with other features.
cargo build -p tus-axum-example --bin tus-axum
cargo build -p tus-actix-example --bin tus-actix
cargo build -p tus-rs-client --bin tus-upload
TUS_UPLOAD_BIN="$TARGET_DIR/debug/tus-upload" TUS_AXUM_BIN="$TARGET_DIR/debug/tus-axum" \
    TUS_ACTIX_BIN="$TARGET_DIR/debug/tus-actix" \
    python3 tests/client/run_tus_upload_tests.py
