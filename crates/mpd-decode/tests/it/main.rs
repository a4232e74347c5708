//! Property tests of the public API against a serde_json reference of the same rules.

mod events;
mod generate;
mod reference;
mod robustness;
