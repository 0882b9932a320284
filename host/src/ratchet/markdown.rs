//! Markdown pieces of the ratchet's report that `tileattn compare`'s shares:
//! the table of geometric means, what regressed, lists of measurements.

use std::fmt::Write as _;

use super::decision::Aggregate;
use super::format::{ci_cell, fmt_g, signed_pct};
use super::matching::Key;
use super::rule::Verdict;

/// The table of each implementation's geometric mean: `first` heads its
/// first column, `ratio` its third; `ratio` and `verdict` write those cells.
pub fn write_aggregates(
    s: &mut String,
    [first, ratio_head]: [&str; 2],
    confidence: f64,
    aggregates: &[Aggregate],
    ratio: impl Fn(f64) -> String,
    verdict: impl Fn(Verdict) -> String,
) {
    let _ = writeln!(
        s,
        "| {first} | measurements | {ratio_head} | CI ({}%) | verdict |\n|---|---:|---:|---|---|",
        fmt_g(confidence * 100.0)
    );
    for a in aggregates {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            a.implementation,
            a.measurements,
            ratio(a.ratio.ratio),
            ci_cell(&a.ratio),
            verdict(a.verdict)
        );
    }
}

/// What got slower, for a headline: `tileattn overall +3.10%; 2 of 24
/// measurements` (the implementations whose geometric mean regressed, then
/// the count of regressed measurements).
pub fn regressions(aggregates: &[Aggregate], regressed: usize, measurements: usize) -> String {
    let mut what: Vec<String> = aggregates
        .iter()
        .filter(|a| a.verdict == Verdict::Regressed)
        .map(|a| format!("{} overall {}", a.implementation, signed_pct(a.ratio.ratio)))
        .collect();
    what.push(format!("{regressed} of {measurements} measurements"));
    what.join("; ")
}

/// A bold title with the count, then one bullet per measurement; nothing when empty.
pub fn write_keys(s: &mut String, title: &str, keys: &[Key]) {
    if keys.is_empty() {
        return;
    }
    let _ = writeln!(s, "**{title}:** {}\n", keys.len());
    for k in keys {
        let _ = writeln!(s, "- {k}");
    }
    s.push('\n');
}
