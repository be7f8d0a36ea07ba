# Real clients (tuspy, tus-js-client, also in its IETF draft mode, and a raw-socket
# client of the IETF draft, interop 9/8/6, which requires the 104) against the
# tus-axum binary on the fs store.
cargo build -p tus-axum-example --bin tus-axum
TUS_CLIENTS_SKIP_SETUP=1 TUS_AXUM_BIN="$TARGET_DIR/debug/tus-axum" \
    tests/clients/.venv/bin/python tests/clients/run_client_tests.py
