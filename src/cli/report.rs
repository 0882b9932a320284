//! `tileattn report`: rewrite the Markdown report of a saved run file.

use std::path::PathBuf;
use std::process::ExitCode;

use tileattn::host::runfile::RunFile;
use tileattn::host::{Result, report};

#[derive(clap::Args)]
pub struct Args {
    /// A run file written by `tileattn bench` (or `tileattn time --out`).
    run: PathBuf,
    /// The Markdown file to write (default: the run file with `.md` for `.json`).
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let run = RunFile::load(&args.run)?;
    let out = args.out.unwrap_or_else(|| args.run.with_extension("md"));
    write(&run, &out)?;
    Ok(ExitCode::SUCCESS)
}

/// Write the report and say where; shared with `tileattn bench`.
pub fn write(run: &RunFile, path: &std::path::Path) -> Result<()> {
    report::write(run, path)?;
    println!("wrote {}", path.display());
    Ok(())
}
