//! Every figure drawn from the committed H100 runs, the measured cold+hot
//! cliff run of the H200 (and a synthetic one, whose made-up times put points
//! on both sides of the L2 size by construction) must be well-formed SVG
//! holding the series it claims: checked by parsing the XML and counting
//! elements by the colours and texts each series is drawn with.

use super::style;
use super::*;
use crate::metrics;
use crate::runfile::committed_run as committed;
use crate::runfile::{CacheMode, Measurement, StopReason};
use crate::stats::{Bootstrap, summarize};
use crate::suites;

fn svg_of(figure: Figure, run: &RunFile) -> String {
    match figure.draw(run).unwrap() {
        Drawing::Svg(s) => s,
        Drawing::Nothing(why) => panic!("{figure:?} drew nothing: {why}"),
    }
}

/// Parsed SVG, checked for the basics every figure needs.
struct Svg<'a> {
    doc: roxmltree::Document<'a>,
}

impl<'a> Svg<'a> {
    fn parse(text: &'a str) -> Svg<'a> {
        let doc = roxmltree::Document::parse(text).expect("figure is not well-formed XML");
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        let dim = |a: &str| root.attribute(a).unwrap().parse::<f64>().unwrap();
        let (w, h) = (dim("width"), dim("height"));
        let svg = Svg { doc };
        for t in svg.elements("text") {
            assert_eq!(t.attribute("font-family"), Some(style::FONT));
            // Text must stay on the canvas (at plotters' font size and ~0.55 em per character).
            let x: f64 = t.attribute("x").unwrap().parse().unwrap();
            let y: f64 = t.attribute("y").unwrap().parse().unwrap();
            let size: f64 = t.attribute("font-size").unwrap().parse().unwrap();
            let len = t.text().unwrap_or("").trim().chars().count() as f64 * 0.55 * size;
            let (lo, hi) = match t.attribute("text-anchor") {
                Some("middle") => (x - len / 2.0, x + len / 2.0),
                Some("end") => (x - len, x),
                _ => (x, x + len),
            };
            if t.attribute("transform").is_none() {
                assert!(
                    lo >= 0.0 && hi <= w && y >= 0.0 && y <= h,
                    "text `{}` at x {lo:.0}–{hi:.0}, y {y} leaves the {w}×{h} canvas",
                    t.text().unwrap_or("")
                );
            }
        }
        svg
    }

    fn elements(&self, tag: &str) -> Vec<roxmltree::Node<'_, 'a>> {
        self.doc
            .descendants()
            .filter(|n| n.tag_name().name() == tag)
            .collect()
    }

    fn texts(&self) -> Vec<String> {
        self.elements("text")
            .iter()
            .map(|t| t.text().unwrap_or("").trim().to_string())
            .collect()
    }

    fn count_text(&self, exact: &str) -> usize {
        self.texts().iter().filter(|t| *t == exact).count()
    }

    /// Elements `tag` whose attribute `attr` is `value` (and whose other
    /// attributes match `also`).
    fn count(&self, tag: &str, attr: &str, value: &str, also: &[(&str, &str)]) -> usize {
        self.elements(tag)
            .iter()
            .filter(|n| n.attribute(attr) == Some(value))
            .filter(|n| also.iter().all(|(a, v)| n.attribute(*a) == Some(*v)))
            .count()
    }

    /// Polylines in colour `stroke` that close an outline of `corners` points
    /// (the last point repeats the first): the hollow polygonal markers.
    fn closed_outlines(&self, stroke: &str, corners: usize) -> usize {
        self.elements("polyline")
            .iter()
            .filter(|n| n.attribute("stroke") == Some(stroke))
            .filter(|n| {
                let points: Vec<&str> = n
                    .attribute("points")
                    .unwrap_or("")
                    .split_whitespace()
                    .collect();
                points.len() == corners + 1 && points.first() == points.last()
            })
            .count()
    }
}

fn hex(c: plotters::style::RGBColor) -> String {
    format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
}

fn of_impl<'r>(run: &'r RunFile, imp: &str) -> Vec<&'r Measurement> {
    run.measurements
        .iter()
        .filter(|m| m.implementation == imp)
        .collect()
}

#[test]
fn throughput_has_a_line_band_and_legend_entry_per_implementation_and_panel() {
    let run = committed("fa2.json");
    let text = svg_of(Figure::Throughput, &run);
    let svg = Svg::parse(&text);
    for title in [
        "D=64 · non-causal · bf16 · H=32 · B·S=16384",
        "D=64 · causal · bf16 · H=32 · B·S=16384",
        "D=128 · non-causal · bf16 · H=16 · B·S=16384",
        "D=128 · causal · bf16 · H=16 · B·S=16384",
    ] {
        assert_eq!(svg.count_text(title), 1, "{title}");
    }
    for imp in ["tileattn", "torch-flash", "torch-cudnn", "torch-efficient"] {
        let c = hex(style::color(imp));
        assert_eq!(svg.count_text(imp), 1, "legend entry {imp}");
        // One line per panel, one in the legend.
        assert_eq!(svg.count("polyline", "stroke", &c, &[]), 5, "{imp} lines");
        // One translucent CI band per panel.
        assert_eq!(
            svg.count("polygon", "fill", &c, &[("opacity", "0.22")]),
            4,
            "{imp} bands"
        );
    }
    // Circles are tileattn's markers: one per measurement and one in the legend.
    let tileattn = hex(style::color("tileattn"));
    assert_eq!(
        svg.count("circle", "fill", &tileattn, &[]),
        of_impl(&run, "tileattn").len() + 1
    );
    assert_eq!(svg.count_text("torch-math"), 0, "fa2 was run without math");
}

#[test]
fn throughput_of_the_seed_run_has_one_panel_and_five_implementations() {
    let run = committed("seed.json");
    let text = svg_of(Figure::Throughput, &run);
    let svg = Svg::parse(&text);
    assert_eq!(svg.count_text("D=64 · non-causal · f16 · H=8 · B=32"), 1);
    for imp in crate::implementations::KNOWN {
        assert_eq!(svg.count_text(imp), 1, "{imp}");
        let c = hex(style::color(imp));
        assert_eq!(svg.count("polyline", "stroke", &c, &[]), 2, "{imp}");
    }
}

/// Problems that differ only in their inputs' values are drawn in panels of
/// their own, titled with the values, not as a second point per length.
#[test]
fn inputs_on_bf16_values_get_their_own_panel() {
    use crate::operand_values::OperandValues;
    let mut run = committed("seed.json");
    let mut on_bf16 = run.measurements.clone();
    for m in &mut on_bf16 {
        m.problem.operand_values = OperandValues::Bf16;
    }
    run.measurements.extend(on_bf16);
    let titles: Vec<String> = panels::panels(&run.measurements)
        .iter()
        .map(|p| p.title())
        .collect();
    assert_eq!(
        titles,
        [
            "D=64 · non-causal · f16 · H=8 · B=32",
            "D=64 · non-causal · f16 (bf16 values) · H=8 · B=32"
        ]
    );
    let text = svg_of(Figure::Throughput, &run);
    let svg = Svg::parse(&text);
    for title in &titles {
        assert_eq!(svg.count_text(title), 1, "{title}");
    }
}

#[test]
fn cliff_of_cold_runs_marks_where_the_working_set_meets_l2() {
    // seed: 32·8·S·64 f16 ×4 tensors + LSE = 132096·S bytes = 50 MiB at S ≈ 397.
    let run = committed("seed.json");
    let text = svg_of(Figure::Cliff, &run);
    let svg = Svg::parse(&text);
    assert_eq!(svg.count_text("fits in L2 (S<397)"), 1);
    assert_eq!(svg.count_text("exceeds L2 (50 MiB)"), 1);
    assert_eq!(svg.count_text("working set = L2 (50 MiB)"), 1);
    assert_eq!(svg.count_text("copy ceiling 2853 GB/s"), 1);
    // The L2 marker is a dashed line in its own colour; the resident side is shaded.
    let l2 = hex(style::L2_MARK);
    assert!(svg.count("polyline", "stroke", &l2, &[]) > 5);
    assert_eq!(svg.count("rect", "fill", &l2, &[]), 1);
    assert_eq!(svg.count_text("hot L2 (no flush)"), 0);

    // fa2: B·S fixed, so every working set is the same 64+ MiB.
    let run = committed("fa2.json");
    let text = svg_of(Figure::Cliff, &run);
    let svg = Svg::parse(&text);
    assert_eq!(svg.count_text("every working set exceeds L2 (50 MiB)"), 4);
    assert_eq!(svg.count("rect", "fill", &l2, &[]), 0);
}

/// A cliff-suite run with made-up times: HBM-bound at 2400 GB/s cold and once
/// the working set exceeds L2, 5200 GB/s hot while it fits. Not a measurement.
fn synthetic_cliff() -> RunFile {
    let mut run = committed("seed.json");
    run.suite = "cliff".into();
    run.tuning.clear();
    run.measurements.clear();
    let l2 = run.env.l2_bytes;
    for p in suites::builtin("cliff").unwrap() {
        for (imp, efficiency) in [("tileattn", 0.8), ("torch-flash", 1.0)] {
            for mode in [CacheMode::Cold, CacheMode::Hot] {
                let (flops, bytes) = (metrics::flops(&p), metrics::min_bytes(&p));
                let resident = metrics::cache_resident(bytes, l2);
                let gbs = if mode == CacheMode::Hot && resident {
                    5200.0
                } else {
                    2400.0
                };
                let ms = (bytes as f64 / (gbs * efficiency * 1e9)).max(flops as f64 / 400e12) * 1e3;
                let samples: Vec<f64> = (0..12)
                    .map(|i| ms * (1.0 + 0.002 * (i % 5) as f64))
                    .collect();
                let summary =
                    summarize(&samples, &Bootstrap::default(), StopReason::Converged).unwrap();
                let rates = metrics::Rates::new(flops, bytes, summary.median_ms).unwrap();
                run.measurements.push(Measurement {
                    implementation: imp.into(),
                    variant: None,
                    problem: p.key(),
                    mode,
                    summary,
                    samples_ms: samples,
                    flops: flops as f64,
                    bytes: bytes as f64,
                    tflops: rates.tflops,
                    gbs: rates.gbs,
                    cache_resident: resident,
                    clock: None,
                    warmup: None,
                    correctness: None,
                });
            }
        }
    }
    run.validate().unwrap();
    run
}

#[test]
fn cliff_of_a_cold_and_hot_run_draws_both_modes() {
    let run = synthetic_cliff();
    let text = svg_of(Figure::Cliff, &run);
    let svg = Svg::parse(&text);
    assert_eq!(svg.count_text("cold L2 (flushed)"), 1);
    assert_eq!(svg.count_text("hot L2 (no flush)"), 1);
    // cliff: 4·8·S·128 bf16 ×4 + LSE = 32896·S bytes = 50 MiB at S ≈ 1594.
    assert_eq!(svg.count_text("fits in L2 (S<1594)"), 1);
    // Hot points are hollow markers, cold ones filled.
    let tileattn = hex(style::color("tileattn"));
    let hot = |imp| {
        run.measurements
            .iter()
            .filter(|m| m.implementation == imp && m.mode == CacheMode::Hot)
            .count()
    };
    assert_eq!(
        svg.count("circle", "stroke", &tileattn, &[("fill", "none")]),
        hot("tileattn")
    );
    assert_eq!(
        svg.count("circle", "fill", &tileattn, &[]),
        of_impl(&run, "tileattn").len() - hot("tileattn") + 1
    );
    // Solid cold line + legend + the dashes of the hot line.
    assert!(svg.count("polyline", "stroke", &tileattn, &[]) > 10);
}

#[test]
fn cliff_of_the_measured_cold_and_hot_run_draws_both_modes_for_every_implementation() {
    // The H200 cliff run under the current protocol: 13 lengths, cold and hot.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../results/h200/protocol-v2/cliff.json");
    let run = RunFile::load(&path).unwrap();
    let text = svg_of(Figure::Cliff, &run);
    let svg = Svg::parse(&text);
    assert_eq!(svg.count_text("cold L2 (flushed)"), 1);
    assert_eq!(svg.count_text("hot L2 (no flush)"), 1);
    // cliff: 32896·S bytes = the H200's 60 MiB of L2 at S ≈ 1913.
    assert_eq!(svg.count_text("fits in L2 (S<1913)"), 1);
    for imp in ["tileattn", "torch-flash", "torch-cudnn"] {
        let n = |mode| of_impl(&run, imp).iter().filter(|m| m.mode == mode).count();
        let (cold, hot) = (n(CacheMode::Cold), n(CacheMode::Hot));
        assert_eq!((cold, hot), (13, 13), "{imp}: the run's measurements");
        let c = hex(style::color(imp));
        assert_eq!(svg.count_text(imp), 1, "legend entry {imp}");
        // One CI band per mode.
        assert_eq!(
            svg.count("polygon", "fill", &c, &[("opacity", "0.22")]),
            2,
            "{imp} bands"
        );
        // Cold: one solid line through every length; hot: a dashed line,
        // drawn as many short pieces (the legend samples are 3 wide, not counted).
        let lines: Vec<usize> = svg
            .elements("polyline")
            .iter()
            .filter(|l| l.attribute("stroke") == Some(c.as_str()))
            .filter(|l| l.attribute("stroke-width") == Some("2"))
            .map(|l| l.attribute("points").unwrap().split_whitespace().count())
            .collect();
        assert_eq!(
            lines.iter().filter(|&&p| p == cold).count(),
            1,
            "{imp}: solid cold line"
        );
        assert!(lines.len() > hot, "{imp}: dashed hot line in {lines:?}");
        // A marker per measurement, plus the legend's (filled).
        match style::marker(imp) {
            style::Marker::Circle => {
                assert_eq!(svg.count("circle", "fill", &c, &[]), cold + 1, "{imp}");
                let hollow = svg.count("circle", "stroke", &c, &[("fill", "none")]);
                assert_eq!(hollow, hot, "{imp}");
            }
            style::Marker::Square => {
                assert_eq!(svg.count("rect", "fill", &c, &[]), cold + 1, "{imp}");
                let hollow = svg.count("rect", "stroke", &c, &[("fill", "none")]);
                assert_eq!(hollow, hot, "{imp}");
            }
            // Hollow triangles are closed outlines (plotters fills every Polygon).
            style::Marker::Triangle => {
                let filled = svg.count("polygon", "fill", &c, &[("opacity", "1")]);
                assert_eq!(filled, cold + 1, "{imp}");
                assert_eq!(svg.closed_outlines(&c, 3), hot, "{imp}");
            }
            other => panic!("{imp}: no check for {other:?} markers"),
        }
    }
}

#[test]
fn heatmap_has_a_cell_per_tuned_tile_size_and_outlines_each_winner() {
    let run = committed("seed.json");
    let text = svg_of(Figure::Heatmap, &run);
    let svg = Svg::parse(&text);
    let mut timed_cells = 0;
    let mut untimed_cells = 0;
    for t in &run.tuning {
        assert_eq!(svg.count_text(&t.problem.label()), 1);
        let grid = heatmap::Grid::of(t);
        for cell in grid.cells.iter().flatten().flatten() {
            match cell {
                heatmap::Cell::Timed(best) => {
                    timed_cells += 1;
                    assert!(svg.count_text(&heatmap::cell_value(best)) >= 1);
                    // The cell holds the best of its tile size.
                    for c in t
                        .candidates
                        .iter()
                        .filter(|c| c.block_m == best.block_m && c.block_n == best.block_n)
                    {
                        assert!(c.tflops.unwrap_or(0.0) <= best.tflops.unwrap());
                    }
                }
                heatmap::Cell::Untimed(_) => untimed_cells += 1,
            }
        }
    }
    // seed: 6 problems × (bm 64, 128) × (bn 32, 64) timed; bm 32 pruned.
    assert_eq!((timed_cells, untimed_cells), (24, 12));
    let one_decimal = svg
        .texts()
        .iter()
        .filter(|t| {
            t.split_once('.').is_some_and(|(a, b)| {
                b.len() == 1 && (a.to_string() + b).bytes().all(|c| c.is_ascii_digit())
            })
        })
        .count();
    assert_eq!(one_decimal, timed_cells, "one value label per timed cell");
    assert_eq!(svg.count_text("pruned"), untimed_cells);
    assert_eq!(
        svg.count("polyline", "stroke", "#000000", &[("stroke-width", "4")]),
        run.tuning.len()
    );
    // fa2 read its variants from the tuning cache: nothing to draw, and why.
    match Figure::Heatmap.draw(&committed("fa2.json")).unwrap() {
        Drawing::Nothing(why) => assert!(why.contains("no tuning records"), "{why}"),
        Drawing::Svg(_) => panic!("a heatmap without tuning records"),
    }
}

#[test]
fn roofline_has_the_measured_ceilings_and_a_point_per_measurement() {
    let run = committed("fa2.json");
    let text = svg_of(Figure::Roofline, &run);
    let svg = Svg::parse(&text);
    assert_eq!(svg.count_text("mma.sync 656 TFLOP/s"), 1);
    assert_eq!(svg.count_text("copy 2853 GB/s"), 1);
    assert_eq!(
        svg.count("polyline", "stroke", &hex(style::CEILING), &[]),
        2
    );
    // Circles: tileattn; squares: torch-flash (one more each in the legend).
    let tileattn = hex(style::color("tileattn"));
    let flash = hex(style::color("torch-flash"));
    assert_eq!(svg.count("circle", "fill", &tileattn, &[]), 24 + 1);
    assert_eq!(svg.count("rect", "fill", &flash, &[]), 24 + 1);

    let mut bare = run.clone();
    bare.env.ceilings = None;
    let text = svg_of(Figure::Roofline, &bare);
    let svg = Svg::parse(&text);
    assert!(
        svg.texts()
            .iter()
            .any(|t| t.contains("no ceilings were measured"))
    );
    assert!(!svg.texts().iter().any(|t| t.starts_with("mma.sync")));
}

#[test]
fn write_all_names_files_by_prefix_and_says_what_it_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let w = write_all(&committed("fa2.json"), dir.path(), "h100-fa2").unwrap();
    let names: Vec<String> = w
        .files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "h100-fa2-throughput.svg",
            "h100-fa2-cliff.svg",
            "h100-fa2-roofline.svg"
        ]
    );
    assert_eq!(w.skipped.len(), 1);
    assert_eq!(w.skipped[0].0, Figure::Heatmap);
    for p in &w.files {
        Svg::parse(&std::fs::read_to_string(p).unwrap());
    }
}
