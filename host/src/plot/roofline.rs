//! Figure (d): the roofline. Arithmetic intensity (exact FLOPs over minimum
//! bytes) on a log x axis, TFLOP/s on a log y axis, the device's measured
//! ceilings (copy bandwidth rising, mma.sync throughput flat) and every
//! measurement as a point: how far each is from the roof it is under.

use plotters::element::{EmptyElement, PathElement, Text};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::drawing::{Drawing, run_line};
use super::layout::{self, LegendEntry, Line};
use super::style;
use crate::Result;
use crate::implementations;
use crate::runfile::{CacheMode, Measurement, RunFile};

const WIDTH: u32 = 1100;
const CHART_H: u32 = 680;

/// FLOP per byte of a measurement's problem.
pub fn intensity(m: &Measurement) -> f64 {
    m.flops / m.bytes
}

pub fn draw(run: &RunFile) -> Result<Drawing> {
    if run.measurements.is_empty() {
        return Ok(Drawing::Nothing("the run has no measurements".into()));
    }
    let ceilings = run.env.ceilings;
    let ai: Vec<f64> = run.measurements.iter().map(intensity).collect();
    let tf: Vec<f64> = run.measurements.iter().map(|m| m.tflops).collect();
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = |v: &[f64]| v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let ridge = ceilings.map(|c| c.mma_tflops * 1e3 / c.copy_gbs);
    let x_lo = min(&ai).min(ridge.unwrap_or(f64::INFINITY)) / 3.0;
    let x_hi = max(&ai).max(ridge.unwrap_or(0.0)) * 3.0;
    let roof = ceilings.map_or(0.0, |c| c.mma_tflops);
    let y_hi = max(&tf).max(roof) * 2.0;
    let y_lo = min(&tf) / 3.0;
    let (x_lo, x_hi) = style::log_range(x_lo, x_hi);
    let (y_lo, y_hi) = style::log_range(y_lo, y_hi);

    let hot = run.measurements.iter().any(|m| m.mode == CacheMode::Hot);
    let mut legend: Vec<LegendEntry> = layout::implementation_entries(run, None);
    if hot {
        legend.push(LegendEntry {
            label: "hollow: hot L2".into(),
            color: style::CEILING,
            line: None,
            marker: Some((style::Marker::Circle, false)),
        });
    }
    if ceilings.is_some() {
        legend.push(LegendEntry {
            label: "measured ceilings".into(),
            color: style::CEILING,
            line: Some(Line::Solid),
            marker: None,
        });
    }
    let legend_h = layout::legend_height(&legend, WIDTH);
    let subtitle = vec![
        run_line(run),
        match ceilings {
            Some(c) => format!(
                "roof: min(copy {:.0} GB/s × intensity, mma.sync {:.1} TFLOP/s), both measured by tileattn's own kernels on this GPU; ridge at {:.0} FLOP/byte",
                c.copy_gbs,
                c.mma_tflops,
                ridge.unwrap_or(f64::NAN)
            ),
            None => {
                "no ceilings were measured in this run (bench --no-ceilings): points only".into()
            }
        },
    ];
    let head = layout::Head::new(&format!("Roofline: suite {}", run.suite), &subtitle, WIDTH);
    let svg = layout::figure((WIDTH, head.height() + legend_h + CHART_H), &head, |area| {
        let (top, body) = area.split_vertically(legend_h);
        layout::legend(&top, &legend)?;
        let mut chart = ChartBuilder::on(&body)
            .margin(16)
            .margin_right(36)
            .x_label_area_size(56)
            .y_label_area_size(84)
            .build_cartesian_2d(
                (x_lo..x_hi)
                    .log_scale()
                    .with_key_points(style::log_ticks(x_lo, x_hi)),
                (y_lo..y_hi)
                    .log_scale()
                    .with_key_points(style::log_ticks(y_lo, y_hi)),
            )?;
        chart
            .configure_mesh()
            .x_desc("arithmetic intensity (FLOP/byte, exact FLOPs / minimum bytes, log scale)")
            .y_desc("TFLOP/s (log scale)")
            .x_label_formatter(&|x| style::number_label(*x))
            .y_label_formatter(&|y| style::number_label(*y))
            .label_style(style::font(style::TICK_SIZE))
            .axis_desc_style(style::font(style::LABEL_SIZE))
            .bold_line_style(style::GRID)
            .light_line_style(WHITE)
            .draw()?;
        if let (Some(c), Some(ridge)) = (ceilings, ridge) {
            // The bandwidth roof enters the chart at y_lo or x_lo, whichever is later.
            let x_start = x_lo.max(y_lo * 1e3 / c.copy_gbs);
            let roof = vec![
                (x_start, c.copy_gbs * x_start / 1e3),
                (ridge, c.mma_tflops),
                (x_hi, c.mma_tflops),
            ];
            chart.draw_series(std::iter::once(PathElement::new(
                roof,
                style::CEILING.stroke_width(3),
            )))?;
            let note = style::font(style::NOTE_SIZE).color(&style::CEILING);
            chart.draw_series(std::iter::once(
                EmptyElement::at((x_hi, c.mma_tflops))
                    + Text::new(
                        format!("mma.sync {:.0} TFLOP/s", c.mma_tflops),
                        (-8, -6),
                        note.pos(Pos::new(HPos::Right, VPos::Bottom)),
                    ),
            ))?;
            // The bandwidth label sits above the slope, left of the ridge
            // (measurements lie under the roof).
            let at = (ridge / 2.0).max(x_start * 2.0);
            chart.draw_series(std::iter::once(
                EmptyElement::at((at, c.copy_gbs * at / 1e3))
                    + Text::new(
                        format!("copy {:.0} GB/s", c.copy_gbs),
                        (-10, -10),
                        note.pos(Pos::new(HPos::Right, VPos::Bottom)),
                    ),
            ))?;
        }
        // Hot points first, so the cold (default) ones stay on top, and tileattn last of each.
        let mut ms: Vec<&Measurement> = run.measurements.iter().collect();
        ms.sort_by_key(|m| {
            (
                m.mode == CacheMode::Cold,
                std::cmp::Reverse(implementations::rank(&m.implementation)),
            )
        });
        for m in ms {
            style::draw_marker(
                chart.plotting_area(),
                (intensity(m), m.tflops),
                style::marker(&m.implementation),
                style::color(&m.implementation),
                m.mode == CacheMode::Cold,
                5,
            )?;
        }
        Ok(())
    })?;
    Ok(Drawing::Svg(svg))
}
