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
    let mut d = decoder(10);
    d.feed(b"bad\npartial").unwrap();
    assert!(d.finish().unwrap().is_none());
    d.feed(b"again\n").unwrap();
    let bad = d.take_bad_lines();
    let positions: Vec<_> = bad.iter().map(|b| (b.line, b.byte_offset)).collect();
    assert_eq!(positions, [(1, 0), (2, 4), (1, 0)]);
    assert_eq!(bad[1].text, b"partial");
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
    assert_eq!(identity.take_bad_lines()[0].line, 2);
}
