# Publishing: every library crate is packaged and built from its package as
# crates.io would (`cargo publish --dry-run`, which also builds each crate on
# its own, without its workspace siblings' features), its docs are built as
# docs.rs builds them, and the declared MSRV holds.
#
# What it costs, and why so little (measured on 2 busy cores, after
# 50-cargo-test.sh as in CI; before -> after: 351 s -> about 150 s):
# - the verify builds run in the main target dir, and .cargo/config.toml gives
#   them the test build's profile, so they compile only what a crate's own
#   feature set changes (62 units, mostly the tokio/hyper/AWS stack of the S3
#   crate and reqwest's of the client) instead of every dependency once more
#   with debug info (325 units): 267 s -> 143 s. Nothing is verified less.
# - docs.rs's `--cfg docsrs` build (nightly `doc_cfg`, hence RUSTC_BOOTSTRAP
#   and a target dir of its own) covers the crates whose code reads
#   `cfg(docsrs)` or that have a feature off by default (computed below; today
#   tus-core and tus-rs-server): 69 s -> 9 s. For the others docs.rs documents
#   the same code and features as `.ci/run`'s `cargo doc --workspace
#   --no-deps` (-D warnings); run alone, this part leaves their docs to that
#   step.
# - the embedding examples are not built again here: `cargo test --workspace`
#   (50-cargo-test.sh) builds every example and clippy --all-targets lints
#   them (15 s saved).
#
#   TUS_PUBLISH_VERIFY=0  package without building the packages (faster)
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
# The dry run verifies each package against the others through a local
# registry. Cargo treats registry packages as immutable: it unpacks them
# under $CARGO_HOME/registry/src/-HASH/ once per name and version, and reuses
# their build in the target directory without looking at the sources, so a
# machine that ran this part before would verify against old code. Remove
# both first (cargo clean -p removes every build of those names).
for crate in "${PUBLISHED[@]}"; do
    rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/"$crate"-[0-9]*
done
cargo clean --quiet "${publish_args[@]}"
cargo publish --dry-run --locked "${verify[@]}" "${publish_args[@]}"
for crate in "${PUBLISHED[@]}"; do
    listed="$(cargo package --list --locked -p "$crate")"
    for file in README.md LICENSE-MIT LICENSE-APACHE Cargo.toml src/lib.rs; do
        grep -qx "$file" <<<"$listed" || { echo "$crate: $file missing from the package" >&2; exit 1; }
    done
done
echo "-- packaged in $(($(date +%s) - publish_started)) s"

# The published crates whose docs.rs build can differ from the workspace's
# `cargo doc`: those whose code reads cfg(docsrs), or with a feature that is
# off by default (docs.rs turns on all).
docsrs_args=()
while IFS= read -r name; do docsrs_args+=(-p "$name"); done < <(
    cargo metadata --format-version 1 --locked --no-deps | python3 -c '
import json, os, re, sys
published = set(sys.argv[1:])
for package in json.load(sys.stdin)["packages"]:
    if package["name"] not in published:
        continue
    features = package["features"]
    off_by_default = set(features) - {"default"} - set(features.get("default", []))
    src = os.path.join(os.path.dirname(package["manifest_path"]), "src")
    reads_docsrs = any(
        re.search(r"cfg(_attr)?\(docsrs", open(os.path.join(root, name), encoding="utf-8").read())
        for root, _, names in os.walk(src) for name in names if name.endswith(".rs")
    )
    if off_by_default or reads_docsrs:
        print(package["name"])
' "${PUBLISHED[@]}")
[[ " ${docsrs_args[*]} " == *" tus-rs-server "* ]] || { echo "95-publish: tus-rs-server must be in the docs.rs build" >&2; exit 1; }
echo "-- docs as docs.rs builds them (all features, --cfg docsrs; doc_cfg needs RUSTC_BOOTSTRAP on stable): ${docsrs_args[*]}"
# A target dir of its own: build scripts such as proc-macro2's rerun when
# RUSTC_BOOTSTRAP changes, which would rebuild the main target dir's crates.
docs_started=$(date +%s)
DOCSRS_TARGET="$TARGET_DIR/docsrs"
RUSTC_BOOTSTRAP=1 RUSTDOCFLAGS="--cfg docsrs -D warnings" CARGO_TARGET_DIR="$DOCSRS_TARGET" \
    cargo doc --no-deps --all-features --locked "${docsrs_args[@]}"
for page in struct.Metrics.html fn.spawn_reaper.html struct.TokioTimer.html; do
    grep -q "Available on" "$DOCSRS_TARGET/doc/tus_server/$page" ||
        { echo "tus-server docs: $page lacks its feature badge" >&2; exit 1; }
done
echo "-- documented in $(($(date +%s) - docs_started)) s"
