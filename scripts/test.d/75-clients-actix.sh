# Real clients (tuspy, tus-js-client) against the tus-actix binary on the fs store:
# the same cases as 70-clients-axum.sh (the IETF draft client expects no 104 here:
# actix-web cannot send one).
cargo build -p tus-actix-example --bin tus-actix
TUS_CLIENTS_SKIP_SETUP=1 TUS_SERVER_BIN="$TARGET_DIR/debug/tus-actix" \
    tests/clients/.venv/bin/python tests/clients/run_client_tests.py
