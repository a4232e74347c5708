//! Typed hot properties: which `prop_*` columns an events table gets (the `typed_properties`
//! setting for a new table, the table's own schema for a stored one), and `mpd tables evolve`,
//! which rewrites a stored table to the setting's list.

use mpd_decode::{PropertyKind, TypedProperties, TypedProperty};
use mpd_store::{CommitInfo, Store, WriteMode};

use crate::error::Result;
use crate::workspace::Workspace;

/// What `mpd tables evolve` (or a compaction that upgraded the table) did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EvolveReport {
    /// The table.
    pub table: String,
    /// Its typed property columns before.
    pub columns_before: Vec<String>,
    /// Its typed property columns now (the `typed_properties` setting's).
    pub columns_after: Vec<String>,
    /// Whether the table was rewritten (false: it already had the setting's columns).
    pub rewritten: bool,
    /// Rows rewritten.
    pub rows: u64,
    /// Days rewritten.
    pub days: u64,
    /// Files replaced and written.
    pub files_removed: usize,
    /// Files written.
    pub files_added: usize,
    /// The table's version after.
    pub version: i64,
}

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

/// Rewrites the events table `table` with the configured typed property columns, sorted,
/// in one commit; nothing happens when it has them already.
pub(crate) async fn evolve_table(ws: &Workspace, table: &str) -> Result<EvolveReport> {
    let store = ws.store().await?;
    let _lock = store.lock_for_writing("tables evolve")?;
    let configured = ws.configured_typed_properties()?;
    match evolve_locked(store, table, &configured, "tables evolve").await? {
        Some(report) => Ok(report),
        None => {
            let columns: Vec<String> =
                configured.list().iter().map(|p| p.column().to_owned()).collect();
            Ok(EvolveReport {
                table: table.to_owned(),
                columns_before: columns.clone(),
                columns_after: columns,
                rewritten: false,
                rows: 0,
                days: 0,
                files_removed: 0,
                files_added: 0,
                version: store.version(table).await?,
            })
        }
    }
}

/// The rewrite, when `table`'s typed columns are not `configured`'s; the caller holds the
/// write lock. `command` is recorded with the commit.
pub(crate) async fn evolve_locked(
    store: &Store,
    table: &str,
    configured: &TypedProperties,
    command: &str,
) -> Result<Option<EvolveReport>> {
    let stored = TypedProperties::from_schema(&*store.schema(table).await?);
    if &stored == configured {
        return Ok(None);
    }
    let metadata = CommitInfo::new(command).to_metadata();
    let summary = mpd_ingest::evolve::rewrite_events(store, table, configured, metadata)
        .await
        .map_err(|e| e.in_table(table))?;
    Ok(Some(EvolveReport {
        table: table.to_owned(),
        columns_before: summary.columns_before,
        columns_after: summary.columns_after,
        rewritten: true,
        rows: summary.rows,
        days: summary.days,
        files_removed: summary.commit.files_removed,
        files_added: summary.commit.files_added,
        version: summary.commit.version,
    }))
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
