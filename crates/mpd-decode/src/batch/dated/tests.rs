//! The dated builder gives each date's rows exactly as the one-batch builder does, in order.

use arrow_array::cast::AsArray as _;
use arrow_array::types::Date32Type;
use arrow_array::{Array, RecordBatch};
use proptest::prelude::*;

use super::*;
use crate::typed::{PropertyKind, TypedProperty};
use crate::{EventBatchBuilder, LineFormat, TimeCorrection};

fn typed() -> TypedProperties {
    TypedProperties::new(vec![
        TypedProperty::new("$browser", PropertyKind::Text),
        TypedProperty::new("amount", PropertyKind::Float),
    ])
    .expect("valid")
}

/// A line of day `day` (2023-11-14 plus `day`), or a bad one for `None`.
fn line(day: Option<u8>, n: usize, browser: bool) -> String {
    let Some(day) = day else { return format!("not json {n}") };
    let time = 1_699_920_000 + u64::from(day) * 86_400 + (n as u64 % 86_000);
    let browser = if browser { r#","$browser":"Firefox""# } else { "" };
    format!(
        r#"{{"event":"E{}","properties":{{"time":{time},"distinct_id":"u{n}","amount":{n}{browser}}}}}"#,
        n % 3
    )
}

fn dates(batch: &RecordBatch) -> Vec<i32> {
    let column = batch.column_by_name("date").expect("date");
    column.as_primitive::<Date32Type>().values().to_vec()
}

/// Every batch the dated builder hands out (finishing whenever it is full, and at the end).
fn dated(lines: &[String], batch_rows: usize) -> Vec<RecordBatch> {
    let mut builder = DatedEventBatchBuilder::new(
        LineFormat::Export,
        TimeCorrection::None,
        3,
        batch_rows,
        typed(),
    );
    let mut out = Vec::new();
    for line in lines {
        let _ = builder.push_line(line.as_bytes());
        if builder.is_full() {
            out.extend(builder.finish().expect("full"));
        }
    }
    out.extend(builder.finish().unwrap_or_default());
    out
}

fn one_batch(lines: &[String]) -> RecordBatch {
    let mut builder =
        EventBatchBuilder::with_typed(LineFormat::Export, TimeCorrection::None, 3, 4096, typed());
    for line in lines {
        let _ = builder.push_line(line.as_bytes());
    }
    builder.finish().expect("rows")
}

/// The dated batches hold, date by date, the rows of the one batch of that date in the order
/// they came, every column equal.
fn assert_same_rows(lines: &[String], batch_rows: usize) {
    let reference = one_batch(lines);
    let batches = dated(lines, batch_rows);
    let mut by_date: Vec<(i32, &RecordBatch, usize)> = Vec::new();
    for batch in &batches {
        let days = dates(batch);
        assert!(days.iter().all(|d| *d == days[0]), "one date per batch: {days:?}");
        assert_eq!(batch.schema(), reference.schema());
        by_date.extend((0..batch.num_rows()).map(|row| (days[0], batch, row)));
    }
    assert_eq!(by_date.len(), reference.num_rows());
    let reference_days = dates(&reference);
    for day in reference_days.iter().copied().collect::<std::collections::BTreeSet<_>>() {
        let expected = (0..reference.num_rows()).filter(|r| reference_days[*r] == day);
        let got = by_date.iter().filter(|(d, _, _)| *d == day);
        for (r, (_, batch, row)) in expected.zip(got) {
            for (c, column) in reference.columns().iter().enumerate() {
                let name = reference.schema().field(c).name().clone();
                assert_eq!(
                    &column.slice(r, 1),
                    &batch.column(c).slice(*row, 1),
                    "{name} of row {r} (day {day})"
                );
            }
        }
    }
}

#[test]
fn rows_of_mixed_dates_come_out_one_batch_per_date_in_date_order() {
    let lines: Vec<String> =
        [2, 0, 2, 1, 0, 2].iter().enumerate().map(|(n, d)| line(Some(*d), n, n % 2 == 0)).collect();
    let batches = dated(&lines, 100);
    let firsts: Vec<i32> = batches.iter().map(|b| dates(b)[0]).collect();
    let rows: Vec<usize> = batches.iter().map(RecordBatch::num_rows).collect();
    assert_eq!(firsts, [19675, 19676, 19677]);
    assert_eq!(rows, [2, 1, 3]);
    assert_same_rows(&lines, 100);
}

#[test]
fn full_counts_the_rows_of_every_date_and_dates_without_rows_are_let_go_of() {
    let mut builder =
        DatedEventBatchBuilder::new(LineFormat::Export, TimeCorrection::None, 3, 4, typed());
    for (n, day) in [0, 1, 2].into_iter().enumerate() {
        builder.push_line(line(Some(day), n, true).as_bytes()).expect("valid");
    }
    assert!(!builder.is_full());
    assert!(builder.push_line(b"{").is_err(), "a bad line adds no row");
    assert!(!builder.is_full());
    builder.push_line(line(Some(1), 3, false).as_bytes()).expect("valid");
    assert!(builder.is_full() && builder.len() == 4);
    assert_eq!(builder.finish().expect("rows").len(), 3);
    assert!(builder.is_empty() && builder.finish().is_none());
    builder.push_line(line(Some(5), 4, false).as_bytes()).expect("valid");
    assert_eq!(builder.finish().expect("rows").len(), 1);
    assert!(format!("{builder:?}").contains("parts: 1"), "{builder:?}");
}

#[test]
fn a_date_with_more_rows_than_it_was_sized_for_grows() {
    // Each new date starts with room for an eighth of a batch (at least 16 rows).
    let lines: Vec<String> = (0..300).map(|n| line(Some(0), n, true)).collect();
    assert_same_rows(&lines, 256);
    let lines: Vec<String> = (0..300).map(|n| line(Some((n / 7 % 3) as u8), n, true)).collect();
    assert_same_rows(&lines, 64);
}

proptest! {
    #[test]
    fn dated_batches_hold_the_same_rows_as_one_batch(
        rows in proptest::collection::vec((proptest::option::weighted(0.9, 0u8..6), any::<bool>()), 1..200),
        batch_rows in 1usize..40,
    ) {
        let lines: Vec<String> =
            rows.iter().enumerate().map(|(n, (day, browser))| line(*day, n, *browser)).collect();
        prop_assume!(rows.iter().any(|(day, _)| day.is_some()));
        assert_same_rows(&lines, batch_rows);
    }
}

#[test]
fn after_a_batch_of_many_dates_the_next_keeps_its_dates_mixed_until_they_are_few_again() {
    let days = |batches: &[RecordBatch]| -> Vec<usize> {
        batches
            .iter()
            .map(|b| dates(b).iter().collect::<std::collections::BTreeSet<_>>().len())
            .collect()
    };
    let mut builder =
        DatedEventBatchBuilder::new(LineFormat::Export, TimeCorrection::None, 3, 40, typed());
    let push = |builder: &mut DatedEventBatchBuilder, day: u8, n: usize| {
        builder.push_line(line(Some(day), n, n.is_multiple_of(2)).as_bytes()).expect("valid");
    };
    // 40 rows over 40 dates: a batch for each of the first 32, one for the other 8, and the
    // next batch is mixed.
    (0..40).for_each(|n| push(&mut builder, n as u8, n));
    let first = days(&builder.finish().expect("rows"));
    assert_eq!((first.len(), first[..32].iter().all(|d| *d == 1), first[32]), (33, true, 8));
    (0..40).for_each(|n| push(&mut builder, (n % 34) as u8, n));
    assert_eq!(days(&builder.finish().expect("rows")), [34], "one batch of 34 dates");
    // Still over 32: mixed again; then few dates: one batch per date once more.
    (0..40).for_each(|n| push(&mut builder, (n % 3) as u8, n));
    assert_eq!(days(&builder.finish().expect("rows")), [3]);
    (0..40).for_each(|n| push(&mut builder, (n % 3) as u8, n));
    assert_eq!(days(&builder.finish().expect("rows")), [1, 1, 1]);
}

#[test]
fn mixed_batches_hold_the_same_rows_as_one_batch() {
    // 200 rows over 60 dates in batches of 64: the first batch goes apart by date, the later
    // ones mixed; every date's rows still come out in order with every column equal.
    let lines: Vec<String> =
        (0..200).map(|n| line(Some((n * 7 % 60) as u8), n, n.is_multiple_of(3))).collect();
    let reference = one_batch(&lines);
    let mut rows_by_date: std::collections::BTreeMap<i32, Vec<(RecordBatch, usize)>> =
        std::collections::BTreeMap::new();
    for batch in dated(&lines, 64) {
        for (row, day) in dates(&batch).into_iter().enumerate() {
            rows_by_date.entry(day).or_default().push((batch.clone(), row));
        }
    }
    let reference_days = dates(&reference);
    for (day, got) in rows_by_date {
        let expected: Vec<usize> =
            (0..reference.num_rows()).filter(|r| reference_days[*r] == day).collect();
        assert_eq!(expected.len(), got.len(), "rows of day {day}");
        for (r, (batch, row)) in expected.into_iter().zip(got) {
            for c in 0..reference.num_columns() {
                assert_eq!(&reference.column(c).slice(r, 1), &batch.column(c).slice(row, 1));
            }
        }
    }
}

#[test]
fn dates_of_the_last_batch_without_rows_in_this_one_give_up_their_place() {
    let mut builder =
        DatedEventBatchBuilder::new(LineFormat::Export, TimeCorrection::None, 3, 20, typed());
    let mut batch_of = |first: u8, dates: u8| {
        (0..20).for_each(|n| {
            let day = first + (n % usize::from(dates)) as u8;
            builder.push_line(line(Some(day), n, true).as_bytes()).expect("valid");
        });
        let batches = builder.finish().expect("rows");
        batches.iter().map(dates_in).collect::<Vec<_>>()
    };
    // Two batches of 20 dates each, the second's all new: each date gets a batch of its own
    // (the first batch's dates do not hold places), and neither counts as more than 32.
    assert_eq!(batch_of(0, 20), [1; 20]);
    assert_eq!(batch_of(20, 20), [1; 20]);
    assert_eq!(batch_of(0, 3), [1, 1, 1], "apart, not mixed");
}

fn dates_in(batch: &RecordBatch) -> usize {
    dates(batch).iter().collect::<std::collections::BTreeSet<_>>().len()
}
