//! Figure (a): TFLOP/s against sequence length for every implementation, one
//! panel per head dim × causal (× dtype and heads, where a suite varies them).

use super::drawing::{Drawing, run_line};
use super::seqlen::{self, Marks, Metric};
use crate::Result;
use crate::runfile::RunFile;

pub fn draw(run: &RunFile) -> Result<Drawing> {
    if run.measurements.is_empty() {
        return Ok(Drawing::Nothing("the run has no measurements".into()));
    }
    let subtitle = vec![
        run_line(run),
        "lines: median TFLOP/s; bands: the median time's 95% CI; causal runs credited only with unmasked pairs".into(),
    ];
    let svg = seqlen::figure(
        run,
        Metric::Tflops,
        &format!("Attention forward throughput: suite {}", run.suite),
        &subtitle,
        Marks::default(),
    )?;
    Ok(Drawing::Svg(svg))
}
