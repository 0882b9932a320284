//! What the emulator tests share.

use std::sync::Mutex;

/// Failures found inside a kernel, checked after the launch (a panic inside an
/// emulated thread would only say which assertion failed, not for which lane).
#[derive(Default)]
pub struct Failures(Mutex<Vec<String>>);

impl Failures {
    pub fn check(&self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.0.lock().unwrap().push(what());
        }
    }

    pub fn assert_none(self, test: &str) {
        let f = self.0.into_inner().unwrap();
        assert!(
            f.is_empty(),
            "{test}: {} failures, first ones:\n{}",
            f.len(),
            f.iter().take(12).cloned().collect::<Vec<_>>().join("\n")
        );
    }
}
