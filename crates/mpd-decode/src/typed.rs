//! Typed hot properties: chosen keys of `properties` copied into typed columns of the events
//! table at write time (`prop_browser`, `prop_amount`, …), so a query about them reads one
//! small, dictionary-encoded column instead of parsing every row's JSON.
//!
//! Each column holds exactly what the JSON function it stands for returns on that row's
//! `properties` (datafusion-functions-json's semantics, which mpd's SQL uses), so the SQL layer
//! can swap one for the other without changing an answer:
//!
//! - [`PropertyKind::Text`] is `properties->>'key'` (`json_as_text`): a JSON string decoded,
//!   any other value but `null` as its JSON text, `null` or a missing key as SQL null;
//! - [`PropertyKind::Float`] is `json_get_float(properties, 'key')`: a JSON number, or a
//!   string that parses as a float; anything else is null.
//!
//! A repeated key counts by its first occurrence, as those functions read it. The column's
//! Arrow field carries the key and kind in its metadata ([`PROPERTY_METADATA_KEY`],
//! [`KIND_METADATA_KEY`]): the table's schema says what each typed column is.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use arrow_array::ArrayRef;
use arrow_array::builder::Float64Builder;
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use crate::batch::{Capacity, Utf8Column};
use crate::parse::{Doc, Member, Number};

/// At most this many typed properties per table.
pub const MAX_TYPED_PROPERTIES: usize = 16;
/// Field metadata: the `properties` key a typed column is taken from.
pub const PROPERTY_METADATA_KEY: &str = "mpd.property";
/// Field metadata: the [`PropertyKind`] of a typed column (`text` or `float`).
pub const KIND_METADATA_KEY: &str = "mpd.kind";
/// Every typed column's name starts with this.
pub const TYPED_COLUMN_PREFIX: &str = "prop_";

/// What a typed column holds; see the module docs for the exact rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PropertyKind {
    /// The value as text, as `properties->>'key'` gives it (`Utf8`).
    Text,
    /// The value as a float, as `json_get_float(properties, 'key')` gives it (`Float64`).
    Float,
}

impl PropertyKind {
    /// `text` or `float`, as written in settings and in field metadata.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            PropertyKind::Text => "text",
            PropertyKind::Float => "float",
        }
    }

    /// The column's Arrow type.
    #[must_use]
    pub fn data_type(self) -> DataType {
        match self {
            PropertyKind::Text => DataType::Utf8,
            PropertyKind::Float => DataType::Float64,
        }
    }
}

impl fmt::Display for PropertyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PropertyKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "text" => Ok(PropertyKind::Text),
            "float" => Ok(PropertyKind::Float),
            other => Err(format!("unknown property kind {other:?} (expected text or float)")),
        }
    }
}

/// One typed property: a key of `properties`, its column and kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TypedProperty {
    key: String,
    column: String,
    kind: PropertyKind,
}

impl TypedProperty {
    /// `key` as a column of `kind`, named by [`column_name`].
    #[must_use]
    pub fn new(key: &str, kind: PropertyKind) -> Self {
        Self { key: key.to_owned(), column: column_name(key), kind }
    }

    /// The `properties` key.
    #[must_use]
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The column's name.
    #[must_use]
    pub fn column(&self) -> &str {
        &self.column
    }

    /// The column's kind.
    #[must_use]
    pub fn kind(&self) -> PropertyKind {
        self.kind
    }

    /// The column's Arrow field (nullable), key and kind in its metadata.
    #[must_use]
    pub fn field(&self) -> Field {
        let metadata = HashMap::from([
            (PROPERTY_METADATA_KEY.to_owned(), self.key.clone()),
            (KIND_METADATA_KEY.to_owned(), self.kind.name().to_owned()),
        ]);
        Field::new(&self.column, self.kind.data_type(), true).with_metadata(metadata)
    }

    /// The typed property a field of a stored table describes: `None` for a field without
    /// mpd's metadata or whose type does not match its kind.
    #[must_use]
    pub fn from_field(field: &Field) -> Option<Self> {
        let key = field.metadata().get(PROPERTY_METADATA_KEY)?;
        let kind: PropertyKind = field.metadata().get(KIND_METADATA_KEY)?.parse().ok()?;
        (field.data_type() == &kind.data_type()).then(|| Self {
            key: key.clone(),
            column: field.name().clone(),
            kind,
        })
    }
}

/// `prop_` and the key in lowercase, a leading `$` dropped, every character but ASCII letters
/// and digits as `_`: `$browser` → `prop_browser`, `mp_country_code` → `prop_mp_country_code`.
#[must_use]
pub fn column_name(key: &str) -> String {
    let bare = key.strip_prefix('$').unwrap_or(key);
    let mut name = String::with_capacity(TYPED_COLUMN_PREFIX.len() + bare.len());
    name.push_str(TYPED_COLUMN_PREFIX);
    name.extend(
        bare.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }),
    );
    name
}

/// The typed properties of one events table, in column order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TypedProperties {
    list: Vec<TypedProperty>,
    /// Bit `n` set when some key is `n` bytes long (bit 63: 63 bytes or more), so most members
    /// of `properties` are ruled out by their length before any comparison.
    lengths: u64,
}

impl TypedProperties {
    /// No typed properties: the events table has its base columns only.
    #[must_use]
    pub fn none() -> Self {
        Self::default()
    }

    /// `list`, checked: at most [`MAX_TYPED_PROPERTIES`], no key twice, no two keys sharing a
    /// column name.
    ///
    /// # Errors
    ///
    /// Which rule `list` breaks, naming the key.
    pub fn new(list: Vec<TypedProperty>) -> Result<Self, String> {
        if list.len() > MAX_TYPED_PROPERTIES {
            return Err(format!(
                "{} typed properties given, at most {MAX_TYPED_PROPERTIES} are allowed",
                list.len()
            ));
        }
        for (i, p) in list.iter().enumerate() {
            if p.key.is_empty() {
                return Err("a typed property's key is empty".to_owned());
            }
            if let Some(q) = list[..i].iter().find(|q| q.column == p.column) {
                return Err(if q.key == p.key {
                    format!("typed property {:?} is listed twice", p.key)
                } else {
                    format!(
                        "typed properties {:?} and {:?} would share the column {}",
                        q.key, p.key, p.column
                    )
                });
            }
        }
        Ok(Self::indexed(list))
    }

    /// `list` with its keys' lengths.
    fn indexed(list: Vec<TypedProperty>) -> Self {
        let lengths = list.iter().fold(0, |bits, p| bits | length_bit(p.key.len()));
        Self { list, lengths }
    }

    /// The typed properties found in a stored table's schema, in its column order.
    #[must_use]
    pub fn from_schema(schema: &Schema) -> Self {
        Self::indexed(schema.fields().iter().filter_map(|f| TypedProperty::from_field(f)).collect())
    }

    /// The typed properties, in column order.
    #[must_use]
    pub fn list(&self) -> &[TypedProperty] {
        &self.list
    }

    /// No typed properties.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The position of `key`, if it is typed.
    #[inline]
    pub(crate) fn position(&self, key: &[u8]) -> Option<usize> {
        if self.lengths & length_bit(key.len()) == 0 {
            return None;
        }
        self.list.iter().position(|p| p.key.as_bytes() == key)
    }
}

#[inline]
fn length_bit(len: usize) -> u64 {
    1 << len.min(63)
}

/// The `events` schema with `typed`'s columns after the base columns.
#[must_use]
pub fn events_schema_with(typed: &TypedProperties) -> SchemaRef {
    let base = crate::events_schema();
    if typed.is_empty() {
        return base;
    }
    let mut fields: Vec<Field> = base.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.extend(typed.list.iter().map(TypedProperty::field));
    Arc::new(Schema::new(fields))
}

/// The members of one `properties` object holding the typed keys (the first of each).
#[derive(Default)]
pub(crate) struct TypedHits<'s> {
    found: [Option<Member<'s>>; MAX_TYPED_PROPERTIES],
}

impl<'s> TypedHits<'s> {
    /// Notes `m` as the member of the `i`-th typed key, unless one was seen before.
    #[inline]
    pub(crate) fn see_at(&mut self, i: usize, m: Member<'s>) {
        if let Some(found @ None) = self.found.get_mut(i) {
            *found = Some(m);
        }
    }

    /// Notes `m` if its key is typed and not seen before (the JSON functions read the first).
    #[inline]
    pub(crate) fn see(&mut self, typed: &TypedProperties, m: Member<'s>) {
        if let Some(i) = typed.position(m.key.as_bytes()) {
            self.see_at(i, m);
        }
    }
}

/// One builder per typed column.
pub(crate) struct TypedColumns {
    columns: Vec<TypedColumn>,
}

enum TypedColumn {
    Text(Utf8Column),
    Float(Float64Builder),
}

impl TypedColumns {
    pub(crate) fn new(typed: &TypedProperties, capacity: Capacity) -> Self {
        let columns = typed
            .list
            .iter()
            .map(|p| match p.kind {
                PropertyKind::Text => TypedColumn::Text(Utf8Column::new(capacity, 16)),
                PropertyKind::Float => {
                    TypedColumn::Float(Float64Builder::with_capacity(capacity.rows))
                }
            })
            .collect();
        Self { columns }
    }

    /// Appends one row: the values `hits` found among the members of a `properties` object.
    pub(crate) fn append_row<'s>(&mut self, doc: &Doc<'_, 's, '_>, hits: &TypedHits<'s>) {
        for (column, m) in self.columns.iter_mut().zip(hits.found) {
            match column {
                TypedColumn::Text(b) => b.append_option(m.and_then(|m| text(doc, m))),
                TypedColumn::Float(b) => b.append_option(m.and_then(|m| float(doc, m))),
            }
        }
    }

    /// Appends a row of nulls.
    fn append_nulls(&mut self) {
        for column in &mut self.columns {
            match column {
                TypedColumn::Text(b) => b.append_option(None),
                TypedColumn::Float(b) => b.append_null(),
            }
        }
    }

    /// The columns so far, in order; the builders start over with room for `next`.
    pub(crate) fn finish(&mut self, next: Capacity) -> Vec<ArrayRef> {
        let rows = next.rows;
        self.columns
            .iter_mut()
            .map(|column| match column {
                TypedColumn::Text(b) => b.finish_sized(rows),
                TypedColumn::Float(b) => {
                    Arc::new(std::mem::replace(b, Float64Builder::with_capacity(rows)).finish())
                }
            })
            .collect()
    }
}

/// The typed columns of stored rows, from their `properties` texts (what `mpd tables evolve`
/// adds to a table written without them). A text that is not a JSON object gives nulls, as
/// the JSON functions do.
#[must_use]
pub fn typed_columns_of(
    typed: &TypedProperties,
    properties: &arrow_array::StringArray,
) -> Vec<ArrayRef> {
    use arrow_array::Array as _;
    let mut columns = TypedColumns::new(typed, Capacity::new(properties.len()));
    let mut parser = crate::parse::Parser::new();
    for i in 0..properties.len() {
        let text = if properties.is_null(i) { "" } else { properties.value(i) };
        let appended = parser.parse(text.as_bytes(), |doc| {
            let members = doc.members(crate::parse::ROOT).ok_or_else(not_an_object)?;
            let mut hits = TypedHits::default();
            members.for_each(|m| hits.see(typed, m));
            columns.append_row(doc, &hits);
            Ok(())
        });
        if appended.is_err() {
            columns.append_nulls();
        }
    }
    columns.finish(Capacity::new(properties.len()))
}

fn not_an_object() -> crate::LineError {
    crate::LineError::new("not an object", None)
}

/// `json_as_text`: a string decoded, `null` absent, anything else as its JSON text.
fn text<'v>(doc: &Doc<'_, 'v, 'v>, m: Member<'_>) -> Option<&'v str> {
    match doc.kind(m.value) {
        "string" => doc.tape_string(m.value),
        "null" => None,
        _ => doc.value_text(m.value),
    }
}

/// `json_get_float`: a number, or a string that parses as one.
fn float(doc: &Doc<'_, '_, '_>, m: Member<'_>) -> Option<f64> {
    #[allow(clippy::cast_precision_loss, reason = "as json_get_float converts integers")]
    match doc.number(m.value) {
        Some(Number::Int(n)) => Some(n as f64),
        Some(Number::UInt(n)) => Some(n as f64),
        Some(Number::Float(f)) => Some(f),
        None => doc.tape_string(m.value).and_then(|s| s.parse::<f64>().ok()),
    }
}

#[cfg(test)]
mod tests;
