//! Figure (b): achieved GB/s against sequence length, cold and hot L2, with
//! the sequence length whose working set equals the L2 size marked: where a
//! hot measurement stops being served from the cache (the cliff).

use super::drawing::{Drawing, run_line};
use super::seqlen::{self, Marks, Metric};
use crate::Result;
use crate::runfile::{CacheMode, RunFile};

pub fn draw(run: &RunFile) -> Result<Drawing> {
    if run.measurements.is_empty() {
        return Ok(Drawing::Nothing("the run has no measurements".into()));
    }
    let has = |mode| run.measurements.iter().any(|m| m.mode == mode);
    let modes = match (has(CacheMode::Cold), has(CacheMode::Hot)) {
        (true, true) => "cold (L2 flushed before every sample, solid) and hot (no flush, dashed)",
        (true, false) => {
            "cold only (L2 flushed before every sample); 'bench --modes cold,hot' adds the hot curves"
        }
        _ => "hot only (no flush between samples)",
    };
    let subtitle = vec![
        run_line(run),
        format!(
            "minimum bytes (Q, K, V read once; O, LSE written once) over the median time; {modes}"
        ),
    ];
    let svg = seqlen::figure(
        run,
        Metric::Gbs,
        &format!("Achieved bandwidth and the L2 cliff: suite {}", run.suite),
        &subtitle,
        Marks {
            l2: true,
            copy_ceiling: true,
        },
    )?;
    Ok(Drawing::Svg(svg))
}
