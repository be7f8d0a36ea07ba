# Starts a Redis server (Debian's redis-server) on 127.0.0.1 for the
# tus-lock-redis tests and the multi-host locking test, and exports its URL.
if ! command -v redis-server >/dev/null 2>&1; then
    echo "installing redis-server"
    apt-get install -y redis-server >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y redis-server >/dev/null; }
fi
REDIS_DIR="$(mktemp -d)"
REDIS_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
    --dir "$REDIS_DIR" --daemonize yes --pidfile "$REDIS_DIR/redis.pid" --logfile "$REDIS_DIR/redis.log"
on_exit "kill \$(cat '$REDIS_DIR/redis.pid' 2>/dev/null) 2>/dev/null; rm -rf '$REDIS_DIR'"
for _ in $(seq 1 100); do
    if redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; then break; fi
    sleep 0.1
done
redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping | grep -q PONG || { echo "redis-server did not start"; cat "$REDIS_DIR/redis.log"; exit 1; }
export TUS_TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/"
# The Redis tests fail instead of skipping when this is set.
export TUS_REQUIRE_REDIS=1
echo "redis-server on $TUS_TEST_REDIS_URL"
