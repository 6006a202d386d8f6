//! `checksum` post-processor configuration (Packer 1.6.6 `post-processor/checksum`).

use crate::config::Decoder;

/// `output` is rendered per checksum type with `.BuildName`, `.BuilderType`, `.ChecksumType`.
pub const NO_RENDER: &[&str] = &["output"];

/// The hash names Packer accepts.
pub const TYPES: &[&str] = &["md5", "sha1", "sha224", "sha256", "sha384", "sha512"];

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    pub checksum_types: Vec<String>,
    /// Unrendered output path template.
    pub output: String,
}

pub fn decode(d: &mut Decoder<'_>) -> Config {
    let mut types = d.string_list("checksum_types").unwrap_or_default();
    if types.is_empty() {
        types = vec!["md5".into()];
    }
    for t in &types {
        if !TYPES.contains(&t.as_str()) {
            d.error("checksum_types", format!("Unrecognized checksum type: {t}"));
        }
    }
    Config {
        checksum_types: types,
        output: d
            .string("output")
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| {
                "packer_{{.BuildName}}_{{.BuilderType}}_{{.ChecksumType}}.checksum".into()
            }),
    }
}
