# Hostile clients against both examples (scripts/hardening_test.py): the
# header and connection limits hold, 2,000 idle connections do not keep a
# normal upload out, and malformed requests cannot flood the log. The cases
# of the new driver (minimum body rate, stale-offset PATCH, concatenation
# fan-out, method override) are listed as pending and skipped with a reason.
cargo build -p tus-axum-example --bin tus-axum -p tus-actix-example --bin tus-actix
for server in tus-axum tus-actix; do
    python3 scripts/hardening_test.py --bin "$TARGET_DIR/debug/$server"
done
