//! Tests of the push decoder: framing, split records re-joined, bad lines set aside with their place.

use arrow_array::cast::AsArray as _;

use super::*;

fn line(name: &str) -> String {
    format!(r#"{{"event":"{name}","properties":{{"time":1700000000,"distinct_id":"u"}}}}"#)
}

fn decoder(batch_rows: usize) -> EventStreamDecoder {
    EventStreamDecoder::new(LineFormat::Export, TimeCorrection::None, 1, batch_rows)
}

/// Event names of all batches from feeding `input` in pieces of `chunk` bytes.
fn names(d: &mut EventStreamDecoder, input: &[u8], chunk: usize) -> Result<Vec<Vec<String>>> {
    let mut batches = Vec::new();
    for piece in input.chunks(chunk.max(1)) {
        batches.extend(d.feed(piece)?);
    }
    batches.extend(d.finish()?);
    Ok(batches
        .iter()
        .map(|b| b.column(0).as_string::<i32>().iter().map(|s| s.unwrap().to_owned()).collect())
        .collect())
}

#[test]
fn lines_counts_offsets_and_blank_lines() {
    let input = format!("{}\r\n\n  \r\n{{oops\n{}\n\r\n[]", line("a"), line("b"));
    let a_len = line("a").len() as u64;
    for chunk in [1, 2, 3, 7, 64, input.len()] {
        let mut d = decoder(100);
        let batches = names(&mut d, input.as_bytes(), chunk).unwrap();
        assert_eq!(batches, [vec!["a".to_owned(), "b".to_owned()]], "chunk {chunk}");
        let bad = d.take_bad_lines();
        let positions: Vec<_> =
            bad.iter().map(|b| (b.line, b.byte_offset, b.text.clone())).collect();
        assert_eq!(
            positions,
            [
                (4, a_len + 2 + 1 + 4, b"{oops".to_vec()),
                (7, a_len + 2 + 1 + 4 + 6 + a_len + 1 + 2, b"[]".to_vec()),
            ],
            "chunk {chunk}"
        );
        assert!(bad[0].reason.starts_with("line is not valid JSON"), "{}", bad[0].reason);
        assert_eq!(bad[1].reason, "line is not a JSON object (found array) at column 1");
        assert!(d.take_bad_lines().is_empty());
    }
}

#[test]
fn a_batch_every_batch_rows() {
    let input: String = (0..7).map(|i| line(&i.to_string()) + "\n").collect();
    let mut d = decoder(3);
    let first = d.feed(input.as_bytes()).unwrap();
    assert_eq!(first.iter().map(|b| b.num_rows()).collect::<Vec<_>>(), [3, 3]);
    assert_eq!(d.lines_read(), 7);
    assert_eq!(d.bytes_read(), input.len() as u64);
    assert_eq!(d.finish().unwrap().map(|b| b.num_rows()), Some(1));
}

#[test]
fn the_final_line_may_fill_the_last_batch() {
    let input = format!("{}\n{}", line("a"), line("b"));
    let mut d = decoder(2);
    assert!(d.feed(input.as_bytes()).unwrap().is_empty());
    assert_eq!(d.finish().unwrap().map(|b| b.num_rows()), Some(2));
    assert!(d.finish().unwrap().is_none());
}

#[test]
fn finish_starts_a_new_input() {
    let positions = |bad: Vec<BadLine>| -> Vec<(u64, u64, Vec<u8>)> {
        bad.into_iter().map(|b| (b.line, b.byte_offset, b.text)).collect()
    };
    let mut d = decoder(10);
    d.feed(b"bad\npartial").unwrap();
    assert!(d.finish().unwrap().is_none());
    assert_eq!(
        positions(d.take_bad_lines()),
        [(1, 0, b"bad".to_vec()), (2, 4, b"partial".to_vec())]
    );
    d.feed(b"again\n").unwrap();
    // A bad line is held back until the next line (or the end) says it is not half a record.
    assert!(d.take_bad_lines().is_empty());
    assert!(d.finish().unwrap().is_none());
    assert_eq!(positions(d.take_bad_lines()), [(1, 0, b"again".to_vec())]);
}

#[test]
fn too_long_lines_fail_whatever_the_chunking() {
    let short = line("a");
    let long = format!(r#"{{"event":"{}","properties":{{"time":1}}}}"#, "x".repeat(100));
    let input = format!("{short}\n{long}\n{short}\n");
    for chunk in [1, 5, 50, input.len()] {
        let mut d = decoder(10).with_max_line_bytes(short.len());
        let err = names(&mut d, input.as_bytes(), chunk).unwrap_err();
        let expected =
            Error::LineTooLong { line: 2, byte_offset: short.len() as u64 + 1, limit: short.len() };
        assert_eq!(err, expected, "chunk {chunk}");
        // Still failed until `finish`, which resets it: a new input decodes again.
        assert_eq!(d.finish().unwrap_err(), expected);
        assert_eq!(names(&mut d, format!("{short}\n").as_bytes(), 3).unwrap().len(), 1);
    }
}

#[test]
fn a_failed_decoder_fails_until_finish() {
    let mut d = decoder(10).with_max_line_bytes(4);
    assert!(matches!(d.feed(b"123456"), Err(Error::LineTooLong { line: 1, byte_offset: 0, .. })));
    assert!(d.feed(b"\n").is_err());
    assert!(d.finish().is_err());
    assert!(d.feed(b"\n").unwrap().is_empty());
}

#[test]
fn the_limit_counts_the_line_without_its_terminator() {
    for input in [&b"1234\r\n"[..], b"1234\n", b"1234\r", b"1234"] {
        for chunk in 1..=input.len() {
            let mut d = decoder(10).with_max_line_bytes(4);
            for piece in input.chunks(chunk) {
                d.feed(piece).unwrap();
            }
            d.finish().unwrap();
            assert_eq!(d.take_bad_lines()[0].text, b"1234", "{input:?} chunk {chunk}");
        }
    }
}

#[test]
fn bad_line_text_is_capped() {
    let long = vec![b'x'; BAD_LINE_TEXT_LIMIT + 10];
    let mut d = decoder(10);
    d.feed(&long).unwrap();
    d.finish().unwrap();
    let bad = d.take_bad_lines();
    assert_eq!(bad[0].text.len(), BAD_LINE_TEXT_LIMIT);
    assert_eq!(
        bad[0].to_error(),
        Error::Malformed { line: 1, byte_offset: 0, reason: bad[0].reason.clone() }
    );
}

#[test]
fn profile_and_identity_streams() {
    let mut profiles = ProfileStreamDecoder::new(4, 10);
    profiles.feed(b"{\"$distinct_id\":\"a\",\"$prop").unwrap();
    profiles.feed(b"erties\":{}}\n{\"distinct_id\":\"b\",\"properties\":{}}").unwrap();
    assert_eq!(profiles.finish().unwrap().map(|b| b.num_rows()), Some(2));

    let mut identity = IdentityStreamDecoder::new(IdentitySource::Pipelines, 4, 1);
    let batches = identity
        .feed(b"{\"distinct_id\":\"d\",\"resolved_distinct_id\":\"u\"}\n{\"distinct_id\":\"d\"}\n")
        .unwrap();
    assert_eq!(batches.len(), 1);
    assert!(identity.finish().unwrap().is_none());
    assert_eq!(identity.take_bad_lines()[0].line, 2);
}

/// The rows of `batches`' first column.
fn rows(batches: &[arrow_array::RecordBatch]) -> Vec<String> {
    batches
        .iter()
        .flat_map(|b| b.column(0).as_string::<i32>().iter().map(|s| s.unwrap().to_owned()))
        .collect()
}

#[test]
fn a_record_broken_over_two_lines_is_joined_once() {
    let whole = line("split");
    let (head, tail) = whole.split_at(20);
    let input = format!("{}\n{head}\n{tail}\n{}\n", line("a"), line("b"));
    for chunk in [1, 5, 64, input.len()] {
        let mut d = decoder(100);
        let mut batches = Vec::new();
        for piece in input.as_bytes().chunks(chunk) {
            batches.extend(d.feed(piece).unwrap());
        }
        assert_eq!(d.records_read(), 3, "chunk {chunk}");
        batches.extend(d.finish().unwrap());
        assert_eq!(rows(&batches), ["a", "split", "b"], "chunk {chunk}");
        assert!(d.take_bad_lines().is_empty(), "chunk {chunk}");
    }
}

#[test]
fn a_bad_line_followed_by_a_good_one_is_bad_alone() {
    let input = format!("{{oops\n{}\nnot json\n{{also not\n", line("a"));
    let mut d = decoder(100);
    let mut batches = d.feed(input.as_bytes()).unwrap();
    batches.extend(d.finish().unwrap());
    assert_eq!(rows(&batches), ["a"]);
    let bad: Vec<(u64, Vec<u8>)> =
        d.take_bad_lines().into_iter().map(|b| (b.line, b.text)).collect();
    assert_eq!(
        bad,
        [(1, b"{oops".to_vec()), (3, b"not json".to_vec()), (4, b"{also not".to_vec())]
    );
}

#[test]
fn the_truncation_marker_fails_the_input_when_asked() {
    let input = format!("{}\nterminated early\n{}\n", line("a"), line("b"));
    let mut d = decoder(100).stop_at_truncation_marker();
    let error = d.feed(input.as_bytes()).unwrap_err();
    let offset = line("a").len() as u64 + 1;
    assert_eq!(error, Error::TerminatedEarly { line: 2, byte_offset: offset });
    assert_eq!(
        error.to_string(),
        format!(
            "the export was cut short by Mixpanel: `terminated early` at line 2 (byte offset {offset})"
        )
    );
    assert!(d.finish().is_err(), "the input stays failed until finish");
    // Without the option the marker is just a bad line, and `export terminated early` too.
    let mut d = decoder(100);
    let input = format!("{}\n  Export Terminated Early \r\n", line("a"));
    assert_eq!(rows(&d.feed(input.as_bytes()).unwrap()), Vec::<String>::new());
    assert!(d.finish().unwrap().is_some());
    assert_eq!(d.take_bad_lines().len(), 1);
    let mut d = decoder(100).stop_at_truncation_marker();
    assert!(matches!(d.feed(input.as_bytes()), Err(Error::TerminatedEarly { line: 2, .. })));
}

#[test]
fn a_row_limit_stops_decoding_but_not_counting() {
    let input: String = (0..5).map(|i| line(&i.to_string()) + "\n").collect();
    let mut d = decoder(100).with_row_limit(2);
    let mut batches = d.feed(input.as_bytes()).unwrap();
    assert_eq!((d.records_read(), d.lines_read()), (2, 5));
    batches.extend(d.finish().unwrap());
    assert_eq!(rows(&batches), ["0", "1"]);
}

#[test]
fn text_output_goes_through_the_same_framing() {
    let mut d = StreamDecoder::with_builder(crate::EventTextBuilder::new(
        LineFormat::Export,
        TimeCorrection::None,
        crate::TextShape::Raw,
        1 << 20,
    ));
    let input = format!("{}\r\n\n{{bad\n{}", line("a"), line("b"));
    let mut text = d.feed(input.as_bytes()).unwrap().concat();
    text.extend(d.finish().unwrap().unwrap_or_default());
    assert_eq!(String::from_utf8(text).unwrap(), format!("{}\n{}\n", line("a"), line("b")));
    assert_eq!(d.take_bad_lines()[0].line, 3);
}
