//! The overlay figure of a comparison: A's and B's TFLOP/s against sequence
//! length on the same axes, for the measurements the two runs share. One
//! panel per problem family (as the throughput figure groups them) and cache
//! mode; each implementation in its usual colour and marker, A dashed with
//! hollow markers, B solid with filled ones, both with the band of the
//! median time's CI: a change reads as the gap between the two lines.

use std::collections::HashSet;

use super::Row;
use crate::Result;
use crate::plot::Drawing;
use crate::plot::drawing::run_line;
use crate::plot::layout::{self, Area, DrawResult, LegendEntry, Line};
use crate::plot::panels::{self, Panel, Series};
use crate::plot::seqlen::{self, Metric};
use crate::plot::style::{self, Marker};
use crate::ratchet::Key;
use crate::runfile::{CacheMode, RunFile};

const PANEL_W: u32 = 640;
const PANEL_H: u32 = 460;
const METRIC: Metric = Metric::Tflops;

/// `run` with only the measurements `rows` matched.
fn matched(run: &RunFile, rows: &[Row]) -> RunFile {
    let keys: HashSet<Key> = rows
        .iter()
        .map(|r| Key {
            implementation: r.implementation.clone(),
            problem: r.problem.clone(),
            mode: r.mode,
        })
        .collect();
    RunFile {
        measurements: run
            .measurements
            .iter()
            .filter(|m| keys.contains(&Key::of(m)))
            .cloned()
            .collect(),
        tuning: Vec::new(),
        ..run.clone()
    }
}

/// One panel: a problem family in one cache mode, A's side and B's.
struct Cell<'a> {
    title: String,
    a: Panel<'a>,
    b: Panel<'a>,
}

pub fn draw(a: &RunFile, b: &RunFile, rows: &[Row]) -> Result<Drawing> {
    if rows.is_empty() {
        return Ok(Drawing::Nothing("the runs share no measurement".into()));
    }
    let (a, b) = (matched(a, rows), matched(b, rows));
    let modes: Vec<CacheMode> = [CacheMode::Cold, CacheMode::Hot]
        .into_iter()
        .filter(|mode| rows.iter().any(|r| r.mode == *mode))
        .collect();
    let in_mode = |run: &RunFile, mode| -> Vec<_> {
        run.measurements
            .iter()
            .filter(|m| m.mode == mode)
            .cloned()
            .collect()
    };
    let by_mode: Vec<_> = modes
        .iter()
        .map(|&mode| (mode, in_mode(&a, mode), in_mode(&b, mode)))
        .collect();
    let mut cells = Vec::new();
    for (mode, ma, mb) in &by_mode {
        // Matched measurements have the same keys on both sides, so the
        // panels of A and of B are the same families in the same order.
        for (pa, pb) in panels::panels(ma).into_iter().zip(panels::panels(mb)) {
            let title = if modes.len() > 1 {
                format!("{} · {} L2", pa.title(), mode.name())
            } else {
                pa.title()
            };
            cells.push(Cell {
                title,
                a: pa,
                b: pb,
            });
        }
    }
    let mut legend = layout::implementation_entries(&b, None);
    for (label, line, filled) in [("A", Line::Dashed, false), ("B", Line::Solid, true)] {
        legend.push(LegendEntry {
            label: label.into(),
            color: style::CEILING,
            line: Some(line),
            marker: Some((Marker::Circle, filled)),
        });
    }
    let width = (layout::columns(cells.len()) as u32 * PANEL_W).max(layout::MIN_WIDTH);
    let legend_h = layout::legend_height(&legend, width);
    let subtitle = vec![
        format!("A: {}", run_line(&a)),
        format!("B: {}", run_line(&b)),
        "A dashed, hollow; B solid, filled; lines: median TFLOP/s; bands: the median time's 95% CI"
            .into(),
    ];
    let head = layout::Head::new("tileattn compare: B against A", &subtitle, width);
    let height = head.height() + legend_h + layout::grid_height(cells.len(), PANEL_H);
    let svg = layout::figure((width, height), &head, |area| {
        let (top, body) = area.split_vertically(legend_h);
        layout::legend(&top, &legend)?;
        for (cell, area) in cells.iter().zip(layout::grid(&body, cells.len())) {
            draw_cell(&area, cell)?;
        }
        Ok(())
    })?;
    Ok(Drawing::Svg(svg))
}

fn draw_cell(area: &Area, cell: &Cell) -> DrawResult {
    let top = [&cell.a, &cell.b]
        .iter()
        .flat_map(|p| p.measurements.iter().map(|m| METRIC.band(m).1))
        .fold(0.0, f64::max);
    let y_hi = style::linear_top(top * 1.15);
    let (mut chart, _) = seqlen::axes(area, &cell.title, &cell.a.seqlens(), METRIC, y_hi)?;
    let (a, b) = (cell.a.series(), cell.b.series());
    // A first, so B's solid lines lie on top of A's dashed ones.
    let styled: Vec<(&Series, bool)> = a
        .iter()
        .map(|s| (s, false))
        .chain(b.iter().map(|s| (s, true)))
        .collect();
    seqlen::draw_series(&mut chart, &styled, METRIC)
}
