//! The terminal chart: title, unit, a braille plot with a labelled value axis, x labels that
//! never overlap and a legend with each series' total.

use std::fmt::Write as _;

use super::braille::Canvas;
use super::labels::{Slot, pick_labels, truncate};
use super::scale::{Scale, format_value};
use super::{Chart, clean_text};

/// Legend and marker symbols, one per series (cycling), so lines stay apart without colour.
const SYMBOLS: [char; 12] = ['●', '◆', '▲', '■', '○', '◇', '△', '□', '▼', '▽', '◍', '◈'];
/// ANSI foreground colours, one per series (cycling): the six hues first, then their bright
/// variants, skipping black and white that vanish on one or the other background.
const COLORS: [u8; 12] = [36, 33, 35, 32, 31, 34, 96, 93, 95, 92, 91, 94];
/// Narrower or lower than this and the plot says nothing; the chart then overflows the
/// requested size rather than degrade further.
const MIN_PLOT_COLUMNS: usize = 12;
const MIN_PLOT_ROWS: usize = 3;
const MIN_WIDTH: usize = 24;
/// Larger sizes (a bogus terminal size) are cut to these, which bounds the canvas' memory.
const MAX_WIDTH: usize = 1_000;
const MAX_HEIGHT: usize = 500;
/// About this many cells between two markers on one line: enough to tell lines apart
/// without colour, few enough not to hide the line's shape.
const MARKER_SPACING: f64 = 8.0;
/// Cells kept free between two x labels.
const LABEL_GAP: f64 = 2.0;

/// The size of a terminal chart in character cells, and whether to use ANSI colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TerminalStyle {
    /// The whole chart's width, axis labels and legend included.
    pub(crate) width: usize,
    /// The whole chart's height, title and legend included.
    pub(crate) height: usize,
    /// Colour each series; off for pipes, `NO_COLOR` and snapshots.
    pub(crate) color: bool,
}

impl Default for TerminalStyle {
    fn default() -> TerminalStyle {
        TerminalStyle { width: 80, height: 20, color: false }
    }
}

/// Draws `chart` as lines of text (each ending in `\n`), `style.width` × `style.height`
/// cells. Sizes too small to read are raised to a minimum (the chart then overflows them),
/// absurd ones capped at 1,000 × 500.
pub(crate) fn render_terminal(chart: &Chart, style: &TerminalStyle) -> String {
    let width = style.width.clamp(MIN_WIDTH, MAX_WIDTH);
    let height = style.height.min(MAX_HEIGHT);
    let mut out = Vec::new();
    if !chart.title.is_empty() {
        out.push(truncate(&clean_text(&chart.title), width));
    }
    let buckets = chart.buckets();
    if buckets == 0 || chart.lines.is_empty() {
        out.push("(no data to chart)".to_owned());
        return join(out);
    }
    let legend = legend(chart, width, style.color);
    let unit = (!chart.y_label.is_empty()).then(|| truncate(&clean_text(&chart.y_label), width));
    // Title, unit, x axis, x labels and the legend around the plot.
    let around = out.len() + usize::from(unit.is_some()) + 2 + legend.len();
    let rows = height.saturating_sub(around).max(MIN_PLOT_ROWS);
    // A tick every three rows or so keeps labels apart while still reading off values.
    let scale = chart.scale((rows / 3).clamp(1, 8));
    let ticks: Vec<(f64, String)> =
        scale.ticks().into_iter().map(|t| (t, scale.label(t))).collect();
    let label_width = ticks.iter().map(|(_, label)| label.chars().count()).max().unwrap_or(0);
    let margin = label_width + 2;
    let columns = width.saturating_sub(margin).max(MIN_PLOT_COLUMNS);

    let plot = Plot { columns, rows, buckets, scale };
    let canvas = plot.draw(chart);
    out.extend(unit);
    out.extend(plot_rows(&plot, &canvas, &ticks, label_width, style.color));
    out.extend(x_axis(chart, &plot, margin));
    out.extend(legend);
    join(out)
}

/// Where things go on the canvas.
struct Plot {
    columns: usize,
    rows: usize,
    buckets: usize,
    scale: Scale,
}

impl Plot {
    /// The dot column of bucket `index`: the first and last bucket on the plot's edges, a
    /// single bucket in the middle.
    fn x(&self, index: usize) -> usize {
        let last_column = (self.columns * 2).saturating_sub(1);
        match self.buckets {
            0 | 1 => last_column / 2,
            n => (index as f64 * last_column as f64 / (n - 1) as f64).round() as usize,
        }
    }

    /// The dot row of `value`, 0 at the top.
    fn y(&self, value: f64) -> usize {
        let last_row = (self.rows * 4).saturating_sub(1) as f64;
        ((1.0 - self.scale.fraction(value)) * last_row).round() as usize
    }

    /// The chart's lines on a fresh canvas: line segments between neighbouring values
    /// (broken at gaps), then the markers. The first series is drawn last so it stays on top.
    fn draw(&self, chart: &Chart) -> Canvas {
        let mut canvas = Canvas::new(self.columns, self.rows);
        for (series, line) in chart.lines.iter().enumerate().rev() {
            let mut previous = None;
            for index in 0..self.buckets {
                let point = line.value(index).map(|v| (self.x(index), self.y(v)));
                match (previous, point) {
                    (Some(from), Some(to)) => canvas.line(from, to, series),
                    (None, Some(to)) => canvas.dot(to, series),
                    _ => {}
                }
                previous = point;
            }
        }
        let cells_per_bucket = match self.buckets {
            0 | 1 => f64::INFINITY,
            n => self.columns as f64 / (n - 1) as f64,
        };
        let lines = chart.lines.len();
        // Markers only tell lines apart: with many lines, fewer per line keep the plot legible.
        let spacing = MARKER_SPACING * (lines as f64 / 2.0).max(1.0);
        let stride = (spacing / cells_per_bucket).ceil().max(1.0) as usize;
        for (series, line) in chart.lines.iter().enumerate().rev() {
            // Staggered so that lines running close together do not mark the same buckets.
            let offset = series * stride / lines;
            for index in 0..self.buckets {
                let Some(value) = line.value(index) else { continue };
                if (index + offset).is_multiple_of(stride) || line.is_isolated(index) {
                    canvas.mark((self.x(index), self.y(value)), symbol(series), series);
                }
            }
        }
        canvas
    }
}

fn symbol(series: usize) -> char {
    SYMBOLS[series % SYMBOLS.len()]
}

/// The plot's rows, each behind a value-axis label (on rows holding a tick) or a plain axis.
fn plot_rows(
    plot: &Plot,
    canvas: &Canvas,
    ticks: &[(f64, String)],
    label_width: usize,
    color: bool,
) -> Vec<String> {
    let mut labels: Vec<Option<&str>> = vec![None; plot.rows];
    for (value, label) in ticks {
        // Two ticks on one row (very low charts) keep the first: the other would be a lie.
        if let Some(slot @ None) = labels.get_mut(plot.y(*value) / 4) {
            *slot = Some(label);
        }
    }
    labels
        .iter()
        .enumerate()
        .map(|(row, label)| {
            let mut line = match label {
                Some(label) => format!("{label:>label_width$} ┤"),
                None => format!("{:label_width$} │", ""),
            };
            let mut current: Option<usize> = None;
            // Up to the last drawn cell only, so no row ends in coloured blanks.
            let drawn = (0..plot.columns).rev().find(|&c| canvas.cell(c, row).is_some());
            for column in 0..drawn.map_or(0, |c| c + 1) {
                let (symbol, owner) =
                    canvas.cell(column, row).map_or((' ', None), |(c, s)| (c, Some(s)));
                if color && owner.is_some() && owner != current {
                    let code = owner.map_or(0, |s| COLORS[s % COLORS.len()]);
                    let _ = write!(line, "\x1b[{code}m");
                    current = owner;
                }
                line.push(symbol);
            }
            if current.is_some() {
                line.push_str("\x1b[0m");
            }
            line
        })
        .collect()
}

/// The x axis line with a tick under each labelled bucket, and the line of labels.
fn x_axis(chart: &Chart, plot: &Plot, margin: usize) -> [String; 2] {
    let columns = plot.columns;
    let labels: Vec<String> = (0..plot.buckets).map(|i| clean_text(chart.x_label(i))).collect();
    let slots: Vec<Slot> = labels
        .iter()
        .enumerate()
        .map(|(i, label)| Slot {
            center: (plot.x(i) / 2) as f64 + 0.5,
            width: label.chars().count() as f64,
        })
        .collect();
    // Labels may reach left under the value axis' labels, not past the plot's right edge.
    let bounds = (-(margin as f64), columns as f64);
    let picked = pick_labels(&slots, LABEL_GAP, bounds);

    let mut axis: Vec<char> = vec!['─'; columns];
    let mut text: Vec<char> = vec![' '; margin + columns];
    for &index in &picked {
        if let Some(tick) = axis.get_mut(plot.x(index) / 2) {
            *tick = '┬';
        }
        let start = (margin as f64 + slots[index].start(bounds)).floor().max(0.0) as usize;
        for (offset, c) in labels[index].chars().enumerate() {
            if let Some(cell) = text.get_mut(start + offset) {
                *cell = c;
            }
        }
    }
    let axis: String = axis.into_iter().collect();
    [format!("{:>margin$}{axis}", "└"), text.into_iter().collect()]
}

/// The legend, wrapped to `width`: `Totals: ● Login 45,210  ◆ Purchase 3,120`.
fn legend(chart: &Chart, width: usize, color: bool) -> Vec<String> {
    let prefix = format!("{} ", chart.legend.prefix());
    let indent = prefix.chars().count();
    // Long names are cut so that at least one entry fits on a line next to its total.
    let max_name = (width / 2).clamp(8, 40);
    let mut lines = Vec::new();
    let mut current = prefix.clone();
    let mut used = indent;
    for (series, line) in chart.lines.iter().enumerate() {
        let name = truncate(&clean_text(&line.name), max_name);
        let total = line.legend_value(chart.legend).map_or_else(|| "–".to_owned(), format_value);
        let visible = 2 + name.chars().count() + 1 + total.chars().count();
        if used > indent && used + 2 + visible > width {
            lines.push(std::mem::replace(&mut current, " ".repeat(indent)));
            used = indent;
        }
        if used > indent {
            current.push_str("  ");
            used += 2;
        }
        let label = format!("{} {name}", symbol(series));
        if color {
            let code = COLORS[series % COLORS.len()];
            let _ = write!(current, "\x1b[{code}m{label}\x1b[0m {total}");
        } else {
            let _ = write!(current, "{label} {total}");
        }
        used += visible;
    }
    lines.push(current);
    lines
}

fn join(lines: Vec<String>) -> String {
    let mut out = String::new();
    for line in lines {
        out.push_str(line.trim_end_matches(' '));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::fixtures;
    use super::*;

    fn plain(chart: &Chart) -> String {
        render_terminal(chart, &TerminalStyle::default())
    }

    #[test]
    fn two_series_over_thirty_days() {
        insta::assert_snapshot!(plain(&fixtures::logins_and_purchases()));
    }

    #[test]
    fn single_bucket() {
        insta::assert_snapshot!(plain(&fixtures::single_bucket()));
    }

    #[test]
    fn flat_zero_series() {
        insta::assert_snapshot!(plain(&fixtures::flat_zero()));
    }

    #[test]
    fn negative_values() {
        insta::assert_snapshot!(plain(&fixtures::negative()));
    }

    #[test]
    fn gaps() {
        insta::assert_snapshot!(plain(&fixtures::gaps()));
    }

    /// `text` without ANSI colour sequences.
    fn strip_ansi(text: &str) -> String {
        let mut out = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                chars.by_ref().find(|c| *c == 'm');
            } else {
                out.push(c);
            }
        }
        out
    }

    /// Twelve series over 700 buckets, with names far longer than a legend entry.
    fn crowded() -> Chart {
        let lines = (0..12)
            .map(|s| {
                let values: Vec<Option<f64>> =
                    (0..700).map(|i| Some(((i * (s + 3)) % 97 + s * 10) as f64)).collect();
                fixtures::line(&format!("series {s} {}", "with a long name ".repeat(4)), &values)
            })
            .collect();
        Chart {
            legend: super::super::LegendValue::Total,
            title: "Crowded".to_owned(),
            y_label: "events".to_owned(),
            x_labels: fixtures::days(700),
            lines,
        }
    }

    #[test]
    fn colour_only_adds_escape_sequences() {
        for chart in [fixtures::logins_and_purchases(), fixtures::gaps(), crowded()] {
            let style = TerminalStyle { color: true, ..TerminalStyle::default() };
            let coloured = render_terminal(&chart, &style);
            assert!(coloured.contains("\x1b[36m"), "the first series is cyan");
            assert!(coloured.contains("\x1b[33m"), "the second series is yellow");
            assert_eq!(strip_ansi(&coloured), plain(&chart));
        }
    }

    #[test]
    fn fills_the_requested_size_and_no_more() {
        for (width, height) in [(80, 20), (100, 30), (60, 40), (120, 24)] {
            for chart in [fixtures::logins_and_purchases(), fixtures::negative(), crowded()] {
                let out = render_terminal(&chart, &TerminalStyle { width, height, color: false });
                assert_eq!(out.lines().count(), height, "{width}x{height}\n{out}");
                for line in out.lines() {
                    assert!(line.chars().count() <= width, "{width}x{height}: {line:?}");
                }
            }
        }
    }

    #[test]
    fn legend_wraps_and_cuts_long_names() {
        let out = plain(&crowded());
        let legend: Vec<&str> = out.lines().skip_while(|l| !l.starts_with("Totals: ")).collect();
        assert_eq!(legend.len(), 12, "one long entry per line:\n{out}");
        assert!(legend.iter().all(|l| l.contains('…')), "names are cut:\n{out}");
        assert!(legend[11].starts_with("        ◈ series 11 "), "symbols cycle on:\n{out}");

        let mut short = crowded();
        short.lines.iter_mut().enumerate().for_each(|(i, l)| l.name = format!("s{i}"));
        let out = plain(&short);
        let legend: Vec<&str> = out.lines().skip_while(|l| !l.starts_with("Totals: ")).collect();
        assert!(legend.len() >= 2, "twelve entries do not fit one line:\n{out}");
        assert!(legend.len() < 12, "short entries share lines:\n{out}");
    }

    #[test]
    fn tiny_sizes_fall_back_to_a_readable_minimum() {
        for (width, height) in [(0, 0), (1, 1), (10, 4), (24, 6)] {
            let style = TerminalStyle { width, height, color: true };
            let out = strip_ansi(&render_terminal(&fixtures::logins_and_purchases(), &style));
            let plot_rows = out.lines().filter(|l| l.contains('┤') || l.contains('│')).count();
            assert!(plot_rows >= MIN_PLOT_ROWS, "{width}x{height}:\n{out}");
            assert!(out.lines().all(|l| l.chars().count() <= MIN_WIDTH.max(width)), "{out}");
            assert!(out.contains("2024-03-01"), "the first bucket is named:\n{out}");
        }
    }

    #[test]
    fn absurd_sizes_are_capped() {
        let style = TerminalStyle { width: usize::MAX, height: usize::MAX, color: false };
        let out = render_terminal(&fixtures::logins_and_purchases(), &style);
        assert_eq!(out.lines().count(), MAX_HEIGHT);
        assert!(out.lines().all(|l| l.chars().count() <= MAX_WIDTH));
    }

    #[test]
    fn each_series_gets_its_marker_and_isolated_values_show() {
        let out = plain(&fixtures::gaps());
        // web's last value and ios' value on 2024-03-06 have no neighbours.
        assert!(out.lines().any(|l| l.trim_end().ends_with('●')), "{out}");
        assert!(out.matches('◆').count() >= 3, "{out}");
        let two_buckets = Chart {
            x_labels: fixtures::days(2),
            lines: vec![fixtures::line("a", &[Some(1.0), Some(3.0)])],
            ..Chart::default()
        };
        let out = plain(&two_buckets);
        assert!(out.contains("2024-03-01") && out.contains("2024-03-02"), "{out}");
    }

    #[test]
    fn nothing_to_draw_says_so() {
        let empty = Chart { title: "Nothing".to_owned(), ..Chart::default() };
        assert_eq!(plain(&empty), "Nothing\n(no data to chart)\n");
        let all_gaps = Chart {
            x_labels: fixtures::days(3),
            lines: vec![fixtures::line("a", &[None, None, Some(f64::NAN)])],
            ..Chart::default()
        };
        let out = plain(&all_gaps);
        assert!(out.contains("0 ┤") && out.contains("Totals: ● a –"), "{out}");
    }

    #[test]
    fn control_characters_cannot_break_the_layout() {
        let mut chart = fixtures::gaps();
        chart.title = "two\nlines".to_owned();
        chart.lines[0].name = "\x1b[31mred".to_owned();
        let out = plain(&chart);
        assert!(!out.contains('\x1b') && out.starts_with("two\u{FFFD}lines\n"), "{out}");
    }
}
