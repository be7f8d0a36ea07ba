# The guide (docs/, an mdBook): every chapter listed in docs/src/SUMMARY.md
# must exist (book.toml sets create-missing = false, and this part checks it
# first with a clear message), and the book must build.
#
# mdbook is installed from crates.io when missing (pinned; cached in
# ~/.cargo/bin) without its default features (serve, watch, search: the book
# is only built here, never served or searched), and in the dev profile
# without debug info: the compile takes a third of a release build's
# (measured on 2 busy cores: 32 s against 93-112 s wall, 36 s against 103 s
# of CPU), and building this small book takes well under a second either way
# (the HTML is the same byte for byte).
MDBOOK_VERSION=0.5.4
if ! mdbook --version 2>/dev/null | grep -qF "v$MDBOOK_VERSION"; then
    book_started=$(date +%s)
    CARGO_PROFILE_DEV_DEBUG=0 cargo install --locked "mdbook@$MDBOOK_VERSION" --no-default-features --debug
    echo "-- mdbook installed in $(($(date +%s) - book_started)) s"
fi
missing=0
while IFS= read -r chapter; do
    if [[ ! -f "docs/src/$chapter" ]]; then
        echo "96-book: docs/src/SUMMARY.md lists $chapter, which does not exist" >&2
        missing=1
    fi
done < <(grep -oE '\]\([^)]+\.md\)' docs/src/SUMMARY.md | sed -E 's/^\]\((.*)\)$/\1/')
if [[ $missing != 0 ]]; then exit 1; fi
BOOK_OUT="$TARGET_DIR/book"
mdbook build docs --dest-dir "$BOOK_OUT"
echo "-- the guide is in $BOOK_OUT/index.html"
