//! The Markdown report of a run: the environment it ran in, tileattn's
//! speed-up over each PyTorch backend with its bootstrap CI, every measurement
//! with its median, CI, rates, correctness verdict and flags, and the
//! autotuning behind tileattn's variants.
//!
//! Everything is computed from the run file alone, and the ratio CIs use a
//! fixed bootstrap seed, so the same run file always gives the same report
//! (`tileattn report` can rewrite it at any time).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use crate::implementations::{self, TILEATTN};
use crate::problem_key::ProblemKey;
use crate::runfile::{CacheMode, Measurement, RunFile, TuningRecord};
use crate::stats::{Bootstrap, RatioCi, bootstrap_ratio_ci};
use crate::{Result, output};

/// Write the report of `run` to `path`, atomically.
pub fn write(run: &RunFile, path: &Path) -> Result<()> {
    output::write_atomic(path, markdown(run).as_bytes())
}

/// tileattn's speed-up over one backend on one problem in one cache mode.
#[derive(Clone, Debug)]
pub struct Speedup<'a> {
    pub tileattn: &'a Measurement,
    pub backend: &'a Measurement,
    /// median(backend time) / median(tileattn time): above 1, tileattn is faster.
    /// `Err` says why there is no CI (fewer than two samples).
    pub ratio: std::result::Result<RatioCi, String>,
}

impl Speedup<'_> {
    /// `Some(true)`: faster with confidence (CI above 1); `Some(false)`:
    /// slower (CI below 1); `None`: indistinguishable or no CI.
    pub fn verdict(&self) -> Option<bool> {
        match &self.ratio {
            Ok(r) if r.lo > 1.0 => Some(true),
            Ok(r) if r.hi < 1.0 => Some(false),
            _ => None,
        }
    }
}

/// Every (tileattn, backend) pair measured on the same problem in the same
/// cache mode, in run order. Times are resampled independently (they are
/// independent measurements) at the measurements' confidence level.
pub fn speedups(run: &RunFile) -> Vec<Speedup<'_>> {
    let mut out = Vec::new();
    for t in run
        .measurements
        .iter()
        .filter(|m| m.implementation == TILEATTN)
    {
        let mut backends: Vec<&Measurement> = run
            .measurements
            .iter()
            .filter(|m| m.implementation != TILEATTN && m.problem == t.problem && m.mode == t.mode)
            .collect();
        backends.sort_by_key(|m| implementations::rank(&m.implementation));
        for b in backends {
            let boot = Bootstrap {
                confidence: t.summary.confidence,
                ..Bootstrap::default()
            };
            let ratio =
                bootstrap_ratio_ci(&b.samples_ms, &t.samples_ms, &boot).map_err(|e| e.to_string());
            out.push(Speedup {
                tileattn: t,
                backend: b,
                ratio,
            });
        }
    }
    out
}

/// The whole report.
pub fn markdown(run: &RunFile) -> String {
    let mut md = String::new();
    header(&mut md, run);
    environment(&mut md, run);
    how_to_read(&mut md, run);
    let speedups = speedups(run);
    if !speedups.is_empty() {
        speedup_section(&mut md, run, &speedups);
    }
    measurement_section(&mut md, run);
    not_measured(&mut md, run);
    if !run.tuning.is_empty() {
        tuning_section(&mut md, &run.tuning);
    }
    md
}

fn header(md: &mut String, run: &RunFile) {
    let problems: BTreeSet<&ProblemKey> = run.measurements.iter().map(|m| &m.problem).collect();
    let _ = writeln!(md, "# tileattn benchmark: suite `{}`\n", run.suite);
    let _ = writeln!(
        md,
        "Run started {} (run-file schema v{}): {} measurements of {} problems.\n",
        run.created_utc,
        run.schema_version,
        run.measurements.len(),
        problems.len()
    );
}

fn environment(md: &mut String, run: &RunFile) {
    let e = &run.env;
    md.push_str("## Environment\n\n| | |\n|---|---|\n");
    let mut row = |k: &str, v: String| {
        let _ = writeln!(md, "| {k} | {v} |");
    };
    row(
        "GPU",
        format!(
            "{} (compute capability {}, {} SMs)",
            e.gpu_name, e.compute_capability, e.sm_count
        ),
    );
    row(
        "L2 cache",
        format!(
            "{:.1} MiB ({} bytes)",
            e.l2_bytes as f64 / (1u64 << 20) as f64,
            e.l2_bytes
        ),
    );
    row(
        "Rated clocks",
        format!(
            "SM {} MHz, memory {} MHz, {}-bit bus",
            e.sm_clock_mhz, e.mem_clock_mhz, e.mem_bus_bits
        ),
    );
    row("CUDA driver", e.driver_version.clone());
    row(
        "tileattn",
        format!(
            "commit `{}`, kernel build `{}`",
            e.tileattn_commit,
            e.kernel_build.get(..12).unwrap_or(&e.kernel_build)
        ),
    );
    row(
        "PyTorch",
        e.torch_version.clone().unwrap_or_else(|| "not used".into()),
    );
    row(
        "Ceilings (tileattn's own copy and mma.sync kernels)",
        match &e.ceilings {
            Some(c) => format!(
                "copy {:.0} GB/s, mma.sync {:.1} TFLOP/s",
                c.copy_gbs, c.mma_tflops
            ),
            None => "not measured in this run".into(),
        },
    );
    md.push('\n');
}

fn how_to_read(md: &mut String, run: &RunFile) {
    let level = run
        .measurements
        .first()
        .map_or(95.0, |m| m.summary.confidence * 100.0);
    let _ = writeln!(
        md,
        "## How to read this\n\n\
- **Times** are the median of n samples with its {level:.0}% percentile-bootstrap CI. \
**cold**: L2 flushed before every sample; **hot**: back-to-back samples.\n\
- **TFLOP/s** counts 4·D FLOPs per unmasked (query, key) pair (causal runs are credited only with \
the pairs they compute); **GB/s** counts the minimum traffic (Q, K, V read once, O and LSE written once); \
both over the median time. **% mma / copy**: of the ceilings above.\n\
- **Speed-up** = median(backend time) / median(tileattn time): above 1, tileattn is faster. Its CI \
is a bootstrap of the ratio of medians, both sample sets resampled independently (2000 resamples, \
fixed seed). **faster**/**slower** when the whole CI lies above/below 1, else **≈**.\n\
- **vs reference**: relative L2 error of the output against the f64 reference on sampled rows, \
and the tolerance it must meet. A FAIL is still timed and listed, never hidden.\n\
- **L2-resident**: the working set fits in L2, so the numbers may describe the cache rather than HBM."
    );
    let above = run
        .measurements
        .iter()
        .filter(|m| above_mma_ceiling(run, m))
        .count();
    if above > 0 {
        let _ = writeln!(
            md,
            "- {above} measurement(s) run **above the mma.sync ceiling**: that ceiling is what the \
`mma.sync` instruction (tileattn's v1 kernel) reaches on this GPU, not the chip's peak; kernels built \
on Hopper's `wgmma` (tileattn's v2, cuDNN) can exceed it."
        );
    }
    md.push('\n');
}

fn above_mma_ceiling(run: &RunFile, m: &Measurement) -> bool {
    run.env
        .ceilings
        .as_ref()
        .is_some_and(|c| m.tflops > c.mma_tflops)
}

fn speedup_section(md: &mut String, run: &RunFile, speedups: &[Speedup]) {
    let backends =
        implementations::ordered(speedups.iter().map(|s| s.backend.implementation.as_str()));
    md.push_str("## tileattn vs PyTorch SDPA\n\n");
    for b in &backends {
        let of: Vec<&Speedup> = speedups
            .iter()
            .filter(|s| s.backend.implementation == *b)
            .collect();
        let count = |v: Option<bool>| of.iter().filter(|s| s.verdict() == v).count();
        let ratios: Vec<f64> = of
            .iter()
            .filter_map(|s| s.ratio.as_ref().ok().map(|r| r.ratio))
            .collect();
        let geomean =
            (ratios.iter().map(|r| r.ln()).sum::<f64>() / ratios.len().max(1) as f64).exp();
        let _ = writeln!(
            md,
            "- vs {b}: tileattn faster on {}, slower on {}, indistinguishable on {} of {} comparisons; \
geometric mean speed-up {geomean:.2}",
            count(Some(true)),
            count(Some(false)),
            count(None),
            of.len()
        );
    }
    md.push_str("\n| problem | L2 | tileattn TFLOP/s |");
    for b in &backends {
        let _ = write!(md, " vs {b} |");
    }
    md.push_str("\n|---|---|---:|");
    for _ in &backends {
        md.push_str("---:|");
    }
    md.push('\n');
    for t in run
        .measurements
        .iter()
        .filter(|m| m.implementation == TILEATTN)
    {
        let of: Vec<&Speedup> = speedups
            .iter()
            .filter(|s| std::ptr::eq(s.tileattn, t))
            .collect();
        if of.is_empty() {
            continue;
        }
        let _ = write!(
            md,
            "| {} | {}{} | {:.1} |",
            t.problem.label(),
            t.mode.name(),
            if t.cache_resident {
                ", **L2-resident**"
            } else {
                ""
            },
            t.tflops
        );
        for b in &backends {
            let cell = match of.iter().find(|s| s.backend.implementation == *b) {
                None => "—".into(),
                Some(s) => speedup_cell(s),
            };
            let _ = write!(md, " {cell} |");
        }
        md.push('\n');
    }
    md.push('\n');
}

fn speedup_cell(s: &Speedup) -> String {
    let mut cell = match &s.ratio {
        Ok(r) => format!(
            "{:.2} ({:.2}–{:.2}) {}",
            r.ratio,
            r.lo,
            r.hi,
            match s.verdict() {
                Some(true) => "faster",
                Some(false) => "slower",
                None => "≈",
            }
        ),
        Err(why) => format!("no CI: {why}"),
    };
    if s.backend.correctness.as_ref().is_some_and(|c| !c.passed) {
        cell.push_str(&format!(
            " ({} FAILED the reference check)",
            s.backend.implementation
        ));
    }
    cell
}

fn measurement_section(md: &mut String, run: &RunFile) {
    md.push_str("## Measurements\n\n");
    for mode in [CacheMode::Cold, CacheMode::Hot] {
        let of_mode: Vec<&Measurement> =
            run.measurements.iter().filter(|m| m.mode == mode).collect();
        if of_mode.is_empty() {
            continue;
        }
        let _ = writeln!(
            md,
            "### {} L2\n\n\
| problem | implementation | median ms | CI ms | n | TFLOP/s | GB/s | % mma / copy | vs reference | flags |\n\
|---|---|---:|---|---:|---:|---:|---:|---|---|",
            match mode {
                CacheMode::Cold => "Cold",
                CacheMode::Hot => "Hot",
            }
        );
        // Problems in run order, implementations in report order within each.
        let mut problems: Vec<&ProblemKey> = Vec::new();
        for m in &of_mode {
            if !problems.contains(&&m.problem) {
                problems.push(&m.problem);
            }
        }
        for p in problems {
            let mut rows: Vec<&&Measurement> = of_mode.iter().filter(|m| &m.problem == p).collect();
            rows.sort_by_key(|m| implementations::rank(&m.implementation));
            for (i, m) in rows.into_iter().enumerate() {
                let label = if i == 0 { p.label() } else { String::new() };
                measurement_row(md, run, &label, m);
            }
        }
        md.push('\n');
    }
}

fn measurement_row(md: &mut String, run: &RunFile, label: &str, m: &Measurement) {
    let s = &m.summary;
    let name = match &m.variant {
        Some(v) => format!("{} `{}`", m.implementation, short_variant(v)),
        None => m.implementation.clone(),
    };
    let roof = m
        .percent_of(run.env.ceilings.as_ref())
        .map_or("—".into(), |p| format!("{:.0}% / {:.0}%", p.mma, p.copy));
    let verdict = match &m.correctness {
        None => "not checked".into(),
        Some(c) if c.passed => format!("PASS {:.1e} ≤ {:.0e}", c.rel_l2_err, c.tolerance),
        Some(c) => format!("**FAIL** {:.1e} > {:.0e}", c.rel_l2_err, c.tolerance),
    };
    let _ = writeln!(
        md,
        "| {label} | {name} | {} | {}–{} | {} | {:.1} | {:.0} | {roof} | {verdict} | {} |",
        sig(s.median_ms),
        sig(s.ci_low_ms),
        sig(s.ci_high_ms),
        s.n,
        m.tflops,
        m.gbs,
        flags(run, m).join("; ")
    );
}

/// Everything a reader must know before trusting the row.
fn flags(run: &RunFile, m: &Measurement) -> Vec<String> {
    let mut f = Vec::new();
    if m.cache_resident {
        f.push("**L2-resident**".to_string());
    }
    if above_mma_ceiling(run, m) {
        f.push("above the mma.sync ceiling".into());
    }
    let s = &m.summary;
    match s.stop {
        crate::runfile::StopReason::Converged => {}
        crate::runfile::StopReason::Budget => f.push("CI target not reached (time budget)".into()),
        crate::runfile::StopReason::MaxSamples => {
            f.push("CI target not reached (sample limit)".into())
        }
    }
    f.extend(m.protocol_notes());
    let o = &s.outliers;
    let (low, high) = (o.low_mild + o.low_severe, o.high_mild + o.high_severe);
    if low + high > 0 {
        f.push(format!("outliers {low} low / {high} high (kept)"));
    }
    f
}

/// Problems measured in a mode where some implementation of the run is missing:
/// a backend that could not run a shape must show, not silently vanish.
fn not_measured(md: &mut String, run: &RunFile) {
    let all = implementations::ordered(run.measurements.iter().map(|m| m.implementation.as_str()));
    let mut lines = Vec::new();
    let mut seen: Vec<(&ProblemKey, CacheMode)> = Vec::new();
    for m in &run.measurements {
        if seen.contains(&(&m.problem, m.mode)) {
            continue;
        }
        seen.push((&m.problem, m.mode));
        let missing: Vec<&str> = all
            .iter()
            .copied()
            .filter(|i| {
                !run.measurements
                    .iter()
                    .any(|x| x.implementation == *i && x.problem == m.problem && x.mode == m.mode)
            })
            .collect();
        if !missing.is_empty() {
            lines.push(format!(
                "- {} ({}): no {}",
                m.problem.label(),
                m.mode.name(),
                missing.join(", ")
            ));
        }
    }
    if !lines.is_empty() {
        md.push_str(
            "## Not measured\n\nThese implementations ran on other problems of this run but not \
on these (unsupported shape, out of memory, or a timing failure: the bench log says which).\n\n",
        );
        md.push_str(&lines.join("\n"));
        md.push_str("\n\n");
    }
}

fn tuning_section(md: &mut String, tuning: &[TuningRecord]) {
    md.push_str(
        "## Autotuning\n\nEvery candidate was verified against the reference before it was timed; \
wrong ones are excluded, pruned ones were far slower on their first run.\n\n\
| problem | strategy | winner | timed | pruned | wrong | failed | skipped | best TFLOP/s |\n\
|---|---|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for t in tuning {
        let count = |s: &str| t.candidates.iter().filter(|c| c.status == s).count();
        let best = t
            .candidates
            .iter()
            .filter_map(|c| c.tflops)
            .fold(f64::NAN, f64::max);
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            t.problem.label(),
            t.strategy,
            t.winner
                .as_deref()
                .map_or("none".into(), |w| format!("`{}`", short_variant(w))),
            count("timed"),
            count("pruned"),
            count("wrong"),
            count("failed"),
            count("skipped"),
            if best.is_nan() {
                "—".into()
            } else {
                format!("{best:.1}")
            }
        );
    }
    let wrong: Vec<String> = tuning
        .iter()
        .flat_map(|t| {
            t.candidates
                .iter()
                .filter(|c| c.status == "wrong")
                .map(move |c| format!("`{}` on {}", c.variant, t.problem.label()))
        })
        .collect();
    if !wrong.is_empty() {
        let _ = writeln!(md, "\nExcluded as wrong: {}.", wrong.join(", "));
    }
    md.push('\n');
}

/// `attn_fwd_v1_d64_bf16_bm64_bn64_w4_s2_noncausal` → `v1 bm64 bn64 w4 s2`:
/// the row already says the head dim, dtype and mask. Names of another
/// pattern are kept whole.
pub fn short_variant(name: &str) -> String {
    let Some(rest) = name.strip_prefix("attn_fwd_") else {
        return name.to_string();
    };
    let is_shape_part = |t: &&str| {
        matches!(*t, "f16" | "bf16" | "causal" | "noncausal")
            || (t.len() > 1 && t.starts_with('d') && t[1..].bytes().all(|b| b.is_ascii_digit()))
    };
    rest.split('_')
        .filter(|t| !is_shape_part(t))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Four significant digits: times span 0.01 to 100 ms across a suite.
fn sig(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let decimals = (3 - x.abs().log10().floor() as i32).clamp(0, 8) as usize;
    format!("{x:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runfile::committed_run as committed;

    /// The table row that starts with `| {label} | {implementation}`.
    fn row<'a>(md: &'a str, start: &str) -> &'a str {
        md.lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no row starting `{start}` in:\n{md}"))
    }

    /// Rows on bf16 values are rows of their own, labelled so, and tileattn
    /// is compared with torch on the same inputs only.
    #[test]
    fn rows_on_bf16_values_are_told_apart() {
        use crate::operand_values::OperandValues;
        let mut run = committed("seed.json");
        let mut on_bf16 = run.measurements.clone();
        for m in &mut on_bf16 {
            m.problem.operand_values = OperandValues::Bf16;
        }
        run.measurements.extend(on_bf16);
        let md = markdown(&run);
        let label = "B=32 H=8 S=128 D=64 f16 (bf16 values)";
        assert_eq!(
            md.matches(&format!("| {label} | tileattn")).count(),
            1,
            "{md}"
        );
        assert_eq!(md.matches(&format!("| {label} | ")).count(), 2, "{md}");
        let s = speedups(&run);
        assert_eq!(s.len(), 2 * speedups(&committed("seed.json")).len());
        assert!(s.iter().all(|s| s.tileattn.problem == s.backend.problem));
    }

    #[test]
    fn labels_and_short_names() {
        let p = ProblemKey {
            batch: 2,
            heads_q: 32,
            heads_kv: 8,
            seqlen_q: 1024,
            seqlen_k: 4096,
            head_dim: 128,
            dtype: "bf16".into(),
            causal: true,
            operand_values: Default::default(),
        };
        assert_eq!(
            p.label(),
            "B=2 Hq=32 Hkv=8 Sq=1024 Sk=4096 D=128 bf16 causal"
        );
        let on_bf16_values = ProblemKey {
            dtype: "f16".into(),
            operand_values: crate::operand_values::OperandValues::Bf16,
            ..p.clone()
        };
        assert_eq!(
            on_bf16_values.label(),
            "B=2 Hq=32 Hkv=8 Sq=1024 Sk=4096 D=128 f16 (bf16 values) causal"
        );
        assert_eq!(
            on_bf16_values.to_string(),
            "B=2 Hq=32 Hkv=8 Sq=1024 Sk=4096 D=128 f16 (bf16 values) causal"
        );
        assert_eq!(
            short_variant("attn_fwd_v1_d64_bf16_bm64_bn64_w4_s2_noncausal"),
            "v1 bm64 bn64 w4 s2"
        );
        assert_eq!(short_variant("custom"), "custom");
        assert_eq!(
            (sig(0.32731), sig(12.3456), sig(1234.5)),
            ("0.3273".into(), "12.35".into(), "1234".into())
        );
    }

    #[test]
    fn fa2_report_has_every_row_ratio_and_verdict() {
        let run = committed("fa2.json");
        let md = markdown(&run);
        assert!(md.contains("| GPU | NVIDIA H100 80GB HBM3 (compute capability 9.0, 132 SMs) |"));
        assert!(md.contains("| L2 cache | 50.0 MiB (52428800 bytes) |"));
        assert!(md.contains("copy 2853 GB/s, mma.sync 656.2 TFLOP/s"));
        assert!(md.contains("| PyTorch | 2.11.0+cu130 |"));
        // One summary row per problem, with a ratio and its CI for each backend.
        let first = row(&md, "| B=32 H=32 S=512 D=64 bf16 | cold | 210.0 |");
        let cells: Vec<&str> = first.split(" | ").collect();
        assert_eq!(cells.len(), 6, "{first}");
        for c in &cells[3..] {
            let (ratio, rest) = c.split_once(" (").unwrap();
            let (lo, hi) = rest.split_once(')').unwrap().0.split_once('–').unwrap();
            let [r, lo, hi]: [f64; 3] = [ratio, lo, hi].map(|x| x.trim().parse().unwrap());
            assert!(lo <= r && r <= hi, "{c}");
        }
        // torch-flash's median 0.26614 ms vs tileattn's 0.32731 ms: a speed-up of 0.81.
        assert!(
            cells[3].starts_with("0.81 (") && cells[3].ends_with("slower"),
            "{}",
            cells[3]
        );
        let summary_rows = md
            .lines()
            .filter(|l| {
                l.starts_with("| B=") && l.split(" | ").nth(1) == Some("cold") && l.contains("–")
            })
            .count();
        assert_eq!(summary_rows, 24);
        // Every measurement is a row with its correctness verdict.
        let detail: Vec<&str> = md.lines().filter(|l| l.contains("| PASS ")).collect();
        assert_eq!(detail.len(), run.measurements.len());
        assert!(!md.contains("**FAIL**") && !md.contains("FAILED"));
        let t = row(
            &md,
            "| B=32 H=32 S=512 D=64 bf16 | tileattn `v1 bm64 bn64 w4 s2` | 0.3273 |",
        );
        assert!(t.contains("| PASS 2.2e-3 ≤ 1e-2 |"), "{t}");
        // No fa2 working set fits in 50 MiB; the backends ran everywhere but math was not asked.
        assert!(
            !md.lines()
                .any(|l| l.starts_with("| ") && l.contains("L2-resident"))
        );
        assert!(!md.contains("## Not measured"));
        assert!(!md.contains("## Autotuning"));
        assert_eq!(speedups(&run).len(), 72);
        // cuDNN's wgmma kernels beat the mma.sync ceiling on the largest D=128 shapes.
        let above = run
            .measurements
            .iter()
            .filter(|m| m.tflops > 656.1876966360309)
            .count();
        assert!(above > 0);
        assert!(md.contains(&format!(
            "- {above} measurement(s) run **above the mma.sync ceiling**"
        )));
        assert_eq!(md.matches("| above the mma.sync ceiling").count(), above);
    }

    #[test]
    fn seed_report_flags_cache_resident_rows_and_lists_the_tuning() {
        let run = committed("seed.json");
        let md = markdown(&run);
        // S=128…256 (32·8·S·64 f16): working sets of 17–34 MB fit in 50 MiB L2.
        let resident: Vec<&str> = md
            .lines()
            .filter(|l| l.starts_with("| ") && l.contains("**L2-resident**"))
            .collect();
        // Every resident measurement's row, and the speed-up rows of the two resident problems.
        assert_eq!(
            resident.len(),
            run.measurements.iter().filter(|m| m.cache_resident).count() + 2
        );
        assert_eq!(resident.len(), 12);
        assert!(
            row(
                &md,
                "| B=32 H=8 S=256 D=64 f16 | cold, **L2-resident** | 139.1 |"
            )
            .contains("slower")
        );
        assert!(row(&md, "| B=32 H=8 S=128 D=64 f16 | tileattn").contains("**L2-resident**"));
        assert!(!row(&md, "| B=32 H=8 S=4096 D=64 f16 | tileattn").contains("L2-resident"));
        // All four backends are compared, torch-math included.
        let header = row(&md, "| problem | L2 | tileattn TFLOP/s |");
        for b in [
            "torch-flash",
            "torch-cudnn",
            "torch-efficient",
            "torch-math",
        ] {
            assert!(header.contains(&format!("vs {b}")), "{header}");
            assert!(
                md.contains(&format!("- vs {b}: tileattn faster on ")),
                "{b}"
            );
        }
        // The tuning that chose each variant.
        assert!(md.contains("## Autotuning"));
        let tuned = md
            .lines()
            .skip_while(|l| !l.starts_with("## Autotuning"))
            .filter(|l| l.starts_with("| B=32 H=8 S="))
            .count();
        assert_eq!(tuned, run.tuning.len());
    }

    #[test]
    fn a_failed_output_and_a_missing_backend_show() {
        let mut run = committed("seed.json");
        let c = run.measurements[1].correctness.as_mut().unwrap();
        c.passed = false;
        c.rel_l2_err = 0.5;
        let gone = run.measurements.remove(4);
        let md = markdown(&run);
        assert!(md.contains("**FAIL** 5.0e-1 > 2e-3"));
        assert!(md.contains("(torch-flash FAILED the reference check)"));
        assert!(md.contains(&format!(
            "- {} (cold): no {}",
            gone.problem.label(),
            gone.implementation
        )));
    }
}
