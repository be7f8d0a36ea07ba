//! `tus-actix`: work in progress.

fn main() {}
