//! The `--local` equivalents: the same answers computed from the store with SQL.
