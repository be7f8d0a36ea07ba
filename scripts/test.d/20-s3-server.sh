# A real S3 server for the S3 store's tests and the S3 client tests: Garage
# (crates.io `garage`, pinned), installed once (~10 min to build), started on
# free loopback ports with a fresh data directory, stopped on exit. Exports TUS_S3_* and
# AWS_* for later parts, and TUS_REQUIRE_S3=1 so S3 tests fail instead of skipping.
GARAGE_VERSION=2.5.0
if ! command -v garage >/dev/null 2>&1 && [[ ! -x "$HOME/.cargo/bin/garage" ]]; then
    # Only what the tests use: the sqlite metadata engine (scripts/garage.sh),
    # without lmdb, k2v and metrics: 664 s of CPU to build instead of about
    # 1,000 (2 cores: about 6 minutes instead of 9.5).
    echo "installing garage $GARAGE_VERSION (cargo install, about 6 minutes)"
    cargo install --locked "garage@$GARAGE_VERSION" --no-default-features --features bundled-libs,sqlite
fi
export GARAGE_BIN="${GARAGE_BIN:-$(command -v garage || echo "$HOME/.cargo/bin/garage")}"
GARAGE_TEST_DIR=$(mktemp -d -t tus-garage-XXXXXX)
on_exit "bash '$ROOT/scripts/garage.sh' stop '$GARAGE_TEST_DIR'; rm -rf '$GARAGE_TEST_DIR'"
# Free loopback ports (not Garage's fixed 3900-3903): two suites on one machine
# would otherwise share, and stop, each other's Garage.
garage_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
garage_env=$(GARAGE_S3_ADDR="127.0.0.1:$(garage_port)" GARAGE_RPC_ADDR="127.0.0.1:$(garage_port)" \
    GARAGE_ADMIN_ADDR="127.0.0.1:$(garage_port)" bash scripts/garage.sh start "$GARAGE_TEST_DIR")
eval "$garage_env"
export TUS_REQUIRE_S3=1
echo "garage serving $TUS_S3_ENDPOINT (bucket $TUS_S3_BUCKET)"
