//! The correctness sweep on the CPU emulator: variants run on random shapes
//! (proptest) against the f64 reference, with fresh random inputs and
//! NaN-poisoned outputs. The kernels are the very source the GPU runs.
//!
//! Two tiers. By default each family's test runs a random sample of its
//! variants ([`SAMPLED_PER_FAMILY`], or `TILEATTN_SWEEP_VARIANTS`), chosen by
//! a seed it prints; `TILEATTN_SWEEP_SEED=<seed>` replays exactly that
//! sample and those shapes. The full tier (`cargo test --workspace --
//! --include-ignored`) runs every variant. Cases per variant:
//! `TILEATTN_SWEEP_CASES` (default 6). A failure prints the seed, the variant
//! and the shrunk shape.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{RngCore, SeedableRng};
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

/// Variants per family the default tier samples.
const SAMPLED_PER_FAMILY: usize = 3;

/// Which variants of a family a test runs.
#[derive(Clone, Copy)]
enum Tier {
    Sampled,
    Every,
}

/// The seed of this test run: `TILEATTN_SWEEP_SEED`, else the clock. One per
/// process, printed once, so every family's sample replays from it.
fn sweep_seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| {
        let seed = match std::env::var("TILEATTN_SWEEP_SEED") {
            Ok(s) => s.parse().unwrap_or_else(|_| {
                panic!("TILEATTN_SWEEP_SEED={s}: expected an unsigned integer")
            }),
            Err(_) => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64),
        };
        println!("emulated sweep: seed {seed} (replay with TILEATTN_SWEEP_SEED={seed})");
        seed
    })
}

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn sweep(family: Family, tier: Tier) {
    let cases_per_variant = env_count("TILEATTN_SWEEP_CASES", 6) as u32;
    let all: Vec<&Variant> = tileattn::registry()
        .variants
        .iter()
        .filter(|v| v.tile.family == family)
        .collect();
    assert!(!all.is_empty(), "no {family:?} variants registered");
    let seed = sweep_seed();
    // One stream per family, so a family's sample does not depend on which
    // other families' tests run.
    let mut rng = StdRng::seed_from_u64(seed ^ family as u64);
    let variants: Vec<&Variant> = match tier {
        Tier::Every => all,
        Tier::Sampled => {
            let n = env_count("TILEATTN_SWEEP_VARIANTS", SAMPLED_PER_FAMILY);
            all.choose_multiple(&mut rng, n).copied().collect()
        }
    };
    for v in variants {
        let mut shapes = [0u8; 32];
        rng.fill_bytes(&mut shapes);
        let mut runner = TestRunner::new_with_rng(
            Config {
                cases: cases_per_variant,
                failure_persistence: None,
                ..Config::default()
            },
            TestRng::from_seed(RngAlgorithm::ChaCha, &shapes),
        );
        if let Err(e) = runner.run(&cases(), |c| run_case(v, &c)) {
            panic!("{} (TILEATTN_SWEEP_SEED={seed}): {e}", v.name);
        }
    }
}

#[test]
fn kernel_v0_matches_reference_on_emulator() {
    sweep(Family::V0, Tier::Sampled);
}

#[test]
fn kernel_v1_matches_reference_on_emulator() {
    sweep(Family::V1, Tier::Sampled);
}

#[test]
fn kernel_v2_matches_reference_on_emulator() {
    sweep(Family::V2, Tier::Sampled);
}

#[test]
fn kernel_v3_matches_reference_on_emulator() {
    sweep(Family::V3, Tier::Sampled);
}

#[test]
fn kernel_v4_matches_reference_on_emulator() {
    sweep(Family::V4, Tier::Sampled);
}

#[test]
#[ignore = "full tier (cargo test --workspace -- --include-ignored): every variant, minutes on 2 cores"]
fn every_v0_variant_matches_reference_on_emulator() {
    sweep(Family::V0, Tier::Every);
}

#[test]
#[ignore = "full tier (cargo test --workspace -- --include-ignored): every variant, minutes on 2 cores"]
fn every_v1_variant_matches_reference_on_emulator() {
    sweep(Family::V1, Tier::Every);
}

#[test]
#[ignore = "full tier (cargo test --workspace -- --include-ignored): every variant, minutes on 2 cores"]
fn every_v2_variant_matches_reference_on_emulator() {
    sweep(Family::V2, Tier::Every);
}

#[test]
#[ignore = "full tier (cargo test --workspace -- --include-ignored): every variant, minutes on 2 cores"]
fn every_v3_variant_matches_reference_on_emulator() {
    sweep(Family::V3, Tier::Every);
}

#[test]
#[ignore = "full tier (cargo test --workspace -- --include-ignored): every variant, minutes on 2 cores"]
fn every_v4_variant_matches_reference_on_emulator() {
    sweep(Family::V4, Tier::Every);
}
