//! Colours, markers and fonts shared by every figure, so an implementation
//! looks the same in all of them.

use plotters::coord::CoordTranslate;
use plotters::drawing::DrawingAreaErrorKind;
use plotters::element::{Circle, Cross, EmptyElement, PathElement, Polygon, Rectangle};
use plotters::prelude::*;
use plotters::style::{RGBColor, ShapeStyle};

use crate::implementations;

/// Text is written into the SVG as text in this family: viewers substitute
/// their own sans-serif font, so layouts leave room for wider glyphs than
/// plotters' estimate.
pub const FONT: &str = "sans-serif";
/// Sizes as plotters takes them: its SVG backend writes `font-size` = size / 1.24.
pub const TITLE_SIZE: f64 = 28.0;
pub const PANEL_TITLE_SIZE: f64 = 20.0;
pub const LABEL_SIZE: f64 = 18.0;
pub const TICK_SIZE: f64 = 16.0;
pub const NOTE_SIZE: f64 = 16.0;

/// Width in pixels `text` takes at `size` in a typical sans-serif font
/// (about 0.55 em per character), for laying out legends.
pub fn text_width(text: &str, size: f64) -> i32 {
    (text.chars().count() as f64 * 0.55 * size / 1.24).ceil() as i32
}

pub const TEXT: RGBColor = RGBColor(0x22, 0x22, 0x22);
pub const GRID: RGBColor = RGBColor(0xDD, 0xDD, 0xDD);
pub const CEILING: RGBColor = RGBColor(0x55, 0x55, 0x55);
/// The L2 marker: distinct from every implementation's colour.
pub const L2_MARK: RGBColor = RGBColor(0x8C, 0x56, 0x4B);

/// Colour-blind-safe (Okabe–Ito) colours in [`implementations::KNOWN`] order,
/// tileattn in the most saturated one.
const KNOWN_COLORS: [RGBColor; 5] = [
    RGBColor(0xD5, 0x5E, 0x00), // tileattn: vermillion
    RGBColor(0x00, 0x72, 0xB2), // torch-flash: blue
    RGBColor(0x00, 0x9E, 0x73), // torch-cudnn: bluish green
    RGBColor(0xCC, 0x79, 0xA7), // torch-efficient: reddish purple
    RGBColor(0x56, 0xB4, 0xE9), // torch-math: sky blue
];
/// Implementations this build does not know, cycled.
const OTHER_COLORS: [RGBColor; 3] = [
    RGBColor(0xE6, 0x9F, 0x00),
    RGBColor(0x44, 0x44, 0x44),
    RGBColor(0x99, 0x99, 0x99),
];

pub fn color(implementation: &str) -> RGBColor {
    let (i, _) = implementations::rank(implementation);
    KNOWN_COLORS
        .get(i)
        .copied()
        .unwrap_or(OTHER_COLORS[implementation.len() % OTHER_COLORS.len()])
}

/// Marker shapes, so series stay apart in grey-scale print too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Marker {
    Circle,
    Square,
    Triangle,
    Diamond,
    Cross,
}

pub fn marker(implementation: &str) -> Marker {
    const ORDER: [Marker; 5] = [
        Marker::Circle,
        Marker::Square,
        Marker::Triangle,
        Marker::Diamond,
        Marker::Cross,
    ];
    ORDER[implementations::rank(implementation).0 % ORDER.len()]
}

/// Draw a marker centred on `at`: filled, or outlined (hot-L2 points).
pub fn draw_marker<DB: DrawingBackend, CT: CoordTranslate>(
    area: &DrawingArea<DB, CT>,
    at: CT::From,
    shape: Marker,
    color: RGBColor,
    filled: bool,
    size: i32,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>>
where
    CT::From: Clone,
{
    let style = if filled {
        ShapeStyle::from(color).filled()
    } else {
        ShapeStyle::from(color).stroke_width(2)
    };
    let s = size;
    let e = EmptyElement::at(at);
    match shape {
        Marker::Circle => area.draw(&(e + Circle::new((0, 0), s, style))),
        Marker::Square => {
            area.draw(&(e + Rectangle::new([(-s + 1, -s + 1), (s - 1, s - 1)], style)))
        }
        Marker::Triangle => polygon(area, e, vec![(0, -s - 1), (s + 1, s), (-s - 1, s)], style),
        Marker::Diamond => polygon(
            area,
            e,
            vec![(0, -s - 1), (s + 1, 0), (0, s + 1), (-s - 1, 0)],
            style,
        ),
        // A cross has no inside: hot and cold differ by weight only.
        Marker::Cross => area.draw(
            &(e + Cross::new(
                (0, 0),
                s,
                ShapeStyle::from(color).stroke_width(if filled { 3 } else { 1 }),
            )),
        ),
    }
}

/// A polygonal marker: plotters fills every `Polygon` whatever its style, so
/// an outlined one is drawn as its closed outline.
fn polygon<DB: DrawingBackend, CT: CoordTranslate>(
    area: &DrawingArea<DB, CT>,
    at: EmptyElement<CT::From, DB>,
    mut points: Vec<(i32, i32)>,
    style: ShapeStyle,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>>
where
    CT::From: Clone,
{
    if style.filled {
        area.draw(&(at + Polygon::new(points, style)))
    } else {
        points.push(points[0]);
        area.draw(&(at + PathElement::new(points, style)))
    }
}

pub fn font(size: f64) -> TextStyle<'static> {
    (FONT, size).into_font().color(&TEXT)
}

pub fn bold_font(size: f64) -> TextStyle<'static> {
    (FONT, size, FontStyle::Bold).into_font().color(&TEXT)
}

/// A 0…1 value on the viridis colour map (five anchors, linear between them):
/// perceptually ordered and readable by colour-blind viewers.
pub fn viridis(t: f64) -> RGBColor {
    const ANCHORS: [(f64, f64, f64); 5] = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (ANCHORS.len() - 1) as f64;
    let i = (x.floor() as usize).min(ANCHORS.len() - 2);
    let f = x - i as f64;
    let (a, b) = (ANCHORS[i], ANCHORS[i + 1]);
    let mix = |p: f64, q: f64| (p + (q - p) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Text on a cell of `bg` must be dark on bright colours and light on dark ones.
pub fn text_on(bg: RGBColor) -> RGBColor {
    let luminance = 0.299 * bg.0 as f64 + 0.587 * bg.1 as f64 + 0.114 * bg.2 as f64;
    if luminance > 140.0 { TEXT } else { WHITE }
}

/// `1024`, `0.5`, `2e+05` on log axes: no trailing zeros, no long fractions.
pub fn number_label(x: f64) -> String {
    if x >= 1e5 {
        format!("{x:.0e}")
    } else if x >= 1.0 {
        format!("{x:.0}")
    } else {
        let s = format!("{x:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// 1, 2, 5 × 10^k inside `lo..hi`: the ticks of a log axis. Over more than
/// [`MAX_DECADES`] decades, only every n-th power of ten, so any range
/// (subnormal to 1e308) takes bounded time and gives a readable axis.
pub fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let mut out = Vec::new();
    if !(lo > 0.0 && hi > lo && lo.is_finite() && hi.is_finite()) {
        return out;
    }
    // Exponents of f64 lie within ±324: the loop below is bounded.
    let (first, last) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let decades = (last - first).max(1);
    let (step, multiples): (i32, &[f64]) = if decades > MAX_DECADES {
        ((decades + MAX_DECADES - 1) / MAX_DECADES, &[1.0])
    } else {
        (1, &[1.0, 2.0, 5.0])
    };
    for k in (first..=last).step_by(step as usize) {
        for m in multiples {
            let x = m * 10f64.powi(k);
            if x >= lo && x <= hi {
                out.push(x);
            }
        }
    }
    out
}

/// The widest range an axis spans: plotters' tick and grid arithmetic
/// overflows (and may not end) near f64's limits.
const AXIS_LIMIT: f64 = 1e300;

/// A log axis from `lo` to `hi`, drawable whatever the data: both inside
/// 1e-300..1e300 and `hi` above `lo` (all-equal data gets a decade each way).
pub fn log_range(lo: f64, hi: f64) -> (f64, f64) {
    let clamp = |x: f64| {
        if x.is_nan() {
            1.0
        } else {
            x.clamp(1.0 / AXIS_LIMIT, AXIS_LIMIT)
        }
    };
    let (lo, hi) = (clamp(lo), clamp(hi));
    if hi > lo * (1.0 + 1e-9) {
        (lo, hi)
    } else {
        (clamp(lo / 10.0), clamp(lo * 10.0))
    }
}

/// A linear axis from 0 to `hi`, drawable whatever the data: `hi` finite,
/// at most 1e300, and positive (1 when the data are all zero).
pub fn linear_top(hi: f64) -> f64 {
    if hi.is_finite() && hi > 0.0 {
        hi.min(AXIS_LIMIT)
    } else if hi > 0.0 {
        AXIS_LIMIT
    } else {
        1.0
    }
}

/// The most decades a log axis labels one by one.
const MAX_DECADES: i32 = 12;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_implementations_have_distinct_colors_and_markers() {
        let colors: Vec<_> = implementations::KNOWN.iter().map(|i| color(i)).collect();
        let markers: Vec<_> = implementations::KNOWN.iter().map(|i| marker(i)).collect();
        for i in 0..colors.len() {
            for j in 0..i {
                assert_ne!(colors[i], colors[j]);
                assert_ne!(markers[i], markers[j]);
            }
        }
    }

    #[test]
    fn axis_helpers() {
        assert_eq!(log_ticks(30.0, 600.0), [50.0, 100.0, 200.0, 500.0]);
        assert!(log_ticks(0.0, 1.0).is_empty());
        // Extreme and degenerate ranges end, with a bounded number of ticks.
        for (lo, hi) in [
            (5e-324, 1.0),
            (1e-300, 1e308),
            (1e307, f64::MAX),
            (1.0, 1.0),
        ] {
            let t = log_ticks(lo, hi);
            assert!(
                t.len() <= 3 * MAX_DECADES as usize + 3,
                "{lo:e}..{hi:e}: {t:?}"
            );
            assert!(t.iter().all(|&x| x >= lo && x <= hi));
        }
        assert_eq!(log_range(2.0, 2.0), (0.2, 20.0));
        assert_eq!(log_range(f64::NAN, f64::INFINITY), (1.0, AXIS_LIMIT));
        assert_eq!(linear_top(f64::INFINITY), AXIS_LIMIT);
        assert_eq!(linear_top(0.0), 1.0);
        assert_eq!(number_label(1024.0), "1024");
        assert_eq!(number_label(0.25), "0.25");
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
        assert_eq!(text_on(viridis(1.0)), TEXT);
        assert_eq!(text_on(viridis(0.0)), WHITE);
    }
}
