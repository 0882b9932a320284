//! `tileattn run` end to end on the CPU emulator: a correct run, inputs on
//! bf16 values, and bad inputs rejected with a clear message and no output
//! file left behind; `tileattn check` on bf16 values.

use std::path::Path;
use std::process::Command;

use tileattn::host::element::{from_bits, to_bits};
use tileattn::host::npy;
use tileattn::kernels::DType;

/// Writes a (bad) v.npy into the directory.
type MakeV = Box<dyn Fn(&Path)>;

fn tileattn() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tileattn"))
}

fn save(path: &Path, shape: &[usize], seed: u32) {
    let n: usize = shape.iter().product();
    // Deterministic, non-zero, varied values.
    let data: Vec<f32> = (0..n)
        .map(|i| {
            (((i as u32).wrapping_mul(2654435761).wrapping_add(seed) >> 16) as f32 / 65536.0 - 0.5)
                * 2.0
        })
        .collect();
    npy::write_atomic(path, &npy::encode_f32(shape, &data)).unwrap();
}

fn run(dir: &Path, extra: &[&str]) -> std::process::Output {
    tileattn()
        .args(["run", "--emulate", "--q"])
        .arg(dir.join("q.npy"))
        .arg("--k")
        .arg(dir.join("k.npy"))
        .arg("--v")
        .arg(dir.join("v.npy"))
        .arg("--out")
        .arg(dir.join("o.npy"))
        .arg("--lse")
        .arg(dir.join("lse.npy"))
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn run_writes_outputs_that_match_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    save(&d.join("q.npy"), &[1, 37, 4, 64], 1);
    save(&d.join("k.npy"), &[1, 50, 2, 64], 2);
    save(&d.join("v.npy"), &[1, 50, 2, 64], 3);
    let out = run(d, &["--causal", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // bf16 when --dtype is not given, as everywhere; --json says what ran.
    let said: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(said["problem"]["dtype"], "bf16");
    assert_eq!(said["executor"], "CPU emulator");
    assert_eq!(
        said["chosen_by"],
        "default heuristic: not tuned for this shape"
    );
    assert!(said["variant"].as_str().unwrap().contains("_bf16_"));
    assert_eq!(said["written"].as_array().unwrap().len(), 2);
    let o = npy::read(&d.join("o.npy")).unwrap();
    let lse = npy::read(&d.join("lse.npy")).unwrap();
    assert_eq!(o.shape, vec![1, 37, 4, 64]);
    assert_eq!(lse.shape, vec![1, 4, 37]);
    assert!(o.data.iter().all(|x| x.is_finite()));
}

/// `--operand-values bf16` is the run on the inputs rounded to bf16 first: the
/// same output, bit for bit, as a plain f16 run on inputs saved that way; and
/// not the plain run on the original inputs (which are not bf16 values).
#[test]
fn run_on_bf16_values_is_the_run_on_inputs_rounded_to_bf16() {
    let (original, rounded) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let shapes: [(&str, [usize; 4], u32); 3] = [
        ("q.npy", [1, 37, 4, 64], 1),
        ("k.npy", [1, 50, 2, 64], 2),
        ("v.npy", [1, 50, 2, 64], 3),
    ];
    for (name, shape, seed) in shapes {
        save(&original.path().join(name), &shape, seed);
        let a = npy::read(&original.path().join(name)).unwrap();
        let bf16: Vec<f32> = a
            .data
            .iter()
            .map(|&x| from_bits(DType::Bf16, to_bits(DType::Bf16, x)))
            .collect();
        assert_ne!(
            bf16, a.data,
            "{name}: the inputs must not be bf16 values already"
        );
        npy::write_atomic(&rounded.path().join(name), &npy::encode_f32(&shape, &bf16)).unwrap();
    }
    let o = |dir: &Path, extra: &[&str]| {
        let out = run(dir, extra);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        (npy::read(&dir.join("o.npy")).unwrap().data, stderr)
    };
    let (on_bf16, said) = o(
        original.path(),
        &["--dtype", "f16", "--operand-values", "bf16"],
    );
    assert!(said.contains("D=64 f16 (bf16 values)"), "{said}");
    let (plain_on_rounded, _) = o(rounded.path(), &["--dtype", "f16"]);
    let (plain, _) = o(original.path(), &["--dtype", "f16"]);
    let differing = |a: &[f32], b: &[f32]| a.iter().zip(b).filter(|(x, y)| x != y).count();
    assert_eq!(differing(&on_bf16, &plain_on_rounded), 0);
    assert!(differing(&on_bf16, &plain) > 0);
    let out = run(original.path(), &["--operand-values", "f8"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("operand values `f8`"));
}

#[test]
fn check_runs_on_bf16_values() {
    let out = tileattn()
        .args([
            "check",
            "--emulate",
            "--variant",
            "attn_fwd_v1_d64_f16_bm64_bn64_w4_s2_noncausal",
            "--shapes",
            "1,2,1,17,33",
            "--operand-values",
            "bf16",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("inputs on bf16 values"), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 passed, 0 failed"));
}

#[test]
fn bad_inputs_fail_clearly_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    save(&d.join("q.npy"), &[1, 8, 2, 64], 1);
    save(&d.join("k.npy"), &[1, 8, 2, 64], 2);
    let cases: [(&str, MakeV); 4] = [
        (
            "rank 4",
            Box::new(|d: &Path| save(&d.join("v.npy"), &[8, 2, 64], 3)),
        ),
        (
            "but v has",
            Box::new(|d: &Path| save(&d.join("v.npy"), &[1, 9, 2, 64], 3)),
        ),
        (
            "truncated",
            Box::new(|d: &Path| {
                let bytes = npy::encode_f32(&[1, 8, 2, 64], &[0.5; 1024]);
                std::fs::write(d.join("v.npy"), &bytes[..bytes.len() - 10]).unwrap();
            }),
        ),
        (
            "not supported",
            Box::new(|d: &Path| {
                let mut bytes = npy::encode_f32(&[1, 8, 2, 64], &[0.5; 1024]);
                let at = bytes.windows(3).position(|w| w == b"<f4").unwrap();
                bytes[at..at + 3].copy_from_slice(b"<i4");
                std::fs::write(d.join("v.npy"), bytes).unwrap();
            }),
        ),
    ];
    for (needle, make_v) in cases {
        make_v(d);
        let out = run(d, &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{needle}: {err}");
        assert!(err.contains(needle), "expected `{needle}` in: {err}");
        assert!(
            !d.join("o.npy").exists() && !d.join("lse.npy").exists(),
            "{needle}: an output file was left behind"
        );
    }
    save(&d.join("v.npy"), &[1, 8, 2, 64], 3);
    let out = run(d, &["--dtype", "f32"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected f16 or bf16"));
}
