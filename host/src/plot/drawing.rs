//! What every figure shares before any layout: the result of drawing one, and
//! the subtitle line that says which run it shows.

use crate::runfile::RunFile;

/// A figure, or why the run has nothing to draw in it.
#[derive(Clone, Debug, PartialEq)]
pub enum Drawing {
    Svg(String),
    Nothing(String),
}

/// The subtitle line every figure starts with: which run this is.
pub(crate) fn run_line(run: &RunFile) -> String {
    let e = &run.env;
    format!(
        "{} · tileattn {} · {}{} · {}",
        e.gpu_name,
        e.tileattn_commit,
        e.torch_version
            .as_deref()
            .map_or("no torch".to_string(), |t| format!("torch {t}")),
        if e.ceilings.is_some() {
            ""
        } else {
            " · no ceilings"
        },
        run.created_utc
    )
}
