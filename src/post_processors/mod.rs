//! Post-processors (`manifest`, `shell-local`, `checksum`): their configuration, and at run
//! time the chains ([`chain`]) each build's artifact goes through.
//!
//! Each chain element also carries the template-level keys (`name`, `only`, `except`,
//! `keep_input_artifact`) decoded by `crate::plan`.

pub(crate) mod chain;
pub(crate) mod checksum;
pub(crate) mod manifest;
pub(crate) mod shell_local;

use std::io::Write as _;
use std::path::Path;

use crate::decoder::Decoder;
use crate::template::interp::Value;

/// One configured post-processor.
#[derive(Debug, Clone, PartialEq)]
pub enum PostProcessor {
    Manifest(manifest::Config),
    Checksum(checksum::Config),
    /// Boxed: its configuration is several times the size of the others'.
    ShellLocal(Box<shell_local::Config>),
}

/// A post-processor in a chain of one build.
#[derive(Debug, Clone)]
pub struct PlannedPostProcessor {
    pub kind: String,
    pub name: String,
    pub keep_input_artifact: Option<bool>,
    pub config: PostProcessor,
}

/// Post-processor types rpack knows.
pub(crate) const KINDS: &[&str] = &["manifest", "checksum", "shell-local"];

/// Keys of `kind` rendered only at run time (they see the build's data).
pub(crate) fn no_render(kind: &str) -> &'static [&'static str] {
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

/// The `.` of a run-time render: a map of strings (`.BuildName`, `.BuilderType`, …).
pub(crate) fn dot(pairs: &[(&str, &str)]) -> Value {
    Value::Map(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect(),
    )
}

/// Writes `bytes` to `path` with `mode`, creating its folder.
pub(crate) fn write_file(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)?;
    f.write_all(bytes)
}
