//! Steps shared by more than one builder.

pub mod connect;
