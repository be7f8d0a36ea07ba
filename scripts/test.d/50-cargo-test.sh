# Unit, scenario, store-suite and HTTP tests of every workspace crate.
cargo test --workspace
