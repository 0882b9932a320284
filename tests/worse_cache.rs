//! `scripts/worse_cache.py`, the ratchet demonstration's way to force slower
//! variants: its output is a tuning cache tileattn loads without complaint,
//! and every entry dispatches to another variant of this build that computes
//! the problem and was timed slower.

use std::path::{Path, PathBuf};
use std::process::Command;

use tileattn::host::problem::Problem;
use tileattn::host::suites;
use tileattn::host::tune_cache::{BuildIdentity, TuneCache};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The H100 section's identity in the committed cache.
fn h100() -> BuildIdentity {
    BuildIdentity {
        gpu_name: "NVIDIA H100 80GB HBM3".into(),
        compute_capability: "9.0".into(),
        driver_version: "13.0".into(),
        kernel_build: "6959723731ec4e7973b5b01842857cdda30aa2c7d219f134677cb90362614911".into(),
    }
}

/// Runs the script; None (with a skip line) on a machine without python3.
fn worse_cache(out: &Path, extra: &[&str]) -> Option<std::process::Output> {
    let o = Command::new("python3")
        .arg(root().join("scripts/worse_cache.py"))
        .arg(root().join("results/h100/tune-cache-fa2.json"))
        .arg(out)
        .args(extra)
        .output();
    match o {
        Ok(o) => Some(o),
        Err(e) => {
            eprintln!("skipped: python3 not runnable ({e})");
            None
        }
    }
}

fn load(path: PathBuf) -> TuneCache {
    TuneCache::load(path, h100()).unwrap().0
}

/// Every fa2 problem dispatches to a different, valid, slower variant;
/// returns the slowdowns the tuner measured.
fn check(worse: &TuneCache, normal: &TuneCache) -> Vec<f64> {
    let reg = tileattn::registry();
    let problems: Vec<Problem> = suites::builtin("fa2").unwrap();
    problems
        .iter()
        .map(|p| {
            let (old, new) = (normal.lookup(p).unwrap(), worse.lookup(p).unwrap());
            assert_ne!(new.winner.variant, old.winner.variant, "{p}");
            let v = reg
                .find(&new.winner.variant)
                .expect("a variant of this build");
            assert!(v.serves(p), "{} does not compute {p}", v.name);
            let demoted = new.runner_up.as_ref().unwrap();
            assert_eq!(demoted.variant, old.winner.variant);
            assert!(new.winner.median_ms > old.winner.median_ms, "{p}");
            new.winner.median_ms / old.winner.median_ms
        })
        .collect()
}

#[test]
fn worse_cache_dispatches_every_problem_to_a_slower_valid_variant() {
    let dir = tempfile::tempdir().unwrap();
    let normal = load(root().join("results/h100/tune-cache-fa2.json"));

    // From the cache alone: the runner-ups.
    let out = dir.path().join("runner-up.json");
    let Some(o) = worse_cache(&out, &[]) else {
        return;
    };
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let worse = load(out);
    for (p, ratio) in suites::builtin("fa2")
        .unwrap()
        .iter()
        .zip(check(&worse, &normal))
    {
        let runner_up = normal.lookup(p).unwrap().runner_up.as_ref().unwrap();
        assert_eq!(worse.lookup(p).unwrap().winner.variant, runner_up.variant);
        assert!(ratio >= 1.0);
    }

    // With every candidate's timing: the slowest one within 2×.
    let out = dir.path().join("slowest.json");
    let tuning = root().join("results/h100/tuning/tune-fa2-exhaustive.json");
    let o = worse_cache(&out, &["--candidates", tuning.to_str().unwrap()]).unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let ratios = check(&load(out), &normal);
    assert!(
        ratios.iter().all(|&r| (1.05..=2.0).contains(&r)),
        "{ratios:?}"
    );

    // The real cache is never the output.
    let same = root().join("results/h100/tune-cache-fa2.json");
    let o = worse_cache(&same, &[]).unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("OUT must differ from IN"));
}
