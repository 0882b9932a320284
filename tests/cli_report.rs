//! `tileattn report` and `tileattn plot` on the committed H100 runs (no GPU
//! needed), their refusals of unusable run files (exit 2, one clear line),
//! and `--suite-file` checked before any device is opened.

mod common;
use common::{assert_exit, tileattn};

use std::path::{Path, PathBuf};

use tileattn::host::runfile::RunFile;

fn committed(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("results/h100")
        .join(name)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn report_rewrites_the_markdown_of_a_saved_run() {
    let dir = tempfile::tempdir().unwrap();
    for suite in ["seed", "fa2"] {
        let out = dir.path().join(format!("{suite}.md"));
        let run = committed(&format!("{suite}.json"));
        assert_exit(&tileattn(&["report", s(&run), "--out", s(&out)]), 0, "");
        let md = std::fs::read_to_string(&out).unwrap();
        let expected = tileattn::host::report::markdown(&RunFile::load(&run).unwrap());
        assert_eq!(md, expected);
        // The committed report is what the command writes today.
        assert_eq!(
            std::fs::read_to_string(committed(&format!("{suite}.md"))).unwrap(),
            expected,
            "results/h100/{suite}.md is stale: rerun `tileattn report results/h100/{suite}.json`"
        );
    }
}

#[test]
fn plot_redraws_the_figures_with_a_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let o = tileattn(&[
        "plot",
        s(&committed("fa2.json")),
        "--out",
        s(dir.path()),
        "--prefix",
        "h100-fa2",
    ]);
    assert_exit(&o, 0, "no heatmap figure: the run has no tuning records");
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "h100-fa2-cliff.svg",
            "h100-fa2-roofline.svg",
            "h100-fa2-throughput.svg"
        ]
    );
    let bad = tileattn(&["plot", s(&committed("fa2.json")), "--prefix", "a/b"]);
    assert_exit(&bad, 2, "without directories");
}

#[test]
fn unusable_run_files_are_invalid_input() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(committed("seed.json")).unwrap();
    let write = |name: &str, body: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        p
    };
    let newer = write(
        "newer.json",
        &text.replacen("\"schema_version\": 1", "\"schema_version\": 7", 1),
    );
    let cut = write("cut.json", &text[..text.len() / 3]);
    let nan = write(
        "nan.json",
        &text.replacen("\"median_ms\": 0.", "\"median_ms\": NaN, \"x\": 0.", 1),
    );
    let cases: [(&[&str], &str); 5] = [
        (&["report", "/nonexistent/run.json"], "no such run file"),
        (
            &["plot", s(&newer)],
            "schema_version 7, but this tileattn reads version 1",
        ),
        (&["report", s(&cut)], "truncated"),
        (&["plot", s(&nan)], "NaN or infinity"),
        (&["report"], "required"),
    ];
    for (args, needle) in cases {
        assert_exit(&tileattn(args), 2, needle);
    }
}

#[test]
fn suite_files_are_checked_before_the_gpu() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "dtype = \"bf16\"\n[[problem]]\nbatch = 1\nheads_q = 8\nseqlen_q = 512\nhead_dim = 96\n",
    )
    .unwrap();
    assert_exit(
        &tileattn(&["bench", "--suite-file", s(&bad)]),
        2,
        "problem 1: head dim 96",
    );
    assert_exit(
        &tileattn(&["tune", "--suite-file", "/nonexistent/s.toml"]),
        2,
        "no such suite file",
    );
    assert_exit(
        &tileattn(&["bench", "--suite", "fa2", "--suite-file", s(&bad)]),
        2,
        "cannot be used with",
    );
    if Path::new("/dev/nvidia0").exists() {
        eprintln!("skipped the no-GPU half: this machine has a GPU");
        return;
    }
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("suites/example.toml");
    assert_exit(
        &tileattn(&["bench", "--suite-file", s(&example)]),
        3,
        "no GPU available",
    );
}

/// `--json` says what was written (and which figures had nothing to draw).
#[test]
fn report_and_plot_say_what_they_wrote_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let run = committed("seed.json");
    let md = dir.path().join("seed.md");
    let o = tileattn(&["report", s(&run), "--out", s(&md), "--json"]);
    assert_exit(&o, 0, "");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["written"], serde_json::json!([s(&md)]));
    // fa2.json has no tuning records: nothing for the heatmap.
    let o = tileattn(&[
        "plot",
        s(&committed("fa2.json")),
        "--out",
        s(dir.path()),
        "--json",
    ]);
    assert_exit(&o, 0, "");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["written"].as_array().unwrap().len(), 3, "{v}");
    assert_eq!(v["figures_skipped"][0]["figure"], "heatmap", "{v}");
}
