//! Arbitrary and damaged input never panics, and damage is reported.

use mpd_decode::{EventDecoder, LineFormat, TimeCorrection, decode_profile};
use proptest::prelude::*;

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let mut decoder = EventDecoder::new(LineFormat::Export, TimeCorrection::FixedOffsetSecs(3600));
        let _ = decoder.decode(&bytes);
        let _ = decode_profile(&bytes);
    }

    #[test]
    fn truncated_lines_are_rejected(name in ".*", id in ".*", cut in any::<prop::sample::Index>()) {
        let line = serde_json::json!({"event": name, "properties": {"time": 1, "distinct_id": id, "a": [1, {"b": "}"}]}})
            .to_string();
        let mut decoder = EventDecoder::new(LineFormat::Export, TimeCorrection::None);
        prop_assert!(decoder.decode(line.as_bytes()).is_ok());
        let cut = cut.index(line.len());
        let err = decoder.decode(&line.as_bytes()[..cut]).expect_err("a cut line is incomplete");
        prop_assert!(err.reason.starts_with("line is not valid JSON"), "{}", err);
    }
}
