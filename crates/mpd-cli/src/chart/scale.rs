//! The value axis: "nice" tick steps (1, 2 or 5 × 10^k) and number formatting with thousands
//! separators, shared by the terminal and SVG renderers.

/// Tick counts above this mean the input was degenerate (huge magnitudes, tiny differences);
/// such axes only get their two ends labelled.
const MAX_TICKS: usize = 100;

/// Magnitudes from here on are written in exponent notation: separated digits would be wider
/// than the chart's margin and pretend to a precision f64 does not have.
const EXPONENT_FROM: f64 = 1e15;

/// A linear value axis from `lo` to `hi` with a tick every `step`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Scale {
    pub(crate) lo: f64,
    pub(crate) hi: f64,
    pub(crate) step: f64,
    /// Digits after the decimal point the tick labels need (0 for steps of 1 and more).
    pub(crate) decimals: usize,
}

impl Scale {
    /// An axis covering `min..=max` with about `target` intervals, its ends rounded out to
    /// whole steps. Zero is included when that costs at most half the height, so counts keep
    /// an honest baseline while a series hovering far from zero still shows its trend.
    /// `integral` data (counts) never gets fractional steps.
    pub(crate) fn new(min: f64, max: f64, target: usize, integral: bool) -> Scale {
        let (mut lo, mut hi) = if min <= max { (min, max) } else { (max, min) };
        if !lo.is_finite() || !hi.is_finite() {
            (lo, hi) = (0.0, 0.0);
        }
        if lo >= 0.0 && (lo == hi || lo <= hi / 2.0) {
            lo = 0.0;
        }
        if hi <= 0.0 && (lo == hi || hi >= lo / 2.0) {
            hi = 0.0;
        }
        if lo == hi {
            hi = lo + 1.0;
        }
        let Some((step, exponent)) = best_step(lo, hi, target.max(1), integral) else {
            return Scale { lo, hi, step: hi - lo, decimals: 0 };
        };
        let decimals = usize::try_from(-exponent).unwrap_or(0);
        Scale { lo: (lo / step).floor() * step, hi: (hi / step).ceil() * step, step, decimals }
    }

    /// The tick values from `lo` to `hi`, both included.
    pub(crate) fn ticks(&self) -> Vec<f64> {
        let intervals = ((self.hi - self.lo) / self.step).round();
        if !intervals.is_finite() || intervals < 1.0 || intervals > MAX_TICKS as f64 {
            return vec![self.lo, self.hi];
        }
        // Multiples of the step rather than repeated additions, so 0.1 + 0.2 never shows.
        let first = (self.lo / self.step).round();
        (0..=intervals as usize).map(|i| (first + i as f64) * self.step).collect()
    }

    /// Where `value` sits between `lo` (0.0) and `hi` (1.0), clamped to that range.
    pub(crate) fn fraction(&self, value: f64) -> f64 {
        let fraction = (value - self.lo) / (self.hi - self.lo);
        if fraction.is_nan() { 0.0 } else { fraction.clamp(0.0, 1.0) }
    }

    /// The label of a tick value, with exactly the decimals the step needs.
    pub(crate) fn label(&self, value: f64) -> String {
        format_number(value, self.decimals)
    }
}

/// The 1, 2 or 5 × 10^k step (with its k) whose rounded-out axis over `lo..hi` has the
/// interval count closest to `target`, the finer one on ties; `None` when the range is not
/// finite. Taking the closest rather than the first step above `(hi - lo) / target` avoids
/// axes with half the wanted ticks when the raw step lands just above 1, 2 or 5.
fn best_step(lo: f64, hi: f64, target: usize, integral: bool) -> Option<(f64, i32)> {
    let raw = (hi - lo) / target as f64;
    if !(raw.is_finite() && raw > 0.0) {
        return None;
    }
    let exponent = raw.log10().floor() as i32;
    let candidates = [(5.0, exponent - 1), (1.0, exponent), (2.0, exponent), (5.0, exponent)]
        .into_iter()
        .chain([(1.0, exponent + 1), (2.0, exponent + 1)]);
    let mut best: Option<(f64, i32, f64)> = None;
    for (multiple, exponent) in candidates {
        let step = multiple * power_of_ten(exponent);
        if integral && step < 1.0 {
            continue;
        }
        let intervals = (hi / step).ceil() - (lo / step).floor();
        if !intervals.is_finite() {
            continue;
        }
        let miss = (intervals - target as f64).abs();
        if best.is_none_or(|(_, _, best_miss)| miss < best_miss) {
            best = Some((step, exponent, miss));
        }
    }
    match best {
        Some((step, exponent, _)) => Some((step, exponent)),
        // Integral data whose raw step is far below 1: a step of one per count.
        None if integral => Some((1.0, 0)),
        None => None,
    }
}

/// 10^exponent, divided rather than multiplied for negative exponents: 1 / 10 is exactly the
/// nearest double to 0.1, 10^-1 computed by powi is not always.
fn power_of_ten(exponent: i32) -> f64 {
    if exponent >= 0 { 10f64.powi(exponent) } else { 1.0 / 10f64.powi(-exponent) }
}

/// `value` with `decimals` digits after the point and `,` between thousands: `12,345.5`.
pub(crate) fn format_number(value: f64, decimals: usize) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    if value.abs() >= EXPONENT_FROM {
        return format!("{value:.2e}");
    }
    let digits = format!("{:.*}", decimals, value.abs());
    let (whole, fraction) = digits.split_once('.').unwrap_or((&digits, ""));
    let mut out = String::with_capacity(digits.len() + whole.len() / 3 + 1);
    // "-0" or "-0.00" would claim a sign the rounded number does not have.
    if value < 0.0 && digits.bytes().any(|b| (b'1'..=b'9').contains(&b)) {
        out.push('-');
    }
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    if !fraction.is_empty() {
        out.push('.');
        out.push_str(fraction);
    }
    out
}

/// A value on its own (legend totals): whole numbers without decimals, others with two
/// decimals, or three significant digits below 1, trailing zeros dropped.
pub(crate) fn format_value(value: f64) -> String {
    if value.fract() == 0.0 || value.abs() >= EXPONENT_FROM || !value.is_finite() {
        return format_number(value, 0);
    }
    let decimals = if value.abs() >= 1.0 {
        2
    } else {
        // 0.0123 → 4 decimals → 0.0123; capped so denormals do not print hundreds of zeros.
        usize::try_from(2 - value.abs().log10().floor() as i32).unwrap_or(2).min(10)
    };
    let text = format_number(value, decimals);
    let text = text.trim_end_matches('0');
    text.strip_suffix('.').unwrap_or(text).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_one_two_or_five_times_a_power_of_ten() {
        assert_eq!(best_step(0.0, 10.0, 10, true), Some((1.0, 0)));
        assert_eq!(best_step(0.0, 10.0, 5, true), Some((2.0, 0)));
        assert_eq!(best_step(0.0, 1_000.0, 4, true), Some((200.0, 2)));
        assert_eq!(best_step(0.0, 0.7, 7, false), Some((0.1, -1)));
        assert_eq!(best_step(0.0, 0.03, 3, false), Some((0.01, -2)));
        assert_eq!(best_step(0.0, 0.03, 3, true), Some((1.0, 0)));
        assert_eq!(best_step(0.0, f64::INFINITY, 3, false), None);
    }

    #[test]
    fn counts_start_at_zero_with_round_ticks() {
        let scale = Scale::new(120.0, 2_150.0, 5, true);
        assert_eq!((scale.lo, scale.hi, scale.step), (0.0, 2_500.0, 500.0));
        assert_eq!(scale.ticks(), vec![0.0, 500.0, 1_000.0, 1_500.0, 2_000.0, 2_500.0]);
        assert_eq!(scale.label(2_500.0), "2,500");
    }

    #[test]
    fn data_far_from_zero_is_zoomed_in() {
        let scale = Scale::new(1_012.0, 1_047.0, 4, true);
        assert_eq!((scale.lo, scale.hi, scale.step), (1_010.0, 1_050.0, 10.0));
    }

    #[test]
    fn negative_values_get_ticks_on_both_sides_of_zero() {
        let scale = Scale::new(-37.0, 52.0, 4, true);
        assert_eq!(scale.ticks(), vec![-40.0, -20.0, 0.0, 20.0, 40.0, 60.0]);
        let below = Scale::new(-50.0, -10.0, 4, true);
        assert_eq!((below.lo, below.hi), (-50.0, 0.0));
    }

    #[test]
    fn constant_and_empty_data_get_a_usable_axis() {
        assert_eq!(Scale::new(0.0, 0.0, 4, true).ticks(), vec![0.0, 1.0]);
        let five = Scale::new(5.0, 5.0, 5, true);
        assert_eq!((five.lo, five.hi), (0.0, 5.0));
        let minus = Scale::new(-3.0, -3.0, 3, true);
        assert_eq!((minus.lo, minus.hi), (-3.0, 0.0));
    }

    #[test]
    fn fractional_data_gets_decimals_without_float_noise() {
        let scale = Scale::new(0.0, 0.7, 7, false);
        assert_eq!(scale.step, 0.1);
        assert_eq!(scale.decimals, 1);
        let labels: Vec<String> = scale.ticks().iter().map(|t| scale.label(*t)).collect();
        assert_eq!(labels, ["0.0", "0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7"]);
    }

    #[test]
    fn extreme_inputs_do_not_explode() {
        let huge = Scale::new(-1e308, 1e308, 5, true);
        assert!(huge.ticks().len() <= MAX_TICKS + 1);
        assert_eq!(huge.fraction(0.0).clamp(0.0, 1.0), huge.fraction(0.0));
        let tiny = Scale::new(1e9, 1e9 + 1e-6, 5, false);
        assert!(tiny.ticks().len() <= MAX_TICKS + 1);
        let nan = Scale::new(f64::NAN, 1.0, 5, false);
        assert!(nan.lo.is_finite() && nan.hi.is_finite());
    }

    #[test]
    fn fraction_is_clamped() {
        let scale = Scale::new(0.0, 10.0, 2, true);
        assert_eq!(scale.fraction(5.0), 0.5);
        assert_eq!(scale.fraction(-4.0), 0.0);
        assert_eq!(scale.fraction(40.0), 1.0);
    }

    #[test]
    fn numbers_get_thousands_separators() {
        assert_eq!(format_number(0.0, 0), "0");
        assert_eq!(format_number(999.0, 0), "999");
        assert_eq!(format_number(1_000.0, 0), "1,000");
        assert_eq!(format_number(-1_234_567.0, 0), "-1,234,567");
        assert_eq!(format_number(12_345.25, 2), "12,345.25");
        assert_eq!(format_number(-0.001, 2), "0.00");
        assert_eq!(format_number(2.5e17, 0), "2.50e17");
    }

    #[test]
    fn values_show_decimals_only_when_needed() {
        assert_eq!(format_value(45_210.0), "45,210");
        assert_eq!(format_value(12.5), "12.5");
        assert_eq!(format_value(1_234.567), "1,234.57");
        assert_eq!(format_value(0.01234), "0.0123");
        assert_eq!(format_value(-0.5), "-0.5");
    }
}
