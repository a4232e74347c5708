//! `EventStreamDecoder`: chunking never changes the output, and its batches agree with the
//! serde_json reference line by line.

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray as _;
use arrow_array::types::{Date32Type, Int64Type, TimestampMicrosecondType};
use chrono::NaiveDate;
use mpd_decode::{BadLine, EventStreamDecoder, LineFormat, TimeCorrection, events_schema};
use proptest::prelude::*;

use crate::events::{Case, export_case, pipelines_case};
use crate::reference;

const SYNC_ID: i64 = 42;

/// One row of the events schema, read back from a batch.
#[derive(Debug, PartialEq)]
struct Row {
    event_name: String,
    time_us: i64,
    date: i32,
    distinct_id: String,
    device_id: Option<String>,
    user_id: Option<String>,
    insert_id: Option<String>,
    mp_processing_time_us: Option<i64>,
    properties: String,
    sync_id: i64,
}

fn rows(batches: &[RecordBatch]) -> Vec<Row> {
    let mut out = Vec::new();
    for batch in batches {
        assert_eq!(batch.schema(), events_schema());
        let text = |i: usize| batch.column(i).as_string::<i32>();
        let micros = |i: usize| batch.column(i).as_primitive::<TimestampMicrosecondType>();
        let owned = |s: Option<&str>| s.map(str::to_owned);
        let dates = batch.column(2).as_primitive::<Date32Type>();
        let sync = batch.column(9).as_primitive::<Int64Type>();
        for r in 0..batch.num_rows() {
            out.push(Row {
                event_name: text(0).value(r).to_owned(),
                time_us: micros(1).value(r),
                date: dates.value(r),
                distinct_id: text(3).value(r).to_owned(),
                device_id: owned(text(4).iter().nth(r).flatten()),
                user_id: owned(text(5).iter().nth(r).flatten()),
                insert_id: owned(text(6).iter().nth(r).flatten()),
                mp_processing_time_us: micros(7).iter().nth(r).flatten(),
                properties: text(8).value(r).to_owned(),
                sync_id: sync.value(r),
            });
        }
    }
    out
}

/// Feeds `input` cut at the given piece lengths (cycled), then finishes.
fn decode(
    input: &[u8],
    pieces: &[usize],
    format: LineFormat,
    batch_rows: usize,
) -> (Vec<RecordBatch>, Vec<BadLine>) {
    let mut decoder = EventStreamDecoder::new(format, TimeCorrection::None, SYNC_ID, batch_rows);
    let mut batches = Vec::new();
    let (mut at, mut n) = (0, 0);
    while at < input.len() {
        let len = pieces[n % pieces.len()].min(input.len() - at);
        batches.extend(decoder.feed(&input[at..at + len]).expect("lines are short"));
        at += len;
        n += 1;
    }
    batches.extend(decoder.finish().expect("lines are short"));
    (batches, decoder.take_bad_lines())
}

/// A line of the input: a generated event, arbitrary bytes, or blank.
fn piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => export_case().prop_map(|c| c.line.into_bytes()),
        2 => prop::collection::vec(any::<u8>(), 0..40),
        1 => "[ \t\r]{0,3}".prop_map(String::into_bytes),
    ]
}

fn input() -> impl Strategy<Value = Vec<u8>> {
    let terminator = prop_oneof![Just(&b"\n"[..]), Just(&b"\r\n"[..])];
    (prop::collection::vec((piece(), terminator), 0..16), any::<bool>()).prop_map(
        |(lines, last_terminated)| {
            let mut out = Vec::new();
            let n = lines.len();
            for (i, (line, terminator)) in lines.into_iter().enumerate() {
                out.extend_from_slice(&line);
                if i + 1 < n || last_terminated {
                    out.extend_from_slice(terminator);
                }
            }
            out
        },
    )
}

fn cases(format: LineFormat) -> BoxedStrategy<Vec<Case>> {
    let case = match format {
        LineFormat::Export => export_case().boxed(),
        LineFormat::Pipelines => pipelines_case().boxed(),
    };
    prop::collection::vec(case, 0..12).boxed()
}

fn days_since_epoch(date: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a valid date");
    i32::try_from((date - epoch).num_days()).expect("dates fit Date32")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn chunking_never_changes_the_output(
        input in input(),
        pieces in prop::collection::vec(1usize..80, 1..12),
        batch_rows in 1usize..5,
    ) {
        let (whole_batches, whole_bad) = decode(&input, &[input.len().max(1)], LineFormat::Export, batch_rows);
        let (batches, bad) = decode(&input, &pieces, LineFormat::Export, batch_rows);
        prop_assert_eq!(&batches, &whole_batches);
        prop_assert_eq!(&bad, &whole_bad);
        // Byte by byte too, the most carry-heavy way to feed.
        let (byte_batches, byte_bad) = decode(&input, &[1], LineFormat::Export, batch_rows);
        prop_assert_eq!(&byte_batches, &whole_batches);
        prop_assert_eq!(&byte_bad, &whole_bad);
        for b in &batches {
            prop_assert!(b.num_rows() >= 1 && b.num_rows() <= batch_rows);
        }
        // Every bad line's offset points at its text in the input.
        for b in &bad {
            let start = usize::try_from(b.byte_offset).unwrap();
            prop_assert_eq!(&input[start..start + b.text.len()], b.text.as_slice());
        }
    }

    #[test]
    fn batches_agree_with_the_reference(
        (format, cases) in prop_oneof![Just(LineFormat::Export), Just(LineFormat::Pipelines)]
            .prop_flat_map(|f| (Just(f), cases(f))),
        pieces in prop::collection::vec(1usize..300, 1..6),
        batch_rows in 1usize..6,
    ) {
        let input: String = cases.iter().map(|c| format!("{}\n", c.line)).collect();
        let (batches, bad) = decode(input.as_bytes(), &pieces, format, batch_rows);

        let mut expected_rows = Vec::new();
        let mut expected_bad = Vec::new();
        for (i, case) in cases.iter().enumerate() {
            match reference::decode(&case.line, format) {
                Some(e) => expected_rows.push(Row {
                    event_name: e.event_name,
                    time_us: e.time_us,
                    date: days_since_epoch(e.date),
                    distinct_id: e.distinct_id,
                    device_id: e.device_id,
                    user_id: e.user_id,
                    insert_id: e.insert_id,
                    mp_processing_time_us: e.mp_processing_time_ms.map(|ms| ms * 1_000),
                    properties: case.properties_text.clone(),
                    sync_id: SYNC_ID,
                }),
                None => expected_bad.push(i as u64 + 1),
            }
        }
        prop_assert_eq!(rows(&batches), expected_rows);
        prop_assert_eq!(bad.iter().map(|b| b.line).collect::<Vec<_>>(), expected_bad);
    }
}
