//! The measuring commands on a machine without a GPU (CI): bad options are
//! usage errors (exit 2) checked before any device is needed, and a valid
//! request ends with one clear line and the no-device exit code (3), never a
//! panic.

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
