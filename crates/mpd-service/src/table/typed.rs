//! Typed hot properties: which `prop_*` columns an events table gets (the `typed_properties`
//! setting for a new table, the table's own schema for a stored one).

use mpd_decode::{PropertyKind, TypedProperties, TypedProperty};
use mpd_store::{Store, WriteMode};

use crate::error::Result;
use crate::workspace::Workspace;

/// The setting's key, for messages.
const SETTING: &str = "typed_properties";

impl Workspace {
    /// The typed properties the `typed_properties` setting asks for.
    pub(crate) fn configured_typed_properties(&self) -> Result<TypedProperties> {
        parse(&self.settings().typed_properties)
    }
}

/// `key:kind` entries (checked for shape when the settings were loaded) as typed properties;
/// two keys that would share a column name are an invalid setting.
fn parse(entries: &[String]) -> Result<TypedProperties> {
    let invalid =
        |message: String| mpd_config::Error::InvalidSetting { key: SETTING.to_owned(), message };
    let mut list = Vec::with_capacity(entries.len());
    for entry in entries {
        let parsed = entry.rsplit_once(':').and_then(|(key, kind)| {
            let kind: PropertyKind = kind.parse().ok()?;
            Some(TypedProperty::new(key, kind))
        });
        list.push(parsed.ok_or_else(|| invalid(format!("'{entry}' is not key:kind")))?);
    }
    Ok(TypedProperties::new(list).map_err(invalid)?)
}

/// The typed properties of events written to `table` in `mode`.
pub(crate) async fn typed_for(
    ws: &Workspace,
    store: &Store,
    table: &str,
    mode: WriteMode,
) -> Result<TypedProperties> {
    let configured = ws.configured_typed_properties()?;
    Ok(mpd_ingest::layout::events_typed(store, table, mode, &configured).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_become_typed_properties_in_order() {
        let typed = parse(&["$browser:text".to_owned(), "amount:float".to_owned()]).expect("ok");
        let columns: Vec<_> = typed.list().iter().map(|p| (p.column(), p.kind())).collect();
        assert_eq!(
            columns,
            vec![("prop_browser", PropertyKind::Text), ("prop_amount", PropertyKind::Float)]
        );
    }

    #[test]
    fn keys_sharing_a_column_are_an_invalid_setting() {
        let error = parse(&["$os:text".to_owned(), "os:text".to_owned()]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid setting `typed_properties`: typed properties \"$os\" and \"os\" would share \
             the column prop_os"
        );
    }
}
