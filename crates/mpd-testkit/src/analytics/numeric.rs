//! `/segmentation/numeric`: values of a numeric property bucketed into at most about ten
//! ranges of a round width, counted per date.

use super::{Buckets, PropertyExpr};
use crate::analytics::series::Line;
use crate::project::QueryEvent;

/// Guards the float arithmetic of bucket edges (`0.1 * 3`) from landing a value one bucket off.
const EPSILON: f64 = 1e-9;

/// A round bucket width `mantissa × 10^exponent`, mantissa 1, 2 or 5.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Width {
    mantissa: f64,
    exponent: i32,
}

impl Width {
    /// The smallest width with `ceil((max - min) / width) <= 10` (1 when `max == min`).
    pub(crate) fn for_range(min: f64, max: f64) -> Self {
        let range = max - min;
        if range <= 0.0 || !range.is_finite() {
            return Self { mantissa: 1.0, exponent: 0 };
        }
        let start = (range / 10.0).log10().floor() as i32 - 1;
        for exponent in start..start + 4 {
            for mantissa in [1.0, 2.0, 5.0] {
                let w = Self { mantissa, exponent };
                if (w.units(max) - w.units(min) - EPSILON).ceil() <= 10.0 {
                    return w;
                }
            }
        }
        Self { mantissa: 1.0, exponent: start + 4 }
    }

    /// `x / width`, computed so that negative exponents divide by a whole power of ten.
    fn units(self, x: f64) -> f64 {
        if self.exponent >= 0 {
            x / (self.mantissa * 10f64.powi(self.exponent))
        } else {
            x * 10f64.powi(-self.exponent) / self.mantissa
        }
    }

    /// `k × width`.
    fn at(self, k: f64) -> f64 {
        if self.exponent >= 0 {
            k * self.mantissa * 10f64.powi(self.exponent)
        } else {
            k * self.mantissa / 10f64.powi(-self.exponent)
        }
    }

    fn decimals(self) -> usize {
        usize::try_from(-self.exponent).unwrap_or(0)
    }
}

/// The buckets of a set of values: `[lower + i·w, lower + (i+1)·w)`, the last one also
/// holding the maximum.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Ranges {
    width: Width,
    /// `lower / width`, a whole number.
    lower_units: f64,
    max: f64,
}

impl Ranges {
    pub(crate) fn new(min: f64, max: f64) -> Self {
        let width = Width::for_range(min, max);
        Self { width, lower_units: (width.units(min) + EPSILON).floor(), max }
    }

    pub(crate) fn index(&self, x: f64) -> usize {
        let units = self.width.units(x) - self.lower_units;
        let mut i = (units + EPSILON).floor().max(0.0);
        if x >= self.max && i > 0.0 && (units - i).abs() < EPSILON {
            // The maximum on an edge belongs to the bucket below it.
            i -= 1.0;
        }
        i as usize
    }

    pub(crate) fn label(&self, index: usize) -> String {
        let lo = self.width.at(self.lower_units + index as f64);
        let hi = self.width.at(self.lower_units + index as f64 + 1.0);
        let d = self.width.decimals();
        format!("{} - {}", format_number(lo, d), format_number(hi, d))
    }
}

/// `2000` -> `2,000`, `0.5` -> `0.5`, `1.0` -> `1`: thousands separators, no trailing zeros.
pub(crate) fn format_number(x: f64, decimals: usize) -> String {
    let fixed = format!("{x:.decimals$}");
    let fixed = if fixed.contains('.') {
        fixed.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        fixed
    };
    let (sign, digits) = match fixed.strip_prefix('-') {
        Some(rest) if rest.chars().any(|c| c != '0' && c != '.') => ("-", rest),
        Some(rest) => ("", rest),
        None => ("", fixed.as_str()),
    };
    let (int, frac) = digits.split_once('.').map_or((digits, None), |(i, f)| (i, Some(f)));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// One line per range label holding at least one value, general counts per date bucket.
pub(crate) fn numeric_lines<'a>(
    events: &[&'a QueryEvent],
    buckets: &Buckets,
    on: &PropertyExpr,
) -> Vec<Line<'a>> {
    let values: Vec<(usize, f64, &QueryEvent)> = events
        .iter()
        .filter_map(|e| Some((buckets.index(e.time_secs)?, on.number(&e.properties)?, *e)))
        .collect();
    let (min, max) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (_, x, _)| (lo.min(*x), hi.max(*x)));
    if values.is_empty() {
        return Vec::new();
    }
    let ranges = Ranges::new(min, max);
    let mut lines: Vec<Option<Line<'a>>> = Vec::new();
    for (bucket, x, event) in values {
        let i = ranges.index(x);
        if lines.len() <= i {
            lines.resize(i + 1, None);
        }
        let line = lines[i].get_or_insert_with(|| Line::empty(&ranges.label(i), buckets.len()));
        line.cells[bucket].add(event);
    }
    lines.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(values: &[f64]) -> Vec<String> {
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let r = Ranges::new(min, max);
        values.iter().map(|x| r.label(r.index(*x))).collect()
    }

    #[test]
    fn widths_are_the_smallest_round_step_giving_ten_buckets() {
        assert_eq!(Width::for_range(0.0, 100.0), Width { mantissa: 1.0, exponent: 1 });
        assert_eq!(Width::for_range(0.0, 101.0), Width { mantissa: 2.0, exponent: 1 });
        assert_eq!(Width::for_range(2000.0, 2900.0), Width { mantissa: 1.0, exponent: 2 });
        assert_eq!(Width::for_range(0.0, 4.5), Width { mantissa: 5.0, exponent: -1 });
        assert_eq!(Width::for_range(3.0, 3.0), Width { mantissa: 1.0, exponent: 0 });
    }

    #[test]
    fn labels_and_edges() {
        assert_eq!(
            labels(&[2000.0, 2900.0, 2050.0]),
            ["2,000 - 2,100", "2,800 - 2,900", "2,000 - 2,100"]
        );
        assert_eq!(labels(&[0.0, 4.5, 0.5]), ["0 - 0.5", "4 - 4.5", "0.5 - 1"]);
        assert_eq!(labels(&[7.0]), ["7 - 8"]);
        // Range 100 from 5: width 10, lower 0, so 105 opens an eleventh bucket.
        assert_eq!(labels(&[5.0, 105.0]), ["0 - 10", "100 - 110"]);
        assert_eq!(labels(&[-3.0, 2.0]), ["-3 - -2.5", "1.5 - 2"]);
        assert_eq!(labels(&[0.1, 0.3]), ["0.1 - 0.12", "0.28 - 0.3"]);
    }

    #[test]
    fn numbers_format_like_mixpanel() {
        assert_eq!(format_number(1234567.0, 0), "1,234,567");
        assert_eq!(format_number(0.5, 1), "0.5");
        assert_eq!(format_number(1.0, 1), "1");
        assert_eq!(format_number(-1500.25, 2), "-1,500.25");
        assert_eq!(format_number(-0.0, 0), "0");
        assert_eq!(format_number(100.0, 0), "100");
    }
}
