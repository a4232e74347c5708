//! Arbitrary bytes, cut into arbitrary chunks, through `EventStreamDecoder`: it must not panic,
//! and the chunking must not change the batches or the bad lines.

#![no_main]

use arrow_array::RecordBatch;
use libfuzzer_sys::fuzz_target;
use mpd_decode::{BadLine, Error, EventStreamDecoder, LineFormat, TimeCorrection};

/// Decodes `input` fed in pieces of the given lengths (cycled; 0 counts as 1).
fn decode(
    input: &[u8],
    pieces: &[u8],
    format: LineFormat,
) -> (Vec<RecordBatch>, Vec<BadLine>, Option<Error>) {
    let mut decoder = EventStreamDecoder::new(format, TimeCorrection::FixedOffsetSecs(-3600), 1, 3)
        .with_max_line_bytes(4096);
    let mut batches = Vec::new();
    let (mut at, mut n) = (0, 0);
    let mut error = None;
    while at < input.len() {
        let len =
            pieces.get(n % pieces.len().max(1)).map_or(input.len(), |&p| usize::from(p.max(1)));
        let len = len.min(input.len() - at);
        match decoder.feed(&input[at..at + len]) {
            Ok(b) => batches.extend(b),
            Err(e) => {
                error = Some(e);
                break;
            }
        }
        at += len;
        n += 1;
    }
    match decoder.finish() {
        Ok(b) => batches.extend(b),
        Err(e) => error = error.or(Some(e)),
    }
    (batches, decoder.take_bad_lines(), error)
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks the format and how many of the next bytes are piece lengths.
    let Some((&head, rest)) = data.split_first() else { return };
    let format = if head & 1 == 0 { LineFormat::Export } else { LineFormat::Pipelines };
    let n_pieces = usize::from(head >> 1).min(rest.len());
    let (pieces, input) = rest.split_at(n_pieces);

    let whole = decode(input, &[], format);
    let chunked = decode(input, pieces, format);
    assert_eq!(whole.2, chunked.2, "errors differ");
    if whole.2.is_none() {
        assert_eq!(whole.0, chunked.0, "batches differ");
        assert_eq!(whole.1, chunked.1, "bad lines differ");
    }
});
