//! `tileattn compare A.json B.json`: two run files measurement by
//! measurement, for every implementation they share, by the ratchet's rule;
//! exit 1 when B is slower. The rule and the matching:
//! `tileattn_host::compare`.

use std::path::PathBuf;
use std::process::ExitCode;

use serde::Serialize;
use tileattn::host::Result;
use tileattn::host::compare::{self, Comparison, Options};
use tileattn::host::output::{Batch, FilePlan};
use tileattn::host::plot::Drawing;
use tileattn::host::ratchet::rule::{parse_confidence, parse_drift, parse_threshold};
use tileattn::host::ratchet::{Baseline, Rule};
use tileattn::host::runfile::RunFile;

use super::common::unreadable;
use super::written::{SkippedFigure, Written};

#[derive(clap::Args)]
pub struct Args {
    /// The run compared against: a run file (`tileattn bench`'s SUITE.json)
    /// or a ratchet baseline.
    a: PathBuf,
    /// The run compared: every ratio is B/A, above 1 when B is slower.
    b: PathBuf,
    /// Smallest change that matters: `2%` or `0.02`. B is slower (exit 1)
    /// when a measurement, or an implementation's geometric mean, is slower by
    /// more than this, and by more than half of it at the low end of its CI.
    #[arg(long, default_value = "2%")]
    threshold: String,
    /// Run-level confidence: when nothing got slower by more than half the
    /// threshold, B is called slower with probability at most 1 − this.
    /// `0.95` or `95%`.
    #[arg(long, default_value = "0.95")]
    confidence: String,
    /// Between-run drift of one run's median, as a relative SD at every
    /// duration (`1%`, `0.01`; `0` trusts the two runs' samples alone), instead
    /// of A's calibration (a ratchet baseline's) or the built-in default.
    #[arg(long)]
    drift: Option<String>,
    /// Compare runs of different GPUs (model, or MIG slice) too; their ratios
    /// then measure the hardware as much as the change.
    #[arg(long)]
    allow_different_gpu: bool,
    /// Also write the Markdown table to this file.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Also draw the overlay figure (A and B's TFLOP/s on the same axes) into this SVG file.
    #[arg(long, value_name = "FILE")]
    figure: Option<PathBuf>,
    /// Print the comparison (and what was written) as JSON instead of Markdown.
    #[arg(long)]
    json: bool,
}

/// What `--json` prints.
#[derive(Serialize)]
struct Output<'a> {
    #[serde(flatten)]
    comparison: &'a Comparison,
    #[serde(flatten)]
    written: Written,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let threshold = parse_threshold(&args.threshold)?;
    let confidence = parse_confidence(&args.confidence)?;
    let drift = args.drift.as_deref().map(parse_drift).transpose()?;
    let mut files = FilePlan::new();
    files.input(&args.a).input(&args.b);
    for out in args.out.iter().chain(&args.figure) {
        files.output(out)?;
    }
    // Loaded as a baseline: a run file is one without history or calibration.
    let a = Baseline::load(&args.a).map_err(unreadable)?;
    let b = RunFile::load(&args.b).map_err(unreadable)?;
    let (drift, drift_source) = a.drift_for(drift);
    let options = Options {
        rule: Rule::new(threshold, confidence, drift)?,
        drift_source,
        allow_different_gpu: args.allow_different_gpu,
    };
    let (a_name, b_name) = (args.a.display().to_string(), args.b.display().to_string());
    let comparison = compare::compare((&a_name, &a.run), (&b_name, &b), &options)?;
    let markdown = comparison.markdown();

    // The table and the figure are one result: both new files or both old.
    let mut batch = Batch::new();
    let mut skipped = Vec::new();
    if let Some(out) = &args.out {
        batch.add(out, markdown.as_bytes())?;
    }
    if let Some(path) = &args.figure {
        match compare::figure::draw(&a.run, &b, &comparison.rows)? {
            Drawing::Svg(svg) => batch.add(path, svg.as_bytes())?,
            Drawing::Nothing(why) => skipped.push(SkippedFigure {
                figure: "overlay",
                why,
            }),
        }
    }
    let written = Written {
        written: batch.commit()?,
        figures_skipped: skipped,
    };
    if args.json {
        super::common::print_json(&Output {
            comparison: &comparison,
            written,
        })?;
    } else {
        print!("{markdown}");
        // Stdout stays the Markdown alone, for `> file.md`.
        written.print_on_stderr();
    }
    Ok(if comparison.b_slower {
        ExitCode::from(super::common::EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}
