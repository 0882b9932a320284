//! Property tests of run files and their reports: any run tileattn writes
//! reads back equal and reports the same, through the file writer too; and
//! malformed text (cut short, bytes changed, numbers no JSON or measurement
//! can hold) is rejected with a message, never a panic.

use std::path::Path;
use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::test_runner::Config;
use tileattn::host::report;
use tileattn::host::runfile::RunFile;

fn committed_text() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("results/h100/seed.json");
        std::fs::read_to_string(path).unwrap()
    })
}

fn committed() -> RunFile {
    RunFile::parse(committed_text()).unwrap()
}

fn config() -> Config {
    Config {
        cases: 24,
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// A run with any suite name, creation time and subset of measurements
    /// (in any order) is written, read back equal, and reported the same.
    #[test]
    fn a_run_reads_back_equal_and_reports_the_same(
        suite in "\\PC{0,24}",
        created in "[0-9TZ:.-]{0,24}",
        keep in prop::collection::vec(any::<bool>(), 0..64),
        reverse in any::<bool>(),
    ) {
        let mut run = committed();
        run.suite = suite;
        run.created_utc = created;
        let mut kept: Vec<_> = run
            .measurements
            .into_iter()
            .zip(keep.iter().chain(std::iter::repeat(&true)))
            .filter(|(_, k)| **k)
            .map(|(m, _)| m)
            .collect();
        if reverse {
            kept.reverse();
        }
        run.measurements = kept;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.json");
        run.save(&path).unwrap();
        let back = RunFile::load(&path).unwrap();
        prop_assert_eq!(&back, &run);
        prop_assert_eq!(report::markdown(&back), report::markdown(&run));
    }

    /// A run file cut short anywhere is rejected.
    #[test]
    fn a_truncated_run_is_rejected(at in 0.0f64..1.0) {
        let text = committed_text().trim_end();
        let mut cut = (at * text.len() as f64) as usize;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        prop_assert!(RunFile::parse(&text[..cut]).is_err());
    }

    /// Any byte changed: rejected, or read and reported without a panic.
    #[test]
    fn a_changed_byte_is_rejected_or_read_whole(at in 0.0f64..1.0, byte in 0x20u8..0x7f) {
        let mut bytes = committed_text().as_bytes().to_vec();
        let i = (at * bytes.len() as f64) as usize;
        if bytes[i].is_ascii() {
            bytes[i] = byte;
        }
        if let Ok(text) = String::from_utf8(bytes)
            && let Ok(run) = RunFile::parse(&text)
        {
            report::markdown(&run);
        }
    }

    /// A measured number replaced by one no measurement can have (or JSON
    /// cannot hold) is rejected. (This found timed and pruned tuning
    /// candidates without a median being accepted.)
    #[test]
    fn an_impossible_number_is_rejected(
        which in 0usize..10_000,
        with in prop::sample::select(vec!["NaN", "1e999", "-1e999", "-1.0", "0.0", "null", "\"1\""]),
    ) {
        let text = committed_text();
        let fields: Vec<usize> = text.match_indices("\"median_ms\": ").map(|(i, s)| i + s.len()).collect();
        let start = fields[which % fields.len()];
        let end = start + text[start..].find([',', '\n', '}']).unwrap();
        let edited = format!("{}{with}{}", &text[..start], &text[end..]);
        prop_assert!(RunFile::parse(&edited).is_err(), "median_ms = {} was accepted", with);
    }
}
