//! Reading a run file back. `tileattn plot` and `tileattn report` are pointed at
//! files from other machines, older builds and hand edits, so every way a file
//! can be unusable gets a message that says which: missing, not JSON, cut off,
//! another schema version, a NaN, or numbers no measurement can have.

use std::path::Path;

use serde::Deserialize as _;
use serde_json::error::Category;

use super::{Correctness, Measurement, RUN_SCHEMA_VERSION, RunFile, TuningRecord, Warmup};
use crate::problem::Problem;
use crate::{Error, Result};

impl RunFile {
    /// Read and check the run file at `path`.
    ///
    /// A missing file is invalid input (the user named it); other I/O failures
    /// stay I/O errors; anything wrong with the contents is a format error.
    pub fn load(path: &Path) -> Result<RunFile> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::Invalid(format!(
                    "{}: no such run file",
                    path.display()
                )));
            }
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                return Err(Error::format(path, "not UTF-8 text, so not a run file"));
            }
            Err(e) => return Err(Error::io(path, e)),
        };
        RunFile::parse(&text).map_err(|m| Error::format(path, m))
    }

    /// Parse and check the text of a run file; the error is a message without
    /// the file's name.
    pub fn parse(text: &str) -> std::result::Result<RunFile, String> {
        // Syntax and the version first: a file of another version may not
        // deserialize at all, and "unknown field" would hide the real reason.
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| syntax_error(text, &e))?;
        check_version(&value)?;
        // From the text again, not the value: its errors carry line and column.
        let mut de = serde_json::Deserializer::from_str(text);
        let run = RunFile::deserialize(&mut de).map_err(|e| schema_error(&e))?;
        run.validate()?;
        Ok(run)
    }

    /// What the types cannot say: numbers are finite, times positive, the
    /// summaries describe the samples stored with them, problems are valid.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if let Some(c) = &self.env.ceilings {
            positive("env.ceilings.copy_gbs", c.copy_gbs)?;
            positive("env.ceilings.mma_tflops", c.mma_tflops)?;
        }
        if self.env.l2_bytes == 0 {
            return Err("env.l2_bytes is 0: no GPU has an L2 of 0 bytes".into());
        }
        for (i, m) in self.measurements.iter().enumerate() {
            check_measurement(m).map_err(|e| {
                format!(
                    "measurement {i} ({} on {}): {e}",
                    m.implementation, m.problem
                )
            })?;
        }
        for (i, t) in self.tuning.iter().enumerate() {
            check_tuning(t).map_err(|e| format!("tuning record {i} ({}): {e}", t.problem))?;
        }
        Ok(())
    }
}

/// The JSON did not parse: cut off, a non-JSON number, or anything else.
fn syntax_error(text: &str, e: &serde_json::Error) -> String {
    if e.classify() == Category::Eof {
        return format!(
            "truncated: the JSON ends before the run file does (line {}, column {})",
            e.line(),
            e.column()
        );
    }
    // Python's json module writes NaN and ±Infinity, which JSON does not have.
    let line = text.lines().nth(e.line().saturating_sub(1)).unwrap_or("");
    let from = e.column().saturating_sub(2).min(line.len());
    let near = line.get(from..).unwrap_or("");
    let near = near.trim_start_matches([' ', ':', ',', '[']);
    if ["NaN", "Infinity", "-Infinity"]
        .iter()
        .any(|t| near.starts_with(t))
    {
        return format!(
            "line {} column {}: a NaN or infinity, which is not a JSON number; run files hold finite numbers only",
            e.line(),
            e.column()
        );
    }
    format!("not valid JSON: {e}")
}

/// The document is JSON but its fields do not match the schema.
fn schema_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    if text.contains("invalid type: null, expected f64") {
        return format!(
            "line {} column {}: a number is null, i.e. NaN or infinity when it was written (serde_json writes them as null); run files hold finite numbers only",
            e.line(),
            e.column()
        );
    }
    format!("does not match the run-file schema (version {RUN_SCHEMA_VERSION}): {text}")
}

fn check_version(value: &serde_json::Value) -> std::result::Result<(), String> {
    let obj = value.as_object().ok_or_else(|| {
        let kind = match value {
            serde_json::Value::Array(_) => "an array (a `tileattn tune --json` listing?)",
            serde_json::Value::String(_) => "a string",
            serde_json::Value::Number(_) => "a number",
            serde_json::Value::Bool(_) => "a boolean",
            serde_json::Value::Null => "null",
            serde_json::Value::Object(_) => "an object",
        };
        format!("not a run file: the JSON document is {kind}, not an object")
    })?;
    let v = obj
        .get("schema_version")
        .ok_or("no `schema_version`: not a tileattn run file")?;
    let found = v
        .as_u64()
        .ok_or_else(|| format!("schema_version is {v}, not a whole number"))?;
    if found != u64::from(RUN_SCHEMA_VERSION) {
        let hint = if found > u64::from(RUN_SCHEMA_VERSION) {
            "written by a newer tileattn: read it with that build"
        } else {
            "written by an older tileattn: rerun the benchmark, or read it with that build"
        };
        return Err(format!(
            "schema_version {found}, but this tileattn reads version {RUN_SCHEMA_VERSION} ({hint})"
        ));
    }
    Ok(())
}

fn finite(field: &str, x: f64) -> std::result::Result<(), String> {
    if x.is_finite() {
        Ok(())
    } else {
        Err(format!(
            "{field} is {x}; run files hold finite numbers only"
        ))
    }
}

fn positive(field: &str, x: f64) -> std::result::Result<(), String> {
    finite(field, x)?;
    if x > 0.0 {
        Ok(())
    } else {
        Err(format!("{field} is {x}, but must be positive"))
    }
}

fn check_measurement(m: &Measurement) -> std::result::Result<(), String> {
    Problem::from_key(&m.problem).map_err(|e| e.to_string())?;
    let s = &m.summary;
    for (field, x) in [
        ("summary.median_ms", s.median_ms),
        ("summary.ci_low_ms", s.ci_low_ms),
        ("summary.ci_high_ms", s.ci_high_ms),
        ("summary.mean_ms", s.mean_ms),
        ("summary.min_ms", s.min_ms),
        ("summary.max_ms", s.max_ms),
        ("flops", m.flops),
        ("bytes", m.bytes),
        ("tflops", m.tflops),
        ("gbs", m.gbs),
    ] {
        positive(field, x)?;
    }
    finite("summary.stddev_ms", s.stddev_ms)?;
    if !(s.confidence > 0.0 && s.confidence < 1.0) {
        return Err(format!(
            "summary.confidence is {}, not a level in (0, 1)",
            s.confidence
        ));
    }
    if s.ci_low_ms > s.ci_high_ms {
        return Err(format!(
            "the CI {}–{} ms is reversed",
            s.ci_low_ms, s.ci_high_ms
        ));
    }
    if s.n as usize != m.samples_ms.len() {
        return Err(format!(
            "the summary counts {} samples but {} are stored",
            s.n,
            m.samples_ms.len()
        ));
    }
    for (j, &x) in m.samples_ms.iter().enumerate() {
        positive(&format!("samples_ms[{j}]"), x)?;
    }
    if let Some(c) = &m.clock {
        finite("clock.median_mhz", c.median_mhz)?;
    }
    if let Some(w) = &m.warmup {
        check_warmup(w)?;
    }
    if let Some(c) = &m.correctness {
        check_correctness(c)?;
    }
    Ok(())
}

fn check_warmup(w: &Warmup) -> std::result::Result<(), String> {
    finite("warmup.ms", w.ms)?;
    if w.ms < 0.0 {
        return Err(format!(
            "warmup.ms is {}, but a time cannot be negative",
            w.ms
        ));
    }
    let clocks = w
        .clock_mhz
        .iter()
        .chain(w.batches.iter().flat_map(|b| &b.clock_mhz));
    for &mhz in clocks {
        positive("warmup clock_mhz", mhz)?;
    }
    Ok(())
}

fn check_correctness(c: &Correctness) -> std::result::Result<(), String> {
    positive("correctness.tolerance", c.tolerance)?;
    // NaN is the documented error of an output containing NaN: a failure.
    if c.rel_l2_err.is_nan() {
        if c.passed {
            return Err("correctness.rel_l2_err is NaN yet the output passed".into());
        }
        return Ok(());
    }
    finite("correctness.rel_l2_err", c.rel_l2_err)
}

fn check_tuning(t: &TuningRecord) -> std::result::Result<(), String> {
    Problem::from_key(&t.problem).map_err(|e| e.to_string())?;
    for c in &t.candidates {
        // Timed and pruned candidates were run: their time is the point.
        if matches!(c.status.as_str(), "timed" | "pruned") && c.median_ms.is_none() {
            return Err(format!("{}: {}, but no median_ms", c.variant, c.status));
        }
        if let Some(x) = c.median_ms {
            positive(&format!("{}: median_ms", c.variant), x)?;
        }
        if let Some(x) = c.tflops {
            positive(&format!("{}: tflops", c.variant), x)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::operand_values::OperandValues;
    use crate::runfile::committed_path as committed;

    fn seed_text() -> String {
        std::fs::read_to_string(committed("seed.json")).unwrap()
    }

    /// The text with the first number after `"field": ` replaced by `with`.
    fn replace_first_number(text: &str, field: &str, with: &str) -> String {
        let key = format!("\"{field}\": ");
        let start = text.find(&key).unwrap() + key.len();
        let len = text[start..].find([',', '\n']).unwrap();
        format!("{}{with}{}", &text[..start], &text[start + len..])
    }

    fn parse_err(text: &str) -> String {
        RunFile::parse(text).unwrap_err()
    }

    #[test]
    fn committed_runs_load_and_survive_a_save_load_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["seed.json", "fa2.json"] {
            let run = RunFile::load(&committed(name)).unwrap();
            assert!(!run.measurements.is_empty());
            let copy = dir.path().join(name);
            run.save(&copy).unwrap();
            assert_eq!(RunFile::load(&copy).unwrap(), run, "{name}");
        }
    }

    /// Run files from before operand values read as the default values and
    /// are written back byte for byte: the committed runs, reports and
    /// figures made from them do not change.
    #[test]
    fn runs_before_operand_values_read_and_write_back_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let parity = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../results/h200/v2/parity-retuned/dtype-parity.json");
        for path in [committed("seed.json"), committed("fa2.json"), parity] {
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(!text.contains("operand_values"), "{}", path.display());
            let run = RunFile::parse(&text).unwrap();
            let problems = run.measurements.iter().map(|m| &m.problem);
            assert!(
                problems
                    .chain(run.tuning.iter().map(|t| &t.problem))
                    .all(|p| p.operand_values == OperandValues::Dtype)
            );
            let copy = dir.path().join("copy.json");
            run.save(&copy).unwrap();
            let written = std::fs::read_to_string(&copy).unwrap();
            assert_eq!(written.trim_end(), text.trim_end(), "{}", path.display());
        }
    }

    #[test]
    fn operand_values_round_trip_and_unknown_ones_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let mut run = RunFile::parse(&seed_text()).unwrap();
        let m = &mut run.measurements[0];
        m.problem.dtype = "f16".into();
        m.problem.operand_values = OperandValues::Bf16;
        let path = dir.path().join("bf16-values.json");
        run.save(&path).unwrap();
        let back = RunFile::load(&path).unwrap();
        assert_eq!(back, run);
        assert_eq!(
            back.measurements[0].problem.operand_values,
            OperandValues::Bf16
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.matches("\"operand_values\": \"bf16\"").count(), 1);
        let e = parse_err(&text.replacen(
            "\"operand_values\": \"bf16\"",
            "\"operand_values\": \"fp8\"",
            1,
        ));
        assert!(
            e.contains("unknown variant `fp8`") && e.contains("`dtype`") && e.contains("`bf16`"),
            "{e}"
        );
    }

    #[test]
    fn warmup_records_round_trip_and_older_runs_have_none() {
        let dir = tempfile::tempdir().unwrap();
        let mut run = RunFile::parse(&seed_text()).unwrap();
        assert!(run.measurements.iter().all(|m| m.warmup.is_none()));
        let batch = |end_ms, samples, clock_mhz| crate::runfile::WarmupBatch {
            end_ms,
            samples,
            clock_mhz,
        };
        run.measurements[0].warmup = Some(Warmup {
            ms: 231.5,
            samples: 27,
            settled: true,
            clock_mhz: Some(1710.0),
            batches: vec![batch(1.0, 1, None), batch(231.5, 26, Some(1710.0))],
        });
        let path = dir.path().join("warm.json");
        run.save(&path).unwrap();
        assert_eq!(RunFile::load(&path).unwrap(), run);
        // A measurement without a warm-up is written as older runs were.
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.matches("\"warmup\"").count(), 1);

        assert!(run.measurements[0].protocol_notes().is_empty());
        run.measurements[0].warmup.as_mut().unwrap().settled = false;
        assert_eq!(
            run.measurements[0].protocol_notes(),
            ["clock still moving after 232 ms of warm-up"]
        );

        run.measurements[0].warmup.as_mut().unwrap().batches[1].clock_mhz = Some(0.0);
        let e = run.validate().unwrap_err();
        assert!(e.contains("warmup clock_mhz is 0"), "{e}");
    }

    #[test]
    fn a_nan_error_of_a_failed_output_reads_back_as_nan() {
        let dir = tempfile::tempdir().unwrap();
        let mut run = RunFile::load(&committed("seed.json")).unwrap();
        let c = run.measurements[1].correctness.as_mut().unwrap();
        c.rel_l2_err = f64::NAN;
        c.passed = false;
        let path = dir.path().join("nan-verdict.json");
        run.save(&path).unwrap();
        let back = RunFile::load(&path).unwrap();
        let c = back.measurements[1].correctness.as_ref().unwrap();
        assert!(c.rel_l2_err.is_nan() && !c.passed);
        // The same null claiming a pass is a contradiction.
        let text = std::fs::read_to_string(&path).unwrap();
        let lie = text.replacen("\"passed\": false", "\"passed\": true", 1);
        assert!(parse_err(&lie).contains("NaN yet the output passed"));
    }

    #[test]
    fn a_missing_file_is_invalid_input() {
        let e = RunFile::load(Path::new("/nonexistent/run.json")).unwrap_err();
        assert!(matches!(e, Error::Invalid(_)), "{e}");
        assert!(e.to_string().contains("no such run file"), "{e}");
    }

    #[test]
    fn another_schema_version_names_both_versions() {
        let text = seed_text();
        let newer = text.replacen("\"schema_version\": 1", "\"schema_version\": 2", 1);
        let e = parse_err(&newer);
        assert!(
            e.contains("schema_version 2") && e.contains("reads version 1") && e.contains("newer"),
            "{e}"
        );
        let older = text.replacen("\"schema_version\": 1", "\"schema_version\": 0", 1);
        assert!(parse_err(&older).contains("older"));
        let none = text.replacen("\"schema_version\": 1,", "", 1);
        assert!(parse_err(&none).contains("no `schema_version`"));
    }

    #[test]
    fn truncated_and_non_json_files_are_rejected() {
        let text = seed_text();
        let e = parse_err(&text[..text.len() / 2]);
        assert!(e.starts_with("truncated"), "{e}");
        assert!(parse_err("").starts_with("truncated"));
        assert!(parse_err("{\"schema_version\": 1,,}").contains("not valid JSON"));
        let e = parse_err("[{\"problem\": {}}]");
        assert!(e.contains("an array"), "{e}");
        let e = parse_err("{\"schema_version\": 1}");
        assert!(e.contains("missing field"), "{e}");
    }

    #[test]
    fn nan_and_infinity_are_rejected_wherever_they_appear() {
        let text = seed_text();
        // Python's json writes the bare tokens.
        for token in ["NaN", "Infinity", "-Infinity"] {
            let e = parse_err(&replace_first_number(&text, "median_ms", token));
            assert!(e.contains("NaN or infinity"), "{token}: {e}");
        }
        // serde_json writes them as null.
        let e = parse_err(&replace_first_number(&text, "gbs", "null"));
        assert!(e.contains("a number is null"), "{e}");
        // A NaN rate saved from memory comes back as that null.
        let mut run = RunFile::parse(&text).unwrap();
        run.measurements[2].tflops = f64::NAN;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nan.json");
        run.save(&path).unwrap();
        let e = RunFile::load(&path).unwrap_err();
        assert!(matches!(e, Error::Format { .. }), "{e}");
        assert!(e.to_string().contains("a number is null"), "{e}");
    }

    #[test]
    fn numbers_no_measurement_can_have_are_rejected() {
        let mut run = RunFile::parse(&seed_text()).unwrap();
        run.measurements[0].summary.median_ms = -1.0;
        let e = run.validate().unwrap_err();
        assert!(
            e.contains("measurement 0 (tileattn on B=32") && e.contains("median_ms is -1"),
            "{e}"
        );
        let mut run = RunFile::parse(&seed_text()).unwrap();
        run.measurements[3].samples_ms.pop();
        assert!(run.validate().unwrap_err().contains("counts"));
        let mut run = RunFile::parse(&seed_text()).unwrap();
        run.measurements[0].problem.head_dim = 96;
        assert!(run.validate().unwrap_err().contains("head dim 96"));
        let mut run = RunFile::parse(&seed_text()).unwrap();
        run.tuning[0].candidates[0].tflops = Some(0.0);
        assert!(run.validate().unwrap_err().starts_with("tuning record 0"));
    }
}
