//! The correctness sweep on the CPU emulator: every registered variant runs on
//! random shapes (proptest) against the f64 reference, with fresh random inputs
//! and NaN-poisoned outputs. The kernels are the very source the GPU runs.
//!
//! Cases per variant: `TILEATTN_SWEEP_CASES` (default 6). A failure prints the
//! variant and the shrunk shape.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use rand::SeedableRng;
use tileattn::host::emulate;
use tileattn::host::problem::Problem;
use tileattn::host::reference;
use tileattn::host::registry::Variant;
use tileattn::host::tensor::{Layout, random_inputs};
use tileattn::kernels::Family;

/// (heads_q, heads_kv): MHA, GQA 2:1 and 4:1, MQA.
const HEADS: [(u32, u32); 5] = [(1, 1), (2, 2), (2, 1), (4, 2), (4, 1)];

#[derive(Debug, Clone)]
struct Case {
    batch: u32,
    heads: (u32, u32),
    seqlen_q: u32,
    seqlen_k: u32,
    bhsd_inputs: bool,
    seed: u64,
}

fn cases() -> impl Strategy<Value = Case> {
    (
        1u32..=3,
        prop::sample::select(HEADS.to_vec()),
        1u32..=300,
        1u32..=300,
        any::<bool>(),
        any::<u64>(),
    )
        .prop_map(
            |(batch, heads, seqlen_q, seqlen_k, bhsd_inputs, seed)| Case {
                batch,
                heads,
                seqlen_q,
                seqlen_k,
                bhsd_inputs,
                seed,
            },
        )
}

fn run_case(v: &Variant, c: &Case) -> Result<(), TestCaseError> {
    let p = Problem::new(
        c.batch,
        c.heads.0,
        c.heads.1,
        c.seqlen_q,
        c.seqlen_k,
        v.tile.head_dim as u32,
        v.dtype,
        v.causal,
    );
    let mut rng = rand::rngs::StdRng::seed_from_u64(c.seed);
    let layout = if c.bhsd_inputs {
        Layout::Bhsd
    } else {
        Layout::Bshd
    };
    let [q, k, val] = random_inputs(&p, layout, &mut rng);
    let (o, lse) = emulate::run(v, &p, &q, &k, &val, Layout::Bshd)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let cmp = reference::compare(&p, &reference::attention(&p, &q, &k, &val), &o, &lse);
    prop_assert!(
        cmp.passes(p.dtype),
        "{}: {p} ({layout:?} inputs): rel L2 {:.3e} (tol {:.0e}), LSE max abs err {:.3e} (tol {:.0e})",
        v.name,
        cmp.rel_l2,
        reference::tolerance(p.dtype),
        cmp.lse_max_abs,
        reference::LSE_TOLERANCE
    );
    Ok(())
}

fn sweep(family: Family) {
    let cases_per_variant = std::env::var("TILEATTN_SWEEP_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    let variants: Vec<_> = tileattn::registry()
        .variants
        .iter()
        .filter(|v| v.tile.family == family)
        .collect();
    assert!(!variants.is_empty(), "no {family:?} variants registered");
    for v in variants {
        let mut runner = TestRunner::new(Config {
            cases: cases_per_variant,
            failure_persistence: None,
            ..Config::default()
        });
        if let Err(e) = runner.run(&cases(), |c| run_case(v, &c)) {
            panic!("{}: {e}", v.name);
        }
    }
}

#[test]
fn kernel_v0_matches_reference_on_emulator() {
    sweep(Family::V0);
}

#[test]
fn kernel_v1_matches_reference_on_emulator() {
    sweep(Family::V1);
}

#[test]
fn kernel_v2_matches_reference_on_emulator() {
    sweep(Family::V2);
}

#[test]
fn kernel_v3_matches_reference_on_emulator() {
    sweep(Family::V3);
}

#[test]
fn kernel_v4_matches_reference_on_emulator() {
    sweep(Family::V4);
}
