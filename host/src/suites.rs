//! Built-in benchmark suites: named lists of problems.
//!
//! - `seed`: the original L4 study — B=32, H=8, D=64, fp16, non-causal, S = 128…4096;
//! - `fa2`: the FlashAttention-2 paper's grid — bf16, batch·seqlen = 16384,
//!   hidden 2048 (H = 2048/D), D ∈ {64, 128}, causal and non-causal, S = 512…16384;
//! - `cliff`: B·H = 32, D = 128, bf16, non-causal, S from 128 to 8192 in steps
//!   of √2, so the working set (32·S·128·2 bytes × 4 tensors) crosses a 50 MiB L2
//!   near S = 1600;
//! - `gqa`: 32 query heads over 8 and over 1 KV heads, B=2, D=128, bf16, S ∈ {1024, 4096}, causal and not.

use tileattn_kernels::DType;

use crate::problem::Problem;
use crate::{Error, Result};

pub const NAMES: [&str; 4] = ["seed", "fa2", "cliff", "gqa"];

/// The problems of the built-in suite `name`.
pub fn builtin(name: &str) -> Result<Vec<Problem>> {
    let square = |b, h, hkv, s, d, dtype, causal| Problem::new(b, h, hkv, s, s, d, dtype, causal);
    Ok(match name {
        "seed" => (7..=12)
            .map(|k| square(32, 8, 8, 1 << k, 64, DType::F16, false))
            .collect(),
        "fa2" => {
            let mut v = Vec::new();
            for d in [64u32, 128] {
                for causal in [false, true] {
                    for k in 9..=14 {
                        let s = 1u32 << k;
                        let h = 2048 / d;
                        v.push(square(16384 / s, h, h, s, d, DType::Bf16, causal));
                    }
                }
            }
            v
        }
        "cliff" => (0..=12)
            .map(|k| {
                // 128 · √2^k, rounded to a multiple of 16.
                let s = (128.0 * 2f64.powf(k as f64 / 2.0) / 16.0).round() as u32 * 16;
                square(4, 8, 8, s, 128, DType::Bf16, false)
            })
            .collect(),
        "gqa" => {
            let mut v = Vec::new();
            for hkv in [8u32, 1] {
                for s in [1024u32, 4096] {
                    for causal in [false, true] {
                        v.push(square(2, 32, hkv, s, 128, DType::Bf16, causal));
                    }
                }
            }
            v
        }
        _ => {
            return Err(Error::Invalid(format!(
                "no suite `{name}` (built-in: {})",
                NAMES.join(", ")
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fa2_grid_matches_the_paper() {
        let g = builtin("fa2").unwrap();
        assert_eq!(g.len(), 24);
        for p in &g {
            assert_eq!(p.batch * p.seqlen_q, 16384);
            assert_eq!(p.heads_q * p.head_dim, 2048);
            assert_eq!(p.dtype, DType::Bf16);
            p.validate().unwrap();
        }
        assert_eq!(g.iter().filter(|p| p.causal).count(), 12);
    }

    #[test]
    fn seed_and_cliff_and_gqa_are_valid() {
        let seed = builtin("seed").unwrap();
        assert_eq!(seed.first().map(|p| p.seqlen_q), Some(128));
        assert_eq!(seed.last().map(|p| p.seqlen_q), Some(4096));
        let cliff = builtin("cliff").unwrap();
        // The working set crosses 50 MiB inside the sweep.
        let ws = |p: &Problem| crate::metrics::min_bytes(p);
        assert!(ws(&cliff[0]) < 50 << 20 && ws(cliff.last().unwrap()) > 50 << 20);
        assert!(cliff.windows(2).all(|w| w[0].seqlen_q < w[1].seqlen_q));
        for p in cliff.iter().chain(&seed).chain(&builtin("gqa").unwrap()) {
            p.validate().unwrap();
        }
        assert!(builtin("nope").is_err());
    }
}
