//! The SVG chart: a standalone SVG 1.1 document of about 960×480 with a title, value and
//! bucket axes, light grid lines, one path per series and a legend. No scripts, fonts or
//! other external resources, so the file opens the same everywhere.

use std::fmt::Write as _;

use super::labels::{Slot, pick_labels, truncate};
use super::scale::{Scale, format_value};
use super::{Chart, ChartLine, LegendValue};

const WIDTH: f64 = 960.0;
/// The usual height; charts with a legend of many rows grow taller instead of squashing
/// the plot below `MIN_PLOT_HEIGHT`.
const HEIGHT: f64 = 480.0;
const MIN_PLOT_HEIGHT: f64 = 200.0;
const TOP: f64 = 52.0;
const RIGHT: f64 = 32.0;
/// Space between the axes and the first and last bucket, so end points do not sit on them.
const INSET: f64 = 10.0;
const TITLE_SIZE: f64 = 16.0;
const TEXT_SIZE: f64 = 12.0;
const TICK_SIZE: f64 = 11.0;
/// Average advance of a sans-serif character per unit of font size, for fitting text.
const CHAR_WIDTH: f64 = 0.6;
const LEGEND_ROW: f64 = 20.0;
/// Okabe–Ito colours, distinguishable with the common colour vision deficiencies; its
/// yellow is left out as unreadable on white.
const PALETTE: [&str; 7] =
    ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000"];
/// Once the palette is used up, the next round of series is dashed, then dotted.
const DASHES: [Option<&str>; 3] = [None, Some("8 4"), Some("2 3")];
/// Buckets at least this far apart (pixels) get a circle at every value.
const POINTS_FROM_SPACING: f64 = 12.0;

/// Draws `chart` as a standalone SVG 1.1 document.
pub(crate) fn render_svg(chart: &Chart) -> String {
    let scale = chart.scale(6);
    let ticks: Vec<(f64, String)> =
        scale.ticks().into_iter().map(|t| (t, scale.label(t))).collect();
    let widest_tick =
        ticks.iter().map(|(_, label)| text_width(label, TICK_SIZE)).fold(0.0, f64::max);
    let left = 40.0 + widest_tick;
    let legend = Legend::new(chart, left, WIDTH - RIGHT);
    let bottom = 52.0 + legend.rows as f64 * LEGEND_ROW;
    let height = (TOP + MIN_PLOT_HEIGHT + bottom).max(HEIGHT);
    let plot = Plot {
        x0: left,
        x1: WIDTH - RIGHT,
        y0: TOP,
        y1: height - bottom,
        buckets: chart.buckets(),
        scale,
    };

    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif">"##,
        w = num(WIDTH),
        h = num(height),
    );
    svg.push('\n');
    let _ = writeln!(svg, "<title>{}</title>", escape(&chart.title));
    let _ = writeln!(svg, r##"<rect width="100%" height="100%" fill="#ffffff"/>"##);
    let title_chars = ((WIDTH - left - RIGHT) / (TITLE_SIZE * CHAR_WIDTH)) as usize;
    let _ = writeln!(
        svg,
        r##"<text x="{}" y="30" font-size="{}" font-weight="bold" fill="#222222">{}</text>"##,
        num(left),
        num(TITLE_SIZE),
        escape(&truncate(&chart.title, title_chars)),
    );
    if plot.buckets == 0 || chart.lines.is_empty() {
        let _ = writeln!(
            svg,
            r##"<text x="{}" y="{}" font-size="{}" text-anchor="middle" fill="#666666">no data to chart</text>"##,
            num(WIDTH / 2.0),
            num(height / 2.0),
            num(TEXT_SIZE),
        );
        svg.push_str("</svg>\n");
        return svg;
    }
    plot.value_axis(&mut svg, &ticks, &chart.y_label);
    plot.bucket_axis(&mut svg, chart);
    // The first series last, so the most important line is drawn on top.
    for (series, line) in chart.lines.iter().enumerate().rev() {
        plot.series(&mut svg, series, line);
    }
    legend.draw(&mut svg, chart, plot.y1 + 50.0, plot.spacing() >= POINTS_FROM_SPACING);
    svg.push_str("</svg>\n");
    svg
}

/// The plotting area in pixels and how values map into it.
struct Plot {
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
    buckets: usize,
    scale: Scale,
}

impl Plot {
    fn x(&self, index: usize) -> f64 {
        match self.buckets {
            0 | 1 => (self.x0 + self.x1) / 2.0,
            n => {
                let span = self.x1 - self.x0 - 2.0 * INSET;
                self.x0 + INSET + index as f64 * span / (n - 1) as f64
            }
        }
    }

    fn y(&self, value: f64) -> f64 {
        self.y1 - self.scale.fraction(value) * (self.y1 - self.y0)
    }

    /// Pixels between two neighbouring buckets.
    fn spacing(&self) -> f64 {
        match self.buckets {
            0 | 1 => f64::INFINITY,
            n => (self.x1 - self.x0 - 2.0 * INSET) / (n - 1) as f64,
        }
    }

    /// Grid lines, ticks and their labels, the axis line and the rotated unit label.
    fn value_axis(&self, svg: &mut String, ticks: &[(f64, String)], unit: &str) {
        for (value, label) in ticks {
            let y = num(self.y(*value));
            // Zero gets a darker line: above and below it is what negative values are about.
            let stroke = if *value == 0.0 && self.scale.lo < 0.0 { "#999999" } else { "#e5e5e5" };
            let _ = writeln!(
                svg,
                r##"<line x1="{}" y1="{y}" x2="{}" y2="{y}" stroke="{stroke}" stroke-width="1"/>"##,
                num(self.x0),
                num(self.x1),
            );
            let _ = writeln!(
                svg,
                r##"<line x1="{}" y1="{y}" x2="{}" y2="{y}" stroke="#444444" stroke-width="1"/>"##,
                num(self.x0 - 5.0),
                num(self.x0),
            );
            let _ = writeln!(
                svg,
                r##"<text x="{}" y="{y}" dy="0.35em" font-size="{}" text-anchor="end" fill="#444444">{}</text>"##,
                num(self.x0 - 8.0),
                num(TICK_SIZE),
                escape(label),
            );
        }
        let _ = writeln!(
            svg,
            r##"<line x1="{x}" y1="{}" x2="{x}" y2="{}" stroke="#444444" stroke-width="1"/>"##,
            num(self.y0),
            num(self.y1),
            x = num(self.x0),
        );
        if !unit.is_empty() {
            let middle = num((self.y0 + self.y1) / 2.0);
            let max_chars = ((self.y1 - self.y0) / (TEXT_SIZE * CHAR_WIDTH)) as usize;
            let _ = writeln!(
                svg,
                r##"<text x="18" y="{middle}" font-size="{}" text-anchor="middle" fill="#444444" transform="rotate(-90 18 {middle})">{}</text>"##,
                num(TEXT_SIZE),
                escape(&truncate(unit, max_chars)),
            );
        }
    }

    /// The bucket axis line with a tick and a label at every label that fits.
    fn bucket_axis(&self, svg: &mut String, chart: &Chart) {
        let _ = writeln!(
            svg,
            r##"<line x1="{}" y1="{y}" x2="{}" y2="{y}" stroke="#444444" stroke-width="1"/>"##,
            num(self.x0),
            num(self.x1),
            y = num(self.y1),
        );
        let slots: Vec<Slot> = (0..self.buckets)
            .map(|i| Slot { center: self.x(i), width: text_width(chart.x_label(i), TICK_SIZE) })
            .collect();
        let bounds = (4.0, WIDTH - 4.0);
        for index in pick_labels(&slots, 12.0, bounds) {
            let x = self.x(index);
            let slot = slots[index];
            let _ = writeln!(
                svg,
                r##"<line x1="{x}" y1="{}" x2="{x}" y2="{}" stroke="#444444" stroke-width="1"/>"##,
                num(self.y1),
                num(self.y1 + 5.0),
                x = num(x),
            );
            // Anchored at its middle, after the shift that keeps it inside the picture.
            let middle = slot.start(bounds) + slot.width / 2.0;
            let _ = writeln!(
                svg,
                r##"<text x="{}" y="{}" font-size="{}" text-anchor="middle" fill="#444444">{}</text>"##,
                num(middle),
                num(self.y1 + 20.0),
                num(TICK_SIZE),
                escape(chart.x_label(index)),
            );
        }
    }

    /// One series: a path broken at gaps (a lone value is a zero-length, round-capped piece,
    /// so it still shows as a dot), and circles at the values when buckets are far apart.
    fn series(&self, svg: &mut String, series: usize, line: &ChartLine) {
        let (color, dash) = look(series);
        let mut path = String::new();
        let mut previous = false;
        for index in 0..self.buckets {
            let Some(value) = line.value(index) else {
                previous = false;
                continue;
            };
            let (x, y) = (num(self.x(index)), num(self.y(value)));
            let command = if previous { 'L' } else { 'M' };
            let _ = write!(path, "{}{command}{x} {y}", if path.is_empty() { "" } else { " " });
            if line.is_isolated(index) {
                path.push_str(" h0");
            }
            previous = true;
        }
        let _ = writeln!(svg, "<g>\n<title>{}</title>", escape(&line.name));
        if !path.is_empty() {
            let dash = dash.map(|d| format!(r#" stroke-dasharray="{d}""#)).unwrap_or_default();
            let _ = writeln!(
                svg,
                r#"<path d="{path}" fill="none" stroke="{color}" stroke-width="2" stroke-linejoin="round" stroke-linecap="round"{dash}/>"#,
            );
        }
        let every_point = self.spacing() >= POINTS_FROM_SPACING;
        for index in 0..self.buckets {
            let Some(value) = line.value(index) else { continue };
            let isolated = line.is_isolated(index);
            if every_point || isolated {
                let _ = writeln!(
                    svg,
                    r#"<circle cx="{}" cy="{}" r="{}" fill="{color}"/>"#,
                    num(self.x(index)),
                    num(self.y(value)),
                    if isolated { 4 } else { 3 },
                );
            }
        }
        svg.push_str("</g>\n");
    }
}

/// Colour and dash pattern of a series.
fn look(series: usize) -> (&'static str, Option<&'static str>) {
    let round = series / PALETTE.len();
    (PALETTE[series % PALETTE.len()], DASHES[round % DASHES.len()])
}

/// The legend below the bucket labels: `Totals:` then a swatch, name and total per series,
/// wrapped into rows.
struct Legend {
    /// Per series: its row and the left edge of its swatch.
    places: Vec<(usize, f64)>,
    rows: usize,
    left: f64,
}

const SWATCH: f64 = 28.0;
/// Longest series name in the legend; longer ones are cut with `…`.
const LEGEND_NAME_CHARS: usize = 48;

impl Legend {
    fn new(chart: &Chart, left: f64, right: f64) -> Legend {
        let start = left + text_width(chart.legend.prefix(), TEXT_SIZE) + 10.0;
        let (mut row, mut x) = (0, start);
        let mut places = Vec::with_capacity(chart.lines.len());
        for line in &chart.lines {
            let width = SWATCH + 6.0 + text_width(&entry_text(line, chart.legend), TEXT_SIZE);
            if x > start && x + width > right {
                (row, x) = (row + 1, start);
            }
            places.push((row, x));
            x += width + 18.0;
        }
        Legend { places, rows: row + 1, left }
    }

    /// Draws the legend from `top`; `points` adds the circle the plot puts at each value.
    fn draw(&self, svg: &mut String, chart: &Chart, top: f64, points: bool) {
        let _ = writeln!(
            svg,
            r##"<text x="{}" y="{}" font-size="{}" fill="#666666">{}</text>"##,
            num(self.left),
            num(top + 4.0),
            num(TEXT_SIZE),
            chart.legend.prefix(),
        );
        for (series, (line, (row, x))) in chart.lines.iter().zip(&self.places).enumerate() {
            let y = top + *row as f64 * LEGEND_ROW;
            let (color, dash) = look(series);
            let dash = dash.map(|d| format!(r#" stroke-dasharray="{d}""#)).unwrap_or_default();
            let _ = writeln!(
                svg,
                r#"<line x1="{}" y1="{y}" x2="{}" y2="{y}" stroke="{color}" stroke-width="2"{dash}/>"#,
                num(*x),
                num(x + SWATCH),
                y = num(y),
            );
            if points {
                let _ = writeln!(
                    svg,
                    r##"<circle cx="{}" cy="{}" r="3" fill="{color}"/>"##,
                    num(x + SWATCH / 2.0),
                    num(y),
                );
            }
            let _ = writeln!(
                svg,
                r##"<text x="{}" y="{}" font-size="{}" fill="#222222">{}</text>"##,
                num(x + SWATCH + 6.0),
                num(y + 4.0),
                num(TEXT_SIZE),
                escape(&entry_text(line, chart.legend)),
            );
        }
    }
}

/// `Login 45,210`: the name (cut when long) and its legend value.
fn entry_text(line: &ChartLine, kind: LegendValue) -> String {
    let total = line.legend_value(kind).map_or_else(|| "–".to_owned(), format_value);
    format!("{} {total}", truncate(&line.name, LEGEND_NAME_CHARS))
}

/// Estimated rendered width of `text` at `size`.
fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * CHAR_WIDTH
}

/// A coordinate with at most one decimal: enough precision, much smaller files.
fn num(value: f64) -> String {
    // Adding zero turns -0.0 into 0.0, which would otherwise print as "-0".
    let rounded = (value * 10.0).round() / 10.0 + 0.0;
    if rounded.fract() == 0.0 { format!("{rounded:.0}") } else { format!("{rounded:.1}") }
}

/// `text` as XML character data or attribute value. Characters XML 1.0 forbids (most
/// control characters) become `�`, so any series name gives a well-formed document.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(' '),
            c if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::fixtures;
    use super::*;

    /// Checks that `svg` is well-formed as far as a renderer cares: every tag closed in
    /// order, attributes quoted, `&` only in entities. Returns the element names in order.
    fn check_tags(svg: &str) -> Vec<String> {
        let mut open: Vec<String> = Vec::new();
        let mut seen = Vec::new();
        let mut rest = svg;
        while let Some(start) = rest.find('<') {
            let text = &rest[..start];
            assert!(!text.contains('>'), "stray '>' in text {text:?}");
            check_entities(text);
            let end = rest[start..].find('>').map(|e| start + e).expect("an unclosed tag");
            let tag = &rest[start + 1..end];
            assert!(!tag.contains('<'), "'<' inside tag {tag:?}");
            assert_eq!(tag.matches('"').count() % 2, 0, "unbalanced quotes in {tag:?}");
            check_entities(tag);
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(open.pop().as_deref(), Some(name), "closing {name} out of order");
            } else {
                let name: String = tag.chars().take_while(|c| c.is_alphanumeric()).collect();
                assert!(!name.is_empty(), "tag without a name: {tag:?}");
                if !tag.ends_with('/') {
                    open.push(name.clone());
                }
                seen.push(name);
            }
            rest = &rest[end + 1..];
        }
        assert!(open.is_empty(), "never closed: {open:?}");
        assert!(rest.trim().is_empty(), "text after the root element: {rest:?}");
        seen
    }

    fn check_entities(text: &str) {
        for (at, _) in text.match_indices('&') {
            let entity = &text[at..];
            assert!(
                ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"].iter().any(|e| entity.starts_with(e)),
                "bare '&' in {text:?}"
            );
        }
    }

    /// The `height` attribute of the root element.
    fn height(svg: &str) -> f64 {
        let at = svg.find(" height=\"").expect("a height") + 9;
        svg[at..].split('"').next().and_then(|h| h.parse().ok()).expect("a numeric height")
    }

    #[test]
    fn small_chart() {
        insta::assert_snapshot!(render_svg(&fixtures::gaps()));
    }

    #[test]
    fn a_standalone_well_formed_document() {
        for chart in [fixtures::logins_and_purchases(), fixtures::negative(), Chart::default()] {
            let svg = render_svg(&chart);
            assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\""));
            assert!(svg.contains("font-family=\"sans-serif\""));
            let tags = check_tags(&svg);
            assert_eq!(tags.first().map(String::as_str), Some("svg"));
            assert!(!svg.contains("href") && !svg.contains("url("), "no external resources");
        }
    }

    #[test]
    fn one_path_per_series_broken_at_gaps() {
        let svg = render_svg(&fixtures::logins_and_purchases());
        assert_eq!(svg.matches("<path ").count(), 2);
        let svg = render_svg(&fixtures::gaps());
        let paths: Vec<&str> = svg.lines().filter(|l| l.starts_with("<path ")).collect();
        assert_eq!(paths.len(), 2);
        // web: three runs (the last a lone value); ios: three runs (the middle one lone).
        for path in paths {
            assert_eq!(path.matches('M').count(), 3, "{path}");
            assert_eq!(path.matches("h0").count(), 1, "{path}");
        }
    }

    #[test]
    fn text_is_escaped() {
        let mut chart = fixtures::gaps();
        chart.title = "Sessions <web> & \"ios\"".to_owned();
        chart.lines[0].name = "a<b & c".to_owned();
        chart.lines[1].name = "bell\u{7}".to_owned();
        chart.x_labels[0] = "<day 1>".to_owned();
        let svg = render_svg(&chart);
        check_tags(&svg);
        assert!(svg.contains("a&lt;b &amp; c"));
        assert!(svg.contains("Sessions &lt;web&gt; &amp; &quot;ios&quot;"));
        assert!(svg.contains("&lt;day 1&gt;"));
        assert!(svg.contains("bell\u{FFFD}") && !svg.contains('\u{7}'));
        assert!(!svg.contains("a<b"));
    }

    #[test]
    fn ticks_grid_and_labels() {
        let svg = render_svg(&fixtures::logins_and_purchases());
        for tick in ["0", "500", "1,000", "1,500", "2,000"] {
            assert!(svg.contains(&format!(">{tick}</text>")), "tick {tick}");
        }
        assert_eq!(svg.matches("stroke=\"#e5e5e5\"").count(), 5, "a grid line per tick");
        assert!(svg.contains(">2024-03-01</text>") && svg.contains(">2024-03-30</text>"));
        assert!(!svg.contains(">2024-03-29</text>"), "labels are thinned");
        assert!(svg.contains("rotate(-90") && svg.contains(">events</text>"));
        assert!(svg.contains(">Login 37,821</text>") && svg.contains(">Purchase 4,813</text>"));
        // 30 buckets are far enough apart for a circle at every value.
        assert_eq!(svg.matches("<circle ").count(), 60 + 2);
        let negative = render_svg(&fixtures::negative());
        assert!(negative.contains("stroke=\"#999999\""), "a zero line");
    }

    #[test]
    fn many_series_and_buckets() {
        let lines: Vec<ChartLine> = (0..12)
            .map(|s| {
                let values: Vec<Option<f64>> =
                    (0..700).map(|i| Some(((i * (s + 3)) % 97) as f64)).collect();
                fixtures::line(&format!("series {s} {}", "long ".repeat(20)), &values)
            })
            .collect();
        let chart = Chart { x_labels: fixtures::days(700), lines, ..Chart::default() };
        let svg = render_svg(&chart);
        check_tags(&svg);
        assert_eq!(svg.matches("<path ").count(), 12);
        assert_eq!(svg.matches("<circle ").count(), 0, "no circles at 700 buckets");
        assert_eq!(svg.matches("stroke-dasharray=\"8 4\"").count(), 2 * 5, "the second round");
        assert!(height(&svg) > HEIGHT, "the legend rows make the picture taller");
        assert!(svg.matches("…").count() >= 12, "long names are cut");
        let labels = svg.matches(">20").count();
        assert!((3..=12).contains(&labels), "{labels} x labels");
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(num(12.0), "12");
        assert_eq!(num(12.345), "12.3");
        assert_eq!(num(-0.04), "0");
        assert_eq!(num(-2.25), "-2.3");
    }
}
