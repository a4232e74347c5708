//! Safe pieces of SQL: quoted literals, property reads out of the `properties` JSON text, and
//! the `on` property of a query.
//!
//! Every user-given text (event names, property names, literals) reaches SQL only as a quoted
//! string literal, never as an identifier or raw text.

use chrono::NaiveDate;

use crate::error::{Error, Result};

/// `text` as a SQL string literal.
pub(super) fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A day as a SQL `DATE` literal.
pub(super) fn date(day: NaiveDate) -> String {
    format!("DATE '{}'", day.format("%Y-%m-%d"))
}

/// A finite number as a SQL float literal.
pub(super) fn number(value: f64) -> Result<String> {
    if !value.is_finite() {
        return Err(Error::InvalidArgument(format!("{value} is not a usable number")));
    }
    // Debug keeps a `.0` or an exponent, so SQL reads a float even for whole numbers.
    Ok(format!("{value:?}"))
}

/// The property name an `on` expression names: `plan` or `properties["plan"]`.
pub(super) fn on_property(on: &str) -> Result<String> {
    let on = on.trim();
    if let Some(inner) = on.strip_prefix("properties[").and_then(|r| r.strip_suffix(']')) {
        let inner = inner.trim();
        for quote_char in ['"', '\''] {
            if let Some(name) =
                inner.strip_prefix(quote_char).and_then(|r| r.strip_suffix(quote_char))
                && !name.is_empty()
                && !name.contains(quote_char)
            {
                return Ok(name.to_owned());
            }
        }
    } else if !on.is_empty() && !on.contains(['[', ']', '(', ')', '"']) {
        return Ok(on.to_owned());
    }
    Err(Error::InvalidArgument(format!(
        "--local segments only by a property (`plan` or `properties[\"plan\"]`), not `{on}`; \
         use `mpd query sql` for other expressions"
    )))
}

/// SQL reads of one property of the `properties` JSON, by the JSON type of its value. Each
/// read is NULL when the value is missing or has another type.
pub(super) struct PropertyReads {
    key: String,
}

impl PropertyReads {
    pub(super) fn new(name: &str) -> Self {
        Self { key: quote(name) }
    }

    /// The value when it is a JSON string.
    pub(super) fn string(&self) -> String {
        format!("json_get_str(properties, {})", self.key)
    }

    /// The value when it is a JSON number. `json_get_float` also parses strings, which a
    /// typed comparison must not do, hence the string check.
    pub(super) fn number(&self) -> String {
        format!(
            "CASE WHEN {} IS NULL THEN json_get_float(properties, {}) END",
            self.string(),
            self.key
        )
    }

    /// The value when it is a JSON boolean (strings excluded as for [`Self::number`]).
    pub(super) fn boolean(&self) -> String {
        format!(
            "CASE WHEN {} IS NULL THEN json_get_bool(properties, {}) END",
            self.string(),
            self.key
        )
    }

    /// The value's JSON text without the value's quoting: the value itself for strings,
    /// `3`, `12.5` for numbers (as serde_json writes them, so `12.50` reads `12.5`),
    /// `true`/`false`; NULL when missing, null, an object or an array.
    pub(super) fn text(&self) -> String {
        let raw = format!("json_as_text(properties, {})", self.key);
        let number = self.number();
        let boolean = self.boolean();
        format!(
            "CASE WHEN {string} IS NOT NULL THEN {string} \
             WHEN {number} IS NOT NULL THEN \
               CASE WHEN regexp_like({raw}, '^-?[0-9]+$') THEN {raw} \
                    ELSE regexp_replace(CAST({number} AS VARCHAR), '\\.0e', 'e') END \
             WHEN {boolean} THEN 'true' WHEN NOT {boolean} THEN 'false' END",
            string = self.string(),
        )
    }

    /// The value as `number(..)` reads it: numbers, numeric strings, booleans as 1 or 0.
    pub(super) fn as_number(&self) -> String {
        let boolean = self.boolean();
        format!(
            "coalesce({}, TRY_CAST(trim({}) AS DOUBLE), \
             CASE WHEN {boolean} THEN 1.0 WHEN NOT {boolean} THEN 0.0 END)",
            self.number(),
            self.string()
        )
    }

    /// Whether the property is present and not null.
    pub(super) fn defined(&self) -> String {
        format!("json_as_text(properties, {}) IS NOT NULL", self.key)
    }

    /// Whether the key is present at all (even with a null value).
    pub(super) fn present(&self) -> String {
        format!("json_contains(properties, {})", self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_double_single_quotes() {
        assert_eq!(quote("Tom's"), "'Tom''s'");
        assert_eq!(quote("'; DROP TABLE events; --"), "'''; DROP TABLE events; --'");
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn numbers_stay_floats_and_must_be_finite() {
        assert_eq!(number(7.0).unwrap(), "7.0");
        assert_eq!(number(-0.5).unwrap(), "-0.5");
        assert!(number(f64::INFINITY).is_err());
    }

    #[test]
    fn on_accepts_bare_names_and_the_properties_form() {
        assert_eq!(on_property("plan").unwrap(), "plan");
        assert_eq!(on_property(" $browser ").unwrap(), "$browser");
        assert_eq!(on_property(r#"properties["plan"]"#).unwrap(), "plan");
        assert_eq!(on_property("properties['my plan']").unwrap(), "my plan");
        assert_eq!(on_property("Tom's plan").unwrap(), "Tom's plan");
        for bad in ["", r#"number(properties["x"])"#, r#"properties["x""#, r#"user["x"]"#] {
            let error = on_property(bad).unwrap_err();
            assert!(error.to_string().contains("mpd query sql"), "{bad}: {error}");
        }
    }

    #[test]
    fn property_names_are_quoted_literals() {
        let reads = PropertyReads::new("it's");
        assert_eq!(reads.string(), "json_get_str(properties, 'it''s')");
        assert!(reads.text().contains("json_as_text(properties, 'it''s')"));
    }
}
