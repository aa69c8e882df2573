//! The charts of the HTML report, drawn by plotters' SVG backend and inlined in the page.
//!
//! Why plotters: it is the maintained Rust charting library, and its SVG backend needs no native
//! library and no font files (with default features off, text is measured by a simple estimate
//! and written as SVG `<text>`, which the browser lays out in its own fonts). The page stays one
//! offline file, the build stays light, and the charts are real vector graphics that print
//! sharply. Each chart is a function of plain numbers; `html.rs` puts the table of the same
//! numbers beside it.
//!
//! Colours: categories use the Okabe–Ito palette, and heatmaps a purple–white–orange diverging
//! scale (ColorBrewer PuOr), both readable with the common forms of colour blindness. Every cell and bar is labelled or tabulated, so no figure relies on colour
//! alone.

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Okabe & Ito (2008), ordered so that neighbours differ in lightness too; the grey replaces
/// black so that labels stay readable on top.
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(230, 159, 0),   // orange
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(240, 228, 66),  // yellow
    RGBColor(153, 153, 153), // grey
];

const WIDTH: u32 = 760;
const FONT: &str = "sans-serif";
const TEXT: RGBColor = RGBColor(33, 33, 33);
/// Height of one bar band, in pixels.
const BAND: u32 = 26;

/// One horizontal bar: a value with an optional confidence interval and target.
#[derive(Debug, Clone)]
pub struct Bar {
    pub label: String,
    pub value: Option<f64>,
    pub ci: Option<[f64; 2]>,
    pub target: Option<f64>,
}

/// How a number on the value axis is written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scale {
    /// 0..1 written as a percentage.
    Share,
    /// Counts.
    Count,
    /// Small positive numbers (effect sizes), two decimals.
    Plain,
}

impl Scale {
    fn tick(self, v: f64) -> String {
        match self {
            Scale::Share => format!("{:.0}%", v * 100.0),
            // Ticks between whole counts are left unlabelled.
            Scale::Count if v.fract().abs() > 1e-9 => String::new(),
            Scale::Count => count_label(v),
            Scale::Plain => format!("{v:.2}"),
        }
    }
}

/// The upper end of the value axis for values up to `hi`.
fn axis_max(scale: Scale, hi: f64) -> f64 {
    match scale {
        Scale::Share => (hi * 1.1).clamp(0.05, 1.0),
        Scale::Count => (hi * 1.1).max(1.0),
        _ => (hi * 1.1).max(0.1),
    }
}

/// How many ticks the value axis gets: whole counts only for small counts.
fn ticks(scale: Scale, max: f64) -> usize {
    match scale {
        Scale::Count => (max.floor() as usize + 1).clamp(2, 6),
        _ => 6,
    }
}

fn count_label(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

/// Pixels for the longest of `labels` at `size` (plotters' naive estimate is per character).
fn label_width(labels: impl Iterator<Item = usize>, size: u32) -> u32 {
    let longest = labels.max().unwrap_or(4).clamp(4, 34) as u32;
    longest * size * 6 / 10 + 14
}

/// Cuts a label to `max` characters, marking the cut.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn style(size: u32) -> TextStyle<'static> {
    (FONT, size).into_font().color(&TEXT)
}

/// Runs `draw` on a fresh SVG canvas and returns the SVG. Drawing into a `String` cannot fail
/// for I/O reasons; a plotters error here is a bug in the chart code.
fn svg(
    height: u32,
    draw: impl FnOnce(&Root<'_>) -> Result<(), Box<dyn std::error::Error>>,
) -> String {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, height)).into_drawing_area();
        let drawn = root
            .fill(&WHITE)
            .map_err(|e| e.into())
            .and_then(|_| draw(&root))
            .and_then(|_| root.present().map_err(|e| e.into()));
        if let Err(e) = drawn {
            panic!("a report chart could not be drawn: {e}");
        }
    }
    // The page scales the chart to its column; the viewBox keeps the proportions.
    out.replacen(
        &format!("<svg width=\"{WIDTH}\" height=\"{height}\""),
        &format!("<svg role=\"img\" width=\"{WIDTH}\" height=\"{height}\""),
        1,
    )
}

/// Where the legend's items go: (x, y) of each, in rows that fit the canvas.
fn legend_layout(x0: i32, items: &[(String, RGBColor)]) -> Vec<(i32, i32)> {
    let (mut x, mut y) = (x0, 8);
    let mut at = Vec::new();
    for (name, _) in items {
        let w = 17 + (name.chars().count() as i32) * 8 + 18;
        if x > x0 && x + w > WIDTH as i32 - 8 {
            x = x0;
            y += 20;
        }
        at.push((x, y));
        x += w;
    }
    at
}

/// The top margin that leaves room for the legend.
fn legend_height(x0: i32, items: &[(String, RGBColor)]) -> u32 {
    legend_layout(x0, items)
        .last()
        .map_or(8, |&(_, y)| y as u32 + 22)
}

/// The legend: coloured squares and names above the plot, wrapped to the canvas.
fn legend(
    root: &Root<'_>,
    x0: i32,
    items: &[(String, RGBColor)],
) -> Result<(), Box<dyn std::error::Error>> {
    for ((name, color), (x, y)) in items.iter().zip(legend_layout(x0, items)) {
        root.draw(&Rectangle::new([(x, y), (x + 12, y + 12)], color.filled()))?;
        root.draw(&Text::new(
            name.clone(),
            (x + 17, y + 6),
            style(14).pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
    }
    Ok(())
}

type Root<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;
type Bars<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// The plot area of a horizontal bar chart: values along x (`0..x_max`, ticks in `scale`), one
/// band of height 1 per row along y (row 0 at the top), labels drawn by [`row_label`].
fn bar_area<'a, 'b>(
    root: &'a Root<'b>,
    top: u32,
    left: u32,
    x_max: f64,
    rows: usize,
    scale: Scale,
    axis_label: &str,
) -> Result<Bars<'a, 'b>, Box<dyn std::error::Error>> {
    let mut chart = ChartBuilder::on(root)
        .margin_top(top)
        .margin_right(24)
        .set_label_area_size(LabelAreaPosition::Left, left)
        .set_label_area_size(LabelAreaPosition::Bottom, 36)
        .build_cartesian_2d(0f64..x_max, 0f64..rows as f64)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_labels(ticks(scale, x_max))
        .x_label_formatter(&|v| scale.tick(*v))
        .x_desc(axis_label)
        .axis_desc_style(style(14))
        .label_style(style(13))
        .light_line_style(WHITE)
        .draw()?;
    Ok(chart)
}

/// A row's name, right-aligned just left of `at` (the backend point of the row's middle on the
/// value axis).
fn row_label(
    root: &Root<'_>,
    at: (i32, i32),
    label: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    root.draw(&Text::new(
        clip(label, 34),
        (at.0 - 6, at.1),
        style(14).pos(Pos::new(HPos::Right, VPos::Center)),
    ))?;
    Ok(())
}

/// One bar in the band that starts at `y`: the value, its interval as whiskers `whisker` pixels
/// high, and its target as a black tick.
fn draw_bar(
    chart: &mut Bars<'_, '_>,
    y: f64,
    r: &Bar,
    x_max: f64,
    whisker: u32,
) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(v) = r.value {
        chart.draw_series(std::iter::once(Rectangle::new(
            [(0.0, y + 0.2), (v.min(x_max), y + 0.8)],
            PALETTE[0].filled(),
        )))?;
        if let Some([lo, hi]) = r.ci {
            chart.draw_series(std::iter::once(ErrorBar::new_horizontal(
                y + 0.5,
                lo,
                v,
                hi.min(x_max),
                TEXT.stroke_width(1),
                whisker,
            )))?;
        }
    }
    if let Some(t) = r.target {
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(t, y + 0.05), (t, y + 0.95)],
            BLACK.stroke_width(3),
        )))?;
    }
    Ok(())
}

/// Horizontal bars, one per row, with confidence intervals as error bars and targets as black
/// ticks. Rows without a value are drawn empty (their label stays).
pub fn bars(rows: &[Bar], scale: Scale, axis_label: &str, value_name: &str) -> String {
    let n = rows.len().max(1);
    let has_target = rows.iter().any(|r| r.target.is_some());
    let has_ci = rows.iter().any(|r| r.ci.is_some());
    let mut items = vec![(value_name.to_owned(), PALETTE[0])];
    if has_ci {
        items[0].0 = format!("{value_name} (bar), confidence interval (whiskers)");
    }
    if has_target {
        items.push(("target".into(), RGBColor(0, 0, 0)));
    }
    let left = label_width(rows.iter().map(|r| r.label.chars().count()), 14);
    let top = if has_target || has_ci {
        legend_height(left as i32, &items)
    } else {
        8
    };
    let height = top + n as u32 * BAND + 44;
    let hi = rows
        .iter()
        .flat_map(|r| [r.value, r.ci.map(|c| c[1]), r.target])
        .flatten()
        .fold(0.0f64, f64::max);
    let x_max = axis_max(scale, hi);
    svg(height, |root| {
        if top > 8 {
            legend(root, left as i32, &items)?;
        }
        let mut chart = bar_area(root, top, left, x_max, n, scale, axis_label)?;
        let y = |i: usize| (n - 1 - i) as f64;
        for (i, r) in rows.iter().enumerate() {
            draw_bar(&mut chart, y(i), r, x_max, 8)?;
            row_label(root, chart.backend_coord(&(0.0, y(i) + 0.5)), &r.label)?;
        }
        Ok(())
    })
}

/// Horizontal bars of signed values (effect sizes), drawn from a zero line to the left or right,
/// on an axis symmetric around zero.
pub fn signed_bars(rows: &[(String, f64)], axis_label: &str) -> String {
    let n = rows.len().max(1);
    let left = label_width(rows.iter().map(|r| r.0.chars().count()), 14);
    let m = rows
        .iter()
        .map(|r| r.1.abs())
        .fold(0.0f64, f64::max)
        .max(0.1)
        * 1.1;
    let height = 8 + n as u32 * BAND + 44;
    svg(height, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin_top(8)
            .margin_right(24)
            .set_label_area_size(LabelAreaPosition::Left, left)
            .set_label_area_size(LabelAreaPosition::Bottom, 36)
            .build_cartesian_2d(-m..m, 0f64..n as f64)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_labels(7)
            .x_label_formatter(&|v| format!("{v:.2}"))
            .x_desc(axis_label)
            .axis_desc_style(style(14))
            .label_style(style(13))
            .light_line_style(WHITE)
            .draw()?;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(0.0, 0.0), (0.0, n as f64)],
            TEXT.stroke_width(1),
        )))?;
        let y = |i: usize| (n - 1 - i) as f64;
        for (i, (label, v)) in rows.iter().enumerate() {
            let color = if *v < 0.0 { PALETTE[5] } else { PALETTE[0] };
            chart.draw_series(std::iter::once(Rectangle::new(
                [(0.0, y(i) + 0.2), (v.clamp(-m, m), y(i) + 0.8)],
                color.filled(),
            )))?;
            row_label(root, chart.backend_coord(&(-m, y(i) + 0.5)), label)?;
        }
        Ok(())
    })
}

/// One panel of [`small_multiples`]: a title and its bars.
#[derive(Debug, Clone)]
pub struct Panel {
    pub title: String,
    pub bars: Vec<Bar>,
}

/// Height of one bar band in a small multiple, in pixels.
const SMALL_BAND: u32 = 17;

/// Small multiples: one panel of horizontal share bars per entry (confidence intervals as
/// whiskers, targets as black ticks), two panels to a row, on one share scale so that panels
/// compare at a glance.
pub fn small_multiples(panels: &[Panel]) -> String {
    const COLS: usize = 2;
    let col_w = WIDTH as i32 / COLS as i32;
    let has_target = panels
        .iter()
        .flat_map(|p| &p.bars)
        .any(|b| b.target.is_some());
    let mut items = vec![(
        "share (bar), confidence interval (whiskers)".to_owned(),
        PALETTE[0],
    )];
    if has_target {
        items.push(("target".into(), RGBColor(0, 0, 0)));
    }
    let top = legend_height(8, &items);
    let hi = panels
        .iter()
        .flat_map(|p| &p.bars)
        .flat_map(|r| [r.value, r.ci.map(|c| c[1]), r.target])
        .flatten()
        .fold(0.0f64, f64::max);
    let x_max = axis_max(Scale::Share, hi);
    let panel_h = |p: &Panel| 24 + p.bars.len().max(1) as u32 * SMALL_BAND + 30;
    let row_heights: Vec<u32> = panels
        .chunks(COLS)
        .map(|row| row.iter().map(panel_h).max().unwrap_or(0))
        .collect();
    let height = top + row_heights.iter().sum::<u32>() + 8;
    svg(height, |root| {
        legend(root, 8, &items)?;
        let mut y = top as i32;
        for (row, h) in panels.chunks(COLS).zip(&row_heights) {
            for (c, p) in row.iter().enumerate() {
                let area = root
                    .clone()
                    .shrink((c as i32 * col_w, y), (col_w as u32, *h));
                panel(&area, p, x_max)?;
            }
            y += *h as i32;
        }
        Ok(())
    })
}

/// One small multiple on `area`: its title above, its bars below.
fn panel(area: &Root<'_>, p: &Panel, x_max: f64) -> Result<(), Box<dyn std::error::Error>> {
    area.draw(&Text::new(
        clip(&p.title, 44),
        (8, 10),
        ("sans-serif", 14)
            .into_font()
            .style(FontStyle::Bold)
            .color(&TEXT)
            .pos(Pos::new(HPos::Left, VPos::Center)),
    ))?;
    let n = p.bars.len().max(1);
    let left = label_width(p.bars.iter().map(|b| b.label.chars().count().min(22)), 12);
    let mut chart = ChartBuilder::on(area)
        .margin_top(22)
        .margin_right(16)
        .set_label_area_size(LabelAreaPosition::Left, left)
        .set_label_area_size(LabelAreaPosition::Bottom, 24)
        .build_cartesian_2d(0f64..x_max, 0f64..n as f64)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_labels(5)
        .x_label_formatter(&|v| Scale::Share.tick(*v))
        .label_style(style(11))
        .light_line_style(WHITE)
        .draw()?;
    let y = |i: usize| (n - 1 - i) as f64;
    for (i, r) in p.bars.iter().enumerate() {
        draw_bar(&mut chart, y(i), r, x_max, 6)?;
        // The chart gives backend pixels; the area draws relative to its corner.
        let (x, yy) = chart.backend_coord(&(0.0, y(i) + 0.5));
        let (bx, by) = area.get_base_pixel();
        let (x, yy) = (x - bx, yy - by);
        area.draw(&Text::new(
            clip(&r.label, 22),
            (x - 4, yy),
            style(12).pos(Pos::new(HPos::Right, VPos::Center)),
        ))?;
    }
    Ok(())
}

/// Horizontal bars in groups: for each row, one bar per series (e.g. before and after), with an
/// optional target tick per row.
pub fn grouped_bars(
    rows: &[String],
    series: &[(String, Vec<Option<f64>>)],
    targets: Option<&[f64]>,
    scale: Scale,
    axis_label: &str,
) -> String {
    let n = rows.len().max(1);
    let k = series.len().max(1);
    let band = BAND * k as u32 * 3 / 4 + 6;
    let mut items: Vec<(String, RGBColor)> = series
        .iter()
        .enumerate()
        .map(|(j, (name, _))| (name.clone(), PALETTE[j % PALETTE.len()]))
        .collect();
    if targets.is_some() {
        items.push(("target".into(), RGBColor(0, 0, 0)));
    }
    let left = label_width(rows.iter().map(|r| r.chars().count()), 14);
    let top = legend_height(left as i32, &items);
    let height = top + n as u32 * band + 44;
    let hi = series
        .iter()
        .flat_map(|(_, v)| v.iter().flatten().copied())
        .chain(targets.into_iter().flatten().copied())
        .fold(0.0f64, f64::max);
    let x_max = axis_max(scale, hi);
    svg(height, |root| {
        legend(root, left as i32, &items)?;
        let mut chart = bar_area(root, top, left, x_max, n, scale, axis_label)?;
        let step = 0.8 / k as f64;
        for (i, label) in rows.iter().enumerate() {
            let base = (n - 1 - i) as f64;
            for (j, (_, values)) in series.iter().enumerate() {
                if let Some(Some(v)) = values.get(i) {
                    // The first series on top.
                    let y1 = base + 0.9 - j as f64 * step;
                    chart.draw_series(std::iter::once(Rectangle::new(
                        [(0.0, y1 - step * 0.9), (v.min(x_max), y1)],
                        PALETTE[j % PALETTE.len()].filled(),
                    )))?;
                }
            }
            if let Some(t) = targets.and_then(|t| t.get(i)) {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(*t, base + 0.05), (*t, base + 0.95)],
                    BLACK.stroke_width(3),
                )))?;
            }
            row_label(root, chart.backend_coord(&(0.0, base + 0.5)), label)?;
        }
        Ok(())
    })
}

/// Horizontal stacked bars: per row, the parts (e.g. group shares within a source) side by side.
/// Beyond eight parts, colours would repeat: the seven largest are kept and the rest drawn as
/// one grey "other".
pub fn stacked_bars(
    rows: &[String],
    parts: &[String],
    values: &[Vec<f64>],
    scale: Scale,
    axis_label: &str,
) -> String {
    let (parts, values) = fold_small_parts(parts, values);
    let n = rows.len().max(1);
    let items: Vec<(String, RGBColor)> = parts
        .iter()
        .enumerate()
        .map(|(j, p)| (p.clone(), PALETTE[j % PALETTE.len()]))
        .collect();
    let left = label_width(rows.iter().map(|r| r.chars().count()), 14);
    let top = legend_height(left as i32, &items);
    let height = top + n as u32 * BAND + 44;
    let hi = values
        .iter()
        .map(|v| v.iter().sum::<f64>())
        .fold(0.0f64, f64::max);
    let x_max = match scale {
        Scale::Share => hi.clamp(0.05, 1.0),
        _ => axis_max(scale, hi),
    };
    svg(height, |root| {
        legend(root, left as i32, &items)?;
        let mut chart = bar_area(root, top, left, x_max, n, scale, axis_label)?;
        for (i, label) in rows.iter().enumerate() {
            let y = (n - 1 - i) as f64;
            let mut x = 0.0;
            for (j, v) in values.get(i).into_iter().flatten().enumerate() {
                if *v > 0.0 {
                    chart.draw_series(std::iter::once(Rectangle::new(
                        [(x, y + 0.2), ((x + v).min(x_max), y + 0.8)],
                        PALETTE[j % PALETTE.len()].filled(),
                    )))?;
                }
                x += v;
            }
            row_label(root, chart.backend_coord(&(0.0, y + 0.5)), label)?;
        }
        Ok(())
    })
}

/// Keeps the seven largest parts (by total over the rows, in their order) and sums the others
/// into a last part, "other", when there are more parts than colours.
fn fold_small_parts(parts: &[String], values: &[Vec<f64>]) -> (Vec<String>, Vec<Vec<f64>>) {
    let keep = PALETTE.len() - 1;
    if parts.len() <= PALETTE.len() {
        return (parts.to_vec(), values.to_vec());
    }
    let total = |j: usize| {
        values
            .iter()
            .map(|v| v.get(j).copied().unwrap_or(0.0))
            .sum::<f64>()
    };
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by(|&a, &b| total(b).total_cmp(&total(a)).then(a.cmp(&b)));
    let mut kept: Vec<usize> = order[..keep].to_vec();
    kept.sort_unstable();
    let mut names: Vec<String> = kept.iter().map(|&j| parts[j].clone()).collect();
    names.push("other".into());
    let folded = values
        .iter()
        .map(|v| {
            let mut row: Vec<f64> = kept
                .iter()
                .map(|&j| v.get(j).copied().unwrap_or(0.0))
                .collect();
            row.push(
                (0..parts.len())
                    .filter(|j| !kept.contains(j))
                    .map(|j| v.get(j).copied().unwrap_or(0.0))
                    .sum(),
            );
            row
        })
        .collect();
    (names, folded)
}

/// ColorBrewer PuOr ends and middle: heatmaps run from purple (negative) through white (0) to
/// orange (positive), symmetric around 0.
const PURPLE: (f64, f64, f64) = (84.0, 39.0, 136.0);
const ORANGE: (f64, f64, f64) = (179.0, 88.0, 6.0);
const WHITE3: (f64, f64, f64) = (247.0, 247.0, 247.0);

fn mix(a: (f64, f64, f64), b: (f64, f64, f64), t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let c = |x: f64, y: f64| (x + (y - x) * t).round() as u8;
    RGBColor(c(a.0, b.0), c(a.1, b.1), c(a.2, b.2))
}

/// The fill of a value `v` on a scale whose extreme is `m` (> 0).
pub fn heat_color(v: f64, m: f64) -> RGBColor {
    if v < 0.0 {
        mix(WHITE3, PURPLE, -v / m)
    } else {
        mix(WHITE3, ORANGE, v / m)
    }
}

/// A grid of cells (rows × columns) coloured by value and labelled with `label(value)`; empty
/// cells (None) are left blank. The scale's extreme is the largest absolute value.
pub fn heatmap(
    rows: &[String],
    cols: &[String],
    values: &[Vec<Option<f64>>],
    label: &dyn Fn(f64) -> String,
) -> String {
    let n = rows.len().max(1);
    let k = cols.len().max(1);
    let left = label_width(rows.iter().map(|r| r.chars().count()), 14);
    let cell_w = ((WIDTH - left - 24) / k as u32).min(120);
    let cell_h = 22;
    // Column names that do not fit their cell are written upwards.
    let longest = cols
        .iter()
        .map(|c| c.chars().count())
        .max()
        .unwrap_or(1)
        .min(24);
    let rotate = longest as u32 * 8 > cell_w;
    let top = if rotate { longest as u32 * 8 + 14 } else { 36 };
    let height = top + n as u32 * cell_h + 40;
    let m = values
        .iter()
        .flatten()
        .flatten()
        .fold(0.0f64, |a, v| a.max(v.abs()))
        .max(1e-9);
    svg(height, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin_top(top)
            .margin_right(WIDTH - left - cell_w * k as u32)
            .set_label_area_size(LabelAreaPosition::Left, left)
            .set_label_area_size(LabelAreaPosition::Bottom, 40)
            .build_cartesian_2d(0f64..k as f64, 0f64..n as f64)?;
        for (i, row) in values.iter().enumerate() {
            let y = (n - 1 - i) as f64;
            for (j, v) in row.iter().enumerate() {
                let x = j as f64;
                let Some(v) = v else { continue };
                let fill = heat_color(*v, m);
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x, y), (x + 1.0, y + 1.0)],
                    fill.filled(),
                )))?;
                // Dark cells get white text.
                let dark =
                    (fill.0 as u32 * 299 + fill.1 as u32 * 587 + fill.2 as u32 * 114) / 1000 < 128;
                let (px, py) = chart.backend_coord(&(x + 0.5, y + 0.5));
                let color = if dark { WHITE } else { TEXT };
                root.draw(&Text::new(
                    label(*v),
                    (px, py),
                    (FONT, 13)
                        .into_font()
                        .color(&color)
                        .pos(Pos::new(HPos::Center, VPos::Center)),
                ))?;
            }
        }
        // Grid lines between cells, then the labels.
        for i in 0..=n {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(0.0, i as f64), (k as f64, i as f64)],
                WHITE.stroke_width(1),
            )))?;
        }
        for (i, r) in rows.iter().enumerate() {
            row_label(
                root,
                chart.backend_coord(&(0.0, (n - 1 - i) as f64 + 0.5)),
                r,
            )?;
        }
        for (j, c) in cols.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(j as f64 + 0.5, n as f64));
            let label = if rotate {
                Text::new(
                    clip(c, 24),
                    (px, py - 6),
                    style(14)
                        .transform(FontTransform::Rotate270)
                        .pos(Pos::new(HPos::Left, VPos::Center)),
                )
            } else {
                Text::new(
                    c.clone(),
                    (px, py - 6),
                    style(14).pos(Pos::new(HPos::Center, VPos::Bottom)),
                )
            };
            root.draw(&label)?;
        }
        // The colour scale under the grid: five swatches from the lowest to the highest value.
        let (x0, y0) = chart.backend_coord(&(0.0, 0.0));
        let stops = [-m, -m / 2.0, 0.0, m / 2.0, m];
        let mut x = x0;
        for s in stops {
            root.draw(&Rectangle::new(
                [(x, y0 + 12), (x + 14, y0 + 26)],
                heat_color(s, m).filled(),
            ))?;
            root.draw(&Rectangle::new(
                [(x, y0 + 12), (x + 14, y0 + 26)],
                RGBColor(180, 180, 180).stroke_width(1),
            ))?;
            root.draw(&Text::new(
                label(s),
                (x + 18, y0 + 19),
                style(13).pos(Pos::new(HPos::Left, VPos::Center)),
            ))?;
            x += 80;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_one_well_formed_svg_with_every_label() {
        let svg = bars(
            &[
                Bar {
                    label: "female & <other>".into(),
                    value: Some(0.3),
                    ci: Some([0.25, 0.35]),
                    target: Some(0.5),
                },
                Bar {
                    label: "male".into(),
                    value: Some(0.7),
                    ci: Some([0.65, 0.75]),
                    target: Some(0.5),
                },
            ],
            Scale::Share,
            "share of the axis' documents",
            "share",
        );
        let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        let texts: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text())
            .map(str::trim)
            .collect();
        assert!(texts.contains(&"female & <other>"), "{texts:?}");
        assert!(texts.contains(&"male"), "{texts:?}");
        assert!(texts.contains(&"40%"), "{texts:?}");
        assert!(svg.contains("viewBox"));
    }

    #[test]
    fn diverging_colours_are_white_at_zero_and_saturate_at_the_extreme() {
        assert_eq!(heat_color(0.0, 2.0), RGBColor(247, 247, 247));
        assert_eq!(heat_color(2.0, 2.0), RGBColor(179, 88, 6));
        assert_eq!(heat_color(-5.0, 2.0), RGBColor(84, 39, 136));
        assert_eq!(heat_color(-1.0, 2.0), mix(WHITE3, PURPLE, 0.5));
    }
}
