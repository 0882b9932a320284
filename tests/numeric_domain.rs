//! The softmax scales the kernels accept, on the emulator against the f64
//! reference: every family (v0–v3), both dtypes, causal and not, at negative
//! scales (run as |s| on −Q, `launch::staged_q`), tiny ones, and ones just
//! inside the bound `domain::check_scores` enforces (the largest scaled score
//! 2^24), where the kernels must still be right. Beyond it they are not: on
//! these inputs v1–v3 give NaN in O from 256× the largest accepted scale.
//!
//! LSE is f32: where it is large, its resolution is coarser than the
//! absolute 1e-3 of the usual check (at |LSE| ≈ 10^7, one ulp is 1), so it
//! is held to 1e-3 plus a few f32 ulps of its size (2^-20 relative).

use rand::SeedableRng;
use tileattn::host::problem::Problem;
use tileattn::host::registry::Variant;
use tileattn::host::tensor::{Layout, Tensor, random_inputs};
use tileattn::host::{domain, emulate, reference};
use tileattn::kernels::{DType, Family};

/// One variant of `family` for `dtype` and causality, head dim 64.
fn variant(family: Family, dtype: DType, causal: bool) -> &'static Variant {
    tileattn::registry()
        .variants
        .iter()
        .find(|v| {
            v.tile.family == family
                && v.dtype == dtype
                && v.causal == causal
                && v.tile.head_dim == 64
        })
        .unwrap_or_else(|| panic!("no {family:?} {dtype:?} variant of head dim 64"))
}

/// The largest |scale| `check_scores` accepts for these inputs.
fn largest_scale(q: &Tensor, k: &Tensor, p: &Problem) -> f32 {
    let (mut lo, mut hi) = (1f32, 1e30f32);
    // Bisect on the check itself: the tests follow the rule, not a copy of it.
    for _ in 0..200 {
        let mid = (lo * hi).sqrt();
        let ok = domain::check_scores(
            &Problem {
                softmax_scale: mid,
                ..*p
            },
            q,
            k,
        )
        .is_ok();
        if ok { lo = mid } else { hi = mid }
    }
    lo
}

/// Relative resolution of a large f32 LSE: a few ulps (2^-23 each).
const LSE_RELATIVE: f64 = 1.0 / (1 << 20) as f64;

fn check(v: &Variant, p: &Problem, q: &Tensor, k: &Tensor, val: &Tensor) -> Result<(), String> {
    domain::check_scores(p, q, k).map_err(|e| e.to_string())?;
    let (o, lse) = emulate::run(v, p, q, k, val, Layout::Bshd).map_err(|e| e.to_string())?;
    let want = reference::attention(p, q, k, val);
    let cmp = reference::compare(p, &want, &o, &lse);
    let lse_ok = lse.iter().zip(&want.lse).all(|(&got, &want)| {
        (got as f64 - want).abs() <= reference::LSE_TOLERANCE + LSE_RELATIVE * want.abs()
    });
    if cmp.rel_l2 <= reference::tolerance(p.dtype) && lse_ok {
        Ok(())
    } else {
        Err(format!(
            "{} at scale {:e}: rel L2 {:.3e}, LSE max abs err {:.3e}",
            v.name, p.softmax_scale, cmp.rel_l2, cmp.lse_max_abs
        ))
    }
}

#[test]
fn every_family_matches_the_reference_at_any_accepted_scale() {
    let mut failures = Vec::new();
    for family in [Family::V0, Family::V1, Family::V2, Family::V3, Family::V4] {
        for (dtype, causal) in [(DType::F16, false), (DType::Bf16, true)] {
            let v = variant(family, dtype, causal);
            let p = Problem::new(1, 2, 1, 37, 50, 64, dtype, causal);
            let mut rng = rand::rngs::StdRng::seed_from_u64(7);
            let [q, k, val] = random_inputs(&p, Layout::Bshd, &mut rng);
            let edge = largest_scale(&q, &k, &p);
            for scale in [
                -0.125,
                -1.0,
                -8.0,
                1e-30,
                -1e-30,
                0.999 * edge,
                -0.999 * edge,
            ] {
                let p = Problem {
                    softmax_scale: scale,
                    ..p
                };
                if let Err(e) = check(v, &p, &q, &k, &val) {
                    failures.push(e);
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
