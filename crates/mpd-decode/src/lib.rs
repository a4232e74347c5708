//! Mixpanel JSON lines to records: validation and normalisation, with no I/O.
//!
//! An [`EventDecoder`] turns one line of the raw event export (or of a JSON pipelines file) into
//! an [`EventRecord`] following the `events` table's rules: event name, `time` as UTC
//! microseconds (seconds or milliseconds detected by magnitude, optional [`TimeCorrection`]),
//! its UTC `date`, the ids, `mp_processing_time_ms`, and the original `properties` text byte for
//! byte. [`decode_profile`] does the same for Engage results and pipelines people lines.
//! [`write_event_json`] and [`write_profile_json`] write the normalised objects that
//! `mpd fetch … --stdout` prints.
//!
//! Lines are validated with simd-json; strings borrow from the line unless they contained
//! escapes. A line that breaks a rule gives a [`LineError`]; the caller, who knows the line
//! number and byte offset, turns it into an [`Error`] with [`LineError::at`].
//!
//! ```
//! use mpd_decode::{EventDecoder, LineFormat, TimeCorrection, write_event_json};
//!
//! let line = br#"{"event":"Purchase","properties":{"time":1700000000,"distinct_id":"u_42","$insert_id":"i-1","amount":9.99}}"#;
//! let mut decoder = EventDecoder::new(LineFormat::Export, TimeCorrection::None);
//! let event = decoder.decode(line)?;
//! assert_eq!(event.event_name, "Purchase");
//! assert_eq!(event.time_us, 1_700_000_000_000_000);
//! assert_eq!(event.date.to_string(), "2023-11-14");
//! assert_eq!(event.properties, r#"{"time":1700000000,"distinct_id":"u_42","$insert_id":"i-1","amount":9.99}"#);
//!
//! let mut out = Vec::new();
//! write_event_json(&event, &mut out);
//! assert!(out.starts_with(br#"{"event_name":"Purchase","time":"2023-11-14T22:13:20.000000Z","date":"2023-11-14","#));
//! # Ok::<(), mpd_decode::LineError>(())
//! ```

mod error;
mod event;
mod parse;
mod profile;
mod scan;
mod time;
mod write;

pub use error::{Error, LineError, Result};
pub use event::{EventDecoder, EventRecord, LineFormat, TimeCorrection};
pub use profile::{ProfileDecoder, ProfileRecord, decode_profile};
pub use write::{write_event_json, write_json_string, write_profile_json};
