//! The generated registry and the embedded PTX: unique names, every entry point
//! present for its archs with the right `.target`, and every variant assembling
//! under ptxas with no spills (and, for the tensor-core families, no stack
//! frame and no serialized wgmma): portable modules for sm_89 and sm_90, the sm_90a module for sm_90a.
//! By default ptxas sees a representative subset of the variants; the full
//! tier (`cargo test --workspace -- --include-ignored`) assembles every one.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};

use tileattn::host::ptxas;
use tileattn::host::registry::Variant;
use tileattn::kernels::{Arch, DType, Family};

#[test]
fn registry_names_are_unique_and_carry_every_parameter() {
    let reg = tileattn::registry();
    let mut seen = HashSet::new();
    for v in reg.variants {
        assert!(seen.insert(v.name), "duplicate variant {}", v.name);
        let t = &v.tile;
        for part in [
            format!("_{}_", t.family.name()),
            format!("_d{}_", t.head_dim),
            format!("_{}_", v.dtype.name()),
            format!("_bm{}_", t.block_m),
            format!("_bn{}_", t.block_n),
            format!("_w{}", t.warps),
        ] {
            assert!(v.name.contains(&part), "{} lacks {part}", v.name);
        }
        assert!(
            v.name
                .ends_with(if v.causal { "_causal" } else { "_noncausal" })
        );
    }
}

#[test]
fn every_entry_point_is_in_the_ptx_of_its_archs() {
    let reg = tileattn::registry();
    assert!(
        reg.module(Arch::Sm89).is_some(),
        "the default build must contain sm_89 PTX"
    );
    for m in reg.modules {
        assert!(
            m.ptx.contains(&format!(".target {}", m.arch.name())),
            "{} module has the wrong .target",
            m.arch.name()
        );
        for v in reg.variants.iter().filter(|v| v.archs.contains(&m.arch)) {
            assert!(
                m.ptx.contains(&format!(".visible .entry {}(", v.name)),
                "{} missing from the {} PTX",
                v.name,
                m.arch.name()
            );
        }
    }
}

/// The default tier: per kernel family, head dim and dtype, the causal variant
/// with the most tile per warp (the likeliest to spill; causal adds the mask
/// to the same code), about a tenth of the ptxas time of every variant.
#[test]
fn representative_variants_assemble_without_spills_stack_or_serialized_wgmma() {
    let reg = tileattn::registry();
    let mut heaviest: HashMap<(Family, usize, DType), &Variant> = HashMap::new();
    for v in reg.variants.iter().filter(|v| v.causal) {
        let t = &v.tile;
        let load = |v: &Variant| {
            (
                v.tile.block_m * v.tile.block_n / v.tile.warps,
                v.tile.stages,
                v.tile.block_m,
            )
        };
        let best = heaviest.entry((t.family, t.head_dim, v.dtype)).or_insert(v);
        if load(v) > load(best) {
            *best = v;
        }
    }
    let chosen: HashSet<&str> = heaviest.values().map(|v| v.name).collect();
    assemble_and_check(&|v| chosen.contains(v.name));
}

/// The full tier: every variant of the build.
#[test]
#[ignore = "full tier (cargo test --workspace -- --include-ignored): every variant through ptxas, minutes on 2 cores"]
fn every_variant_assembles_without_spills_stack_or_serialized_wgmma() {
    assemble_and_check(&|_| true);
}

/// Assemble the variants `pick` selects for every (module, ptxas target) and
/// check ptxas's report of each: no spills, and for the tensor-core families
/// no stack frame and no serialized wgmma.
fn assemble_and_check(pick: &(dyn Fn(&Variant) -> bool + Sync)) {
    let reg = tileattn::registry();
    // One ptxas per (module, target), all at once: each is single-threaded,
    // and together they were the test suite's second-longest step.
    let report = ptxas::assemble_variants(&reg, pick, usize::MAX, usize::MAX, &|_| {})
        .unwrap_or_else(|e| panic!("{e}"));
    for m in reg.modules {
        for arch in ptxas::report_targets(m.arch) {
            for v in reg
                .variants
                .iter()
                .filter(|v| v.archs.contains(&m.arch) && pick(v))
            {
                check_report(v, arch, &report);
            }
        }
    }
}

/// ptxas's report of `v` on `arch`: no spills, and for the tensor-core
/// families no stack frame and no serialized wgmma.
fn check_report(v: &Variant, arch: &str, report: &[ptxas::Resources]) {
    let r = report
        .iter()
        .find(|r| r.entry == v.name && r.arch == arch)
        .unwrap_or_else(|| panic!("ptxas did not report {} on {arch}", v.name));
    assert_eq!(
        (r.spill_store_bytes, r.spill_load_bytes),
        (0, 0),
        "{} spills on {arch}: {r:?}",
        v.name
    );
    // The tensor-core kernels keep every fragment in registers: a
    // stack frame means an array is indexed dynamically (a loop LLVM
    // did not unroll), which once cost v1 a 15× slowdown.
    if v.tile.family.pipelined() {
        assert_eq!(
            r.stack_bytes, 0,
            "{} uses local memory on {arch}: {r:?}",
            v.name
        );
    }
    // A kernel whose wgmma ptxas serializes overlaps nothing with
    // its products (v3's whole point); ptxas does it when a
    // non-wgmma instruction writes an accumulator in flight.
    assert!(
        !r.wgmma_serialized,
        "ptxas serializes the wgmma of {} on {arch}",
        v.name
    );
}

#[test]
fn the_ptx_names_nothing_that_depends_on_the_checkout() {
    // The kernel-build hash (tuning caches, run files, the ratchet's
    // identity check) is taken over this text, so it must be the same from
    // any checkout. The crates' mangled names carry a hash that depends on
    // their path: they are inlined away, and llc's verbose comments, which
    // named them, are off (build/ptx_link.rs).
    for m in tileattn::registry().modules {
        for name in ["tileattn_kernels", "tileattn_entries"] {
            assert!(
                !m.ptx.contains(name),
                "the {} PTX names `{name}`: its kernel-build hash would depend on the checkout path",
                m.arch.name()
            );
        }
    }
}

/// `variants --resources` splits the work into ptxas runs of a few entries,
/// several at a time: whatever the split, every entry is reported once per
/// target, in a fixed order, and the progress counts every one.
#[test]
fn runs_of_a_few_entries_report_each_once() {
    let reg = tileattn::registry();
    let picked: Vec<&str> = reg
        .variants
        .iter()
        .filter(|v| v.archs == [Arch::Sm90a] && v.tile.head_dim == 64 && v.dtype == DType::Bf16)
        .take(3)
        .map(|v| v.name)
        .collect();
    let done = AtomicUsize::new(0);
    let report = ptxas::assemble_variants(&reg, &|v| picked.contains(&v.name), 1, 2, &|n| {
        done.fetch_add(n, Ordering::Relaxed);
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(done.into_inner(), 3);
    let got: Vec<(&str, &str)> = report
        .iter()
        .map(|r| (r.entry.as_str(), r.arch.as_str()))
        .collect();
    let mut want: Vec<(&str, &str)> = picked.iter().map(|n| (*n, "sm_90a")).collect();
    want.sort();
    assert_eq!(got, want);
}
