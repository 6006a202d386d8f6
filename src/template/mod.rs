//! Packer legacy JSON templates: positioned JSON parsing, the template model, user variables,
//! the checked build plan and the Go text/template interpolation engine.

pub mod fixable;
pub mod interp;
pub mod json;
mod json_stack;
pub mod parse;
pub mod plan;
pub mod variables;
