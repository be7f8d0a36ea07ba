//! The README's embedding snippets are the compiled minimal examples,
//! verbatim, and its client snippet is the client README's doctest, so
//! they cannot rot.

use std::path::Path;

fn read(path: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// The bodies of the README's ```rust blocks, in order.
fn rust_blocks(markdown: &str) -> Vec<String> {
    fenced_blocks(markdown, "```rust")
}

/// The bodies of the blocks that open with exactly `opener`, in order.
fn fenced_blocks(markdown: &str, opener: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in markdown.lines() {
        match &mut current {
            None if line.trim_end() == opener => current = Some(Vec::new()),
            None => {}
            Some(lines) if line.trim_end() == "```" => {
                blocks.push(lines.join("\n"));
                current = None;
            }
            Some(lines) => lines.push(line),
        }
    }
    blocks
}

/// The lines of `source` between `// ANCHOR: name` and `// ANCHOR_END: name`.
fn anchored(source: &str, name: &str) -> String {
    let start = format!("// ANCHOR: {name}");
    let end = format!("// ANCHOR_END: {name}");
    let lines: Vec<&str> = source
        .lines()
        .skip_while(|line| line.trim() != start)
        .skip(1)
        .take_while(|line| line.trim() != end)
        .collect();
    assert!(!lines.is_empty(), "no anchor {name}");
    lines.join("\n")
}

#[test]
fn readme_embedding_snippets_are_the_compiled_minimal_examples() {
    let blocks = rust_blocks(&read("README.md"));
    assert_eq!(blocks.len(), 2, "the README has an axum and an actix-web snippet");

    let axum = read("examples/axum/examples/minimal_axum.rs");
    let from_use = &axum[axum.find("use ").expect("use lines")..];
    assert_eq!(
        blocks[0].trim(),
        from_use.trim(),
        "README axum snippet == minimal_axum.rs"
    );

    let actix = read("examples/actix/examples/minimal_actix.rs");
    assert_eq!(
        blocks[1].trim(),
        anchored(&actix, "main").trim(),
        "README actix-web snippet == minimal_actix.rs (main)"
    );
}

#[test]
fn readme_client_snippet_is_the_client_readme_doctest() {
    let readme = fenced_blocks(&read("README.md"), "```rust,no_run");
    let client = fenced_blocks(&read("tus-client/README.md"), "```rust,no_run");
    assert_eq!(readme.len(), 1, "the README has one client snippet");
    assert!(
        client.contains(&readme[0]),
        "the README's client snippet is a doctest of tus-client/README.md"
    );
}
