//! The comparison as Markdown: the verdict first, then the two runs, each
//! implementation's geometric mean, every matched measurement (grouped by
//! implementation, in A's order), the unmatched ones, and the rule.

use std::fmt::Write as _;

use super::{Comparison, Row};
use crate::ratchet::Verdict;
use crate::ratchet::format::{ci_cell, fmt_g, signed_pct, variant_change};
use crate::ratchet::markdown::{regressions, write_aggregates, write_keys};
use crate::ratchet::rule_text::RuleWords;

/// A verdict in B's terms.
fn verdict_cell(v: Verdict) -> &'static str {
    match v {
        Verdict::Regressed => "**B slower**",
        Verdict::Improved => "B faster",
        Verdict::Unchanged => "same",
        Verdict::Inconclusive => "inconclusive",
    }
}

/// `1.031 (+3.10%)`: the ratio, and the change it means for B's time.
fn ratio_cell(r: f64) -> String {
    format!("{r:.3} ({})", signed_pct(r))
}

impl Comparison {
    /// `B slower (tileattn overall +3.10%; 2 of 24 measurements)`, or not.
    fn headline(&self) -> String {
        if !self.b_slower {
            return "B is not slower".into();
        }
        let slower = self
            .rows
            .iter()
            .filter(|r| r.verdict == Verdict::Regressed)
            .count();
        format!(
            "B is slower ({})",
            regressions(&self.aggregates, slower, self.rows.len())
        )
    }

    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "### tileattn compare: {}\n", self.headline());
        let _ = writeln!(s, "- A: {}", self.a.markdown());
        let _ = writeln!(s, "- B: {}\n", self.b.markdown());
        if !self.differences.is_empty() {
            let _ = writeln!(s, "**The runs differ in:**\n");
            for d in &self.differences {
                let _ = writeln!(s, "- {}", d.describe(["A", "B"]));
            }
            s.push('\n');
        }
        write_aggregates(
            &mut s,
            ["implementation (geometric mean)", "B/A"],
            self.rule.aggregate_confidence,
            &self.aggregates,
            ratio_cell,
            |v| verdict_cell(v).into(),
        );
        s.push('\n');
        let _ = writeln!(
            s,
            "| implementation | problem | L2 | variant (A → B) | A ms | B ms | B/A | CI ({}%) | verdict |\n\
             |---|---|---|---|---:|---:|---:|---|---|",
            fmt_g(self.rule.measurement_confidence * 100.0)
        );
        for r in &self.rows {
            write_row(&mut s, r);
        }
        s.push('\n');
        if self.only_a.is_empty() && self.only_b.is_empty() {
            let _ = writeln!(
                s,
                "Every measurement of each run has its match in the other.\n"
            );
        }
        write_keys(&mut s, "Only in A (not measured by B)", &self.only_a);
        write_keys(&mut s, "Only in B (not measured by A)", &self.only_b);
        self.write_rule(&mut s);
        s
    }

    /// The rule in one paragraph, with this comparison's numbers.
    fn write_rule(&self, s: &mut String) {
        s.push_str(
            &self.rule.paragraph(
                self.rows.len(),
                &RuleWords {
                    ratio: "r = B/A = median(B) / median(A) of the raw samples, above 1 when B is \
                        slower; the ratchet's rule, A as its baseline. Its CI [lo, hi]",
                    verdicts: [
                        Verdict::Regressed,
                        Verdict::Improved,
                        Verdict::Unchanged,
                        Verdict::Inconclusive,
                    ]
                    .map(verdict_cell),
                    aggregate: "geometric mean",
                    fails: "`tileattn compare` exits 1 if a measurement or a geometric mean is B \
                        slower; when nothing got slower by more than half the threshold, that \
                        happens",
                },
            ),
        );
    }
}

fn write_row(s: &mut String, r: &Row) {
    let _ = writeln!(
        s,
        "| {} | {} | {} | {} | {:.4} | {:.4} | {} | {} | {} |",
        r.implementation,
        r.problem.label(),
        r.mode.name(),
        variant_change(r.a_variant.as_deref(), r.b_variant.as_deref()),
        r.a_median_ms,
        r.b_median_ms,
        ratio_cell(r.ratio.ratio),
        ci_cell(&r.ratio),
        verdict_cell(r.verdict)
    );
}
