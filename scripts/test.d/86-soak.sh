# Soak (scripts/soak_test.py): 200 concurrent uploads through a
# fault-injecting proxy (latency, stalls, cut connections) against tus-axum
# for 40 s; no upload lost, every one verified by sha256, the server's memory
# and file descriptors flat. TUS_LONG=1 (or TUS_SOAK_LONG=1): 300 s.
cargo build -p tus-axum-example --bin tus-axum
export TUS_SOAK_LONG="${TUS_SOAK_LONG:-${TUS_LONG:-0}}"
python3 scripts/soak_test.py --bin "$TARGET_DIR/debug/tus-axum" --uploads 200 --seconds 40
