//! Helpers shared by the CLI integration tests.

// Each test file is its own crate and uses a subset of these.
#![allow(dead_code)]

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

/// The command exited with `code`, said `needle` on stderr, and did not panic.
#[track_caller]
pub fn assert_exit(out: &Output, code: i32, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {stderr}");
    assert!(stderr.contains(needle), "expected `{needle}` in: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
