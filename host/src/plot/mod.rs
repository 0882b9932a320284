//! SVG figures of a run, drawn with plotters' SVG backend (text stays text, in
//! a generic sans-serif family, so the files are small and diffable):
//!
//! - [`throughput`]: TFLOP/s vs sequence length per implementation, CI bands;
//! - [`cliff`]: achieved GB/s vs sequence length, cold and hot, the L2 size marked;
//! - [`heatmap`]: each tuned problem's TFLOP/s by block_m × block_n;
//! - [`roofline`]: every measurement under the measured copy and mma ceilings.
//!
//! Layout ([`layout`]), colours and markers ([`style`]) and the grouping of
//! measurements into panels ([`panels`]) are shared, so an implementation
//! looks the same in every figure.

pub mod cliff;
pub mod drawing;
pub mod heatmap;
pub mod layout;
pub mod panels;
pub mod roofline;
pub mod seqlen;
pub mod style;
pub mod throughput;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

pub use drawing::Drawing;

use crate::Result;
use crate::output::Batch;
use crate::runfile::RunFile;

/// The figures, in the order `tileattn plot` writes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Figure {
    Throughput,
    Cliff,
    Heatmap,
    Roofline,
}

impl Figure {
    pub const ALL: [Figure; 4] = [
        Figure::Throughput,
        Figure::Cliff,
        Figure::Heatmap,
        Figure::Roofline,
    ];

    /// The file-name suffix: `PREFIX-NAME.svg`.
    pub fn name(self) -> &'static str {
        match self {
            Figure::Throughput => "throughput",
            Figure::Cliff => "cliff",
            Figure::Heatmap => "heatmap",
            Figure::Roofline => "roofline",
        }
    }

    pub fn draw(self, run: &RunFile) -> Result<Drawing> {
        match self {
            Figure::Throughput => throughput::draw(run),
            Figure::Cliff => cliff::draw(run),
            Figure::Heatmap => heatmap::draw(run),
            Figure::Roofline => roofline::draw(run),
        }
    }
}

/// What [`write_all`] did.
#[derive(Debug, Default)]
pub struct Written {
    pub files: Vec<PathBuf>,
    /// Figures with nothing to draw, and why.
    pub skipped: Vec<(Figure, String)>,
}

impl Figure {
    /// Where [`write_all`] puts this figure.
    pub fn path(self, dir: &Path, prefix: &str) -> PathBuf {
        dir.join(format!("{prefix}-{}.svg", self.name()))
    }
}

/// Draw every figure of `run` into `dir` as `PREFIX-NAME.svg`, all of them
/// written as a unit once every one is drawn.
pub fn write_all(run: &RunFile, dir: &Path, prefix: &str) -> Result<Written> {
    let mut out = Written::default();
    let mut batch = Batch::new();
    for f in Figure::ALL {
        match f.draw(run)? {
            Drawing::Svg(svg) => batch.add(&f.path(dir, prefix), svg.as_bytes())?,
            Drawing::Nothing(why) => out.skipped.push((f, why)),
        }
    }
    out.files = batch.commit()?;
    Ok(out)
}
