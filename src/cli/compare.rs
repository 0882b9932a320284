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
use tileattn::host::ratchet::Baseline;
use tileattn::host::runfile::RunFile;

use super::common::unreadable;
use super::rule_args::RuleArgs;
use super::written::{SkippedFigure, Written};

#[derive(clap::Args)]
pub struct Args {
    /// The run compared against: a run file (`tileattn bench`'s SUITE.json)
    /// or a ratchet baseline.
    a: PathBuf,
    /// The run compared: every ratio is B/A, above 1 when B is slower.
    b: PathBuf,
    // B is slower (exit 1) when a measurement or an implementation's
    // geometric mean counts as slower by this rule.
    #[command(flatten)]
    rule: RuleArgs,
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
    let choice = args.rule.parse()?;
    let mut files = FilePlan::new();
    files.input(&args.a).input(&args.b);
    for out in args.out.iter().chain(&args.figure) {
        files.output(out)?;
    }
    // Loaded as a baseline: a run file is one without history or calibration.
    let a = Baseline::load(&args.a).map_err(unreadable)?;
    let b = RunFile::load(&args.b).map_err(unreadable)?;
    let (rule, drift_source) = choice.rule(&a)?;
    let options = Options {
        rule,
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
