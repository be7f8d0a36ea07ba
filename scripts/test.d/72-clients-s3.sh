# Real clients (tuspy, tus-js-client, the IETF draft clients) against tus-axum and tus-actix on S3: the
# Garage server from 20-s3-server.sh, a fresh key prefix per run. The runner
# verifies every upload's bytes by sha256 of a GET.
if [[ -z "${TUS_S3_ENDPOINT:-}" ]]; then
    echo "72-clients-s3: TUS_S3_ENDPOINT is not set (run with 20-s3-server.sh)" >&2
    exit 1
fi
cargo build -p tus-axum-example --bin tus-axum -p tus-actix-example --bin tus-actix
for server in tus-axum tus-actix; do
    echo "-- $server on S3"
    # The raw-socket IETF draft client (interop 9, 8, 6) runs on tus-axum, the
    # server that sends 104; tus-actix runs it on the fs store (75-clients-actix.sh).
    if [[ $server == tus-axum ]]; then ietf_versions="9,8,6"; else ietf_versions=""; fi
    TUS_IETF_VERSIONS="$ietf_versions" TUS_CLIENTS_SKIP_SETUP=1 TUS_SERVER_BIN="$TARGET_DIR/debug/$server" \
        TUS_SERVER_ARGS="--s3-bucket $TUS_S3_BUCKET --s3-endpoint $TUS_S3_ENDPOINT --s3-region ${TUS_S3_REGION:-us-east-1} --s3-prefix clients-$server-$(date +%s%N)/" \
        tests/clients/.venv/bin/python tests/clients/run_client_tests.py
done
