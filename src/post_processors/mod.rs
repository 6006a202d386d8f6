//! Post-processors (`manifest`, `shell-local`, `checksum`) and chain semantics.
//!
//! This module owns their configuration; each chain element also carries the template-level
//! keys (`name`, `only`, `except`, `keep_input_artifact`) decoded by `crate::template`.

pub mod checksum;
pub mod manifest;
pub mod shell_local;

use crate::config::Decoder;

/// One configured post-processor.
#[derive(Debug, Clone, PartialEq)]
pub enum PostProcessor {
    Manifest(manifest::Config),
    Checksum(checksum::Config),
    /// Boxed: its configuration is several times the size of the others'.
    ShellLocal(Box<shell_local::Config>),
}

/// Post-processor types rpack knows.
pub const KINDS: &[&str] = &["manifest", "checksum", "shell-local"];

/// Keys of `kind` rendered only at run time (they see the build's data).
pub fn no_render(kind: &str) -> &'static [&'static str] {
    match kind {
        "manifest" => manifest::NO_RENDER,
        "checksum" => checksum::NO_RENDER,
        "shell-local" => shell_local::NO_RENDER,
        _ => &[],
    }
}

impl PostProcessor {
    /// Decodes a post-processor of type `kind`; `None` for a type rpack does not know.
    pub fn decode(kind: &str, d: &mut Decoder<'_>) -> Option<PostProcessor> {
        Some(match kind {
            "manifest" => PostProcessor::Manifest(manifest::decode(d)),
            "checksum" => PostProcessor::Checksum(checksum::decode(d)),
            "shell-local" => PostProcessor::ShellLocal(Box::new(shell_local::decode(d))),
            _ => return None,
        })
    }

    /// Packer's default for `keep_input_artifact` is overridden by these post-processors: they
    /// always keep the input artifact.
    pub fn forces_keep_input(&self) -> bool {
        true
    }

    pub fn warnings(&self) -> Vec<String> {
        match self {
            PostProcessor::ShellLocal(c) => c.warnings.clone(),
            _ => Vec::new(),
        }
    }
}
