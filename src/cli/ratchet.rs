//! `tileattn ratchet`: judge a run against a baseline (exit 1 on a
//! regression), optionally raise the baseline, start one, or calibrate the
//! between-run drift from runs of one build. The rule, the matching and the
//! file format are documented in `tileattn_host::ratchet`.

use std::path::PathBuf;
use std::process::ExitCode;

use tileattn::host::output::FilePlan;
use tileattn::host::ratchet::baseline::{Baseline, path_for};
use tileattn::host::ratchet::report::Side;
use tileattn::host::ratchet::{MismatchKind, Report, calibrate, compare, mismatches};
use tileattn::host::runfile::RunFile;
use tileattn::host::utc::rfc3339_utc;
use tileattn::host::{Error, Result};

use super::common::unreadable;
use super::rule_args::RuleArgs;

#[derive(clap::Args)]
pub struct Args {
    /// Baseline file (results/baselines/<GPU>/<suite>.json), or any run file.
    /// With --calibrate: the baseline to store the calibration in.
    #[arg(long, required_unless_present_any = ["init", "calibrate"])]
    baseline: Option<PathBuf>,
    /// The run to judge: the SUITE.json that `tileattn bench --out DIR` wrote.
    #[arg(long, required_unless_present = "calibrate")]
    current: Option<PathBuf>,
    #[command(flatten)]
    rule: RuleArgs,
    /// Estimate the drift from two or more runs of one build on one machine
    /// (`bench` run files) and print it; with --baseline, also store it there.
    #[arg(long, num_args = 2.., value_name = "RUN",
          conflicts_with_all = ["current", "update", "init", "drift", "allow_mismatch", "allow_kernel_change"])]
    calibrate: Vec<PathBuf>,
    /// Print the report as JSON instead of Markdown.
    #[arg(long)]
    json: bool,
    /// Raise the baseline where the current run is improved (never lower it)
    /// and add what it lacks; atomically, keeping replaced values in `history`.
    #[arg(long, conflicts_with = "init")]
    update: bool,
    /// Compare even runs of another GPU, driver, torch or kernel build
    /// (--update still refuses another GPU, driver or torch).
    #[arg(long)]
    allow_mismatch: bool,
    /// Compare runs of different kernel builds (a pull request against its
    /// base), still refusing another GPU, driver or torch.
    #[arg(long)]
    allow_kernel_change: bool,
    /// Start a baseline from --current: at --baseline if given, else at
    /// <baselines-dir>/<GPU>/<suite>.json. Never overwrites one.
    #[arg(long)]
    init: bool,
    /// Where --init puts baselines by GPU.
    #[arg(long, default_value = "results/baselines")]
    baselines_dir: PathBuf,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let choice = args.rule.parse()?;
    // Every run file is read; the baseline is read, and written back by
    // --update and --calibrate (never over one of the runs).
    let mut files = FilePlan::new();
    for run in args.current.iter().chain(&args.calibrate) {
        files.input(run);
    }
    if let Some(b) = &args.baseline {
        if args.update || !args.calibrate.is_empty() {
            files.update(b)?;
        } else if !args.init {
            files.input(b);
        }
    }
    if !args.calibrate.is_empty() {
        return calibrate_drift(&args, choice.confidence);
    }
    let current_path = args
        .current
        .as_deref()
        .ok_or_else(|| Error::Invalid("--current is required".into()))?;
    let current = RunFile::load(current_path).map_err(unreadable)?;
    if args.init {
        return init(&args, current, &mut files);
    }
    let baseline_path = args
        .baseline
        .as_deref()
        .ok_or_else(|| Error::Invalid("--baseline is required".into()))?;
    let mut baseline = Baseline::load(baseline_path).map_err(unreadable)?;
    let (rule, drift_source) = choice.rule(&baseline)?;

    let found = mismatches(&baseline.run.env, &current.env);
    let refused: Vec<String> = found
        .iter()
        .filter(|m| {
            !(args.allow_mismatch
                || (args.allow_kernel_change && m.kind == MismatchKind::KernelBuild))
        })
        .map(|m| format!("  {m}"))
        .collect();
    if !refused.is_empty() {
        return Err(Error::Incomparable(format!(
            "{} and {} were not measured alike:\n{}\n\
             Runs of another GPU, driver or torch measure another machine: compare against \
             that machine's baseline (results/baselines/<GPU>/). To compare a change of kernels \
             against its base, pass --allow-kernel-change; to compare anyway, --allow-mismatch.",
            baseline_path.display(),
            current_path.display(),
            refused.join("\n")
        )));
    }

    let comparison = compare(&baseline.run, &current, &rule)?;
    let baseline_side = Side::of(&baseline_path.display().to_string(), &baseline.run);
    let updated = if args.update {
        let now = rfc3339_utc(std::time::SystemTime::now());
        let changed = baseline.update(&current, &rule, &now)?;
        if !changed.is_empty() {
            baseline.save(baseline_path)?;
        }
        eprintln!(
            "tileattn: {} measurement(s) raised or added in {}",
            changed.len(),
            baseline_path.display()
        );
        changed
    } else {
        Vec::new()
    };
    let report = Report::new(
        &rule,
        drift_source,
        baseline_side,
        Side::of(&current_path.display().to_string(), &current),
        found,
        comparison,
        updated,
    );
    if args.json {
        super::common::print_json(&report)?;
    } else {
        print!("{}", report.markdown());
    }
    Ok(if report.regressed() {
        ExitCode::from(super::common::EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

fn init(args: &Args, current: RunFile, files: &mut FilePlan) -> Result<ExitCode> {
    let path = args
        .baseline
        .clone()
        .unwrap_or_else(|| path_for(&args.baselines_dir, &current));
    files.output(&path)?;
    if path.exists() {
        return Err(Error::Invalid(format!(
            "{} exists: a baseline is only raised (--update), never replaced by --init; \
             delete it first if it must go",
            path.display()
        )));
    }
    Baseline::from_run(current).save(&path)?;
    println!("wrote {}", path.display());
    Ok(ExitCode::SUCCESS)
}

/// `--calibrate`: estimate the drift, print it, and store it in `--baseline`
/// if given (atomically; refused for runs of another machine).
fn calibrate_drift(args: &Args, confidence: f64) -> Result<ExitCode> {
    let runs = args
        .calibrate
        .iter()
        .map(|p| {
            Ok((
                p.display().to_string(),
                RunFile::load(p).map_err(unreadable)?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let now = rfc3339_utc(std::time::SystemTime::now());
    let mut report = calibrate(&runs, confidence, &now)?;
    if let Some(path) = args.baseline.as_deref() {
        let mut baseline = Baseline::load(path).map_err(unreadable)?;
        let measured: Vec<&RunFile> = runs.iter().map(|(_, r)| r).collect();
        baseline.set_drift(report.calibration.clone(), &measured)?;
        baseline.save(path)?;
        report.stored_in = Some(path.display().to_string());
    }
    if args.json {
        super::common::print_json(&report)?;
    } else {
        print!("{}", report.markdown());
    }
    Ok(ExitCode::SUCCESS)
}
