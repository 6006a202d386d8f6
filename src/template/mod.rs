//! Packer templates: positioned JSON parsing, the template model, user variables, the Go
//! text/template interpolation engine, and the HCL2 front end (`hcl2`) that reads `.pkr.hcl`
//! files into the same model.

pub mod builtins;
pub(crate) mod hcl2;
pub mod interp;
pub mod json;
mod json_stack;
pub mod parse;
mod post_processor_def;
mod provisioner_def;
pub mod undefined;
pub mod upgrade;
pub mod variables;
pub mod weak;
pub(crate) mod yaml;
