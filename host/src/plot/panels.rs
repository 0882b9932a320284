//! Measurements grouped the way the sequence-length figures draw them: one
//! panel per family of problems that differ only in batch and sequence length
//! (so head dim × causal for the built-in suites), one series per
//! implementation and cache mode within it, ordered by sequence length.

use crate::implementations;
use crate::runfile::{CacheMode, Measurement};

/// What stays fixed within a panel: everything but batch and sequence lengths.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PanelKey {
    pub head_dim: u32,
    pub causal: bool,
    /// [`ProblemKey::dtype_label`](crate::problem_key::ProblemKey::dtype_label):
    /// inputs of other values are other panels, not a second point per length.
    pub dtype: String,
    pub heads_q: u32,
    pub heads_kv: u32,
}

pub struct Panel<'a> {
    pub key: PanelKey,
    pub measurements: Vec<&'a Measurement>,
}

/// One line of a panel: an implementation in one cache mode.
pub struct Series<'a> {
    pub implementation: &'a str,
    pub mode: CacheMode,
    /// Sorted by sequence length.
    pub points: Vec<&'a Measurement>,
}

fn key_of(m: &Measurement) -> PanelKey {
    let p = &m.problem;
    PanelKey {
        head_dim: p.head_dim,
        causal: p.causal,
        dtype: p.dtype_label(),
        heads_q: p.heads_q,
        heads_kv: p.heads_kv,
    }
}

/// The x coordinate of a measurement: its query sequence length.
pub fn seqlen(m: &Measurement) -> f64 {
    m.problem.seqlen_q as f64
}

/// Panels in a stable order: head dim, then non-causal before causal.
pub fn panels(ms: &[Measurement]) -> Vec<Panel<'_>> {
    let mut out: Vec<Panel> = Vec::new();
    for m in ms {
        let key = key_of(m);
        match out.iter_mut().find(|p| p.key == key) {
            Some(p) => p.measurements.push(m),
            None => out.push(Panel {
                key,
                measurements: vec![m],
            }),
        }
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    out
}

impl<'a> Panel<'a> {
    /// `D=64 · non-causal · bf16 · H=32 · B·S=16384`: what holds in this panel.
    pub fn title(&self) -> String {
        let k = &self.key;
        let heads = if k.heads_q == k.heads_kv {
            format!("H={}", k.heads_q)
        } else {
            format!("Hq={} Hkv={}", k.heads_q, k.heads_kv)
        };
        let mut parts = vec![
            format!("D={}", k.head_dim),
            if k.causal { "causal" } else { "non-causal" }.to_string(),
            k.dtype.clone(),
            heads,
        ];
        let batches: Vec<u32> = self.measurements.iter().map(|m| m.problem.batch).collect();
        let tokens: Vec<u64> = self
            .measurements
            .iter()
            .map(|m| m.problem.batch as u64 * m.problem.seqlen_q as u64)
            .collect();
        if batches.windows(2).all(|w| w[0] == w[1]) {
            parts.push(format!("B={}", batches[0]));
        } else if tokens.windows(2).all(|w| w[0] == w[1]) {
            parts.push(format!("B·S={}", tokens[0]));
        }
        if self
            .measurements
            .iter()
            .any(|m| m.problem.seqlen_k != m.problem.seqlen_q)
        {
            parts.push("Sk≠Sq".into());
        }
        parts.join(" · ")
    }

    /// The distinct sequence lengths, ascending.
    pub fn seqlens(&self) -> Vec<f64> {
        let mut v: Vec<u32> = self
            .measurements
            .iter()
            .map(|m| m.problem.seqlen_q)
            .collect();
        v.sort_unstable();
        v.dedup();
        v.into_iter().map(f64::from).collect()
    }

    /// Series in report order of implementations, cold before hot.
    pub fn series(&self) -> Vec<Series<'a>> {
        let mut out: Vec<Series<'a>> = Vec::new();
        for &m in &self.measurements {
            match out
                .iter_mut()
                .find(|s| s.implementation == m.implementation && s.mode == m.mode)
            {
                Some(s) => s.points.push(m),
                None => out.push(Series {
                    implementation: &m.implementation,
                    mode: m.mode,
                    points: vec![m],
                }),
            }
        }
        for s in &mut out {
            s.points.sort_by(|a, b| seqlen(a).total_cmp(&seqlen(b)));
        }
        out.sort_by_key(|s| {
            (
                implementations::rank(s.implementation),
                s.mode == CacheMode::Hot,
            )
        });
        out
    }
}

/// Where the working set of a panel's problems equals the L2 size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum L2Crossing {
    /// At this sequence length (possibly outside the measured range).
    At(f64),
    /// Every measured working set is larger than L2.
    AllAbove,
    /// Every measured working set fits in L2.
    AllBelow,
}

/// From the panel's (sequence length, working-set bytes) pairs. With batch
/// fixed the working set is proportional to S, so the crossing is exact even
/// outside the measured range; otherwise it is interpolated (log-log) between
/// the neighbours that straddle L2.
pub fn l2_crossing(points: &[(f64, f64)], l2_bytes: f64) -> L2Crossing {
    let ratios: Vec<f64> = points.iter().map(|(s, b)| b / s).collect();
    let proportional = ratios
        .windows(2)
        .all(|w| (w[0] - w[1]).abs() <= 1e-9 * w[0].abs());
    if let (true, Some(r)) = (proportional, ratios.first()) {
        return L2Crossing::At(l2_bytes / r);
    }
    let mut sorted = points.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    for w in sorted.windows(2) {
        let ((s0, b0), (s1, b1)) = (w[0], w[1]);
        if (b0 - l2_bytes) * (b1 - l2_bytes) <= 0.0 && b0 != b1 {
            let t = (l2_bytes.ln() - b0.ln()) / (b1.ln() - b0.ln());
            return L2Crossing::At((s0.ln() + t * (s1.ln() - s0.ln())).exp());
        }
    }
    if sorted.iter().all(|&(_, b)| b > l2_bytes) {
        L2Crossing::AllAbove
    } else {
        L2Crossing::AllBelow
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crossing_of_proportional_and_constant_working_sets() {
        // Batch fixed: bytes ∝ S; the crossing is exact and may lie outside the points.
        let pts = [(128.0, 128.0 * 1000.0), (256.0, 256.0 * 1000.0)];
        assert_eq!(l2_crossing(&pts, 400_000.0), L2Crossing::At(400.0));
        // B·S fixed: the working set does not change with S.
        let flat = [(512.0, 9e7), (1024.0, 9e7)];
        assert_eq!(l2_crossing(&flat, 5e7), L2Crossing::AllAbove);
        assert_eq!(l2_crossing(&flat, 1e8), L2Crossing::AllBelow);
        // Neither: interpolated between the straddling neighbours.
        match l2_crossing(&[(100.0, 1e6), (200.0, 3e6), (400.0, 4e6)], 2e6) {
            L2Crossing::At(s) => assert!(s > 100.0 && s < 200.0, "{s}"),
            other => panic!("{other:?}"),
        }
    }
}
