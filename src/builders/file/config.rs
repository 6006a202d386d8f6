//! The `file` builder's configuration (Packer 1.6.6 `builder/file`): `target` plus either
//! `source` or `content`.

use crate::decoder::Decoder;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    pub source: String,
    pub target: String,
    pub content: String,
    pub warnings: Vec<String>,
}

/// Decodes a `file` builder; problems are recorded on `d`.
pub fn decode(d: &mut Decoder<'_>) -> Config {
    let mut c = Config {
        source: d.string("source").unwrap_or_default(),
        target: d.string("target").unwrap_or_default(),
        content: d.string("content").unwrap_or_default(),
        warnings: Vec::new(),
    };
    if c.target.is_empty() {
        d.error("target", "target required");
    }
    if c.content.is_empty() && c.source.is_empty() {
        c.warnings
            .push("Both source file and contents are blank; target will have no content".into());
    }
    if !c.content.is_empty() && !c.source.is_empty() {
        d.error("content", "Cannot specify source file AND content");
    }
    c
}
