//! `tileattn plot`: redraw the SVG figures of a saved run file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use tileattn::host::output::FilePlan;
use tileattn::host::runfile::RunFile;
use tileattn::host::{Error, Result, plot};

use super::written::Written;

#[derive(clap::Args)]
pub struct Args {
    /// A run file written by `tileattn bench` (or `tileattn time --out`).
    run: PathBuf,
    /// Directory for the figures (default: the run file's directory).
    #[arg(long)]
    out: Option<PathBuf>,
    /// File-name prefix: PREFIX-throughput.svg, PREFIX-cliff.svg, PREFIX-heatmap.svg,
    /// PREFIX-roofline.svg (default: the run file's name without `.json`).
    #[arg(long)]
    prefix: Option<String>,
    /// Print what was written (and which figures had nothing to draw) as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let prefix = match args.prefix {
        Some(p) => p,
        None => args
            .run
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    if prefix.is_empty() || prefix.contains(['/', '\\']) {
        return Err(Error::Invalid(format!(
            "--prefix `{prefix}`: a file-name prefix, without directories (use --out for those)"
        )));
    }
    let dir = match args.out {
        Some(d) => d,
        None => args
            .run
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
    };
    let mut files = FilePlan::new();
    files.input(&args.run);
    for f in plot::Figure::ALL {
        files.output(&f.path(&dir, &prefix))?;
    }
    let run = RunFile::load(&args.run)?;
    let mut written = Written::default();
    written.add_figures(plot::write_all(&run, &dir, &prefix)?);
    if args.json {
        super::common::print_json(&written)?;
    } else {
        written.print();
    }
    Ok(ExitCode::SUCCESS)
}
