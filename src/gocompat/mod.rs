//! Go behaviour rpack must reproduce byte for byte, because users compare rpack's output with
//! Packer's: `strconv` quoting, parsing and float formatting, `time.Duration` parsing and
//! printing, the few `fmt`/`encoding/json`/go-multierror formats Packer's messages show, and
//! `~` expansion in paths.
//!
//! A leaf: it imports nothing of the crate (the fuzz target mounts it beside the template
//! engine).

pub(crate) mod fmt;
pub(crate) mod json;
pub(crate) mod path;
pub(crate) mod strconv;
pub(crate) mod time;
