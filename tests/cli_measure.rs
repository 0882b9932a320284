//! The measuring commands on a machine without a GPU (CI): bad options are
//! usage errors (exit 2) checked before any device is needed, and a valid
//! request ends with one clear line and the no-device exit code (3), never a
//! panic. `bench --variant`/`--family` are resolved against the suite
//! before the device is opened.

mod common;
use common::{assert_exit, tileattn};

/// suites/dtype-parity-grid.toml: f16 problems with and without bf16 values.
const GRID: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/suites/dtype-parity-grid.toml");

#[test]
fn invalid_measuring_options_are_usage_errors() {
    let cases: [(&[&str], &str); 12] = [
        (&["time", "--shape", "1,2,64"], "expected B,Hq,S,D"),
        (&["time", "--shape", "1,2,64,96"], "head dim 96"),
        (
            &["time", "--shape", "1,3,2,64,64", "--dtype", "f16"],
            "multiple of heads_kv",
        ),
        (
            &["time", "--shape", "1,2,64,64", "--dtype", "fp8"],
            "expected f16 or bf16",
        ),
        (
            &["time", "--shape", "1,2,64,64", "--sample-budget=-1"],
            "positive number of seconds",
        ),
        (
            &[
                "time",
                "--shape",
                "1,2,64,64",
                "--warmup-ms",
                "300",
                "--warmup-max-ms",
                "100",
            ],
            "below the minimum",
        ),
        (&["tune", "--suite", "nope"], "no suite `nope`"),
        (
            &["time", "--shape", "1,2,64,64", "--operand-values", "fp8"],
            "--operand-values: operand values `fp8`: expected `dtype`",
        ),
        (
            &["bench", "--suite", "seed", "--operand-values", "f16"],
            "operand values `f16`",
        ),
        (
            &["check", "--emulate", "--operand-values", "BF16"],
            "operand values `BF16`",
        ),
        (
            &["tune", "--suite-file", GRID, "--operand-values", "bf16"],
            "with operand values `bf16`, problem 3 of the suite is problem 2",
        ),
        (
            &["tune", "--shape", "1,2,64,64", "--strategy", "random"],
            "expected exhaustive or halving",
        ),
    ];
    for (args, needle) in cases {
        assert_exit(&tileattn(args), 2, needle);
    }
}

#[test]
fn without_a_gpu_measuring_commands_say_so() {
    if std::path::Path::new("/dev/nvidia0").exists() {
        eprintln!("skipped: this machine has a GPU");
        return;
    }
    for args in [
        &["time", "--shape", "1,2,64,64"][..],
        &[
            "time",
            "--shape",
            "1,2,64,64",
            "--dtype",
            "f16",
            "--operand-values",
            "bf16",
        ][..],
        &["bench", "--suite-file", GRID][..],
        &["bench", "--suite", "seed", "--operand-values", "bf16"][..],
        &["tune", "--shape", "1,2,64,64"][..],
        &["info", "--ceilings"][..],
    ] {
        assert_exit(&tileattn(args), 3, "no GPU available");
    }
}

/// A d64 bf16 non-causal variant: 6 of the fa2 suite's 24 problems, none of seed's.
const D64_BF16: &str = "attn_fwd_v1_d64_bf16_bm64_bn64_w4_s2_noncausal";

/// `bench --variant` and `--family` are resolved against this build's
/// variants and the suite before any device is needed.
#[test]
fn bench_selections_are_checked_before_the_device() {
    let cases: [(&[&str], &str); 8] = [
        (
            &["bench", "--suite", "fa2", "--variant", "nope"],
            "no variant `nope`",
        ),
        (
            &["bench", "--suite", "seed", "--variant", D64_BF16],
            "computes none of the suite's problems (it computes D=64 bf16 non-causal)",
        ),
        (
            &[
                "bench",
                "--suite",
                "fa2",
                "--variant",
                D64_BF16,
                "--variant",
                "attn_fwd_v1_d64_bf16_bm128_bn64_w8_s2_noncausal",
            ],
            "both compute",
        ),
        (
            &["bench", "--suite", "fa2", "--family", "v9"],
            "no kernel family `v9`",
        ),
        (
            &[
                "bench",
                "--suite",
                "seed",
                "--variant",
                D64_BF16,
                "--family",
                "v1",
            ],
            "cannot be used with",
        ),
        // Torch's backends only with torch; a suite's problems carry their own dtype.
        (
            &["bench", "--suite", "seed", "--backends", "flash"],
            "--compare",
        ),
        (
            &["bench", "--suite", "seed", "--dtype", "f16"],
            "cannot be used with",
        ),
        (
            &["tune", "--suite", "seed", "--causal"],
            "cannot be used with",
        ),
    ];
    for (args, needle) in cases {
        assert_exit(&tileattn(args), 2, needle);
    }
}

#[test]
fn bench_lists_the_problems_a_named_variant_skips() {
    if std::path::Path::new("/dev/nvidia0").exists() {
        eprintln!("skipped: this machine has a GPU");
        return;
    }
    let o = tileattn(&["bench", "--suite", "fa2", "--variant", D64_BF16]);
    assert_exit(&o, 3, "no GPU available");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("skipping 18 of 24 problems, which none of the named variants computes"),
        "{err}"
    );
    assert_eq!(err.matches("\n  B=").count(), 18, "{err}");
    for args in [
        &["bench", "--shape", "1,2,64,64", "--variant", D64_BF16][..],
        &[
            "bench",
            "--shape",
            "1,2,64,64",
            "--family",
            "v1",
            "--compare",
            "torch",
        ][..],
    ] {
        assert_exit(&tileattn(args), 3, "no GPU available");
    }
}
