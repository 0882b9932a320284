//! `tileattn report`: rewrite the Markdown report of a saved run file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use tileattn::host::output::FilePlan;
use tileattn::host::runfile::RunFile;
use tileattn::host::{Result, report};

use super::written::Written;

#[derive(clap::Args)]
pub struct Args {
    /// A run file written by `tileattn bench` (or `tileattn time --out`).
    run: PathBuf,
    /// The Markdown file to write (default: the run file with `.md` for
    /// `.json`, or with `.md` appended to any other name).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print what was written as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let out = args.out.clone().unwrap_or_else(|| default_out(&args.run));
    FilePlan::new().input(&args.run).output(&out)?;
    let run = RunFile::load(&args.run)?;
    report::write(&run, &out)?;
    let written = Written::file(out);
    if args.json {
        super::common::print_json(&written)?;
    } else {
        written.print();
    }
    Ok(ExitCode::SUCCESS)
}

/// `r.json` → `r.md`; `r.md` → `r.md.md`, never the run file itself.
fn default_out(run: &Path) -> PathBuf {
    if run.extension().is_some_and(|e| e == "json") {
        run.with_extension("md")
    } else {
        let mut name = run.as_os_str().to_owned();
        name.push(".md");
        name.into()
    }
}
