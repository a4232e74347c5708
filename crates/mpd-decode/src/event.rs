//! Event lines: the raw export's `{"event","properties"}` and JSON pipelines'
//! `{"event_name","time","distinct_id",…,"properties"}`.

use std::borrow::Cow;
use std::fmt;

use chrono::NaiveDate;

use crate::error::LineError;
use crate::parse::{Doc, Member, Parser, ROOT};
use crate::time;
use crate::typed::{TypedColumns, TypedHits, TypedProperties};

/// One event, borrowing from its line where no unescaping was needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord<'a> {
    /// `event` (export) or `event_name` (pipelines); each format falls back to the other key.
    pub event_name: Cow<'a, str>,
    /// Microseconds since the epoch, UTC, after the [`TimeCorrection`].
    pub time_us: i64,
    /// UTC day of `time_us`, as days since 1970-01-01 (see [`EventRecord::date`]).
    pub day: i32,
    /// `""` when missing or null: the row is kept (hot-shard rows have `""` too).
    pub distinct_id: Cow<'a, str>,
    /// `$device_id`.
    pub device_id: Option<Cow<'a, str>>,
    /// `$user_id`.
    pub user_id: Option<Cow<'a, str>>,
    /// `$insert_id`.
    pub insert_id: Option<Cow<'a, str>>,
    /// `mp_processing_time_ms`, when a number that is a representable timestamp.
    pub mp_processing_time_ms: Option<i64>,
    /// The original text of the `properties` object, byte for byte.
    pub properties: &'a str,
}

impl EventRecord<'_> {
    /// The UTC calendar date of `time_us`.
    #[must_use]
    pub fn date(&self) -> NaiveDate {
        time::day_date(self.day)
    }
}

/// Where the fields of an event line live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LineFormat {
    /// Raw event export: `event`, and everything else inside `properties`
    /// (`time`, `distinct_id`, `$device_id`, `$user_id`, `$insert_id`, `mp_processing_time_ms`).
    #[default]
    Export,
    /// JSON pipelines files: top-level `event_name`, `time`, `distinct_id`, `device_id`,
    /// `user_id`, `insert_id`, `mp_processing_time_ms`. `time` falls back to `properties.time`
    /// when missing; the ids and `mp_processing_time_ms` fall back to their `properties`
    /// counterparts (`$device_id`, …) when missing, null or of an unusable type.
    Pipelines,
}

/// How to turn the exported `time` into true UTC. JSON pipelines files are UTC already
/// (mixpanel-api notes §6.1), so they want [`TimeCorrection::None`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TimeCorrection {
    /// `time` is UTC already (projects created from 2023 on).
    #[default]
    None,
    /// Projects created before 2023 export project-local epochs: this UTC offset of the project,
    /// in seconds east of UTC, is subtracted.
    FixedOffsetSecs(i32),
}

impl TimeCorrection {
    fn apply(self, us: i64) -> Option<i64> {
        match self {
            TimeCorrection::None => Some(us),
            TimeCorrection::FixedOffsetSecs(secs) => us.checked_sub(i64::from(secs) * 1_000_000),
        }
    }
}

/// Decodes event lines one at a time, reusing its parse buffers between lines.
pub struct EventDecoder {
    format: LineFormat,
    correction: TimeCorrection,
    parser: Parser,
}

impl fmt::Debug for EventDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventDecoder")
            .field("format", &self.format)
            .field("correction", &self.correction)
            .finish_non_exhaustive()
    }
}

impl EventDecoder {
    /// A decoder for lines of `format`, applying `correction` to every `time`.
    #[must_use]
    pub fn new(format: LineFormat, correction: TimeCorrection) -> Self {
        Self { format, correction, parser: Parser::new() }
    }

    /// Parses one line (without its `\n`).
    ///
    /// # Errors
    ///
    /// Malformed JSON, a non-object, a missing or non-object `properties`, a missing or
    /// non-string event name, a missing or non-numeric `time` (or one out of range) give a
    /// [`LineError`] with the reason and, where known, the column.
    pub fn decode<'a>(&mut self, line: &'a [u8]) -> Result<EventRecord<'a>, LineError> {
        let (format, correction) = (self.format, self.correction);
        let read = |doc: &Doc<'_, '_, 'a>| read_event(doc, format, correction, NO_TYPED);
        self.parser.parse_wanting(line, |key| property_tag(key, None), read)
    }

    /// As [`decode`](Self::decode), and on success appends the row's typed properties (if
    /// there are any) to the columns `columns` picks for the row's day (nothing is appended
    /// for a line that fails).
    pub(crate) fn decode_typed<'a, 'c>(
        &mut self,
        line: &'a [u8],
        typed: &TypedProperties,
        columns: impl FnOnce(i32) -> &'c mut TypedColumns,
    ) -> Result<EventRecord<'a>, LineError> {
        let (format, correction) = (self.format, self.correction);
        let typed = (!typed.is_empty()).then_some((typed, columns));
        let typed_keys = typed.as_ref().map(|(typed, _)| *typed);
        let wanted = |key: &[u8]| property_tag(key, typed_keys);
        self.parser.parse_wanting(line, wanted, |doc| read_event(doc, format, correction, typed))
    }
}

/// The keys of `properties` that [`read_event`] reads (besides typed ones), in the order of
/// their tags.
const PROPERTY_KEYS: [&[u8]; 6] =
    [b"time", b"distinct_id", b"$device_id", b"$user_id", b"$insert_id", b"mp_processing_time_ms"];

/// What [`read_event`] does with a member of `properties` whose key is `key`: bits 0–2 hold
/// 1 + its index in [`PROPERTY_KEYS`], bits 3–7 1 + its index among the typed keys (a key can
/// be both); 0 for a key it does not read. The parser records the members tagged other than 0
/// and keeps their tags, so that each key is compared once.
fn property_tag(key: &[u8], typed: Option<&TypedProperties>) -> u16 {
    const LENGTHS: u64 = {
        let (mut bits, mut i) = (0u64, 0);
        while i < PROPERTY_KEYS.len() {
            bits |= 1 << PROPERTY_KEYS[i].len();
            i += 1;
        }
        bits
    };
    let mut tag = 0;
    // Most keys are ruled out by their length alone.
    if key.len() < 64 && LENGTHS & (1 << key.len()) != 0 {
        tag = PROPERTY_KEYS.iter().position(|k| *k == key).map_or(0, |i| i as u16 + 1);
    }
    if let Some(i) = typed.and_then(|typed| typed.position(key)) {
        tag |= (i as u16 + 1) << 3;
    }
    tag
}

/// Picks the typed columns a row's values go to, by the row's day.
type PickColumns = fn(i32) -> &'static mut TypedColumns;

/// No typed properties to read (a plain function type, so that `read_event`'s picker has one).
const NO_TYPED: Option<(&TypedProperties, PickColumns)> = None;

/// Members of interest in one object, by key; a repeated key keeps its last occurrence.
#[derive(Default)]
struct Fields<'s> {
    event: Option<Member<'s>>,
    event_name: Option<Member<'s>>,
    properties: Option<Member<'s>>,
    time: Option<Member<'s>>,
    distinct_id: Option<Member<'s>>,
    device_id: Option<Member<'s>>,
    user_id: Option<Member<'s>>,
    insert_id: Option<Member<'s>>,
    mp_processing_time_ms: Option<Member<'s>>,
}

impl<'s> Fields<'s> {
    /// The members of interest of the root object (the top-level spelling of the ids, as JSON
    /// pipelines write them: `device_id`, not `$device_id`).
    fn collect(members: impl Iterator<Item = Member<'s>>) -> Self {
        let mut f = Fields::default();
        for m in members {
            let slot = match m.key {
                "event" => &mut f.event,
                "event_name" => &mut f.event_name,
                "properties" => &mut f.properties,
                "time" => &mut f.time,
                "distinct_id" => &mut f.distinct_id,
                "device_id" => &mut f.device_id,
                "user_id" => &mut f.user_id,
                "insert_id" => &mut f.insert_id,
                "mp_processing_time_ms" => &mut f.mp_processing_time_ms,
                _ => continue,
            };
            *slot = Some(m);
        }
        f
    }
}

fn read_event<'a, 'c>(
    doc: &Doc<'_, '_, 'a>,
    format: LineFormat,
    correction: TimeCorrection,
    typed: Option<(&TypedProperties, impl FnOnce(i32) -> &'c mut TypedColumns)>,
) -> Result<EventRecord<'a>, LineError> {
    let Some(members) = doc.members(ROOT) else {
        let reason = format!("line is not a JSON object (found {})", doc.kind(ROOT));
        return Err(LineError::new(reason, doc.root_column()));
    };
    let top = Fields::collect(members);

    let Some(props) = top.properties else {
        return Err(LineError::new("missing `properties`", None));
    };
    let Some(props_members) = doc.members(props.value) else {
        let reason = format!("`properties` is not an object (found {})", doc.kind(props.value));
        return Err(LineError::new(reason, doc.column(props.value)));
    };
    let Some(properties) = doc.value_text(props.value) else {
        return Err(LineError::new("could not locate `properties` in the line", None));
    };
    // By tag: a read key's last occurrence counts, as in `Fields::collect`; a typed key's
    // first, as the JSON functions read it. A key with escapes comes untagged.
    let typed_keys = typed.as_ref().map(|(typed, _)| *typed);
    let mut read: [Option<Member<'_>>; 1 + PROPERTY_KEYS.len()] = [None; 1 + PROPERTY_KEYS.len()];
    let mut hits = TypedHits::default();
    for m in props_members {
        let tag = match m.tag {
            0 => property_tag(m.key.as_bytes(), typed_keys),
            tag => tag,
        };
        read[usize::from(tag & 7).min(PROPERTY_KEYS.len())] = Some(m);
        if let Some(i) = usize::from(tag >> 3).checked_sub(1) {
            hits.see_at(i, m);
        }
    }
    let [_, time, distinct_id, device_id, user_id, insert_id, mp_processing_time_ms] = read;
    let inner = Fields {
        time,
        distinct_id,
        device_id,
        user_id,
        insert_id,
        mp_processing_time_ms,
        ..Fields::default()
    };

    let pipelines = format == LineFormat::Pipelines;

    let (name_key, name) = match format {
        LineFormat::Export => ("event", top.event.or(top.event_name)),
        LineFormat::Pipelines => ("event_name", top.event_name.or(top.event)),
    };
    let Some(name) = name else {
        return Err(LineError::new(format!("missing event name `{name_key}`"), None));
    };
    let Some(event_name) = doc.string(name.value) else {
        let reason =
            format!("event name `{}` is not a string (found {})", name.key, doc.kind(name.value));
        return Err(LineError::new(reason, doc.column(name.value)));
    };

    let time_field = match format {
        LineFormat::Export => inner.time,
        LineFormat::Pipelines => top.time.or(inner.time),
    };
    let time_key = if pipelines { "time" } else { "properties.time" };
    let Some(time_member) = time_field else {
        return Err(LineError::new(format!("missing `{time_key}`"), None));
    };
    let column = || doc.column(time_member.value);
    let Some(raw_time) = doc.number(time_member.value) else {
        let reason =
            format!("`{time_key}` is not a number (found {})", doc.kind(time_member.value));
        return Err(LineError::new(reason, column()));
    };
    let utc = time::epoch_to_us(raw_time).and_then(|us| correction.apply(us));
    let Some((time_us, day)) = utc.and_then(|us| Some((us, time::utc_day(us)?))) else {
        return Err(LineError::new(format!("`{time_key}` is out of range"), column()));
    };

    // Pipelines put the ids at the top level; a null or missing one falls back to `properties`.
    let id = |top_field: Option<Member<'_>>, inner_field: Option<Member<'_>>| {
        let top_value = top_field.filter(|_| pipelines).and_then(|m| doc.id_text(m.value));
        top_value.or_else(|| inner_field.and_then(|m| doc.id_text(m.value)))
    };
    let processing =
        |m: Option<Member<'_>>| m.and_then(|m| doc.number(m.value)).and_then(time::number_to_ms);

    // Last, so that a line that fails appends no typed value either.
    if let Some((_, columns)) = typed {
        columns(day).append_row(doc, &hits);
    }

    Ok(EventRecord {
        event_name,
        time_us,
        day,
        distinct_id: id(top.distinct_id, inner.distinct_id).unwrap_or(Cow::Borrowed("")),
        device_id: id(top.device_id, inner.device_id),
        user_id: id(top.user_id, inner.user_id),
        insert_id: id(top.insert_id, inner.insert_id),
        mp_processing_time_ms: processing(top.mp_processing_time_ms.filter(|_| pipelines))
            .or_else(|| processing(inner.mp_processing_time_ms)),
        properties,
    })
}

#[cfg(test)]
mod tests;
