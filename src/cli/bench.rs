//! `tileattn bench`: a suite (or one shape), tileattn's tuned, named or
//! family's variant and optionally torch's SDPA backends, one protocol, one
//! versioned run file with its report and figures beside it.

use std::path::PathBuf;
use std::process::ExitCode;

use serde::Serialize;
use tileattn::host::bench::{self, BenchConfig, Event, Plan, Selection};
use tileattn::host::output::FilePlan;
use tileattn::host::problem_key::ProblemKey;
use tileattn::host::run_record;
use tileattn::host::runfile::{CacheMode, Measurement};
use tileattn::host::timing::Timer;
use tileattn::host::torch_side::{self, Backend, Started, Timeouts};
use tileattn::host::tune_cache::{self, BuildIdentity, TuneCache};
use tileattn::host::{Error, Result, plot, report};

use super::measure_args::{ProblemArgs, SUITE_FILE_HELP, TimingArgs};
use super::written::Written;

/// The torch backends `--compare torch` measures unless `--backends` says
/// otherwise: the fast ones. `math` materialises the S×S scores (memory
/// quadratic in S) and `efficient` is rarely the one to beat, so both are
/// measured only on request.
pub const DEFAULT_BACKENDS: &str = "flash,cudnn";

/// The suite name of a run of one `--shape`, as `tileattn time --out` names its own.
const ADHOC: &str = "adhoc";

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("problems").required(true).args(["suite", "suite_file", "shape"])))]
pub struct Args {
    /// Built-in suite: seed, fa2, cliff, gqa.
    #[arg(long, conflicts_with_all = ["causal", "dtype"])]
    suite: Option<String>,
    #[arg(long, value_name = "PATH", help = SUITE_FILE_HELP, conflicts_with_all = ["causal", "dtype"])]
    suite_file: Option<PathBuf>,
    #[command(flatten)]
    problem: ProblemArgs,
    /// Time this variant (see `tileattn variants`) instead of the tuning
    /// cache's winner, on every problem it computes; the others are listed
    /// and skipped. Repeat it for variants of other dtypes, head dims or
    /// causality.
    #[arg(long = "variant", value_name = "NAME", conflicts_with = "family")]
    variants: Vec<String>,
    /// Time this kernel family's fastest variant per problem (v0, v1, v2,
    /// v3): the tuning cache's winner when it is of the family, else tuned
    /// afresh within the family (not recorded in the cache).
    #[arg(long, value_name = "FAMILY")]
    family: Option<String>,
    /// Also measure PyTorch's SDPA backends on the same inputs (`torch`).
    #[arg(long, value_name = "WHAT")]
    compare: Option<String>,
    /// Torch backends to compare with, comma-separated, of flash, cudnn,
    /// efficient and math (default: flash,cudnn; math's memory grows with S²).
    #[arg(long, value_name = "LIST", requires = "compare")]
    backends: Option<String>,
    /// Cache modes, comma-separated (default: cold; the cliff suite: cold,hot).
    #[arg(long)]
    modes: Option<String>,
    /// Directory for the run file (SUITE.json), its report (SUITE.md) and figures (SUITE-*.svg).
    #[arg(long, default_value = "bench-out")]
    out: PathBuf,
    /// Tuning cache (default: $TILEATTN_TUNE_CACHE, else ~/.cache/tileattn/tune.json).
    #[arg(long)]
    cache: Option<PathBuf>,
    /// Skip measuring the device's ceilings.
    #[arg(long)]
    no_ceilings: bool,
    #[command(flatten)]
    timing: TimingArgs,
    /// Seed of the random inputs (and of the tuning runs).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print what was written and measured as JSON (the run file has every sample).
    #[arg(long)]
    json: bool,
}

/// What `--json` prints: the files, the problems left out, and one line per measurement.
#[derive(Serialize)]
struct Summary {
    #[serde(flatten)]
    written: Written,
    skipped_problems: Vec<SkippedProblem>,
    measurements: Vec<MeasuredRow>,
}

#[derive(Serialize)]
struct SkippedProblem {
    problem: ProblemKey,
    why: String,
}

#[derive(Serialize)]
struct MeasuredRow {
    implementation: String,
    variant: Option<String>,
    problem: ProblemKey,
    mode: CacheMode,
    median_ms: f64,
    ci_low_ms: f64,
    ci_high_ms: f64,
    tflops: f64,
    /// The output's check against the f64 reference (None: not checked).
    passed: Option<bool>,
}

impl MeasuredRow {
    fn of(m: &Measurement) -> MeasuredRow {
        MeasuredRow {
            implementation: m.implementation.clone(),
            variant: m.variant.clone(),
            problem: m.problem.clone(),
            mode: m.mode,
            median_ms: m.summary.median_ms,
            ci_low_ms: m.summary.ci_low_ms,
            ci_high_ms: m.summary.ci_high_ms,
            tflops: m.tflops,
            passed: m.correctness.as_ref().map(|c| c.passed),
        }
    }
}

/// The problems the selection leaves out, under each reason, on stderr.
fn say_skipped(plan: &Plan) {
    let mut reasons: Vec<&str> = plan.skipped.iter().map(|(_, why)| why.as_str()).collect();
    reasons.sort_unstable();
    reasons.dedup();
    for why in reasons {
        let problems: Vec<String> = plan
            .skipped
            .iter()
            .filter(|(_, w)| w == why)
            .map(|(p, _)| format!("  {p}"))
            .collect();
        eprintln!(
            "tileattn: skipping {} of {} problems, {why}:\n{}",
            problems.len(),
            plan.skipped.len() + plan.problems.len(),
            problems.join("\n")
        );
    }
}

/// `--compare` and `--backends`: the torch backends to measure (none without `--compare`).
fn parse_backends(compare: Option<&str>, backends: Option<&str>) -> Result<Vec<Backend>> {
    match compare {
        None => Ok(Vec::new()),
        Some("torch") => backends
            .unwrap_or(DEFAULT_BACKENDS)
            .split(',')
            .map(|b| {
                Backend::parse(b.trim()).ok_or_else(|| {
                    Error::Invalid(format!(
                        "backend `{b}`: expected flash, efficient, cudnn or math"
                    ))
                })
            })
            .collect(),
        Some(x) => Err(Error::Invalid(format!(
            "--compare {x}: only `torch` is known"
        ))),
    }
}

pub fn run(args: Args) -> Result<ExitCode> {
    let reg = tileattn::registry();
    let values = super::measure_args::parse_operand_values(args.problem.operand_values.as_deref())?;
    let (suite, problems) = match super::measure_args::suite(
        args.suite.as_deref(),
        args.suite_file.as_deref(),
        values,
    )? {
        Some(named) => named,
        None => (ADHOC.to_string(), vec![args.problem.problem()?]),
    };
    let family = args
        .family
        .as_deref()
        .map(super::common::parse_family)
        .transpose()?;
    let selection = Selection::new(&reg, &args.variants, family)?;
    let plan = selection.plan(&reg, problems)?;
    say_skipped(&plan);
    let backends = parse_backends(args.compare.as_deref(), args.backends.as_deref())?;
    let default_modes = if suite == "cliff" { "cold,hot" } else { "cold" };
    let modes = args
        .modes
        .as_deref()
        .unwrap_or(default_modes)
        .split(',')
        .map(|m| match m.trim() {
            "cold" => Ok(CacheMode::Cold),
            "hot" => Ok(CacheMode::Hot),
            x => Err(Error::Invalid(format!("mode `{x}`: expected cold or hot"))),
        })
        .collect::<Result<Vec<_>>>()?;
    let timing = args.timing.config()?;
    let cache_path = args.cache.clone().unwrap_or_else(tune_cache::default_path);
    let run_path = args.out.join(format!("{suite}.json"));
    let report_path = args.out.join(format!("{suite}.md"));
    let mut files = FilePlan::new();
    if let Some(s) = &args.suite_file {
        files.input(s);
    }
    files
        .update(&cache_path)?
        .output(&run_path)?
        .output(&report_path)?;
    for f in plot::Figure::ALL {
        files.output(&f.path(&args.out, &suite))?;
    }
    let dev = super::common::open_device()?;
    selection.check_device(&reg, dev.info.cc())?;
    let mut cache = {
        let (cache, notices) = TuneCache::load(cache_path, BuildIdentity::of(&dev.info, &reg))?;
        for n in notices {
            eprintln!("tileattn: {n}");
        }
        cache
    };
    let scratch = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let mut torch = None;
    if !backends.is_empty() {
        match torch_side::TorchSide::spawn(
            &torch_side::default_python(),
            &torch_side::default_script(),
            Timeouts::default(),
        )? {
            Started::Ready(t) => torch = Some(t),
            Started::Unavailable(why) => {
                eprintln!("tileattn: no torch baseline ({why}); measuring tileattn alone")
            }
        }
    }
    let torch_version = torch.as_ref().map(|t| t.hello().torch.clone());

    let mut timer = Timer::new(&dev)?;
    let measured_ceilings = if args.no_ceilings {
        None
    } else {
        Some(super::common::measure_ceilings(&mut timer, &timing)?.0)
    };
    let cfg = BenchConfig {
        problems: plan.problems,
        selection,
        modes,
        timing,
        backends,
        seed: args.seed,
    };
    let started = std::time::SystemTime::now();
    let bar = super::progress::bar(cfg.problems.len() as u64, "problems");
    let measured = bench::run(
        &mut timer,
        &reg,
        &cfg,
        Some(&mut cache),
        torch.as_deref_mut(),
        scratch.path(),
        &|event| {
            // Without a terminal the bar is hidden: the log keeps every line.
            if let (Event::Problem { index, problem, .. }, false) = (&event, bar.is_hidden()) {
                bar.set_position(*index as u64);
                bar.set_message(problem.to_string());
            } else {
                super::progress::say(&bar, &event.to_string());
            }
        },
    );
    bar.finish_and_clear();
    let (measurements, tuning) = measured?;
    cache.save()?;
    let mut env = run_record::environment(&dev, tileattn::COMMIT, measured_ceilings);
    env.torch_version = torch_version;
    let run = run_record::run_file(&suite, started, env, measurements, tuning);
    run.save(&run_path)?;
    if let Some(t) = torch {
        t.quit()?;
    }
    // The report and figures are computed from the run alone; if drawing fails,
    // the measurements are already safe and `tileattn plot`/`report` can retry.
    let mut written = Written::file(run_path.clone());
    let outputs = report::write(&run, &report_path)
        .map(|()| written.written.push(report_path))
        .and_then(|()| plot::write_all(&run, &args.out, &suite))
        .map(|figures| written.add_figures(figures));
    if let Err(e) = outputs {
        written.print();
        eprintln!(
            "tileattn: the run is saved in {}; `tileattn report` and `tileattn plot` redo what failed",
            run_path.display()
        );
        return Err(e);
    }
    if args.json {
        super::common::print_json(&Summary {
            written,
            skipped_problems: plan
                .skipped
                .iter()
                .map(|(p, why)| SkippedProblem {
                    problem: p.key(),
                    why: why.clone(),
                })
                .collect(),
            measurements: run.measurements.iter().map(MeasuredRow::of).collect(),
        })?;
    } else {
        written.print();
    }
    let failed = run
        .measurements
        .iter()
        .any(|m| m.correctness.as_ref().is_some_and(|c| !c.passed));
    Ok(if failed {
        eprintln!("tileattn: some compared output failed the reference check (see the run file)");
        ExitCode::from(super::common::EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torch_backends_default_to_the_fast_ones() {
        let names = |c, b| -> Vec<&'static str> {
            parse_backends(c, b)
                .unwrap()
                .iter()
                .map(|b| b.name())
                .collect()
        };
        assert!(names(None, None).is_empty());
        assert_eq!(names(Some("torch"), None), ["flash", "cudnn"]);
        assert_eq!(
            names(Some("torch"), Some("math, efficient")),
            ["math", "efficient"]
        );
        assert!(parse_backends(Some("torch"), Some("flash,fast")).is_err());
        assert!(parse_backends(Some("jax"), None).is_err());
    }
}
