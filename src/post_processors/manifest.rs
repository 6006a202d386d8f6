//! `manifest` post-processor configuration (Packer 1.6.6 `post-processor/manifest`).

use crate::config::Decoder;

/// `output` may use `{{.BuildName}}`-style data, so it is rendered when the post-processor runs.
pub const NO_RENDER: &[&str] = &["output"];

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    /// Unrendered; defaults to `packer-manifest.json`.
    pub output: String,
    pub strip_path: bool,
    pub strip_time: bool,
    pub custom_data: Vec<(String, String)>,
}

pub fn decode(d: &mut Decoder<'_>) -> Config {
    Config {
        output: d
            .string("output")
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "packer-manifest.json".into()),
        strip_path: d.bool("strip_path").unwrap_or(false),
        strip_time: d.bool("strip_time").unwrap_or(false),
        custom_data: d.string_map("custom_data").unwrap_or_default(),
    }
}
