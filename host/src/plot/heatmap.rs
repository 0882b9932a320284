//! Figure (c): the autotuning of each problem as a block_m × block_n heatmap,
//! colour = TFLOP/s of the best timed candidate at that tile size (warps,
//! stages and family variants at the same size collapse to their best, whose
//! knobs the cell names). One small panel per tuned problem, each on its own
//! colour scale: shapes differ in throughput by far more than tile sizes do.

use plotters::element::{EmptyElement, PathElement, Rectangle, Text};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::drawing::{Drawing, run_line};
use super::layout::{self, Area, DrawResult};
use super::style;
use crate::Result;
use crate::report::short_variant;
use crate::runfile::{RunFile, TunedCandidate, TuningRecord};

const PANEL_W: u32 = 470;
const PANEL_H: u32 = 430;
const FOOTER_H: u32 = 64;
/// Chart units per cell, and the white gap around each cell.
const CELL: i32 = 100;
const INSET: i32 = 3;

/// The tile size at axis position `at` (a cell centre).
fn axis_value(values: &[u32], at: i32) -> String {
    values
        .get((at / CELL) as usize)
        .map_or(String::new(), |v| v.to_string())
}

/// One cell: the best timed candidate at a tile size, or why none was timed.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell<'a> {
    Timed(&'a TunedCandidate),
    /// `pruned`, `wrong`, `failed` or `skipped`: the most telling status there.
    Untimed(&'a str),
}

/// The heatmap data of one tuning record.
pub struct Grid<'a> {
    pub block_m: Vec<u32>,
    pub block_n: Vec<u32>,
    /// `cells[row][col]`, rows by `block_m`, columns by `block_n`; None where
    /// no variant of that size exists for the problem.
    pub cells: Vec<Vec<Option<Cell<'a>>>>,
    /// Whether candidates of more than one family were tuned (cells then name it).
    pub families: bool,
}

impl<'a> Grid<'a> {
    pub fn of(t: &'a TuningRecord) -> Grid<'a> {
        let mut block_m: Vec<u32> = t.candidates.iter().map(|c| c.block_m).collect();
        let mut block_n: Vec<u32> = t.candidates.iter().map(|c| c.block_n).collect();
        for v in [&mut block_m, &mut block_n] {
            v.sort_unstable();
            v.dedup();
        }
        let cells = block_m
            .iter()
            .map(|&bm| {
                block_n
                    .iter()
                    .map(|&bn| {
                        cell(
                            t.candidates
                                .iter()
                                .filter(|c| c.block_m == bm && c.block_n == bn),
                        )
                    })
                    .collect()
            })
            .collect();
        let mut families: Vec<&str> = t.candidates.iter().map(|c| c.family.as_str()).collect();
        families.sort_unstable();
        families.dedup();
        Grid {
            block_m,
            block_n,
            cells,
            families: families.len() > 1,
        }
    }

    /// Lowest and highest timed TFLOP/s: the panel's colour scale.
    pub fn range(&self) -> Option<(f64, f64)> {
        let v: Vec<f64> = self
            .cells
            .iter()
            .flatten()
            .filter_map(|c| match c {
                Some(Cell::Timed(t)) => t.tflops,
                _ => None,
            })
            .collect();
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (!v.is_empty()).then_some((lo, hi))
    }
}

fn cell<'a>(mut at: impl Iterator<Item = &'a TunedCandidate>) -> Option<Cell<'a>> {
    let all: Vec<&TunedCandidate> = at.by_ref().collect();
    if all.is_empty() {
        return None;
    }
    let best = all
        .iter()
        .filter(|c| c.status == "timed")
        .filter_map(|c| c.tflops.map(|t| (t, *c)))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    if let Some((_, c)) = best {
        return Some(Cell::Timed(c));
    }
    // A wrong result matters more than a slow one.
    let status = ["wrong", "failed", "pruned", "skipped"]
        .into_iter()
        .find(|s| all.iter().any(|c| c.status == *s))
        .unwrap_or("untimed");
    Some(Cell::Untimed(status))
}

/// The label of a timed cell: the TFLOP/s the figure's colour stands for.
pub fn cell_value(c: &TunedCandidate) -> String {
    format!("{:.1}", c.tflops.unwrap_or(f64::NAN))
}

pub fn draw(run: &RunFile) -> Result<Drawing> {
    if run.tuning.is_empty() {
        return Ok(Drawing::Nothing(
            "the run has no tuning records (its variants came from the tuning cache)".into(),
        ));
    }
    let n = run.tuning.len();
    let width = (layout::columns(n) as u32 * PANEL_W).max(layout::MIN_WIDTH);
    let subtitle = vec![
        run_line(run),
        "cell: best timed TFLOP/s at that block_m × block_n (its warps w, stages s below); colour scale per shape; outlined: the tuner's winner".into(),
    ];
    let head = layout::Head::new(
        &format!("Autotuning: TFLOP/s by tile size, suite {}", run.suite),
        &subtitle,
        width,
    );
    let height = head.height() + layout::grid_height(n, PANEL_H);
    let svg = layout::figure((width, height), &head, |area| {
        for (t, cell) in run.tuning.iter().zip(layout::grid(area, n)) {
            draw_panel(&cell, t)?;
        }
        Ok(())
    })?;
    Ok(Drawing::Svg(svg))
}

fn draw_panel(area: &Area, t: &TuningRecord) -> DrawResult {
    let grid = Grid::of(t);
    let (h, _) = (area.dim_in_pixel().1, ());
    let (chart_area, footer) = area.split_vertically(h.saturating_sub(FOOTER_H));
    let (cols, rows) = (grid.block_n.len(), grid.block_m.len());
    // Integer coordinates, CELL units per cell: plotters formats custom
    // ticks on integer axes only.
    let centres = |n: usize| {
        (0..n as i32)
            .map(|i| i * CELL + CELL / 2)
            .collect::<Vec<_>>()
    };
    let mut chart = ChartBuilder::on(&chart_area)
        .caption(t.problem.label(), style::font(style::PANEL_TITLE_SIZE))
        .margin(10)
        .margin_right(20)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(
            (0..cols as i32 * CELL).with_key_points(centres(cols)),
            (0..rows as i32 * CELL).with_key_points(centres(rows)),
        )?;
    let bn = grid.block_n.clone();
    let bm = grid.block_m.clone();
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("block_n (keys per tile)")
        .y_desc("block_m (queries per tile)")
        .x_label_formatter(&|x| axis_value(&bn, *x))
        .y_label_formatter(&|y| axis_value(&bm, *y))
        .label_style(style::font(style::TICK_SIZE))
        .axis_desc_style(style::font(style::LABEL_SIZE))
        .draw()?;
    let range = grid.range();
    let scale = |v: f64| match range {
        Some((lo, hi)) if hi > lo => (v - lo) / (hi - lo),
        _ => 1.0,
    };
    // The winner's tile size (its cell may show a sibling with other warps or
    // stages that timed marginally faster).
    let winner = t
        .candidates
        .iter()
        .find(|c| t.winner.as_deref() == Some(c.variant.as_str()))
        .map(|c| (c.block_m, c.block_n));
    for (r, row) in grid.cells.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let Some(cell) = cell else { continue };
            let (x, y) = (c as i32 * CELL, r as i32 * CELL);
            let inner = [(x + INSET, y + INSET), (x + CELL - INSET, y + CELL - INSET)];
            let (fill, main, sub) = match cell {
                Cell::Timed(best) => {
                    let knobs = if grid.families {
                        format!("{} w{} s{}", best.family, best.warps, best.stages)
                    } else {
                        format!("w{} s{}", best.warps, best.stages)
                    };
                    (
                        style::viridis(scale(best.tflops.unwrap_or(0.0))),
                        cell_value(best),
                        knobs,
                    )
                }
                Cell::Untimed(status) => (
                    RGBColor(0xE4, 0xE4, 0xE4),
                    status.to_string(),
                    "not timed".into(),
                ),
            };
            chart.draw_series(std::iter::once(Rectangle::new(inner, fill.filled())))?;
            let ink = if matches!(cell, Cell::Untimed("wrong" | "failed")) {
                RGBColor(0xB0, 0x00, 0x00)
            } else {
                style::text_on(fill)
            };
            let centre = (x + CELL / 2, y + CELL / 2);
            chart.draw_series(std::iter::once(
                EmptyElement::at(centre)
                    + Text::new(
                        main,
                        (0, -2),
                        style::font(style::LABEL_SIZE)
                            .color(&ink)
                            .pos(Pos::new(HPos::Center, VPos::Bottom)),
                    )
                    + Text::new(
                        sub,
                        (0, 4),
                        style::font(style::TICK_SIZE)
                            .color(&ink)
                            .pos(Pos::new(HPos::Center, VPos::Top)),
                    ),
            ))?;
            if winner == Some((grid.block_m[r], grid.block_n[c])) {
                // A path, not a rectangle: plotters' SVG rectangles drop the stroke width.
                let [(x0, y0), (x1, y1)] = inner;
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)],
                    BLACK.stroke_width(4),
                )))?;
            }
        }
    }
    colour_bar(&footer, range, t)
}

/// The panel's scale under it, and the winner by name.
fn colour_bar(area: &Area, range: Option<(f64, f64)>, t: &TuningRecord) -> DrawResult {
    let (w, _) = area.dim_in_pixel();
    let note = style::font(style::NOTE_SIZE);
    let winner = match t.winner.as_deref() {
        Some(v) => format!("winner: {} ({})", short_variant(v), t.strategy),
        None => format!("no winner: nothing could be timed ({})", t.strategy),
    };
    area.draw(&Text::new(
        winner,
        (w as i32 / 2, 4),
        note.pos(Pos::new(HPos::Center, VPos::Top)),
    ))?;
    let Some((lo, hi)) = range else {
        return Ok(());
    };
    const STEPS: i32 = 40;
    let (bar_w, x0, y0) = (200, w as i32 / 2 - 100, 32);
    for i in 0..STEPS {
        let xa = x0 + i * bar_w / STEPS;
        let xb = x0 + (i + 1) * bar_w / STEPS;
        area.draw(&Rectangle::new(
            [(xa, y0), (xb, y0 + 14)],
            style::viridis(i as f64 / (STEPS - 1) as f64).filled(),
        ))?;
    }
    let label = |text: String, x: i32, h: HPos| {
        Text::new(
            text,
            (x, y0 + 7),
            style::font(style::TICK_SIZE).pos(Pos::new(h, VPos::Center)),
        )
    };
    area.draw(&label(format!("{lo:.0}"), x0 - 8, HPos::Right))?;
    area.draw(&label(
        format!("{hi:.0} TFLOP/s"),
        x0 + bar_w + 8,
        HPos::Left,
    ))?;
    Ok(())
}
