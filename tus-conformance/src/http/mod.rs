//! HTTP tests against a server binary (cargo feature `http`): the protocol
//! scenarios over real TCP, plus what only a real server shows (`Expect:
//! 100-continue`, cut connections, crash and SIGTERM recovery, auth,
//! metrics). Each example server's tests call the [`suite`] functions with
//! the path of its binary, so every example passes the same tests.
//!
//! The binary must take the flags of the examples: `--listen`,
//! `--base-path`, `--dir`, `--max-size`, `--expire-after`,
//! `--shutdown-timeout`, `--auth-token`, `--trust-forwarded`.

mod server;
pub mod suite;

pub use server::{HyperTransport, Server};
