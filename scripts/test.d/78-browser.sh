# Headless Chromium (Debian's `chromium`, driven by puppeteer-core) against
# tus-axum and tus-actix: the demo page (upload, pause/resume, resume after a
# reload, bytes checked by GET) and the --cors-* flags (a page on another
# origin with a custom header and credentials; refused origin, header and
# credentials). npm's own browser download does not work here, so Chromium
# comes from apt (installed when missing; needs root) and puppeteer-core
# (pinned in tests/browser/package-lock.json) only drives it.
browser_started=$(date +%s)
if ! command -v "${CHROMIUM:-chromium}" >/dev/null 2>&1; then
    if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        echo "78-browser: chromium is missing; install Debian's chromium (apt-get install chromium)" >&2
        exit 1
    fi
    echo "-- installing Debian's chromium"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
fi
CHROMIUM="$(command -v "${CHROMIUM:-chromium}")"
export CHROMIUM
(
    cd tests/browser
    want="$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)-$(node --version)"
    if [[ ! -f node_modules/.tus-rs-lock.stamp || "$(cat node_modules/.tus-rs-lock.stamp)" != "$want" ]]; then
        npm ci --no-audit --no-fund --loglevel=error
        printf '%s\n' "$want" >node_modules/.tus-rs-lock.stamp
    fi
)
echo "-- browser test setup took $(($(date +%s) - browser_started)) s"
# build.rs bundles the demo page (npm ci + esbuild in examples/demo) on the first build.
cargo build -p tus-axum-example -p tus-actix-example --bins
TUS_BROWSER_SERVERS="tus-axum=$TARGET_DIR/debug/tus-axum,tus-actix=$TARGET_DIR/debug/tus-actix" \
    node --test --test-concurrency=1 tests/browser/
