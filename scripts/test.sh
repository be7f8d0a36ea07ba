#!/usr/bin/env bash
# Runs the whole test suite (the README's test command).
#
# Each part is a file in scripts/test.d/, sourced in name order, so a part can
# export variables for later parts (an S3 endpoint, a Redis URL) and register
# cleanup with `on_exit CMD` (run in reverse order when the script exits).
# Parts install what they need on first run (Python/Node clients, servers).
#
#   TUS_TEST_ONLY=REGEX  run only the parts whose file name matches (setup parts
#                        that others depend on must be included in the regex).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
export ROOT TARGET_DIR

CLEANUPS=()
on_exit() { CLEANUPS+=("$1"); }
run_cleanups() {
    local i
    for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do eval "${CLEANUPS[$i]}" || true; done
}
trap run_cleanups EXIT

for part in scripts/test.d/*.sh; do
    if [[ -n "${TUS_TEST_ONLY:-}" && ! "$(basename "$part")" =~ ${TUS_TEST_ONLY} ]]; then
        continue
    fi
    echo "== $(basename "$part")"
    _part_started=$SECONDS
    # shellcheck source=/dev/null
    source "$part"
    echo "== $(basename "$part") took $((SECONDS - _part_started)) s"
done
echo "== all test parts passed"
