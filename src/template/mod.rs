//! Packer legacy JSON templates: positioned JSON parsing, the template model, user variables,
//! and the Go text/template interpolation engine.

pub mod interp;
pub mod json;
pub mod parse;
pub mod variables;
pub mod weak;
