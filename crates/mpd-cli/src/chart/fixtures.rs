//! Charts the renderers' tests draw.

use super::{Chart, ChartLine, LegendValue};

/// `n` day labels from 2024-03-01.
pub(crate) fn days(n: usize) -> Vec<String> {
    let first = chrono::NaiveDate::from_ymd_opt(2024, 3, 1).expect("a valid date");
    (0..n as u64).map(|i| (first + chrono::Days::new(i)).to_string()).collect()
}

pub(crate) fn line(name: &str, values: &[Option<f64>]) -> ChartLine {
    ChartLine { name: name.to_owned(), values: values.to_vec() }
}

/// Logins and purchases per day over 30 days: a weekly rhythm (quiet weekends, 2024-03-01
/// is a Friday), slow growth, and a purchase spike on a promotion day.
pub(crate) fn logins_and_purchases() -> Chart {
    const WEEK: [f64; 7] = [1.0, 0.62, 0.58, 1.05, 1.1, 1.08, 1.04];
    let login: Vec<Option<f64>> =
        (0..30).map(|i| Some(((1_200.0 + 12.0 * i as f64) * WEEK[i % 7]).round())).collect();
    let purchase: Vec<Option<f64>> = (0..30)
        .map(|i| {
            let promotion = if i == 15 { 2.5 } else { 1.0 };
            Some(((140.0 + 2.0 * i as f64) * WEEK[i % 7] * promotion).round())
        })
        .collect();
    Chart {
        legend: LegendValue::Total,
        title: "Login, Purchase — general count per day, 2024-03-01 to 2024-03-30".to_owned(),
        y_label: "events".to_owned(),
        x_labels: days(30),
        lines: vec![line("Login", &login), line("Purchase", &purchase)],
    }
}

pub(crate) fn single_bucket() -> Chart {
    Chart {
        legend: LegendValue::Total,
        title: "Signup — unique users, 2024-03-01".to_owned(),
        y_label: "users".to_owned(),
        x_labels: days(1),
        lines: vec![line("Signup", &[Some(42.0)])],
    }
}

pub(crate) fn flat_zero() -> Chart {
    Chart {
        legend: LegendValue::Total,
        title: "Refund — general count per day".to_owned(),
        y_label: "events".to_owned(),
        x_labels: days(14),
        lines: vec![line("Refund", &[Some(0.0); 14])],
    }
}

/// A net balance that dips below zero, with fractional values.
pub(crate) fn negative() -> Chart {
    let values = [12.5, 8.0, -3.25, -17.0, -9.5, 2.0, 6.75, 4.0, -1.5, 10.0];
    Chart {
        legend: LegendValue::Total,
        title: "Net revenue change per day".to_owned(),
        y_label: "USD".to_owned(),
        x_labels: days(values.len()),
        lines: vec![line("net", &values.map(Some))],
    }
}

/// Two series with missing buckets, one of them leaving a lone value between gaps.
pub(crate) fn gaps() -> Chart {
    let a = [Some(5.0), Some(7.0), None, None, Some(9.0), Some(8.0), Some(11.0), None, Some(6.0)];
    let b = [None, Some(2.0), Some(3.0), Some(2.0), None, Some(4.0), None, Some(5.0), Some(3.0)];
    Chart {
        legend: LegendValue::Total,
        title: "Sessions with gaps".to_owned(),
        y_label: "sessions".to_owned(),
        x_labels: days(a.len()),
        lines: vec![line("web", &a), line("ios", &b)],
    }
}
