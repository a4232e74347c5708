//! What an agent reads before writing SQL: the tables' meaning (the server's instructions, the
//! `mpd://guide` resource and the `explain_store` prompt) and the SQL cookbook.

/// The store's tables, in the words an agent needs to write correct SQL.
pub(crate) const TABLES_GUIDE: &str = "\
mpd keeps a Mixpanel project's data in a local store (Delta Lake tables of Parquet files) and \
answers SQL over it with Apache DataFusion. Querying the store costs no Mixpanel requests; \
live tools (segmentation, funnel, retention and event_counts with local=false, list_events, \
list_properties, list_property_values) spend one of the project's 60 Query API requests per hour.

Tables:
- events: one row per event, deduplicated exactly as Mixpanel does (one row per insert_id and \
time). Columns: event_name, time (timestamp, UTC), date (the UTC day of time; the table is \
partitioned by it, so filter on date to read less), distinct_id, device_id, user_id, insert_id, \
mp_processing_time, properties (the JSON text Mixpanel sent), _sync_id, and typed copies of \
common properties (prop_browser, prop_os, prop_city, prop_mp_country_code, prop_amount, ...; \
see describe_table).
- events_resolved: a view of events plus resolved_distinct_id, the person after identity \
merges (an anonymous device and the user it logged in as are one person). Count people with \
count(DISTINCT resolved_distinct_id) FROM events_resolved, as Mixpanel's reports do.
- profiles: the latest snapshot of user profiles: distinct_id, properties (JSON text), \
last_seen.
- identity_mappings: distinct_id -> resolved_distinct_id, source (pipelines or derived).
- rejected_duplicates: the copies dedup rejected, with rejection_reason (an audit trail; do \
not count events from it).

Reading JSON properties: properties ->> '$browser' (text), json_get_str(properties, 'plan'), \
json_get_int(...), json_get_float(properties, 'amount'), json_get_bool(...). Where a typed \
column exists, ->> on its property reads the column without parsing JSON.

Write SELECT (or WITH ... SELECT) queries; DDL and DML are refused. Aggregate in SQL rather \
than reading raw rows: answers are cut to a row cap and a character budget, and say so when \
they are. The resource mpd://cookbook has worked queries (daily active users, revenue, \
funnels, retention, duplicates).";

/// Worked queries, the same page as the repository's docs (its queries run in the test suite).
pub(crate) const SQL_COOKBOOK: &str = include_str!("../../../docs/sql-cookbook.md");
