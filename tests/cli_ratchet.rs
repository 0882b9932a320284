//! `tileattn ratchet` end to end on the committed H100 run: exit codes (0 no
//! regression, 1 regression, 2 usage or incomparable/malformed input), the
//! refusal of mismatched runs, the upward-only `--update`, and `--init`.

mod common;
use common::tileattn;

use std::path::{Path, PathBuf};
use std::process::Output;

use tileattn::host::ratchet::Baseline;
use tileattn::host::runfile::RunFile;

fn committed() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("results/h100/fa2.json")
}

fn ratchet(baseline: &Path, current: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "ratchet",
        "--baseline",
        baseline.to_str().unwrap(),
        "--current",
        current.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    tileattn(&args)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
fn assert_exit(o: &Output, code: i32, needle: &str) {
    let (out, err) = (stdout(o), stderr(o));
    assert_eq!(
        o.status.code(),
        Some(code),
        "stdout:\n{out}\nstderr:\n{err}"
    );
    assert!(
        out.contains(needle) || err.contains(needle),
        "`{needle}` in neither\nstdout:\n{out}\nstderr:\n{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

/// The committed run, edited by `edit`, saved as `name` in `dir`.
fn variant_of(dir: &Path, name: &str, edit: impl FnOnce(&mut RunFile)) -> PathBuf {
    let mut run = RunFile::load(&committed()).unwrap();
    edit(&mut run);
    let path = dir.join(name);
    run.save(&path).unwrap();
    path
}

fn scale(run: &mut RunFile, index: usize, factor: f64) {
    let m = &mut run.measurements[index];
    for x in &mut m.samples_ms {
        *x *= factor;
    }
    m.summary.median_ms *= factor;
}

#[test]
fn a_run_against_itself_has_no_regression() {
    let o = ratchet(&committed(), &committed(), &[]);
    assert_exit(&o, 0, "### tileattn performance ratchet: no regression");
    assert!(stdout(&o).contains("0 regressed**, 0 inconclusive, 96 unchanged, 0 improved"));
}

#[test]
fn a_slower_tileattn_fails_with_exit_1_in_markdown_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let slow = variant_of(dir.path(), "slow.json", |r| scale(r, 4, 1.1));
    let o = ratchet(&committed(), &slow, &[]);
    assert_exit(&o, 1, "### tileattn performance ratchet: 1 regressed");
    assert!(
        stdout(&o).contains("| **regressed** | tileattn B=16 Hq=32 Hkv=32 Sq=1024 Sk=1024 D=64"),
        "{}",
        stdout(&o)
    );
    let o = ratchet(&committed(), &slow, &["--json"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["counts"]["regressed"], 1);
    assert_eq!(v["rows"][0]["verdict"], "regressed");
    assert_eq!(v["rows"][0]["key"]["implementation"], "tileattn");
    // A higher threshold forgives it.
    assert_exit(
        &ratchet(&committed(), &slow, &["--threshold", "15%"]),
        0,
        "no regression",
    );
}

#[test]
fn runs_of_another_machine_or_build_are_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let other_gpu = variant_of(dir.path(), "gpu.json", |r| {
        r.env.gpu_name = "NVIDIA A100-SXM4-80GB".into()
    });
    let other_driver = variant_of(dir.path(), "driver.json", |r| {
        r.env.driver_version = "12.4".into()
    });
    let other_build = variant_of(dir.path(), "build.json", |r| {
        r.env.kernel_build = "feedface".into()
    });
    for (path, field) in [
        (
            &other_gpu,
            "GPU: baseline `NVIDIA H100 80GB HBM3`, current `NVIDIA A100-SXM4-80GB`",
        ),
        (&other_driver, "driver: baseline `13.0`, current `12.4`"),
        (&other_build, "kernel build: baseline `6959723731ec"),
    ] {
        let o = ratchet(&committed(), path, &[]);
        assert_exit(&o, 2, "incomparable");
        assert_exit(&o, 2, field);
        assert!(stdout(&o).is_empty(), "no report for refused runs");
        let o = ratchet(&committed(), path, &["--allow-mismatch"]);
        assert_exit(&o, 0, "**Compared although the runs differ in:**");
    }
    // --allow-kernel-change lets only the kernel build differ.
    assert_exit(
        &ratchet(&committed(), &other_build, &["--allow-kernel-change"]),
        0,
        "kernel build: baseline",
    );
    assert_exit(
        &ratchet(&committed(), &other_gpu, &["--allow-kernel-change"]),
        2,
        "GPU: baseline",
    );
}

#[test]
fn update_raises_the_baseline_only_where_the_run_improved() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("baseline.json");
    std::fs::copy(committed(), &base).unwrap();
    let better = variant_of(dir.path(), "better.json", |r| {
        scale(r, 0, 0.9);
        scale(r, 1, 1.1);
    });
    let o = ratchet(&base, &better, &["--update"]);
    // The torch row regressed: exit 1 whatever the update did.
    assert_exit(&o, 1, "1 measurement(s) raised or added");
    let b = Baseline::load(&base).unwrap();
    let better_run = RunFile::load(&better).unwrap();
    let original = RunFile::load(&committed()).unwrap();
    assert_eq!(b.run.measurements[0], better_run.measurements[0]);
    assert_eq!(b.run.measurements[1], original.measurements[1]);
    assert_eq!(b.run.measurements[2..], original.measurements[2..]);
    assert_eq!(b.history.len(), 1);
    assert_eq!(
        b.history[0].replaced.as_ref().unwrap().measurement,
        original.measurements[0]
    );

    // A worse run with --update leaves the file byte for byte as it was.
    let before = std::fs::read(&base).unwrap();
    let worse = variant_of(dir.path(), "worse.json", |r| scale(r, 0, 1.2));
    assert_exit(
        &ratchet(&base, &worse, &["--update"]),
        1,
        "0 measurement(s) raised",
    );
    assert_eq!(std::fs::read(&base).unwrap(), before);

    // Another GPU never updates a baseline, even when comparing is allowed.
    let foreign = variant_of(dir.path(), "foreign.json", |r| {
        r.env.gpu_name = "NVIDIA B200".into();
        scale(r, 4, 0.5);
    });
    let o = ratchet(&base, &foreign, &["--update", "--allow-mismatch"]);
    assert_exit(&o, 2, "only updated from runs on the same GPU");
    assert_eq!(std::fs::read(&base).unwrap(), before);
}

#[test]
fn malformed_inputs_are_usage_errors_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(committed()).unwrap();
    let write = |name: &str, body: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        p
    };
    let truncated = write("truncated.json", &text[..text.len() / 3]);
    let version = write(
        "v9.json",
        &text.replacen("\"schema_version\": 1", "\"schema_version\": 9", 1),
    );
    let nan = write(
        "nan.json",
        &text.replacen(
            "\"median_ms\": 0.3273",
            "\"median_ms\": NaN, \"x\": 0.3273",
            1,
        ),
    );
    let cases = [
        (
            truncated,
            "truncated: the JSON ends before the run file does",
        ),
        (
            version,
            "schema_version 9, but this tileattn reads version 1",
        ),
        (nan, "a NaN or infinity, which is not a JSON number"),
        (dir.path().join("missing.json"), "no such run file"),
    ];
    for (path, needle) in &cases {
        assert_exit(&ratchet(path, &committed(), &[]), 2, needle);
        assert_exit(&ratchet(&committed(), path, &[]), 2, needle);
    }
    assert_exit(
        &ratchet(&committed(), &committed(), &["--threshold", "2"]),
        2,
        "write 2% or 0.02",
    );
    assert_exit(
        &ratchet(&committed(), &committed(), &["--confidence", "1.5"]),
        2,
        "confidence",
    );
    assert_exit(
        &tileattn(&["ratchet", "--current", committed().to_str().unwrap()]),
        2,
        "--baseline",
    );
}

#[test]
fn init_writes_a_baseline_by_gpu_and_never_overwrites_one() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("baselines");
    let current = committed();
    let args = [
        "ratchet",
        "--init",
        "--current",
        current.to_str().unwrap(),
        "--baselines-dir",
        root.to_str().unwrap(),
    ];
    let o = tileattn(&args);
    assert_exit(&o, 0, "NVIDIA_H100_80GB_HBM3/fa2.json");
    let made = root.join("NVIDIA_H100_80GB_HBM3/fa2.json");
    let b = Baseline::load(&made).unwrap();
    assert_eq!(b.run, RunFile::load(&committed()).unwrap());
    assert!(b.history.is_empty());
    assert_exit(&tileattn(&args), 2, "exists");
}

#[test]
fn the_committed_h100_baseline_is_the_committed_fa2_run() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("results/baselines/NVIDIA_H100_80GB_HBM3/fa2.json");
    let b = Baseline::load(&path).unwrap();
    assert_eq!(b.run, RunFile::load(&committed()).unwrap());
    assert_exit(&ratchet(&path, &committed(), &[]), 0, "no regression");
}
