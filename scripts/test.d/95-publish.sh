# Publishing: every library crate is packaged and built from its package as
# crates.io would (`cargo publish --dry-run`, which also builds each crate on
# its own, without its workspace siblings' features), documented as docs.rs
# documents it (all features, `--cfg docsrs` for the feature badges), and
# keeps the declared MSRV; the embedding examples build.
#
#   TUS_PUBLISH_VERIFY=0  package without building the packages (faster; the
#                         verify build compiles the dependencies once more
#                         with each crate's own features, ~3-6 min uncached)
PUBLISHED=(tus-core tus-rs-server tus-rs-client tus-store-fs tus-store-s3 tus-lock-redis)
publish_args=()
for crate in "${PUBLISHED[@]}"; do publish_args+=(-p "$crate"); done

echo "-- MSRV: no locked dependency needs a newer Rust than rust-version"
cargo metadata --format-version 1 --locked | python3 scripts/check_msrv.py
# Our own use of std is checked against rust-version by clippy's
# `incompatible_msrv` lint (on by default; .ci/run denies warnings).

echo "-- cargo publish --dry-run ${PUBLISHED[*]}"
publish_started=$(date +%s)
verify=()
if [[ "${TUS_PUBLISH_VERIFY:-1}" == 0 ]]; then verify=(--no-verify); fi
cargo publish --dry-run --locked "${verify[@]}" "${publish_args[@]}"
for crate in "${PUBLISHED[@]}"; do
    listed="$(cargo package --list --locked -p "$crate")"
    for file in README.md LICENSE-MIT LICENSE-APACHE Cargo.toml src/lib.rs; do
        grep -qx "$file" <<<"$listed" || { echo "$crate: $file missing from the package" >&2; exit 1; }
    done
done
echo "-- packaged in $(($(date +%s) - publish_started)) s"

echo "-- docs as docs.rs builds them (all features, --cfg docsrs; doc_cfg needs RUSTC_BOOTSTRAP on stable)"
# A target dir of its own: build scripts such as proc-macro2's rerun when
# RUSTC_BOOTSTRAP changes, which would rebuild the main target dir's crates.
DOCSRS_TARGET="$TARGET_DIR/docsrs"
RUSTC_BOOTSTRAP=1 RUSTDOCFLAGS="--cfg docsrs -D warnings" CARGO_TARGET_DIR="$DOCSRS_TARGET" \
    cargo doc --no-deps --all-features --locked "${publish_args[@]}"
for page in struct.Metrics.html fn.spawn_reaper.html struct.TokioTimer.html; do
    grep -q "Available on" "$DOCSRS_TARGET/doc/tus_server/$page" ||
        { echo "tus-server docs: $page lacks its feature badge" >&2; exit 1; }
done

echo "-- cargo build --examples (the guide's complete embedding examples)"
cargo build --locked -p tus-axum-example -p tus-actix-example --examples
