//! The `checksum` post-processor (Packer 1.6.6 `post-processor/checksum`): its configuration,
//! and the run that writes one checksum file per type.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use sha2::Digest as _;

use super::chain::PostEnv;
use super::{dot, write_file};
use crate::artifact::Artifact;
use crate::decoder::Decoder;

/// `output` is rendered per checksum type with `.BuildName`, `.BuilderType`, `.ChecksumType`.
pub(crate) const NO_RENDER: &[&str] = &["output"];

/// The hash names Packer accepts.
pub(crate) const TYPES: &[&str] = &["md5", "sha1", "sha224", "sha256", "sha384", "sha512"];

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    pub checksum_types: Vec<String>,
    /// Unrendered output path template.
    pub output: String,
}

pub(crate) fn decode(d: &mut Decoder<'_>) -> Config {
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

fn hash_file(kind: &str, path: &Path) -> anyhow::Result<String> {
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(match kind {
        "md5" => hex::encode(md5::Md5::digest(&data)),
        "sha1" => hex::encode(sha1::Sha1::digest(&data)),
        "sha224" => hex::encode(sha2::Sha224::digest(&data)),
        "sha256" => hex::encode(sha2::Sha256::digest(&data)),
        "sha384" => hex::encode(sha2::Sha384::digest(&data)),
        "sha512" => hex::encode(sha2::Sha512::digest(&data)),
        other => anyhow::bail!("Unrecognized checksum type: {other}"),
    })
}

pub(crate) fn run(c: &Config, input: &Artifact, env: &PostEnv<'_>) -> anyhow::Result<Artifact> {
    let mut outputs = Vec::new();
    for kind in &c.checksum_types {
        let out = env.data.render(
            &c.output,
            Some(dot(&[
                ("BuildName", &env.data.build_name),
                ("BuilderType", &env.data.builder_type),
                ("ChecksumType", kind),
            ])),
        )?;
        let out = PathBuf::from(out);
        let mut text = String::new();
        for f in input.files() {
            let name = f
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            text.push_str(&format!("{}\t{name}\n", hash_file(kind, &f)?));
        }
        write_file(&out, text.as_bytes(), 0o644)
            .with_context(|| format!("writing checksum file {}", out.display()))?;
        outputs.push(out);
    }
    Ok(Artifact::PostProcessor {
        builder_id: "packer.post-processor.checksum".into(),
        id: String::new(),
        string: format!(
            "Created artifact from files: {}",
            outputs
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        files: outputs,
    })
}
