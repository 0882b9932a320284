//! Work and rates of an attention problem, named for exactly what they count.
//!
//! - **FLOPs** follow the FlashAttention papers' convention: `S = QKᵀ` and
//!   `O = PV` are each one multiply-accumulate per (query, key, head-dim
//!   element), counted as 2 FLOPs, so one unmasked (query, key) pair costs
//!   `4·head_dim`. The softmax (max, exp, sum, rescale) is **not** counted.
//!   Causal problems count only unmasked pairs, never the full `Sq·Sk`, so a
//!   causal run is not credited with work its kernel skips.
//! - **Bytes** are the minimum any implementation must move: Q, K and V read
//!   once, O and the f32 log-sum-exp written once. Re-reads a kernel makes are
//!   its own cost, not extra credit.
//! - **Rates** are these counts over a measured time, and percentages of the
//!   ceilings measured on the same device (`runfile::Ceilings`).

use tileattn_kernels::DType;

use crate::problem::Problem;
use crate::runfile::{Ceilings, Measurement};
use crate::{Error, Result};

/// Number of (query, key) score pairs one (batch, query head) computes.
///
/// Non-causal: `Sq·Sk`. Causal (bottom-right aligned, as
/// `tileattn_kernels::mask::causal_key_end`): row `i` sees
/// `max(0, i + 1 + Sk − Sq)` keys. That never exceeds `Sk` (`i ≤ Sq − 1`), and
/// is positive exactly for the last `n = min(Sq, Sk)` rows, which see
/// `Sk − n + 1, …, Sk` keys. Their sum is `n·(Sk − n) + n·(n + 1)/2`; the first
/// `Sq − n` rows (only when `Sq > Sk`) see nothing.
///
/// Exact for every `u32` input: the result is at most `Sq·Sk < 2^64`, and the
/// largest intermediate, `n·(n + 1) ≤ (2^32 − 1)·2^32`, fits in a `u64`.
pub fn unmasked_pairs(seqlen_q: u32, seqlen_k: u32, causal: bool) -> u64 {
    let (sq, sk) = (seqlen_q as u64, seqlen_k as u64);
    if !causal {
        return sq * sk;
    }
    let n = sq.min(sk);
    n * (sk - n) + n * (n + 1) / 2
}

/// Exact FLOPs of one forward pass: `4·head_dim` per unmasked pair, for every
/// (batch, query head); see the module documentation for the convention.
///
/// Problems that pass `Problem::validate` stay below 2^72; beyond `u128` (only
/// absurd unvalidated inputs) the count saturates rather than wrap.
pub fn flops(p: &Problem) -> u128 {
    let per_head =
        4 * p.head_dim as u128 * unmasked_pairs(p.seqlen_q, p.seqlen_k, p.causal) as u128;
    per_head.saturating_mul(p.batch as u128 * p.heads_q as u128)
}

/// Bytes of each tensor a forward pass must read or write at least once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TensorBytes {
    pub q: u128,
    pub k: u128,
    pub v: u128,
    pub o: u128,
    /// f32 log-sum-exp, one per (batch, query head, query row).
    pub lse: u128,
}

impl TensorBytes {
    pub fn of(p: &Problem) -> TensorBytes {
        let elt = element_bytes(p.dtype);
        let (b, d) = (p.batch as u128, p.head_dim as u128);
        let q_rows = b * p.heads_q as u128 * p.seqlen_q as u128;
        let kv_rows = b * p.heads_kv as u128 * p.seqlen_k as u128;
        TensorBytes {
            q: q_rows * d * elt,
            k: kv_rows * d * elt,
            v: kv_rows * d * elt,
            o: q_rows * d * elt,
            lse: q_rows * 4,
        }
    }

    pub fn total(&self) -> u128 {
        self.q + self.k + self.v + self.o + self.lse
    }
}

fn element_bytes(dtype: DType) -> u128 {
    match dtype {
        DType::F16 | DType::Bf16 => 2,
    }
}

/// Minimum bytes moved between the SMs and memory: Q, K, V read once, O and
/// LSE written once. GQA/MQA read each K/V head once however many query heads
/// share it.
///
/// This is also the **working set**: tileattn's kernels touch exactly these
/// tensors and no workspace, so their footprint equals their minimum traffic.
pub fn min_bytes(p: &Problem) -> u128 {
    TensorBytes::of(p).total()
}

/// Whether a result may describe the L2 cache rather than DRAM: the working set
/// (see [`min_bytes`]) fits in L2, i.e. `working_set_bytes ≤ l2_bytes`.
///
/// Such a set can be entirely resident between repetitions (hot mode), so its
/// GB/s can exceed DRAM bandwidth; every report flags it. The rule is the
/// clear case only: a set somewhat larger than L2 can still be partly served
/// from it when hot, which is why cold mode (L2 flushed per sample) is the
/// default.
pub fn cache_resident(working_set_bytes: u128, l2_bytes: u64) -> bool {
    working_set_bytes <= l2_bytes as u128
}

/// Throughput of one timing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rates {
    /// 10^12 FLOP/s.
    pub tflops: f64,
    /// 10^9 bytes/s (decimal, like the ceilings and vendor specifications).
    pub gbs: f64,
}

/// Rates as percentages of the device's measured ceilings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PercentOfCeilings {
    /// Of the `mma.sync` throughput ceiling.
    pub mma: f64,
    /// Of the copy-kernel bandwidth ceiling (bytes read + written, as `min_bytes` counts).
    pub copy: f64,
}

impl Rates {
    /// Rates of `flops` and `bytes` done in `ms` milliseconds.
    pub fn new(flops: u128, bytes: u128, ms: f64) -> Result<Rates> {
        if !(ms.is_finite() && ms > 0.0) {
            return Err(Error::Invalid(format!(
                "a time of {ms} ms has no rate: times must be finite and positive"
            )));
        }
        let seconds = ms * 1e-3;
        Ok(Rates {
            tflops: flops as f64 / seconds / 1e12,
            gbs: bytes as f64 / seconds / 1e9,
        })
    }

    pub fn percent_of(&self, ceilings: &Ceilings) -> Result<PercentOfCeilings> {
        Ok(PercentOfCeilings {
            mma: percent(self.tflops, ceilings.mma_tflops, "mma TFLOP/s")?,
            copy: percent(self.gbs, ceilings.copy_gbs, "copy GB/s")?,
        })
    }
}

impl Measurement {
    /// This measurement's rates as percentages of `ceilings` (mma, copy);
    /// None without ceilings or with a ceiling that is not a measured rate.
    pub fn percent_of(&self, ceilings: Option<&Ceilings>) -> Option<PercentOfCeilings> {
        let rates = Rates {
            tflops: self.tflops,
            gbs: self.gbs,
        };
        rates.percent_of(ceilings?).ok()
    }
}

fn percent(achieved: f64, ceiling: f64, what: &str) -> Result<f64> {
    if !(ceiling.is_finite() && ceiling > 0.0) {
        return Err(Error::Invalid(format!(
            "{what} ceiling {ceiling} is not a measured rate: rerun `tileattn info --ceilings`"
        )));
    }
    Ok(100.0 * achieved / ceiling)
}

/// How many times faster `candidate` is than `baseline` (ratio of medians).
///
/// Only measurements of the same problem in the same cache mode are
/// comparable: a ratio across shapes or across hot and cold L2 measures the
/// difference in work or in caching, not in the implementations.
pub fn speedup(baseline: &Measurement, candidate: &Measurement) -> Result<f64> {
    if baseline.problem != candidate.problem {
        return Err(Error::Incomparable(format!(
            "speed-up between different problems ({:?} vs {:?})",
            baseline.problem, candidate.problem
        )));
    }
    if baseline.mode != candidate.mode {
        return Err(Error::Incomparable(format!(
            "speed-up between {} and {} L2 measurements",
            baseline.mode.name(),
            candidate.mode.name()
        )));
    }
    let (b, c) = (baseline.summary.median_ms, candidate.summary.median_ms);
    if !(b.is_finite() && c.is_finite() && b > 0.0 && c > 0.0) {
        return Err(Error::Invalid(format!(
            "speed-up of medians {b} ms and {c} ms: both must be finite and positive"
        )));
    }
    Ok(b / c)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use tileattn_kernels::mask::causal_key_end;

    use super::*;
    use crate::runfile::{CacheMode, Outliers, StopReason, Summary};

    /// Every (query, key) pair, tested one by one against the kernels' mask.
    fn brute_pairs(sq: u32, sk: u32, causal: bool) -> u64 {
        let mut n = 0;
        for i in 0..sq {
            for j in 0..sk {
                if !causal || (j as i64) < causal_key_end(i, sq, sk) {
                    n += 1;
                }
            }
        }
        n
    }

    #[test]
    fn causal_pairs_by_hand() {
        // Sq < Sk: rows see 3, 4, 5 keys.
        assert_eq!(unmasked_pairs(3, 5, true), 12);
        // Sq > Sk: rows 0 and 1 see nothing, rows 2..5 see 1, 2, 3.
        assert_eq!(unmasked_pairs(5, 3, true), 6);
        // Square: the lower triangle with its diagonal.
        assert_eq!(unmasked_pairs(4, 4, true), 10);
        // One query (decoding) sees every key; one key is seen by the last row only.
        assert_eq!(unmasked_pairs(1, 77, true), 77);
        assert_eq!(unmasked_pairs(77, 1, true), 1);
        assert_eq!(unmasked_pairs(5, 3, false), 15);
    }

    #[test]
    fn pairs_match_brute_force_on_every_small_shape() {
        for sq in 1..48 {
            for sk in 1..48 {
                for causal in [false, true] {
                    assert_eq!(
                        unmasked_pairs(sq, sk, causal),
                        brute_pairs(sq, sk, causal),
                        "Sq={sq} Sk={sk} causal={causal}"
                    );
                }
            }
        }
    }

    proptest! {
        #[test]
        fn pairs_match_brute_force(sq in 1u32..300, sk in 1u32..300, causal: bool) {
            prop_assert_eq!(unmasked_pairs(sq, sk, causal), brute_pairs(sq, sk, causal));
        }
    }

    #[test]
    fn pairs_do_not_overflow_at_the_extremes() {
        let m = u32::MAX as u128;
        assert_eq!(
            unmasked_pairs(u32::MAX, u32::MAX, true) as u128,
            m * (m + 1) / 2
        );
        assert_eq!(unmasked_pairs(u32::MAX, u32::MAX, false) as u128, m * m);
        assert_eq!(unmasked_pairs(u32::MAX, 1, true), 1);
        assert_eq!(unmasked_pairs(1, u32::MAX, true), u32::MAX as u64);
        // Three rows at the bottom of a huge key range see Sk − 2, Sk − 1 and Sk keys.
        assert_eq!(unmasked_pairs(3, u32::MAX, true) as u128, 3 * (m - 3) + 6);
    }

    #[test]
    fn flops_count_query_heads_and_unmasked_pairs_only() {
        // GQA: 8 query heads share 2 K/V heads; work follows the query heads.
        let p = Problem::new(2, 8, 2, 100, 300, 128, DType::Bf16, true);
        let pairs = brute_pairs(100, 300, true) as u128;
        assert_eq!(flops(&p), 4 * 128 * 2 * 8 * pairs);
        let dense = Problem { causal: false, ..p };
        assert_eq!(flops(&dense), 4 * 128 * 2 * 8 * 100 * 300);
        // Sq > Sk causal: the first 200 rows see nothing and cost nothing.
        let tall = Problem::new(1, 1, 1, 300, 100, 64, DType::F16, true);
        assert_eq!(flops(&tall), 4 * 64 * (100 * 101 / 2));
    }

    #[test]
    fn bytes_of_a_gqa_shape_by_hand() {
        let p = Problem::new(2, 8, 2, 100, 300, 128, DType::Bf16, true);
        let b = TensorBytes::of(&p);
        assert_eq!(b.q, 2 * 8 * 100 * 128 * 2); // 409_600
        assert_eq!(b.k, 2 * 2 * 300 * 128 * 2); // 307_200
        assert_eq!(b.v, 307_200);
        assert_eq!(b.o, 409_600);
        assert_eq!(b.lse, 2 * 8 * 100 * 4); // 6_400
        assert_eq!(min_bytes(&p), 1_440_000);
        // Causality changes the work, not the minimum traffic.
        assert_eq!(min_bytes(&Problem { causal: false, ..p }), 1_440_000);
    }

    #[test]
    fn cache_resident_at_the_boundary() {
        let l2 = 50 * 1024 * 1024;
        assert!(cache_resident(l2 as u128 - 1, l2));
        assert!(cache_resident(l2 as u128, l2));
        assert!(!cache_resident(l2 as u128 + 1, l2));
    }

    #[test]
    fn rates_and_percentages() {
        let r = Rates::new(2_000_000_000_000, 3_000_000_000, 1000.0).unwrap();
        assert_eq!(
            r,
            Rates {
                tflops: 2.0,
                gbs: 3.0
            }
        );
        let r = Rates::new(500_000_000_000, 1_500_000_000, 1.0).unwrap();
        assert!((r.tflops - 500.0).abs() < 1e-9 && (r.gbs - 1500.0).abs() < 1e-9);
        let pct = r
            .percent_of(&Ceilings {
                copy_gbs: 3000.0,
                mma_tflops: 1000.0,
            })
            .unwrap();
        assert!((pct.mma - 50.0).abs() < 1e-9 && (pct.copy - 50.0).abs() < 1e-9);
        for ms in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(Rates::new(1, 1, ms).is_err(), "{ms}");
        }
        let no_ceiling = Ceilings {
            copy_gbs: 0.0,
            mma_tflops: 1.0,
        };
        let e = r.percent_of(&no_ceiling).unwrap_err().to_string();
        assert!(e.contains("copy GB/s"), "{e}");
    }

    fn measurement(p: &Problem, mode: CacheMode, median_ms: f64) -> Measurement {
        Measurement {
            implementation: "tileattn".into(),
            variant: None,
            problem: p.key(),
            mode,
            summary: Summary {
                n: 1,
                median_ms,
                ci_low_ms: median_ms,
                ci_high_ms: median_ms,
                confidence: 0.95,
                mean_ms: median_ms,
                stddev_ms: 0.0,
                min_ms: median_ms,
                max_ms: median_ms,
                outliers: Outliers::default(),
                stop: StopReason::Converged,
            },
            samples_ms: vec![median_ms],
            flops: flops(p) as f64,
            bytes: min_bytes(p) as f64,
            tflops: 0.0,
            gbs: 0.0,
            cache_resident: false,
            clock: None,
            warmup: None,
            correctness: None,
        }
    }

    #[test]
    fn speedups_only_between_like_measurements() {
        let p = Problem::new(1, 8, 8, 1024, 1024, 64, DType::F16, true);
        let slow = measurement(&p, CacheMode::Cold, 2.0);
        let fast = measurement(&p, CacheMode::Cold, 0.5);
        assert_eq!(speedup(&slow, &fast).unwrap(), 4.0);

        let other = Problem {
            seqlen_k: 2048,
            ..p
        };
        let e = speedup(&slow, &measurement(&other, CacheMode::Cold, 0.5)).unwrap_err();
        assert!(matches!(e, Error::Incomparable(_)), "{e}");
        let e = speedup(&slow, &measurement(&p, CacheMode::Hot, 0.5)).unwrap_err();
        assert!(e.to_string().contains("cold and hot"), "{e}");
    }
}
