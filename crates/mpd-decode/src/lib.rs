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
//! For the store, the same lines become Arrow [`RecordBatch`](arrow_array::RecordBatch)es of
//! the tables' schemas ([`events_schema`], [`profiles_schema`], [`identity_schema`],
//! [`rejected_duplicates_schema`]): [`EventBatchBuilder`], [`ProfileBatchBuilder`] and
//! [`IdentityBatchBuilder`] take one line at a time ([`DatedEventBatchBuilder`] makes a batch
//! per `date` of lines whose dates come mixed), and [`EventStreamDecoder`] (a
//! [`StreamDecoder`]) takes raw bytes in chunks of any size, splits lines, and collects the
//! lines it could not decode as [`BadLine`]s. [`synthetic_insert_id`] gives events without
//! `$insert_id` their deterministic dedup key.
//!
//! Lines are validated in full by a reader that records only the values the decoders look at;
//! strings borrow from the line unless they contained escapes. A line that breaks a rule gives a [`LineError`]; the caller, who knows the line
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
//! assert_eq!(event.date().to_string(), "2023-11-14");
//! assert_eq!(event.properties, r#"{"time":1700000000,"distinct_id":"u_42","$insert_id":"i-1","amount":9.99}"#);
//!
//! let mut out = Vec::new();
//! write_event_json(&event, &mut out);
//! assert!(out.starts_with(br#"{"event_name":"Purchase","time":"2023-11-14T22:13:20.000000Z","date":"2023-11-14","#));
//! # Ok::<(), mpd_decode::LineError>(())
//! ```
//!
//! ```
//! use mpd_decode::{EventStreamDecoder, LineFormat, TimeCorrection, events_schema};
//!
//! let body = b"{\"event\":\"Login\",\"properties\":{\"time\":1700000000,\"distinct_id\":\"u1\"}}\n";
//! let mut decoder = EventStreamDecoder::new(LineFormat::Export, TimeCorrection::None, 1, 8192);
//! let mut batches = decoder.feed(body)?;
//! batches.extend(decoder.finish()?);
//! assert_eq!(batches[0].schema(), events_schema());
//! assert_eq!(batches[0].num_rows(), 1);
//! assert!(decoder.take_bad_lines().is_empty());
//! # Ok::<(), mpd_decode::Error>(())
//! ```

mod batch;
mod error;
mod event;
mod insert_id;
mod json;
mod parse;
mod profile;
mod schema;
mod stream;
mod text;
mod time;
mod typed;
mod write;

pub use batch::{
    DatedEventBatchBuilder, EventBatchBuilder, IdentityBatchBuilder, IdentitySource,
    LineBatchBuilder, ProfileBatchBuilder,
};
pub use error::{Error, LineError, Result};
pub use event::{EventDecoder, EventRecord, LineFormat, TimeCorrection};
pub use insert_id::synthetic_insert_id;
pub use profile::{ProfileDecoder, ProfileRecord, decode_profile};
pub use schema::{
    events_schema, identity_schema, profiles_schema, rejected_duplicates_schema, timestamp_type,
};
pub use stream::{
    BAD_LINE_TEXT_LIMIT, BadLine, DEFAULT_MAX_LINE_BYTES, EventStreamDecoder,
    IdentityStreamDecoder, ProfileStreamDecoder, StreamDecoder,
};
pub use text::{EventTextBuilder, TextShape};
pub use typed::{
    KIND_METADATA_KEY, MAX_TYPED_PROPERTIES, PROPERTY_METADATA_KEY, PropertyKind,
    TYPED_COLUMN_PREFIX, TypedProperties, TypedProperty, column_name, events_schema_with,
    typed_columns_of,
};
pub use write::{write_event_json, write_json_string, write_profile_json};
