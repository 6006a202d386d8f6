//! Plugin configuration: decoding a builder/provisioner/post-processor object with Packer's
//! weak typing, rendering its strings, and collecting every problem with where it is.

pub mod decode;

pub use decode::{ConfigError, Decoder};
