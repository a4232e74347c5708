//! Line charts of time series: braille charts for the terminal (`--chart`) and standalone SVG
//! 1.1 documents (`--plot FILE.svg`).
//!
//! The query commands build a [`Chart`] from a result (one line per series, one value per date
//! bucket) and hand it to [`render_terminal`] or [`render_svg`]. Both renderers share the value
//! scale ("nice" 1-2-5 ticks) and the x-label thinning, so a chart reads the same in both.

mod braille;
#[cfg(test)]
mod fixtures;
mod labels;
mod scale;
mod svg;
mod terminal;

pub(crate) use svg::render_svg;
pub(crate) use terminal::{TerminalStyle, render_terminal};

use scale::Scale;

/// What to draw; built by the commands from a result.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Chart {
    /// One line above the chart, e.g. `Login — general count per day, 2024-03-01 to 2024-03-30`.
    pub(crate) title: String,
    /// The unit of the values, e.g. `events`.
    pub(crate) y_label: String,
    /// Bucket labels in time order (`2024-03-01`, ...).
    pub(crate) x_labels: Vec<String>,
    /// The series, drawn in this order of importance (the first one ends up on top).
    pub(crate) lines: Vec<ChartLine>,
    /// The number the legend shows next to each series.
    pub(crate) legend: LegendValue,
}

/// What the legend says about each series.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum LegendValue {
    /// The sum of the values: the headline number of counts and sums.
    #[default]
    Total,
    /// The last value: adding up unique users or averages over buckets would mean nothing.
    Last,
}

impl LegendValue {
    /// The word in front of the legend.
    fn prefix(self) -> &'static str {
        match self {
            LegendValue::Total => "Totals:",
            LegendValue::Last => "Last:",
        }
    }
}

/// One series of a [`Chart`].
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ChartLine {
    /// Shown in the legend.
    pub(crate) name: String,
    /// One value per x label, in the same order; `None` (or a non-finite value) is a gap.
    pub(crate) values: Vec<Option<f64>>,
}

impl Chart {
    /// The number of buckets along the x axis. Lines longer than the labels still get drawn
    /// whole (unlabelled) rather than silently cut.
    fn buckets(&self) -> usize {
        self.lines.iter().map(|line| line.values.len()).fold(self.x_labels.len(), usize::max)
    }

    /// The label of bucket `index`, empty where the caller gave fewer labels than values.
    fn x_label(&self, index: usize) -> &str {
        self.x_labels.get(index).map_or("", String::as_str)
    }

    /// Every drawable value of every line.
    fn finite_values(&self) -> impl Iterator<Item = f64> + '_ {
        self.lines.iter().flat_map(|line| (0..line.values.len()).filter_map(|i| line.value(i)))
    }

    /// The value axis for this chart's data with about `target` tick intervals. Whole-number
    /// data (counts) never gets fractional ticks.
    fn scale(&self, target: usize) -> Scale {
        let mut range: Option<(f64, f64)> = None;
        let mut integral = true;
        for v in self.finite_values() {
            integral &= v.fract() == 0.0;
            range = Some(match range {
                None => (v, v),
                Some((lo, hi)) => (lo.min(v), hi.max(v)),
            });
        }
        let (lo, hi) = range.unwrap_or((0.0, 0.0));
        Scale::new(lo, hi, target, integral)
    }
}

impl ChartLine {
    /// The value at bucket `index`, `None` for gaps, missing and non-finite values.
    fn value(&self, index: usize) -> Option<f64> {
        self.values.get(index).copied().flatten().filter(|v| v.is_finite())
    }

    /// The sum of the line's values, `None` when it has none. Shown in the legend: the charts
    /// are mostly of counts, where the total is the headline number.
    fn total(&self) -> Option<f64> {
        let mut values = (0..self.values.len()).filter_map(|i| self.value(i)).peekable();
        values.peek()?;
        Some(values.sum())
    }

    /// The last drawable value.
    fn last(&self) -> Option<f64> {
        (0..self.values.len()).rev().find_map(|i| self.value(i))
    }

    /// The number the legend shows for this line.
    fn legend_value(&self, kind: LegendValue) -> Option<f64> {
        match kind {
            LegendValue::Total => self.total(),
            LegendValue::Last => self.last(),
        }
    }

    /// Whether the value at `index` has no drawn neighbour, so a line through it would be a
    /// single invisible dot and it needs a marker instead.
    fn is_isolated(&self, index: usize) -> bool {
        let before = index.checked_sub(1).and_then(|i| self.value(i));
        let after = self.value(index + 1);
        self.value(index).is_some() && before.is_none() && after.is_none()
    }
}

/// Text that is safe to put on one terminal line or in one SVG text element: line breaks,
/// tabs and escape sequences would break the layout, so control characters become `�`.
fn clean_text(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { '\u{FFFD}' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_labels_and_longer_lines() {
        let mut chart = Chart { x_labels: vec!["a".into(), "b".into()], ..Chart::default() };
        assert_eq!(chart.buckets(), 2);
        chart.lines.push(ChartLine { name: "x".into(), values: vec![Some(1.0); 3] });
        assert_eq!(chart.buckets(), 3);
        assert_eq!(chart.x_label(2), "");
    }

    #[test]
    fn non_finite_values_are_gaps() {
        let line = ChartLine {
            name: "x".into(),
            values: vec![Some(1.0), Some(f64::NAN), None, Some(f64::INFINITY), Some(2.0)],
        };
        assert_eq!(line.value(1), None);
        assert_eq!(line.value(3), None);
        assert_eq!(line.total(), Some(3.0));
        assert!(line.is_isolated(0));
        assert!(line.is_isolated(4));
        assert!(!line.is_isolated(2));
        let empty = ChartLine { name: "y".into(), values: vec![None, None] };
        assert_eq!(empty.total(), None);
    }

    #[test]
    fn integral_data_gets_whole_ticks() {
        let chart = Chart {
            lines: vec![ChartLine { name: "z".into(), values: vec![Some(0.0), Some(0.0)] }],
            ..Chart::default()
        };
        let scale = chart.scale(5);
        assert_eq!(scale.ticks(), vec![0.0, 1.0]);
    }

    #[test]
    fn both_renderers_name_the_same_things() {
        let chart = fixtures::logins_and_purchases();
        let terminal = render_terminal(&chart, &TerminalStyle::default());
        let svg = render_svg(&chart);
        for text in ["general count per day", "events", "2024-03-01", "2024-03-30", "37,821"] {
            assert!(terminal.contains(text) && svg.contains(text), "{text}");
        }
    }

    #[test]
    fn control_characters_are_replaced() {
        assert_eq!(clean_text("a\nb\x1b[31m"), "a\u{FFFD}b\u{FFFD}[31m");
    }
}
