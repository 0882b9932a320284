//! The frame every figure shares: an SVG canvas with a title and subtitle
//! lines, one legend for the whole figure (per-panel legends would cover
//! data and repeat themselves), and a grid of panels.

use plotters::coord::Shift;
use plotters::element::{PathElement, Text};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::style::{self, Marker};
use crate::{Error, Result};

pub type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
/// plotters' errors are generic over the backend; figures only report them.
pub type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;

/// No figure is narrower: titles and notes need the room even for one panel.
pub const MIN_WIDTH: u32 = 960;

/// A figure's title and its subtitle lines, wrapped to the figure's width.
pub struct Head {
    title: String,
    lines: Vec<String>,
}

impl Head {
    pub fn new(title: &str, subtitle: &[String], width: u32) -> Head {
        let room = width as i32 - 40;
        let mut lines = Vec::new();
        for line in subtitle {
            let mut current = String::new();
            for word in line.split(' ') {
                let candidate = if current.is_empty() {
                    word.to_string()
                } else {
                    format!("{current} {word}")
                };
                if !current.is_empty() && style::text_width(&candidate, style::NOTE_SIZE) > room {
                    lines.push(std::mem::replace(&mut current, word.to_string()));
                } else {
                    current = candidate;
                }
            }
            lines.push(current);
        }
        Head {
            title: title.to_string(),
            lines,
        }
    }

    pub fn height(&self) -> u32 {
        46 + 22 * self.lines.len() as u32 + 6
    }
}

/// Draw a `size` figure into an SVG string: the head on top, then `body` in
/// the rest of the canvas.
pub fn figure(
    size: (u32, u32),
    head: &Head,
    body: impl FnOnce(&Area) -> DrawResult,
) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        let drawn: DrawResult = (|| {
            root.fill(&WHITE)?;
            let (top_area, rest) = root.split_vertically(head.height());
            let centre = size.0 as i32 / 2;
            let top = Pos::new(HPos::Center, VPos::Top);
            top_area.draw(&Text::new(
                head.title.clone(),
                (centre, 12),
                style::bold_font(style::TITLE_SIZE).pos(top),
            ))?;
            for (i, line) in head.lines.iter().enumerate() {
                top_area.draw(&Text::new(
                    line.clone(),
                    (centre, 46 + 22 * i as i32),
                    style::font(style::NOTE_SIZE).pos(top),
                ))?;
            }
            body(&rest)?;
            root.present()?;
            Ok(())
        })();
        drawn.map_err(|e| Error::Tool {
            tool: "plotters".into(),
            message: format!("drawing `{}`: {e}", head.title),
        })?;
    }
    Ok(svg)
}

/// How a legend entry's sample line is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Line {
    Solid,
    Dashed,
}

/// One entry of a figure's legend: a line and/or a marker, then the label.
#[derive(Clone, Debug)]
pub struct LegendEntry {
    pub label: String,
    pub color: RGBColor,
    pub line: Option<Line>,
    pub marker: Option<(Marker, bool)>,
}

/// One legend entry per implementation in `run`, in the shared order, with
/// its colour and filled marker, drawn with `line` (None: marker only).
pub fn implementation_entries(
    run: &crate::runfile::RunFile,
    line: Option<Line>,
) -> Vec<LegendEntry> {
    crate::implementations::ordered(run.measurements.iter().map(|m| m.implementation.as_str()))
        .into_iter()
        .map(|i| LegendEntry {
            label: i.to_string(),
            color: super::style::color(i),
            line,
            marker: Some((super::style::marker(i), true)),
        })
        .collect()
}

const SAMPLE_W: i32 = 34;
const ENTRY_GAP: i32 = 28;
const ROW_H: i32 = 26;

fn entry_width(e: &LegendEntry) -> i32 {
    SAMPLE_W + 8 + style::text_width(&e.label, style::LABEL_SIZE) + ENTRY_GAP
}

/// Entries per row when laid out in `width` pixels.
fn rows(entries: &[LegendEntry], width: i32) -> Vec<&[LegendEntry]> {
    let mut out = Vec::new();
    let (mut start, mut used) = (0, 0);
    for (i, e) in entries.iter().enumerate() {
        let w = entry_width(e);
        if i > start && used + w > width {
            out.push(&entries[start..i]);
            (start, used) = (i, 0);
        }
        used += w;
    }
    if start < entries.len() {
        out.push(&entries[start..]);
    }
    out
}

/// Height the legend needs in a `width`-pixel strip.
pub fn legend_height(entries: &[LegendEntry], width: u32) -> u32 {
    (rows(entries, width as i32 - 40).len() as i32 * ROW_H + 12) as u32
}

/// The legend, rows centred in `area`.
pub fn legend(area: &Area, entries: &[LegendEntry]) -> DrawResult {
    let width = area.dim_in_pixel().0 as i32;
    for (r, row) in rows(entries, width - 40).into_iter().enumerate() {
        let total: i32 = row.iter().map(entry_width).sum::<i32>() - ENTRY_GAP;
        let mut x = (width - total) / 2;
        let y = 6 + ROW_H / 2 + r as i32 * ROW_H;
        for e in row {
            match e.line {
                Some(Line::Solid) => {
                    area.draw(&PathElement::new(
                        vec![(x, y), (x + SAMPLE_W, y)],
                        e.color.stroke_width(3),
                    ))?;
                }
                Some(Line::Dashed) => {
                    for k in 0..3 {
                        let x0 = x + k * 13;
                        area.draw(&PathElement::new(
                            vec![(x0, y), (x0 + 8, y)],
                            e.color.stroke_width(3),
                        ))?;
                    }
                }
                None => {}
            }
            if let Some((m, filled)) = e.marker {
                style::draw_marker(area, (x + SAMPLE_W / 2, y), m, e.color, filled, 5)?;
            }
            area.draw(&Text::new(
                e.label.clone(),
                (x + SAMPLE_W + 8, y),
                style::font(style::LABEL_SIZE).pos(Pos::new(HPos::Left, VPos::Center)),
            ))?;
            x += entry_width(e);
        }
    }
    Ok(())
}

/// Columns of a grid of `n` panels: one row up to three, else two or three wide.
pub fn columns(n: usize) -> usize {
    match n {
        0 | 1 => 1,
        2 | 4 => 2,
        _ => 3,
    }
}

/// `n` equal panels of `area`, row by row.
pub fn grid<'a>(area: &Area<'a>, n: usize) -> Vec<Area<'a>> {
    let cols = columns(n);
    let rows = n.div_ceil(cols).max(1);
    area.split_evenly((rows, cols))
        .into_iter()
        .take(n)
        .collect()
}

/// Height of the grid of `n` panels of `panel_h` pixels.
pub fn grid_height(n: usize, panel_h: u32) -> u32 {
    n.div_ceil(columns(n)).max(1) as u32 * panel_h
}
