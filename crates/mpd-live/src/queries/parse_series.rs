//! Time series answers: segmentation, numeric buckets, event and property counts
//! (`{"data": {"series": [...], "values": {...}}}`) and sums/averages (`{"results": {...}}`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::json::{Why, array, number, object, text, unwrap_data};
use crate::result::{Series, TimeSeries};

/// `{"data": {"series": [dates], "values": {name: {date: n}}}, "legend_size": n}`, with or
/// without the `data` wrapper; `series` may be unsorted or missing dates the values have.
pub(super) fn values_answer(root: &Value) -> Result<TimeSeries, Why> {
    let data = object(unwrap_data(root), "the answer")?;
    let values = data.get("values").ok_or("the `values` member is missing")?;
    let values = object(values, "`values`")?;
    let mut dates = Vec::new();
    if let Some(listed) = data.get("series") {
        dates = array(listed, "`series`")?.iter().filter_map(|d| text(Some(d))).collect();
    }
    let mut series = Vec::with_capacity(values.len());
    for (name, per_date) in values {
        let per_date = object(per_date, &format!("the values of {name:?}"))?;
        series.push(Series { name: name.clone(), values: leaf(per_date, name)? });
    }
    Ok(time_series(series, dates))
}

/// `{"status": "ok", "computed_at": "...", "results": {date: x}}` (also under `data`): one
/// series called `name`.
pub(super) fn results_answer(root: &Value, name: &str) -> Result<TimeSeries, Why> {
    let results = root
        .get("results")
        .or_else(|| unwrap_data(root).get("results"))
        .ok_or("the `results` member is missing")?;
    let results = object(results, "`results`")?;
    let series = Series { name: name.to_owned(), values: leaf(results, name)? };
    Ok(time_series(vec![series], Vec::new()))
}

/// A `{label: number}` map; `null` values are left out (no data for that bucket).
pub(super) fn leaf(map: &Map<String, Value>, name: &str) -> Result<BTreeMap<String, f64>, Why> {
    let mut out = BTreeMap::new();
    for (label, value) in map {
        if let Some(n) = number(Some(value), &format!("the value of {name:?} at {label:?}"))? {
            out.insert(label.clone(), n);
        }
    }
    Ok(out)
}

/// Puts series largest total first (ties by name) and lists every bucket: the given dates
/// and every label any series has, in order.
pub(crate) fn time_series(mut series: Vec<Series>, dates: Vec<String>) -> TimeSeries {
    let mut all: BTreeSet<String> = dates.into_iter().collect();
    for s in &series {
        all.extend(s.values.keys().cloned());
    }
    series.sort_by(|a, b| b.total().total_cmp(&a.total()).then_with(|| a.name.cmp(&b.name)));
    TimeSeries { dates: all.into_iter().collect(), series }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn names(ts: &TimeSeries) -> Vec<&str> {
        ts.series.iter().map(|s| s.name.as_str()).collect()
    }

    #[test]
    fn documented_segmentation_shape() {
        let ts = values_answer(&json!({
            "data": {"series": ["2011-08-08", "2011-08-06", "2011-08-07"],
                     "values": {"signup": {"2011-08-06": 147, "2011-08-07": 146.0, "2011-08-08": 1}}},
            "legend_size": 1
        }))
        .unwrap();
        assert_eq!(ts.dates, ["2011-08-06", "2011-08-07", "2011-08-08"]);
        assert_eq!(ts.get("signup").unwrap().values["2011-08-06"], 147.0);
        assert_eq!(ts.total(), 294.0);
    }

    #[test]
    fn without_wrapper_missing_dates_and_sorted_by_total() {
        let ts = values_answer(&json!({
            "series": ["2024-03-02"],
            "values": {"b": {"2024-03-01": 2}, "a": {"2024-03-03": 2}, "big": {"2024-03-02": 9.5, "2024-03-04": null}}
        }))
        .unwrap();
        assert_eq!(ts.dates, ["2024-03-01", "2024-03-02", "2024-03-03"]);
        assert_eq!(names(&ts), ["big", "a", "b"]);
        assert!(!ts.get("big").unwrap().values.contains_key("2024-03-04"));
    }

    #[test]
    fn numeric_bucket_labels_are_series_names() {
        let ts = values_answer(&json!({"data": {"series": ["2024-03-01"], "values": {
            "2,000 - 2,100": {"2024-03-01": 3}, "0.5 - 1": {"2024-03-01": 5}}}}))
        .unwrap();
        assert_eq!(names(&ts), ["0.5 - 1", "2,000 - 2,100"]);
    }

    #[test]
    fn no_series_list_and_empty_values() {
        let ts = values_answer(&json!({"data": {"values": {}}})).unwrap();
        assert!(ts.dates.is_empty() && ts.series.is_empty());
    }

    #[test]
    fn unreadable_shapes_say_what_was_expected() {
        assert!(values_answer(&json!({"data": {"series": []}})).unwrap_err().contains("`values`"));
        assert!(values_answer(&json!([])).unwrap_err().contains("an object"));
        let bad = values_answer(&json!({"values": {"x": {"2024-03-01": "many"}}})).unwrap_err();
        assert!(bad.contains("\"x\"") && bad.contains("a string"), "{bad}");
        assert!(values_answer(&json!({"values": {"x": [1]}})).unwrap_err().contains("an array"));
    }

    #[test]
    fn sum_and_average_results() {
        let ts = results_answer(
            &json!({"status": "ok", "computed_at": "x", "results": {"2019-10-08": 4.25, "2019-10-07": 4}}),
            "amount",
        )
        .unwrap();
        assert_eq!(ts.dates, ["2019-10-07", "2019-10-08"]);
        assert_eq!(ts.get("amount").unwrap().total(), 8.25);
        let wrapped =
            results_answer(&json!({"data": {"results": {"2019-10-07": 1}}}), "a").unwrap();
        assert_eq!(wrapped.total(), 1.0);
        assert!(results_answer(&json!({"status": "ok"}), "a").unwrap_err().contains("`results`"));
    }
}
