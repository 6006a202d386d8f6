//! Steps shared by more than one builder.

pub mod connect;
pub(crate) mod host_key;
