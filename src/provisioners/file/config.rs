//! `file` provisioner configuration (Packer 1.6.6 `provisioner/file`).

use crate::decoder::Decoder;
use crate::gocompat::fmt::stat_error as go_stat_error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    #[default]
    Upload,
    Download,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `sources` followed by `source`, as Packer appends it.
    pub sources: Vec<String>,
    pub destination: String,
    pub direction: Direction,
    pub generated: bool,
    /// `content`: text uploaded as the destination file (newer than Packer 1.6.6).
    pub content: Option<String>,
}

pub fn decode(d: &mut Decoder) -> Config {
    let source = d.string("source").filter(|s| !s.is_empty());
    let mut sources = d.string_list("sources").unwrap_or_default();
    let destination = d.string("destination").unwrap_or_default();
    let direction_raw = d.string("direction").unwrap_or_default();
    let generated = d.bool("generated").unwrap_or(false);
    let content = d.string("content").filter(|s| !s.is_empty());
    if let Some(s) = source {
        sources.push(s);
    }
    let direction = match direction_raw.as_str() {
        "" | "upload" => Direction::Upload,
        "download" => Direction::Download,
        _ => {
            d.error("direction", "Direction must be one of: download, upload.");
            Direction::Upload
        }
    };
    let sources: Vec<String> = sources
        .into_iter()
        .map(|s| {
            let p = crate::shell_local::script::resolve(&d.base_dir, &s);
            p.to_string_lossy().into_owned()
        })
        .collect();
    if direction == Direction::Upload && !generated {
        for src in &sources {
            if let Err(e) = std::fs::metadata(src) {
                d.error(
                    "source",
                    format!(
                        "Bad source '{src}': {}",
                        go_stat_error(std::path::Path::new(src), &e)
                    ),
                );
            }
        }
    }
    if content.is_some() && !sources.is_empty() {
        d.error("content", "Cannot specify both source(s) and content");
    }
    if content.is_some() && direction == Direction::Download {
        d.error(
            "content",
            "content can only be uploaded (direction: upload)",
        );
    }
    if sources.is_empty() && content.is_none() {
        d.error("source", "Source must be specified.");
    }
    if destination.is_empty() {
        d.error("destination", "Destination must be specified.");
    }
    if sources.len() > 1 && !destination.ends_with('/') {
        d.error(
            "destination",
            "Destination must be a directory when uploading multiple files.",
        );
    }
    Config {
        sources,
        destination,
        direction,
        generated,
        content,
    }
}
