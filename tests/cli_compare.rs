//! `tileattn compare` end to end on the committed runs: exit codes (0 B not
//! slower, 1 B slower, 2 refused), the Markdown on stdout, `--json`, the
//! `--out` table and `--figure` overlay, and outputs that may not be written.

mod common;
use common::{assert_exit, tileattn};

use std::path::{Path, PathBuf};

fn committed(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("results")
        .join(path)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Two runs of one build on the H200 are not slower; the run on worse
/// variants is, and its exit code says so.
#[test]
fn the_exit_code_says_whether_b_is_slower() {
    let a = committed("h200/ratchet/runA.json");
    let same = tileattn(&["compare", s(&a), s(&committed("h200/ratchet/runB.json"))]);
    assert_exit(&same, 0, "");
    assert!(stdout(&same).starts_with("### tileattn compare: B is not slower\n"));
    let worse = tileattn(&[
        "compare",
        s(&a),
        s(&committed("h200/ratchet/runW-worse.json")),
    ]);
    assert_exit(&worse, 1, "");
    let md = stdout(&worse);
    assert!(
        md.starts_with("### tileattn compare: B is slower (tileattn overall +"),
        "{md}"
    );
    assert!(
        md.contains("| tileattn | B=32 H=32 S=512 D=64 bf16 | cold | `"),
        "{md}"
    );
}

#[test]
fn runs_of_different_gpus_are_refused_unless_allowed() {
    let (h100, h200) = (committed("h100/fa2.json"), committed("h200/fa2.json"));
    let refused = tileattn(&["compare", s(&h100), s(&h200)]);
    assert_exit(&refused, 2, "measured on different GPUs");
    assert_exit(
        &refused,
        2,
        "GPU: A `NVIDIA H100 80GB HBM3`, B `NVIDIA H200`",
    );
    let allowed = tileattn(&["compare", s(&h100), s(&h200), "--allow-different-gpu"]);
    assert!(matches!(allowed.status.code(), Some(0 | 1)), "{allowed:?}");
    assert!(stdout(&allowed).contains("**The runs differ in:**"));
}

#[test]
fn json_out_and_figure() {
    let dir = tempfile::tempdir().unwrap();
    let (md, svg) = (dir.path().join("ab.md"), dir.path().join("ab.svg"));
    let (a, b) = (committed("h100/seed.json"), committed("h100/seed.json"));
    let o = tileattn(&[
        "compare",
        s(&a),
        s(&b),
        "--json",
        "--out",
        s(&md),
        "--figure",
        s(&svg),
    ]);
    assert_exit(&o, 0, "");
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["b_slower"], false);
    assert_eq!(v["threshold"], 0.02);
    assert!(
        v["rows"].as_array().unwrap().len() > 6,
        "tileattn's and torch's rows"
    );
    assert_eq!(v["only_a"].as_array().unwrap().len(), 0);
    assert_eq!(v["written"].as_array().unwrap().len(), 2);
    let table = std::fs::read_to_string(&md).unwrap();
    assert!(table.starts_with("### tileattn compare: B is not slower"));
    assert!(std::fs::read_to_string(&svg).unwrap().starts_with("<svg"));
}

/// The one writer's rules hold: never over an input, and nothing written
/// when anything is refused.
#[test]
fn inputs_are_never_overwritten_and_bad_inputs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.json");
    std::fs::copy(committed("h100/seed.json"), &a).unwrap();
    let before = std::fs::read(&a).unwrap();
    let o = tileattn(&["compare", s(&a), s(&a), "--out", s(&a)]);
    assert_exit(&o, 2, "");
    assert_eq!(std::fs::read(&a).unwrap(), before);
    let missing = dir.path().join("missing.json");
    assert_exit(
        &tileattn(&["compare", s(&a), s(&missing)]),
        2,
        "no such run file",
    );
    assert_exit(
        &tileattn(&["compare", s(&a), s(&a), "--threshold", "2"]),
        2,
        "threshold `2`",
    );
    assert_exit(
        &tileattn(&["compare", s(&a), s(&committed("h100/fa2.json"))]),
        2,
        "no measurement in common",
    );
}
