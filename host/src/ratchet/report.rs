//! The ratchet's report: JSON for machines, Markdown for a pull-request
//! comment, worst regressions first.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::matching::{Comparison, Key, Mismatch, Row};
use super::rule::{Rule, Verdict};
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
    pub threshold: f64,
    pub confidence: f64,
    pub resamples: usize,
    pub baseline: Side,
    pub current: Side,
    /// Differences the user allowed (`--allow-mismatch`, `--allow-kernel-change`).
    pub mismatches: Vec<Mismatch>,
    pub counts: Counts,
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
            threshold: rule.threshold,
            confidence: rule.bootstrap.confidence,
            resamples: rule.bootstrap.resamples,
            baseline,
            current,
            mismatches,
            counts,
            rows,
            only_baseline: comparison.only_baseline,
            only_current: comparison.only_current,
            updated,
        }
    }

    pub fn regressed(&self) -> bool {
        self.counts.regressed > 0
    }

    /// The report as a pull-request comment.
    pub fn markdown(&self) -> String {
        let c = &self.counts;
        let mut s = String::new();
        let headline = if self.regressed() {
            format!("{} regressed", c.regressed)
        } else {
            "no regression".into()
        };
        let _ = writeln!(s, "### tileattn performance ratchet: {headline}\n");
        let _ = writeln!(
            s,
            "**{} regressed**, {} inconclusive, {} unchanged, {} improved; \
             {} only in the baseline, {} only in the current run.\n",
            c.regressed, c.inconclusive, c.unchanged, c.improved, c.only_baseline, c.only_current
        );
        self.write_sides(&mut s);
        let t = self.threshold;
        let _ = writeln!(
            s,
            "Rule: r = median(current) / median(baseline) with its {}% bootstrap CI [lo, hi] \
             ({} resamples), threshold {}: **regressed** if lo > {} and r > {}; **improved** if \
             hi < {} and r < {}; **unchanged** if the CI lies within [{}, {}]; else \
             **inconclusive**. A change of at most half the threshold is called a regression \
             with probability at most {}%.\n",
            fmt_g(self.confidence * 100.0),
            self.resamples,
            fmt_pct(t),
            fmt_g(1.0 + t / 2.0),
            fmt_g(1.0 + t),
            fmt_g(1.0 - t / 2.0),
            fmt_g(1.0 - t),
            fmt_g(1.0 - t),
            fmt_g(1.0 + t),
            fmt_g((1.0 - self.confidence) / 2.0 * 100.0),
        );
        if !self.mismatches.is_empty() {
            let _ = writeln!(s, "**Compared although the runs differ in:**\n");
            for m in &self.mismatches {
                let _ = writeln!(s, "- {m}");
            }
            s.push('\n');
        }
        let (shown, unchanged): (Vec<&Row>, Vec<&Row>) = self
            .rows
            .iter()
            .partition(|r| r.judgement.verdict != Verdict::Unchanged);
        if !shown.is_empty() {
            write_table(&mut s, &shown);
        }
        if !unchanged.is_empty() {
            let _ = writeln!(
                s,
                "<details><summary>{} unchanged</summary>\n",
                unchanged.len()
            );
            write_table(&mut s, &unchanged);
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

    fn write_sides(&self, s: &mut String) {
        for (name, side) in [("Baseline", &self.baseline), ("Current", &self.current)] {
            let _ = writeln!(
                s,
                "- {name}: `{}` (suite {}, {}; {}, driver {}; tileattn {}, kernels {}{})",
                side.path,
                side.suite,
                side.created_utc,
                side.gpu_name,
                side.driver_version,
                side.tileattn_commit,
                short(&side.kernel_build),
                side.torch_version
                    .as_deref()
                    .map(|t| format!("; torch {t}"))
                    .unwrap_or_default()
            );
        }
        s.push('\n');
    }
}

fn write_table(s: &mut String, rows: &[&Row]) {
    let _ = writeln!(
        s,
        "| verdict | measurement | baseline ms | current ms | change | CI | variant |"
    );
    let _ = writeln!(s, "|---|---|---:|---:|---:|---|---|");
    for r in rows {
        let j = &r.judgement;
        let verdict = match j.verdict {
            Verdict::Regressed => "**regressed**".to_string(),
            v => v.name().to_string(),
        };
        let variant = match (&r.baseline_variant, &r.current_variant) {
            (Some(b), Some(c)) if b == c => format!("`{c}`"),
            (Some(b), Some(c)) => format!("`{b}` → `{c}`"),
            (None, None) => "—".into(),
            (b, c) => format!(
                "`{}` → `{}`",
                b.as_deref().unwrap_or("—"),
                c.as_deref().unwrap_or("—")
            ),
        };
        let _ = writeln!(
            s,
            "| {verdict} | {} | {:.4} | {:.4} | {} | {} … {} | {variant} |",
            r.key,
            r.baseline_median_ms,
            r.current_median_ms,
            signed_pct(j.ratio.ratio),
            signed_pct(j.ratio.lo),
            signed_pct(j.ratio.hi),
        );
    }
    s.push('\n');
}

fn write_keys(s: &mut String, title: &str, keys: &[Key]) {
    if keys.is_empty() {
        return;
    }
    let _ = writeln!(s, "**{title}:** {}\n", keys.len());
    for k in keys {
        let _ = writeln!(s, "- {k}");
    }
    s.push('\n');
}

/// A ratio as a signed change: 1.0312 → `+3.12%`.
fn signed_pct(ratio: f64) -> String {
    format!("{:+.2}%", (ratio - 1.0) * 100.0)
}

/// A fraction as a percentage without needless digits: 0.02 → `2%`.
fn fmt_pct(x: f64) -> String {
    format!("{}%", fmt_g(x * 100.0))
}

/// A number with at most 4 decimals and no trailing zeros.
fn fmt_g(x: f64) -> String {
    let s = format!("{x:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// The first 12 hex digits of a hash, enough to tell builds apart in a comment.
fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_formats() {
        assert_eq!(signed_pct(1.0312), "+3.12%");
        assert_eq!(signed_pct(0.95), "-5.00%");
        assert_eq!(fmt_pct(0.02), "2%");
        assert_eq!(fmt_pct(0.005), "0.5%");
        assert_eq!(fmt_g(1.02), "1.02");
        assert_eq!(fmt_g(95.0), "95");
        assert_eq!(short("abc"), "abc");
        assert_eq!(short("0123456789abcdef"), "0123456789ab");
    }
}

#[cfg(test)]
mod report_tests {
    use super::*;
    use crate::ratchet::compare;
    use crate::runfile::CacheMode;

    #[test]
    fn regressions_come_first_and_the_markdown_says_everything() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../results/h100/fa2.json");
        let base = RunFile::load(&path).unwrap();
        let mut cur = base.clone();
        for (i, f) in [(0, 1.05), (1, 1.2), (2, 0.9)] {
            for x in &mut cur.measurements[i].samples_ms {
                *x *= f;
            }
        }
        cur.measurements[3].mode = CacheMode::Hot;
        let rule = Rule::new(0.02, 0.95).unwrap();
        let c = compare(&base, &cur, &rule).unwrap();
        let r = Report::new(
            &rule,
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
                inconclusive: 0,
                unchanged: 92,
                improved: 1,
                only_baseline: 1,
                only_current: 1
            }
        );
        assert!(r.regressed());
        let md = r.markdown();
        for needle in [
            "### tileattn performance ratchet: 2 regressed",
            "**2 regressed**, 0 inconclusive, 92 unchanged, 1 improved; 1 only in the baseline, 1 only in the current run.",
            "regressed** if lo > 1.01 and r > 1.02",
            "| **regressed** | torch-flash B=32 Hq=32 Hkv=32 Sq=512 Sk=512 D=64 bf16 cold | 0.2661 | 0.3194 | +20.00% |",
            "<details><summary>92 unchanged</summary>",
            "**Only in the baseline (not measured by the current run):** 1",
            "- Baseline: `base.json` (suite fa2, 2026-11-24T23:16:03Z; NVIDIA H100 80GB HBM3, driver 13.0; tileattn d264e609e001, kernels 6959723731ec; torch 2.11.0+cu130)",
        ] {
            assert!(md.contains(needle), "`{needle}` not in:\n{md}");
        }
        let back: Report = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
    }
}
