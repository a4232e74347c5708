//! Retention (`{date: {"counts": [...], "first": n, "rates"?: [...]}}`) and frequency
//! (`{"data": {date: [...]}}` or the date map at the top level) answers.

use serde_json::{Map, Value};

use crate::json::{Why, array, count, object, unwrap_data};
use crate::result::{FrequencyRow, RetentionCohort, bucket_day};

/// Cohorts in date order; rates are recomputed from counts (`rates` sent by Mixpanel are
/// ignored, so both shapes give the same answer). A segmented cohort uses its `$overall`.
pub(super) fn retention_answer(root: &Value) -> Result<Vec<RetentionCohort>, Why> {
    let mut cohorts = Vec::new();
    for (date, entry) in dated(unwrap_data(root), "the retention answer")? {
        let mut fields = object(entry, &format!("the cohort of {date}"))?;
        if !fields.contains_key("counts")
            && let Some(overall) = fields.get("$overall")
        {
            fields = object(overall, &format!("the $overall cohort of {date}"))?;
        }
        let what = format!("the cohort of {date}");
        let counts: Vec<u64> = array(
            fields.get("counts").ok_or_else(|| format!("{what} has no counts"))?,
            &format!("the counts of {what}"),
        )?
        .iter()
        .map(|c| count(Some(c), &format!("a count of {what}")).map(Option::unwrap_or_default))
        .collect::<Result<_, Why>>()?;
        let size = count(fields.get("first"), &format!("the size (`first`) of {what}"))?
            .ok_or_else(|| format!("{what} has no size (`first`)"))?;
        let rates =
            counts.iter().map(|&c| if size == 0 { 0.0 } else { c as f64 / size as f64 }).collect();
        cohorts.push(RetentionCohort { date: date.clone(), size, counts, rates });
    }
    Ok(cohorts)
}

/// Rows in date order.
pub(super) fn frequency_answer(root: &Value) -> Result<Vec<FrequencyRow>, Why> {
    let mut rows = Vec::new();
    for (date, entry) in dated(unwrap_data(root), "the frequency answer")? {
        let what = format!("the counts of {date}");
        let counts = array(entry, &what)?
            .iter()
            .map(|c| count(Some(c), &what).map(Option::unwrap_or_default))
            .collect::<Result<_, Why>>()?;
        rows.push(FrequencyRow { date: date.clone(), counts });
    }
    Ok(rows)
}

/// The members whose keys are bucket labels, in date order (`status`, `computed_at` and the
/// like are skipped).
fn dated<'a>(value: &'a Value, what: &str) -> Result<Vec<(&'a String, &'a Value)>, Why> {
    let map: &Map<String, Value> = object(value, what)?;
    let mut out: Vec<_> = map.iter().filter(|(key, _)| bucket_day(key).is_some()).collect();
    out.sort_by(|a, b| a.0.cmp(b.0));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn retention_with_and_without_rates_sorted_by_date() {
        let cohorts = retention_answer(&json!({
            "2012-01-02": {"counts": [4, 1.0], "first": 4, "rates": [1.0, 0.99]},
            "2012-01-01": {"counts": [2, 1, 2], "first": 2}
        }))
        .unwrap();
        assert_eq!(cohorts[0].date, "2012-01-01");
        assert_eq!(cohorts[0].counts, [2, 1, 2]);
        assert_eq!(cohorts[0].rates, [1.0, 0.5, 1.0]);
        assert_eq!(cohorts[1].rates, [1.0, 0.25], "sent rates are recomputed");
    }

    #[test]
    fn empty_cohort_has_zero_rates_and_overall_is_used_when_segmented() {
        let cohorts = retention_answer(&json!({"data": {
            "2012-01-01": {"counts": [0, 0], "first": 0},
            "2012-01-02": {"$overall": {"counts": [3], "first": 3}, "Chrome": {"counts": [1], "first": 1}}
        }}))
        .unwrap();
        assert_eq!(cohorts[0].rates, [0.0, 0.0]);
        assert_eq!((cohorts[1].size, cohorts[1].counts.clone()), (3, vec![3]));
    }

    #[test]
    fn unreadable_retention() {
        assert!(
            retention_answer(&json!({"2012-01-01": {"first": 2}}))
                .unwrap_err()
                .contains("no counts")
        );
        assert!(
            retention_answer(&json!({"2012-01-01": {"counts": []}}))
                .unwrap_err()
                .contains("`first`")
        );
        assert!(retention_answer(&json!([])).unwrap_err().contains("an object"));
        assert!(retention_answer(&json!({"2012-01-01": {"counts": ["x"], "first": 1}})).is_err());
    }

    #[test]
    fn frequency_wrapped_or_at_top_level() {
        let wrapped =
            frequency_answer(&json!({"data": {"2024-03-08": [5, 2], "2024-03-01": [9.0, 3, 1]}}))
                .unwrap();
        assert_eq!(wrapped[0], FrequencyRow { date: "2024-03-01".into(), counts: vec![9, 3, 1] });
        assert_eq!(wrapped[1].counts, [5, 2]);
        let top = frequency_answer(&json!({"2024-03-01": [1], "status": "ok"})).unwrap();
        assert_eq!(top.len(), 1);
        assert!(
            frequency_answer(&json!({"data": {"2024-03-01": {"a": 1}}}))
                .unwrap_err()
                .contains("an array")
        );
    }
}
