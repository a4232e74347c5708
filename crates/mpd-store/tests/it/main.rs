//! Integration tests of the store: real Delta tables in each store mode.

mod head;
mod lock;
mod maintenance;
mod object_stores;
mod privacy;
mod read;
mod sql;
mod support;
mod write;
