//! Integration tests of the store: real Delta tables in each store mode.

mod lock;
mod maintenance;
mod privacy;
mod read;
mod s3;
mod sql;
mod support;
mod write;
