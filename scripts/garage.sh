#!/usr/bin/env bash
# A single-node Garage (crates.io `garage`) S3 server on loopback, for tests.
#
#   scripts/garage.sh start DIR   writes DIR/garage.toml, starts the server, creates the test key
#                                 and bucket, and prints `export NAME=VALUE` lines for the tests
#   scripts/garage.sh stop DIR    stops the server started in DIR (by its pid file)
#   scripts/garage.sh resume DIR  starts the server of DIR again, over its data (after `stop`:
#                                 the same addresses, key and bucket; an outage in fault tests)
#
# Environment (defaults in brackets):
#   GARAGE_BIN          the garage binary [garage on PATH, else ~/.cargo/bin/garage]
#   GARAGE_S3_ADDR      S3 API address [127.0.0.1:3900]
#   GARAGE_RPC_ADDR     RPC address [127.0.0.1:3901]
#   GARAGE_ADMIN_ADDR   admin API address [127.0.0.1:3903]
#   TUS_S3_BUCKET       bucket to create [tus-test]
set -euo pipefail

usage() { echo "usage: $0 start|stop|resume DIR" >&2; exit 2; }
[[ $# -eq 2 ]] || usage
cmd=$1 dir=$2

stop() {
    local pidfile="$dir/garage.pid" pid i
    [[ -f $pidfile ]] || return 0
    pid=$(cat "$pidfile")
    if kill "$pid" 2>/dev/null; then
        for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

# Starts the server of $dir/garage.toml and waits until it answers.
serve() {
    local g=("$1" -c "$dir/garage.toml")
    nohup "${g[@]}" server >> "$dir/server.log" 2>&1 &
    echo $! > "$dir/garage.pid"
    local i up=
    for i in $(seq 1 150); do
        if "${g[@]}" status >/dev/null 2>&1; then up=1; break; fi
        kill -0 "$(cat "$dir/garage.pid")" 2>/dev/null || break
        sleep 0.2
    done
    if [[ -z $up ]]; then
        echo "garage.sh: server did not come up; log:" >&2
        tail -20 "$dir/server.log" >&2
        stop
        exit 1
    fi
}

resume() {
    local bin=${GARAGE_BIN:-$(command -v garage || echo "$HOME/.cargo/bin/garage")}
    [[ -f $dir/garage.toml ]] || { echo "garage.sh: nothing to resume in $dir" >&2; exit 1; }
    stop
    serve "$bin"
}

start() {
    local bin=${GARAGE_BIN:-$(command -v garage || echo "$HOME/.cargo/bin/garage")}
    [[ -x $bin ]] || { echo "garage.sh: no garage binary at '$bin'" >&2; exit 1; }
    local s3=${GARAGE_S3_ADDR:-127.0.0.1:3900}
    local rpc=${GARAGE_RPC_ADDR:-127.0.0.1:3901}
    local admin=${GARAGE_ADMIN_ADDR:-127.0.0.1:3903}
    local bucket=${TUS_S3_BUCKET:-tus-test}
    for addr in "$s3" "$rpc" "$admin"; do
        case $addr in 127.*|localhost:*|\[::1\]:*) ;; *) echo "garage.sh: $addr is not a loopback address" >&2; exit 1 ;; esac
    done
    mkdir -p "$dir"
    stop
    rm -rf "$dir/meta" "$dir/data"
    mkdir -p "$dir/meta" "$dir/data"
    cat > "$dir/garage.toml" <<TOML
metadata_dir = "$dir/meta"
data_dir = "$dir/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "$rpc"
rpc_public_addr = "$rpc"
rpc_secret = "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"

[s3_api]
s3_region = "us-east-1"
api_bind_addr = "$s3"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "$admin"
admin_token = "test-admin-token"
TOML
    local g=("$bin" -c "$dir/garage.toml")
    serve "$bin"
    local node
    node=$("${g[@]}" node id -q 2>/dev/null | cut -d@ -f1)
    "${g[@]}" layout assign -z dc1 -c 1G "$node" >/dev/null
    "${g[@]}" layout apply --version 1 >/dev/null
    # Garage key ids are 'GK' + 24 hex characters, secrets 64 hex characters.
    local key=GK000000000000000000000001 secret
    secret=$(printf '%064d' 1)
    "${g[@]}" key import --yes -n tus-test "$key" "$secret" >/dev/null
    "${g[@]}" key allow --create-bucket "$key" >/dev/null
    # The layout takes a moment to apply: retry the bucket creation briefly.
    for i in $(seq 1 50); do
        "${g[@]}" bucket create "$bucket" >/dev/null 2>&1 && break
        "${g[@]}" bucket info "$bucket" >/dev/null 2>&1 && break
        sleep 0.2
    done
    "${g[@]}" bucket allow --read --write --owner "$bucket" --key "$key" >/dev/null
    echo "export TUS_S3_ENDPOINT=http://$s3"
    echo "export TUS_S3_BUCKET=$bucket"
    echo "export TUS_S3_REGION=us-east-1"
    echo "export AWS_ACCESS_KEY_ID=$key"
    echo "export AWS_SECRET_ACCESS_KEY=$secret"
    echo "export AWS_REGION=us-east-1"
}

case $cmd in
    start) start ;;
    stop) stop ;;
    resume) resume ;;
    *) usage ;;
esac
