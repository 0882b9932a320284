//! The ratchet's report: JSON for machines, Markdown for a pull-request
//! comment, the run-level aggregates first, then the measurements, worst
//! first.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::decision::{Aggregate, run_regressed};
use super::drift::DriftSource;
use super::format::{ci_cell, short, signed_pct, variant_change};
use super::markdown::{regressions, write_aggregates, write_keys};
use super::matching::{Comparison, Key, Mismatch, Row};
use super::rule::{Rule, Verdict};
use super::rule_text::{RuleSetting, RuleWords};
use crate::runfile::RunFile;

/// One side of the comparison, as the report names it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Side {
    pub path: String,
    pub suite: String,
    pub created_utc: String,
    pub gpu_name: String,
    pub driver_version: String,
    pub tileattn_commit: String,
    pub kernel_build: String,
    pub torch_version: Option<String>,
}

impl Side {
    /// `` `path` (suite fa2, 2026-…; GPU, driver 580; tileattn abc, kernels 0123…; torch 2.9) ``
    pub fn markdown(&self) -> String {
        format!(
            "`{}` (suite {}, {}; {}, driver {}; tileattn {}, kernels {}{})",
            self.path,
            self.suite,
            self.created_utc,
            self.gpu_name,
            self.driver_version,
            self.tileattn_commit,
            short(&self.kernel_build),
            self.torch_version
                .as_deref()
                .map(|t| format!("; torch {t}"))
                .unwrap_or_default()
        )
    }

    pub fn of(path: &str, run: &RunFile) -> Side {
        let e = &run.env;
        Side {
            path: path.into(),
            suite: run.suite.clone(),
            created_utc: run.created_utc.clone(),
            gpu_name: e.gpu_name.clone(),
            driver_version: e.driver_version.clone(),
            tileattn_commit: e.tileattn_commit.clone(),
            kernel_build: e.kernel_build.clone(),
            torch_version: e.torch_version.clone(),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub regressed: usize,
    pub inconclusive: usize,
    pub unchanged: usize,
    pub improved: usize,
    pub only_baseline: usize,
    pub only_current: usize,
}

/// Everything `tileattn ratchet` found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    #[serde(flatten)]
    pub rule: RuleSetting,
    pub baseline: Side,
    pub current: Side,
    /// Differences the user allowed (`--allow-mismatch`, `--allow-kernel-change`).
    pub mismatches: Vec<Mismatch>,
    pub counts: Counts,
    /// One per implementation, in the baseline's order.
    pub aggregates: Vec<Aggregate>,
    /// Worst first: regressed, inconclusive, unchanged, improved; slowest
    /// ratio first within each.
    pub rows: Vec<Row>,
    pub only_baseline: Vec<Key>,
    pub only_current: Vec<Key>,
    /// Measurements `--update` raised or added in the baseline file.
    pub updated: Vec<Key>,
}

impl Report {
    pub fn new(
        rule: &Rule,
        drift_source: DriftSource,
        baseline: Side,
        current: Side,
        mismatches: Vec<Mismatch>,
        comparison: Comparison,
        updated: Vec<Key>,
    ) -> Report {
        let mut rows = comparison.rows;
        rows.sort_by(|a, b| {
            let (ja, jb) = (&a.judgement, &b.judgement);
            ja.verdict
                .cmp(&jb.verdict)
                .then(jb.ratio.ratio.total_cmp(&ja.ratio.ratio))
        });
        let count = |v| rows.iter().filter(|r| r.judgement.verdict == v).count();
        let counts = Counts {
            regressed: count(Verdict::Regressed),
            inconclusive: count(Verdict::Inconclusive),
            unchanged: count(Verdict::Unchanged),
            improved: count(Verdict::Improved),
            only_baseline: comparison.only_baseline.len(),
            only_current: comparison.only_current.len(),
        };
        Report {
            rule: RuleSetting::new(rule, drift_source, rows.len(), comparison.aggregates.len()),
            baseline,
            current,
            mismatches,
            counts,
            aggregates: comparison.aggregates,
            rows,
            only_baseline: comparison.only_baseline,
            only_current: comparison.only_current,
            updated,
        }
    }

    /// The run fails: a measurement or an aggregate regressed.
    pub fn regressed(&self) -> bool {
        run_regressed(
            self.rows.iter().map(|r| r.judgement.verdict),
            &self.aggregates,
        )
    }

    /// `no regression`, or what regressed.
    fn headline(&self) -> String {
        if !self.regressed() {
            return "no regression".into();
        }
        format!(
            "regressed ({})",
            regressions(&self.aggregates, self.counts.regressed, self.rows.len())
        )
    }

    /// The report as a pull-request comment.
    pub fn markdown(&self) -> String {
        let c = &self.counts;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "### tileattn performance ratchet: {}
",
            self.headline()
        );
        write_aggregates(
            &mut s,
            ["overall (geometric mean of the ratios)", "change"],
            self.rule.aggregate_confidence,
            &self.aggregates,
            signed_pct,
            verdict_cell,
        );
        let _ = writeln!(
            s,
            "\nMeasurements: **{} regressed**, {} inconclusive, {} unchanged, {} improved; \
             {} only in the baseline, {} only in the current run.\n",
            c.regressed, c.inconclusive, c.unchanged, c.improved, c.only_baseline, c.only_current
        );
        self.write_sides(&mut s);
        self.write_rule(&mut s);
        if !self.mismatches.is_empty() {
            let _ = writeln!(s, "**Compared although the runs differ in:**\n");
            for m in &self.mismatches {
                let _ = writeln!(s, "- {m}");
            }
            s.push('\n');
        }
        // Verdicts first; rows that are neither regressed nor improved fold
        // away, since with drift most rows of a run are inconclusive.
        let of = |v: Verdict| -> Vec<&Row> {
            self.rows
                .iter()
                .filter(|r| r.judgement.verdict == v)
                .collect()
        };
        let decided: Vec<&Row> = [Verdict::Regressed, Verdict::Improved]
            .into_iter()
            .flat_map(of)
            .collect();
        if !decided.is_empty() {
            write_table(&mut s, &decided);
        }
        for (v, why) in [
            (
                Verdict::Inconclusive,
                "the CI reaches past the threshold: not resolved by one run each; slowest first",
            ),
            (Verdict::Unchanged, "the CI lies within the threshold"),
        ] {
            let rows = of(v);
            if rows.is_empty() {
                continue;
            }
            let _ = writeln!(
                s,
                "<details><summary>{} {} ({why})</summary>\n",
                rows.len(),
                v.name()
            );
            write_table(&mut s, &rows);
            let _ = writeln!(s, "</details>\n");
        }
        write_keys(
            &mut s,
            "Only in the baseline (not measured by the current run)",
            &self.only_baseline,
        );
        write_keys(
            &mut s,
            "Only in the current run (no baseline value)",
            &self.only_current,
        );
        write_keys(&mut s, "Baseline updated (`--update`) for", &self.updated);
        s
    }

    /// The rule in one paragraph, with this comparison's numbers.
    fn write_rule(&self, s: &mut String) {
        s.push_str(&self.rule.paragraph(
            self.rows.len(),
            &RuleWords {
                ratio: "Rule: r = median(current) / median(baseline). Its CI [lo, hi]",
                verdicts: [
                    "**regressed**",
                    "**improved**",
                    "**unchanged**",
                    "**inconclusive**",
                ],
                aggregate: "overall line",
                fails: "The run fails if a measurement or an overall line regressed; a run in \
                        which nothing got slower by more than half the threshold fails",
            },
        ));
        s.push('\n');
    }

    fn write_sides(&self, s: &mut String) {
        for (name, side) in [("Baseline", &self.baseline), ("Current", &self.current)] {
            let _ = writeln!(s, "- {name}: {}", side.markdown());
        }
        s.push('\n');
    }
}

/// A verdict as a table cell: regressions in bold.
fn verdict_cell(v: Verdict) -> String {
    match v {
        Verdict::Regressed => "**regressed**".into(),
        v => v.name().into(),
    }
}

fn write_table(s: &mut String, rows: &[&Row]) {
    let _ = writeln!(
        s,
        "| verdict | measurement | baseline ms | current ms | change | CI | within-run CI | variant |"
    );
    let _ = writeln!(s, "|---|---|---:|---:|---:|---|---|---|");
    for r in rows {
        let j = &r.judgement;
        let verdict = verdict_cell(j.verdict);
        let variant = variant_change(r.baseline_variant.as_deref(), r.current_variant.as_deref());
        let _ = writeln!(
            s,
            "| {verdict} | {} | {:.4} | {:.4} | {} | {} | {} | {variant} |",
            r.key,
            r.baseline_median_ms,
            r.current_median_ms,
            signed_pct(j.ratio.ratio),
            ci_cell(&j.ratio),
            ci_cell(&j.within_run),
        );
    }
    s.push('\n');
}

#[cfg(test)]
mod report_tests {
    use super::*;
    use crate::ratchet::compare;
    use crate::ratchet::drift::DEFAULT_DRIFT;
    use crate::runfile::{CacheMode, committed_run};

    #[test]
    fn regressions_come_first_and_the_markdown_says_everything() {
        let base = committed_run("fa2.json");
        let mut cur = base.clone();
        for (i, f) in [(0, 1.15), (1, 1.2), (2, 0.85)] {
            for x in &mut cur.measurements[i].samples_ms {
                *x *= f;
            }
        }
        cur.measurements[3].mode = CacheMode::Hot;
        let rule = Rule::new(0.02, 0.95, DEFAULT_DRIFT).unwrap();
        let c = compare(&base, &cur, &rule).unwrap();
        let r = Report::new(
            &rule,
            DriftSource::Default,
            Side::of("base.json", &base),
            Side::of("cur.json", &cur),
            Vec::new(),
            c,
            Vec::new(),
        );
        let verdicts: Vec<Verdict> = r.rows.iter().map(|r| r.judgement.verdict).collect();
        assert_eq!(&verdicts[..2], [Verdict::Regressed; 2]);
        assert_eq!(
            r.rows[0].key,
            Key::of(&base.measurements[1]),
            "worst (+20%) first"
        );
        assert_eq!(verdicts.last(), Some(&Verdict::Improved));
        assert_eq!(
            r.counts,
            Counts {
                regressed: 2,
                inconclusive: 88,
                unchanged: 4,
                improved: 1,
                only_baseline: 1,
                only_current: 1
            }
        );
        assert!(r.regressed());
        let md = r.markdown();
        for needle in [
            "### tileattn performance ratchet: regressed (2 of 95 measurements)",
            "| overall (geometric mean of the ratios) | measurements | change | CI (98.75%) | verdict |",
            "| tileattn | 24 | +0.58% | -0.22% … +1.39% | unchanged |",
            "Measurements: **2 regressed**, 88 inconclusive, 4 unchanged, 1 improved; 1 only in the baseline, 1 only in the current run.",
            "at 99.9474% per measurement (95% over 95 measurements, Bonferroni) and 98.75% per overall line",
            "from the built-in default",
            "regressed** if lo > 1.01 and r > 1.02",
            "| **regressed** | torch-flash B=32 Hq=32 Hkv=32 Sq=512 Sk=512 D=64 bf16 cold | 0.2661 | 0.3194 | +20.00% | +10.02% … +30.88% | +19.48% … +20.49% | — |",
            "<details><summary>88 inconclusive (",
            "<details><summary>4 unchanged (",
            "**Only in the baseline (not measured by the current run):** 1",
            "- Baseline: `base.json` (suite fa2, 2026-11-24T23:16:03Z; NVIDIA H100 80GB HBM3, driver 13.0; tileattn d264e609e001, kernels 6959723731ec; torch 2.11.0+cu130)",
        ] {
            assert!(md.contains(needle), "`{needle}` not in:\n{md}");
        }
        // A shared slowdown fails the run through its aggregate, even where
        // most rows cannot resolve it, and the headline says so.
        let mut uniform = base.clone();
        for m in uniform
            .measurements
            .iter_mut()
            .filter(|m| m.implementation == "tileattn")
        {
            for x in &mut m.samples_ms {
                *x *= 1.04;
            }
        }
        let c = compare(&base, &uniform, &rule).unwrap();
        let u = Report::new(
            &rule,
            DriftSource::Default,
            Side::of("base.json", &base),
            Side::of("uniform.json", &uniform),
            Vec::new(),
            c,
            Vec::new(),
        );
        assert!(
            u.counts.inconclusive > 2 * u.counts.regressed,
            "{:?}",
            u.counts
        );
        assert_eq!(u.aggregates[0].verdict, Verdict::Regressed);
        let headline = format!(
            "### tileattn performance ratchet: regressed (tileattn overall +4.00%; {} of 96 measurements)",
            u.counts.regressed
        );
        assert!(u.markdown().contains(&headline), "{}", u.markdown());
        let back: Report = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
    }
}
