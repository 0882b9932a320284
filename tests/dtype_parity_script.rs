//! `scripts/dtype_parity.py`: the committed parity tables are exactly what it
//! prints from their run files, and a run of the grid suite (fp16 on bf16
//! values too) gets that row's ratios to bf16 next to the fp16/bf16 ones.

use std::path::Path;
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The script's stdout on `run`; None (with a skip line) without python3.
fn parity_table(run: &Path) -> Option<String> {
    let out = match Command::new("python3")
        .arg(root().join("scripts/dtype_parity.py"))
        .arg(run)
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            eprintln!("skipped: python3 not runnable ({e})");
            return None;
        }
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

#[test]
fn committed_tables_are_the_scripts_output() {
    let h200 = root().join("results/h200");
    for (run, table) in [
        (
            "v2/parity-retuned/dtype-parity.json",
            "v2/parity-retuned/table.md",
        ),
        (
            "v2/dtype-parity-flash.json",
            "v2/dtype-parity-flash-table.md",
        ),
        (
            "final/parity-grid/dtype-parity-grid.json",
            "final/parity-grid/table.md",
        ),
    ] {
        let Some(text) = parity_table(&h200.join(run)) else {
            return;
        };
        assert_eq!(
            text,
            std::fs::read_to_string(h200.join(table)).unwrap(),
            "{table}"
        );
    }
}

/// The retuned parity run with an fp16-on-bf16-values row per shape and
/// implementation that is a copy of the bf16 row: its ratios to bf16 are 1.
#[test]
fn grid_runs_get_the_bf16_values_ratios() {
    let path = root().join("results/h200/v2/parity-retuned/dtype-parity.json");
    let mut run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let ms = run["measurements"].as_array_mut().unwrap();
    let mut twins: Vec<serde_json::Value> = ms
        .iter()
        .filter(|m| m["problem"]["dtype"] == "bf16")
        .cloned()
        .collect();
    for m in &mut twins {
        m["problem"]["dtype"] = "f16".into();
        m["problem"]["operand_values"] = "bf16".into();
        if let Some(v) = m["variant"].as_str() {
            m["variant"] = v.replace("_bf16_", "_f16_").into();
        }
    }
    ms.extend(twins);
    let dir = tempfile::tempdir().unwrap();
    let grid = dir.path().join("grid.json");
    std::fs::write(&grid, serde_json::to_string(&run).unwrap()).unwrap();
    let Some(text) = parity_table(&grid) else {
        return;
    };
    let committed =
        std::fs::read_to_string(root().join("results/h200/v2/parity-retuned/table.md")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), committed.lines().count());
    assert!(
        lines[0].contains("| same tiles | tileattn fp16 on bf16 values/bf16 time | clocks | cycles | same tiles | FLASH fp16/bf16 time |")
            && lines[0].ends_with("| FLASH fp16 on bf16 values/bf16 time | clocks | cycles |"),
        "{}",
        lines[0]
    );
    for (ours, before) in lines.iter().zip(committed.lines()).skip(2) {
        let cells: Vec<&str> = ours.trim_end_matches(" |").split(" | ").collect();
        let old: Vec<&str> = before.trim_end_matches(" |").split(" | ").collect();
        // problem, tileattn fp16/bf16 ×4, fp16 on bf16 values/bf16 ×4, FLASH ×3, ×3.
        assert_eq!(cells.len(), 15, "{ours}");
        assert_eq!(cells[..5], old[..5], "{ours}");
        assert_eq!(cells[5..9], ["1.000", "1.000", "1.000", "yes"], "{ours}");
        assert_eq!(cells[9..12], old[5..8], "{ours}");
        assert_eq!(cells[12..], ["1.000", "1.000", "1.000"], "{ours}");
    }
}
