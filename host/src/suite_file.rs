//! User-defined benchmark suites: a TOML file listing problems, for
//! `tileattn bench --suite-file` and `tileattn tune --suite-file`
//! (`suites/example.toml` is a commented example, parsed by the tests).
//!
//! ```toml
//! name = "long-context"  # optional: the file's stem; names the run's output files
//! dtype = "bf16"         # optional: default dtype of the problems (f16 or bf16)
//! causal = false         # optional: default mask of the problems (false if unset)
//! operand_values = "bf16" # optional: default values of the inputs (see below)
//!
//! [[problem]]
//! batch = 1
//! heads_q = 32
//! heads_kv = 8           # optional: heads_q (no GQA)
//! seqlen_q = 8192
//! seqlen_k = 8192        # optional: seqlen_q
//! head_dim = 128
//! dtype = "bf16"         # optional if the top level has one
//! causal = true          # optional: the top level's value
//! operand_values = "bf16" # optional: the top level's value, else "dtype"
//! ```
//!
//! `operand_values` says which values Q, K and V take: `"dtype"` (the
//! default) draws them from a standard normal rounded to the problem's dtype;
//! `"bf16"` rounds each draw to the nearest bf16 value first, so an f16
//! problem computes on the numbers of its bf16 twin
//! ([`crate::operand_values`]). For a bf16 problem it changes nothing, and
//! such a problem is the plain one (listing both is a repeat).
//!
//! Unknown keys are errors (a misspelt `seqlen_k` must not silently become
//! `seqlen_q`), as are problems the kernels cannot compute, repeated problems
//! (a report could not tell their rows apart) and names that would not make a
//! plain file name or that shadow a built-in suite.

use std::path::Path;

use serde::Deserialize;
use tileattn_kernels::DType;

use crate::operand_values::OperandValues;
use crate::problem::Problem;
use crate::suites::NAMES;
use crate::{Error, Result};

/// A suite read from a file.
#[derive(Clone, Debug, PartialEq)]
pub struct UserSuite {
    pub name: String,
    pub problems: Vec<Problem>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    name: Option<String>,
    dtype: Option<String>,
    causal: Option<bool>,
    operand_values: Option<String>,
    #[serde(default)]
    problem: Vec<FileProblem>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileProblem {
    batch: u32,
    heads_q: u32,
    heads_kv: Option<u32>,
    seqlen_q: u32,
    seqlen_k: Option<u32>,
    head_dim: u32,
    dtype: Option<String>,
    causal: Option<bool>,
    operand_values: Option<String>,
}

impl UserSuite {
    /// Read the suite file at `path`.
    pub fn load(path: &Path) -> Result<UserSuite> {
        let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                Error::Invalid(format!("{}: no such suite file", path.display()))
            }
            _ => Error::io(path, e),
        })?;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        UserSuite::parse(&text, &stem).map_err(|m| Error::format(path, m))
    }

    /// Parse suite-file text; `default_name` (the file's stem) names a suite
    /// that does not name itself. The error is a message without the path.
    pub fn parse(text: &str, default_name: &str) -> std::result::Result<UserSuite, String> {
        let doc: FileDoc = toml::from_str(text).map_err(|e| {
            // toml's message spans several lines with a caret under the culprit.
            format!("not a valid suite file:\n{e}")
        })?;
        let name = doc.name.clone().unwrap_or_else(|| default_name.to_string());
        check_name(&name)?;
        if doc.problem.is_empty() {
            return Err(
                "no problems: list each one in a [[problem]] table (see `tileattn bench --help`)"
                    .into(),
            );
        }
        let mut problems: Vec<Problem> = Vec::with_capacity(doc.problem.len());
        for (i, fp) in doc.problem.iter().enumerate() {
            let p = to_problem(fp, &doc).map_err(|e| format!("problem {}: {e}", i + 1))?;
            if let Some(j) = problems.iter().position(|q| q.key() == p.key()) {
                return Err(format!(
                    "problem {} repeats problem {} ({p}): each problem is listed once",
                    i + 1,
                    j + 1
                ));
            }
            problems.push(p);
        }
        Ok(UserSuite { name, problems })
    }
}

fn to_problem(fp: &FileProblem, doc: &FileDoc) -> std::result::Result<Problem, String> {
    let dtype_name = fp
        .dtype
        .as_deref()
        .or(doc.dtype.as_deref())
        .ok_or("no dtype: give one here or at the top of the file (f16 or bf16)")?;
    let dtype = DType::parse(dtype_name)
        .ok_or_else(|| format!("dtype `{dtype_name}`: expected f16 or bf16"))?;
    let p = Problem::new(
        fp.batch,
        fp.heads_q,
        fp.heads_kv.unwrap_or(fp.heads_q),
        fp.seqlen_q,
        fp.seqlen_k.unwrap_or(fp.seqlen_q),
        fp.head_dim,
        dtype,
        fp.causal.or(doc.causal).unwrap_or(false),
    );
    let values = match fp
        .operand_values
        .as_deref()
        .or(doc.operand_values.as_deref())
    {
        Some(name) => OperandValues::parse(name)?,
        None => OperandValues::default(),
    };
    let p = p.with_operand_values(values);
    // Problem's messages already say what is wrong and why.
    p.validate().map_err(|e| match e {
        Error::Invalid(m) => m,
        other => other.to_string(),
    })?;
    Ok(p)
}

/// The name becomes file names (`NAME.json`, `NAME-throughput.svg`) and the
/// run's `suite` field, which reports and comparisons go by.
fn check_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() {
        return Err("the suite has an empty name".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "suite name `{name}` contains `{c}`: use letters, digits, `-`, `_` and `.` (it names the output files)"
        ));
    }
    if name.starts_with('.') {
        return Err(format!(
            "suite name `{name}` starts with `.`: it would make hidden files"
        ));
    }
    if NAMES.contains(&name) {
        return Err(format!(
            "suite name `{name}` is a built-in suite's: a user suite must not pass for it"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "long-context"
dtype = "bf16"

[[problem]]
batch = 1
heads_q = 32
heads_kv = 8
seqlen_q = 8192
head_dim = 128
causal = true

[[problem]]
batch = 2
heads_q = 16
seqlen_q = 512
seqlen_k = 4096
head_dim = 64
dtype = "f16"
"#;

    #[test]
    fn a_good_file_is_parsed_with_its_defaults() {
        let s = UserSuite::parse(GOOD, "file-stem").unwrap();
        assert_eq!(s.name, "long-context");
        assert_eq!(
            s.problems,
            vec![
                Problem::new(1, 32, 8, 8192, 8192, 128, DType::Bf16, true),
                Problem::new(2, 16, 16, 512, 4096, 64, DType::F16, false),
            ]
        );
        // Without a name the file's stem names the suite.
        let unnamed = GOOD.replacen("name = \"long-context\"", "", 1);
        assert_eq!(UserSuite::parse(&unnamed, "mine").unwrap().name, "mine");
    }

    #[test]
    fn bad_files_are_rejected_with_what_is_wrong() {
        let cases: [(String, &str); 12] = [
            (
                "name = \"x\"\n[[problem]]\nbatch = 1\n".into(),
                "missing field `heads_q`",
            ),
            (
                GOOD.replacen("seqlen_k", "seqlen_kk", 1),
                "unknown field `seqlen_kk`",
            ),
            (GOOD.replacen("batch = 2", "batch = -2", 1), "batch"),
            (GOOD.replacen("batch = 2", "batch = \"2\"", 1), "batch"),
            (
                GOOD.replacen("head_dim = 64", "head_dim = 96", 1),
                "problem 2: head dim 96",
            ),
            (
                GOOD.replacen("heads_kv = 8", "heads_kv = 5", 1),
                "problem 1: heads_q = 32 is not a multiple",
            ),
            (
                GOOD.replacen("batch = 2", "batch = 0", 1),
                "problem 2: batch is 0",
            ),
            (
                GOOD.replacen("dtype = \"f16\"", "dtype = \"fp8\"", 1),
                "dtype `fp8`",
            ),
            (
                GOOD.replacen("dtype = \"bf16\"", "", 1),
                "problem 1: no dtype",
            ),
            (GOOD.replacen("long-context", "fa2", 1), "built-in suite"),
            (GOOD.replacen("long-context", "../x", 1), "contains `/`"),
            ("name = \"x\"\n".into(), "no problems"),
        ];
        for (text, needle) in cases {
            let e = UserSuite::parse(&text, "stem").unwrap_err();
            assert!(e.contains(needle), "expected `{needle}` in: {e}");
        }
        let twice = format!(
            "{GOOD}\n[[problem]]\nbatch = 1\nheads_q = 32\nheads_kv = 8\nseqlen_q = 8192\nhead_dim = 128\ncausal = true\n"
        );
        let e = UserSuite::parse(&twice, "stem").unwrap_err();
        assert!(e.contains("problem 3 repeats problem 1"), "{e}");
        let e = UserSuite::parse("[[problem]\n", "stem").unwrap_err();
        assert!(e.starts_with("not a valid suite file"), "{e}");
    }

    #[test]
    fn the_committed_example_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../suites/example.toml");
        let s = UserSuite::load(&path).unwrap();
        assert_eq!(s.name, "example-long-context");
        assert_eq!(
            s.problems,
            vec![
                Problem::new(1, 32, 8, 8192, 8192, 128, DType::Bf16, true),
                Problem::new(8, 32, 8, 128, 8192, 128, DType::Bf16, true),
                Problem::new(32, 8, 8, 4096, 4096, 64, DType::F16, false),
            ]
        );
    }

    #[test]
    fn the_committed_dtype_parity_suite_pairs_every_shape() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../suites/dtype-parity.toml");
        let s = UserSuite::load(&path).unwrap();
        assert_eq!(s.problems.len(), 16);
        for pair in s.problems.chunks(2) {
            assert_eq!((pair[0].dtype, pair[1].dtype), (DType::Bf16, DType::F16));
            let as_bf16 = Problem {
                dtype: DType::Bf16,
                ..pair[1]
            };
            assert_eq!(pair[0], as_bf16);
        }
    }

    #[test]
    fn operand_values_are_read_per_problem_with_a_top_level_default() {
        let text = format!(
            "{GOOD}\n[[problem]]\nbatch = 2\nheads_q = 16\nseqlen_q = 512\nseqlen_k = 4096\n\
             head_dim = 64\ndtype = \"f16\"\noperand_values = \"bf16\"\n"
        );
        let s = UserSuite::parse(&text, "stem").unwrap();
        let values: Vec<OperandValues> = s.problems.iter().map(|p| p.operand_values).collect();
        use OperandValues::{Bf16, Dtype};
        assert_eq!(values, [Dtype, Dtype, Bf16]);
        // The third differs from the second in its values alone: not a repeat.
        assert_eq!(s.problems[2], s.problems[1].with_operand_values(Bf16));

        let all = text.replacen(
            "dtype = \"bf16\"\n",
            "dtype = \"bf16\"\noperand_values = \"bf16\"\n",
            1,
        );
        // The top level's value holds for every problem that names none: the
        // second problem becomes the third, a repeat.
        let e = UserSuite::parse(&all, "stem").unwrap_err();
        assert!(e.contains("problem 3 repeats problem 2"), "{e}");
        let own = all.replacen(
            "dtype = \"f16\"\n",
            "dtype = \"f16\"\noperand_values = \"dtype\"\n",
            1,
        );
        let values: Vec<OperandValues> = UserSuite::parse(&own, "stem")
            .unwrap()
            .problems
            .iter()
            .map(|p| p.operand_values)
            .collect();
        assert_eq!(values, [Bf16, Dtype, Bf16]);
    }

    #[test]
    fn bad_operand_values_are_rejected_with_what_is_wrong() {
        let unknown = GOOD.replacen(
            "dtype = \"f16\"",
            "dtype = \"f16\"\noperand_values = \"fp8\"",
            1,
        );
        let e = UserSuite::parse(&unknown, "stem").unwrap_err();
        assert!(
            e.contains("problem 2: operand values `fp8`: expected `dtype`")
                && e.contains("or `bf16`"),
            "{e}"
        );
        let top = format!("operand_values = \"f16\"\n{GOOD}");
        let e = UserSuite::parse(&top, "stem").unwrap_err();
        assert!(e.contains("problem 1: operand values `f16`"), "{e}");
        let not_text = GOOD.replacen("causal = true", "causal = true\noperand_values = 1", 1);
        let e = UserSuite::parse(&not_text, "stem").unwrap_err();
        assert!(e.contains("operand_values"), "{e}");
        // bf16 values of a bf16 problem are its own values: the plain problem again.
        let twice = GOOD.replacen(
            "causal = true",
            "causal = true\noperand_values = \"bf16\"",
            1,
        ) + "\n[[problem]]\nbatch = 1\nheads_q = 32\nheads_kv = 8\nseqlen_q = 8192\nhead_dim = 128\ncausal = true\n";
        let e = UserSuite::parse(&twice, "stem").unwrap_err();
        assert!(e.contains("problem 3 repeats problem 1"), "{e}");
    }

    /// suites/dtype-parity-grid.toml: the shapes of suites/dtype-parity.toml,
    /// in order, each as bf16, f16, and f16 on bf16 values.
    #[test]
    fn the_committed_dtype_parity_grid_suite_triples_every_parity_shape() {
        let load = |name: &str| {
            UserSuite::load(
                &Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../suites")
                    .join(name),
            )
            .unwrap()
        };
        let grid = load("dtype-parity-grid.toml");
        let parity = load("dtype-parity.toml");
        assert_eq!(grid.name, "dtype-parity-grid");
        assert_eq!(grid.problems.len(), 24);
        for (triple, pair) in grid.problems.chunks(3).zip(parity.problems.chunks(2)) {
            assert_eq!(triple[..2], *pair);
            assert_eq!(
                triple[2],
                pair[1].with_operand_values(OperandValues::Bf16),
                "{}",
                triple[2]
            );
            assert_eq!(triple[2].dtype, DType::F16);
        }
    }

    #[test]
    fn files_are_read_with_their_path_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nightly.toml");
        std::fs::write(&path, GOOD.replacen("name = \"long-context\"", "", 1)).unwrap();
        assert_eq!(UserSuite::load(&path).unwrap().name, "nightly");
        std::fs::write(&path, "name = 3\n").unwrap();
        let e = UserSuite::load(&path).unwrap_err();
        assert!(
            matches!(e, Error::Format { .. }) && e.to_string().contains("nightly.toml"),
            "{e}"
        );
        let e = UserSuite::load(&dir.path().join("absent.toml")).unwrap_err();
        assert!(matches!(e, Error::Invalid(_)), "{e}");
    }
}
