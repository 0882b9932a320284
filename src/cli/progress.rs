//! Progress on stderr for the commands that take more than a few seconds,
//! in one style. indicatif draws nothing when stderr is not a terminal, so
//! logs and tests see only the lines the commands print themselves.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A bar over `len` steps of `unit` (`cases`, `problems`, `assemblies`).
pub fn bar(len: u64, unit: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    let template = format!(
        "{{prefix}}{{bar:30}} {{pos}}/{{len}} {unit}, {{elapsed}} elapsed, ETA {{eta}}  {{msg}}"
    );
    bar.set_style(
        ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// Do `work`, one long step of unknown length, under a spinner saying `message`.
pub fn spinning<T>(message: String, work: impl FnOnce() -> T) -> T {
    let spinner = ProgressBar::new_spinner();
    spinner.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    spinner.set_message(message);
    spinner.enable_steady_tick(Duration::from_millis(120));
    let done = work();
    spinner.finish_and_clear();
    done
}

/// Print `line` on stderr without tearing `bar`. Not `bar.println`: indicatif
/// drops those when stderr is not a terminal, and a log must keep them.
pub fn say(bar: &ProgressBar, line: &str) {
    bar.suspend(|| eprintln!("{line}"));
}
