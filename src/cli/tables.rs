//! Console tables printed by the measuring commands (`time`, `tune`): the
//! Markdown report of a run file is `tileattn report`'s ([`super::report`]).

use std::fmt::Write as _;

use tileattn::host::ceilings::CeilingDetail;
use tileattn::host::runfile::{Ceilings, Measurement};
use tileattn::host::tune::stop_label;

/// One row per measurement: median and CI, samples, why sampling stopped,
/// outliers, rates (and % of ceilings when known), clock check, flags.
pub fn measurement_table(ms: &[&Measurement], ceilings: Option<&Ceilings>) -> String {
    let mut out = format!(
        "{:<46} {:>10} {:>21} {:>5} {:>11} {:>9} {:>8} {:>8} {:>7} {:>9}  flags\n",
        "variant",
        "median ms",
        "95% CI ms",
        "n",
        "stopped",
        "outliers",
        "TFLOP/s",
        "GB/s",
        "clk MHz",
        "% roof"
    );
    for m in ms {
        let s = &m.summary;
        let o = &s.outliers;
        let roof = m
            .percent_of(ceilings)
            .map(|p| format!("{:.0}/{:.0}", p.mma, p.copy))
            .unwrap_or_else(|| "-".into());
        let mut flags = Vec::new();
        if m.cache_resident {
            flags.push("CACHE-RESIDENT (working set fits in L2)".to_string());
        }
        flags.extend(m.protocol_notes());
        let _ = writeln!(
            out,
            "{:<46} {:>10.4} {:>10.4}–{:<10.4} {:>5} {:>11} {:>9} {:>8.1} {:>8.0} {:>7.0} {:>9}  {}",
            m.variant.as_deref().unwrap_or(&m.implementation),
            s.median_ms,
            s.ci_low_ms,
            s.ci_high_ms,
            s.n,
            stop_label(s.stop),
            format!(
                "{}/{}",
                o.low_mild + o.low_severe,
                o.high_mild + o.high_severe
            ),
            m.tflops,
            m.gbs,
            m.clock.as_ref().map_or(f64::NAN, |c| c.median_mhz),
            roof,
            flags.join("; ")
        );
    }
    out.push_str("outliers: low/high beyond Tukey's 1.5 IQR fences (kept, not dropped); % roof: of measured mma/copy ceilings\n");
    out
}

pub fn print_ceilings(c: &Ceilings, d: &CeilingDetail) {
    println!(
        "ceilings (tileattn's own kernels): copy {:.0} GB/s (median {:.3} ms of {} samples, clock {:.0} MHz), bf16 mma.sync {:.1} TFLOP/s (median {:.3} ms of {}, clock {:.0} MHz)",
        c.copy_gbs,
        d.copy.median_ms,
        d.copy.samples,
        d.copy.median_clock_mhz,
        c.mma_tflops,
        d.mma.median_ms,
        d.mma.samples,
        d.mma.median_clock_mhz
    );
}
