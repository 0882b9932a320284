//! The chart the throughput and cliff figures share: a rate against sequence
//! length (log axis), one panel per problem family, one line per
//! implementation and cache mode, with the band of the median's CI.

use plotters::coord::combinators::WithKeyPoints;
use plotters::coord::types::RangedCoordf64;
use plotters::element::{DashedPathElement, EmptyElement, PathElement, Polygon, Rectangle, Text};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::layout::{self, Area, DrawResult, LegendEntry, Line};
use super::panels::{self, L2Crossing, Panel, Series};
use super::style;
use crate::Result;
use crate::runfile::{CacheMode, Ceilings, Measurement, RunFile};

/// The rate on the y axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    Tflops,
    Gbs,
}

impl Metric {
    pub(crate) fn of(self, m: &Measurement) -> f64 {
        match self {
            Metric::Tflops => m.tflops,
            Metric::Gbs => m.gbs,
        }
    }

    /// The rate at the ends of the median time's CI: the slow end of the
    /// time is the low end of the rate.
    pub(crate) fn band(self, m: &Measurement) -> (f64, f64) {
        let (v, s) = (self.of(m), &m.summary);
        (
            v * s.median_ms / s.ci_high_ms,
            v * s.median_ms / s.ci_low_ms,
        )
    }

    pub(crate) fn axis(self) -> &'static str {
        match self {
            Metric::Tflops => "TFLOP/s (exact FLOPs / median time)",
            Metric::Gbs => "GB/s (minimum bytes / median time)",
        }
    }
}

/// What the chart marks besides the measurements.
#[derive(Clone, Copy, Debug, Default)]
pub struct Marks {
    /// The sequence length whose working set equals L2, and the side of it that fits.
    pub l2: bool,
    /// The copy-bandwidth ceiling as a horizontal line.
    pub copy_ceiling: bool,
}

const PANEL_W: u32 = 640;
const PANEL_H: u32 = 460;

/// The whole figure.
pub fn figure(
    run: &RunFile,
    metric: Metric,
    title: &str,
    subtitle: &[String],
    marks: Marks,
) -> Result<String> {
    let panels = panels::panels(&run.measurements);
    let modes_present: Vec<CacheMode> = [CacheMode::Cold, CacheMode::Hot]
        .into_iter()
        .filter(|mode| run.measurements.iter().any(|m| m.mode == *mode))
        .collect();
    let legend = legend_entries(run, &modes_present, marks);
    let width = (layout::columns(panels.len()) as u32 * PANEL_W).max(layout::MIN_WIDTH);
    let legend_h = layout::legend_height(&legend, width);
    let head = layout::Head::new(title, subtitle, width);
    let height = head.height() + legend_h + layout::grid_height(panels.len(), PANEL_H);
    let ceilings = run.env.ceilings.filter(|_| marks.copy_ceiling);
    let l2 = marks.l2.then_some(run.env.l2_bytes as f64);
    layout::figure((width, height), &head, |area| {
        let (top, body) = area.split_vertically(legend_h);
        layout::legend(&top, &legend)?;
        for (panel, cell) in panels.iter().zip(layout::grid(&body, panels.len())) {
            draw_panel(&cell, panel, metric, l2, ceilings.as_ref())?;
        }
        Ok(())
    })
}

fn legend_entries(run: &RunFile, modes: &[CacheMode], marks: Marks) -> Vec<LegendEntry> {
    let mut v: Vec<LegendEntry> = layout::implementation_entries(run, Some(Line::Solid));
    if modes.len() > 1 {
        v.push(LegendEntry {
            label: "cold L2 (flushed)".into(),
            color: style::CEILING,
            line: Some(Line::Solid),
            marker: Some((style::Marker::Circle, true)),
        });
        v.push(LegendEntry {
            label: "hot L2 (no flush)".into(),
            color: style::CEILING,
            line: Some(Line::Dashed),
            marker: Some((style::Marker::Circle, false)),
        });
    }
    if marks.l2 {
        v.push(LegendEntry {
            label: format!("working set = L2 ({})", mib(run.env.l2_bytes as f64)),
            color: style::L2_MARK,
            line: Some(Line::Dashed),
            marker: None,
        });
    }
    if marks.copy_ceiling && run.env.ceilings.is_some() {
        v.push(LegendEntry {
            label: "copy ceiling".into(),
            color: style::CEILING,
            line: Some(Line::Dashed),
            marker: None,
        });
    }
    v
}

pub fn mib(bytes: f64) -> String {
    format!("{:.0} MiB", bytes / (1u64 << 20) as f64)
}

/// Tick positions: every measured length when they are few, else powers of two.
fn x_ticks(seqlens: &[f64], lo: f64, hi: f64) -> Vec<f64> {
    if seqlens.len() <= 8 {
        return seqlens.to_vec();
    }
    (0..40)
        .map(|k| 2f64.powi(k))
        .filter(|x| *x >= lo && *x <= hi)
        .collect()
}

/// The axes of a sequence-length panel.
pub(crate) type Chart<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<WithKeyPoints<LogCoord<f64>>, RangedCoordf64>>;

/// A panel's titled axes, drawn: sequence length on a log axis around
/// `seqlens`, `metric` from 0 to `y_hi`. Returns them and the x range.
pub(crate) fn axes<'a, 'b>(
    area: &'a Area<'b>,
    title: &str,
    seqlens: &[f64],
    metric: Metric,
    y_hi: f64,
) -> std::result::Result<(Chart<'a, 'b>, (f64, f64)), Box<dyn std::error::Error>> {
    let (x_lo, x_hi) = style::log_range(seqlens[0] / 1.3, seqlens[seqlens.len() - 1] * 1.3);
    let mut chart = ChartBuilder::on(area)
        .caption(title, style::font(style::PANEL_TITLE_SIZE))
        .margin(10)
        .margin_right(28)
        .x_label_area_size(52)
        .y_label_area_size(78)
        .build_cartesian_2d(
            (x_lo..x_hi)
                .log_scale()
                .with_key_points(x_ticks(seqlens, x_lo, x_hi)),
            0.0..y_hi,
        )?;
    chart
        .configure_mesh()
        .x_desc("sequence length S (tokens, log scale)")
        .y_desc(metric.axis())
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .label_style(style::font(style::TICK_SIZE))
        .axis_desc_style(style::font(style::LABEL_SIZE))
        .bold_line_style(style::GRID)
        .light_line_style(WHITE)
        .draw()?;
    Ok((chart, (x_lo, x_hi)))
}

/// Each series with its CI band, its line and its markers: solid lines and
/// filled markers where the flag is set, else dashed and hollow. Bands under
/// lines under markers, so no band hides a line.
pub(crate) fn draw_series(
    chart: &mut Chart,
    series: &[(&Series, bool)],
    metric: Metric,
) -> DrawResult {
    for (s, _) in series {
        if s.points.len() < 2 {
            continue;
        }
        let mut outline: Vec<(f64, f64)> = s
            .points
            .iter()
            .map(|m| (panels::seqlen(m), metric.band(m).0))
            .collect();
        outline.extend(
            s.points
                .iter()
                .rev()
                .map(|m| (panels::seqlen(m), metric.band(m).1)),
        );
        let color = style::color(s.implementation);
        chart.draw_series(std::iter::once(Polygon::new(
            outline,
            color.mix(0.22).filled(),
        )))?;
    }
    for &(s, solid) in series {
        let color = style::color(s.implementation);
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .map(|m| (panels::seqlen(m), metric.of(m)))
            .collect();
        if solid {
            chart.draw_series(std::iter::once(PathElement::new(
                pts,
                color.stroke_width(2),
            )))?;
        } else {
            chart.draw_series(std::iter::once(DashedPathElement::new(
                pts,
                7,
                5,
                color.stroke_width(2),
            )))?;
        }
    }
    for &(s, solid) in series {
        let (color, shape) = (
            style::color(s.implementation),
            style::marker(s.implementation),
        );
        for m in &s.points {
            style::draw_marker(
                chart.plotting_area(),
                (panels::seqlen(m), metric.of(m)),
                shape,
                color,
                solid,
                4,
            )?;
        }
    }
    Ok(())
}

fn draw_panel(
    area: &Area,
    panel: &Panel,
    metric: Metric,
    l2_bytes: Option<f64>,
    ceilings: Option<&Ceilings>,
) -> DrawResult {
    let seqlens = panel.seqlens();
    let data_max = panel
        .measurements
        .iter()
        .map(|m| metric.band(m).1)
        .fold(0.0, f64::max);
    let ceiling = ceilings.map(|c| c.copy_gbs);
    let y_hi = style::linear_top(data_max.max(ceiling.unwrap_or(0.0)) * 1.15);
    let (mut chart, (x_lo, x_hi)) = axes(area, &panel.title(), &seqlens, metric, y_hi)?;

    if let Some(l2) = l2_bytes {
        let pts: Vec<(f64, f64)> = panel
            .measurements
            .iter()
            .map(|m| (panels::seqlen(m), m.bytes))
            .collect();
        let crossing = panels::l2_crossing(&pts, l2);
        let (w, _) = chart.plotting_area().dim_in_pixel();
        let note = style::font(style::NOTE_SIZE).color(&style::L2_MARK);
        match crossing {
            L2Crossing::At(s) if s > x_lo && s < x_hi => {
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x_lo, 0.0), (s, y_hi)],
                    style::L2_MARK.mix(0.08).filled(),
                )))?;
                chart.draw_series(std::iter::once(DashedPathElement::new(
                    vec![(s, 0.0), (s, y_hi)],
                    8,
                    5,
                    style::L2_MARK.stroke_width(2),
                )))?;
                // Each side's label only where it fits between the line and the frame.
                let (px, _) = chart.backend_coord(&(s, y_hi));
                let (left_px, _) = chart.backend_coord(&(x_lo, y_hi));
                let (dx_left, dx_right) = (px - left_px, left_px + w as i32 - px);
                let fits = format!("fits in L2 (S<{s:.0})");
                let exceeds = format!("exceeds L2 ({})", mib(l2));
                if style::text_width(&fits, style::NOTE_SIZE) + 12 < dx_left {
                    chart.draw_series(std::iter::once(
                        EmptyElement::at((s, y_hi))
                            + Text::new(fits, (-6, 8), note.pos(Pos::new(HPos::Right, VPos::Top))),
                    ))?;
                }
                if style::text_width(&exceeds, style::NOTE_SIZE) + 12 < dx_right {
                    chart.draw_series(std::iter::once(
                        EmptyElement::at((s, y_hi))
                            + Text::new(exceeds, (6, 8), note.pos(Pos::new(HPos::Left, VPos::Top))),
                    ))?;
                }
            }
            other => {
                let text = match other {
                    L2Crossing::AllBelow => format!("every working set fits in L2 ({})", mib(l2)),
                    L2Crossing::At(s) if s >= x_hi => {
                        format!("every working set fits in L2 ({}; S<{s:.0})", mib(l2))
                    }
                    _ => format!("every working set exceeds L2 ({})", mib(l2)),
                };
                chart.draw_series(std::iter::once(
                    EmptyElement::at((x_lo, y_hi))
                        + Text::new(text, (8, 8), note.pos(Pos::new(HPos::Left, VPos::Top))),
                ))?;
            }
        }
    }
    if let Some(c) = ceiling {
        chart.draw_series(std::iter::once(DashedPathElement::new(
            vec![(x_lo, c), (x_hi, c)],
            10,
            6,
            style::CEILING.stroke_width(2),
        )))?;
        chart.draw_series(std::iter::once(
            EmptyElement::at((x_hi, c))
                + Text::new(
                    format!("copy ceiling {c:.0} GB/s"),
                    (-8, -6),
                    style::font(style::NOTE_SIZE)
                        .color(&style::CEILING)
                        .pos(Pos::new(HPos::Right, VPos::Bottom)),
                ),
        ))?;
    }

    let series = panel.series();
    let styled: Vec<(&Series, bool)> = series
        .iter()
        .map(|s| (s, s.mode == CacheMode::Cold))
        .collect();
    draw_series(&mut chart, &styled, metric)?;
    Ok(())
}
