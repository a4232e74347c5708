//! Property tests of the public API against a serde_json reference of the same rules.

mod alloc;
mod batches;
mod events;
mod generate;
mod insert_id;
mod reference;
mod robustness;
