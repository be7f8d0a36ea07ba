# Fuzzing: builds every cargo-fuzz target in fuzz/ and runs each for
# TUS_FUZZ_SECONDS (default 10) seconds, the slower `stateful` target for
# TUS_FUZZ_STATEFUL_SECONDS (default 30), starting from its checked-in corpus.
# (The corpora are also replayed on stable by `cargo test`, in
# tus-conformance/tests/fuzz_corpora.rs.)
#
# cargo-fuzz passes nightly-only flags (-Zsanitizer=address); RUSTC_BOOTSTRAP=1
# lets the stable toolchain accept them, so no nightly toolchain is needed.
# New inputs go to a scratch directory, so the checked-in corpus is not changed;
# a crash leaves its input in fuzz/artifacts/<target>/ and fails the part.
CARGO_FUZZ_VERSION=0.13.2
if ! cargo fuzz --version 2>/dev/null | grep -qF "$CARGO_FUZZ_VERSION"; then
    cargo install --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi
FUZZ_SCRATCH="$(mktemp -d)"
on_exit "rm -rf '$FUZZ_SCRATCH'"
(
    cd fuzz
    export RUSTC_BOOTSTRAP=1
    cargo fuzz build
    for target in $(cargo fuzz list); do
        seconds="${TUS_FUZZ_SECONDS:-10}"
        if [[ $target == stateful ]]; then seconds="${TUS_FUZZ_STATEFUL_SECONDS:-30}"; fi
        echo "-- fuzz $target for ${seconds}s"
        mkdir -p "$FUZZ_SCRATCH/$target"
        if ! cargo fuzz run "$target" "$FUZZ_SCRATCH/$target" "corpus/$target" -- \
            -max_total_time="$seconds" -max_len=512 -timeout=10 -print_final_stats=1 \
            >"$FUZZ_SCRATCH/$target.log" 2>&1; then
            grep -A12 -E 'panicked at|ERROR: AddressSanitizer|ERROR: libFuzzer' "$FUZZ_SCRATCH/$target.log" >&2 ||
                tail -n 60 "$FUZZ_SCRATCH/$target.log" >&2
            echo "fuzz target $target failed; its input is in fuzz/artifacts/$target/" >&2
            exit 1
        fi
        grep -E '^(Done|stat::number_of_executed_units)' "$FUZZ_SCRATCH/$target.log" || true
    done
)
