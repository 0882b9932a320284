//! What a command wrote, said one way for people (`wrote PATH` lines on
//! stdout, a line on stderr per figure with nothing to draw) and another for
//! programs (the `written` and `figures_skipped` fields of its `--json`).

use std::path::PathBuf;

use serde::Serialize;
use tileattn::host::plot;

/// The files a command wrote, and the figures it had nothing to draw in.
#[derive(Debug, Default, Serialize)]
pub struct Written {
    pub written: Vec<PathBuf>,
    /// Figures left out, and why (an empty run, no tuning records).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub figures_skipped: Vec<SkippedFigure>,
}

#[derive(Debug, Serialize)]
pub struct SkippedFigure {
    pub figure: &'static str,
    pub why: String,
}

impl Written {
    pub fn file(path: PathBuf) -> Written {
        Written {
            written: vec![path],
            figures_skipped: Vec::new(),
        }
    }

    /// Add what [`plot::write_all`] did.
    pub fn add_figures(&mut self, figures: plot::Written) {
        self.written.extend(figures.files);
        self.figures_skipped
            .extend(figures.skipped.into_iter().map(|(f, why)| SkippedFigure {
                figure: f.name(),
                why,
            }));
    }

    /// The lines a person reads: `wrote PATH` on stdout.
    pub fn print(&self) {
        for f in &self.written {
            println!("wrote {}", f.display());
        }
        self.say_skipped();
    }

    /// The same, all on stderr, for a command whose stdout is its result.
    pub fn print_on_stderr(&self) {
        for f in &self.written {
            eprintln!("tileattn: wrote {}", f.display());
        }
        self.say_skipped();
    }

    fn say_skipped(&self) {
        for s in &self.figures_skipped {
            eprintln!("tileattn: no {} figure: {}", s.figure, s.why);
        }
    }
}
