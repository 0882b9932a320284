//! Every committed figure in `plots/` is, byte for byte, what today's code
//! draws from the committed run file `plots/sources.toml` names for it, and
//! every figure is named there: a figure cannot drift from its data (or from
//! the plotting code) unnoticed, nor be committed without its run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use tileattn::host::plot::{Drawing, Figure};
use tileattn::host::runfile::RunFile;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `plots/sources.toml`: figure file name → run file, from the repo root.
fn sources() -> BTreeMap<String, String> {
    let path = repo().join("plots/sources.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `PREFIX-KIND.svg` → PREFIX and the figure KIND names, as `tileattn plot`
/// names its files.
fn prefix_and_figure(file: &str) -> (&str, Figure) {
    let (prefix, kind) = file
        .strip_suffix(".svg")
        .and_then(|stem| stem.rsplit_once('-'))
        .unwrap_or_else(|| panic!("plots/{file}: not named PREFIX-KIND.svg"));
    let figure = Figure::ALL
        .into_iter()
        .find(|f| f.name() == kind)
        .unwrap_or_else(|| panic!("plots/{file}: `{kind}` is not a figure kind"));
    (prefix, figure)
}

/// The command that redraws `file`. `tileattn plot` writes every figure of a
/// prefix, so where other figures of that prefix come from another run (the
/// v2 fa2 heatmap), drawing into `plots/` would overwrite them with the wrong
/// run's figures.
fn redraw(file: &str, run: &str, sources: &BTreeMap<String, String>) -> String {
    let (prefix, _) = prefix_and_figure(file);
    let shared = sources
        .iter()
        .any(|(f, r)| r != run && prefix_and_figure(f).0 == prefix);
    if shared {
        format!(
            "`tileattn plot {run} --out SCRATCH --prefix {prefix}` and copy only \
             SCRATCH/{file} to plots/ (other {prefix}-* figures come from other runs)"
        )
    } else {
        format!("`tileattn plot {run} --out plots --prefix {prefix}`")
    }
}

/// Where the drawn and the committed figure part, for the failure message.
fn first_difference(drawn: &str, committed: &[u8]) -> String {
    let committed = String::from_utf8_lossy(committed);
    match drawn
        .lines()
        .zip(committed.lines())
        .position(|(a, b)| a != b)
    {
        Some(i) => format!("first difference at line {}", i + 1),
        None => format!(
            "{} lines drawn, {} committed",
            drawn.lines().count(),
            committed.lines().count()
        ),
    }
}

#[test]
fn every_committed_figure_is_what_its_run_draws_today() {
    let sources = sources();
    // Check them all before failing, so one run names every stale figure.
    let mut stale = Vec::new();
    for (file, run_path) in &sources {
        let (_, figure) = prefix_and_figure(file);
        let run = RunFile::load(&repo().join(run_path))
            .unwrap_or_else(|e| panic!("{run_path}, the source of plots/{file}: {e}"));
        let drawn = match figure.draw(&run).unwrap() {
            Drawing::Svg(svg) => svg,
            Drawing::Nothing(why) => panic!(
                "plots/{file}: {run_path} has no {} figure: {why}",
                figure.name()
            ),
        };
        let committed = std::fs::read(repo().join("plots").join(file)).unwrap();
        if drawn.as_bytes() != committed {
            stale.push(format!(
                "plots/{file} is not what today's code draws from {run_path} ({}): redraw it with {}",
                first_difference(&drawn, &committed),
                redraw(file, run_path, &sources)
            ));
        }
    }
    assert!(
        stale.is_empty(),
        "{} of {} committed figures are stale:\n{}",
        stale.len(),
        sources.len(),
        stale.join("\n")
    );
}

#[test]
fn every_figure_in_plots_has_a_committed_source() {
    let sources = sources();
    let listed: BTreeSet<&str> = sources.keys().map(String::as_str).collect();
    let names: Vec<String> = std::fs::read_dir(repo().join("plots"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".svg"))
        .collect();
    let in_plots: BTreeSet<&str> = names.iter().map(String::as_str).collect();

    let unlisted: Vec<_> = in_plots.difference(&listed).collect();
    assert!(
        unlisted.is_empty(),
        "figures in plots/ without a source in plots/sources.toml: {unlisted:?} \
         (add `\"FILE.svg\" = \"results/.../RUN.json\"` for each)"
    );
    let absent: Vec<_> = listed.difference(&in_plots).collect();
    assert!(
        absent.is_empty(),
        "plots/sources.toml lists figures that are not in plots/: {absent:?}"
    );
    for (file, run) in &sources {
        prefix_and_figure(file);
        // A source must be a committed run, not a scratch file.
        assert!(
            run.starts_with("results/") && repo().join(run).is_file(),
            "plots/{file}: its source `{run}` is not a file under results/"
        );
    }
}
