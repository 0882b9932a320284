//! Helpers shared by the CLI integration tests.

use std::process::{Command, Output};

/// Run the built `tileattn` with `args`. The tuning cache points at a path
/// that cannot exist, so no test reads or writes the user's cache.
pub fn tileattn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tileattn"))
        .args(args)
        .env(
            "TILEATTN_TUNE_CACHE",
            "/nonexistent/tileattn-test-cache.json",
        )
        .output()
        .unwrap()
}
