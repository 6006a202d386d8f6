//! The `manifest` post-processor (Packer 1.6.6 `post-processor/manifest`): its configuration,
//! and the run that appends the build to the JSON manifest.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::Context as _;

use super::chain::PostEnv;
use super::{dot, write_file};
use crate::artifact::Artifact;
use crate::decoder::Decoder;

/// Builds in one process append to the same manifest: one writer at a time.
static MANIFEST_LOCK: Mutex<()> = Mutex::new(());

/// `output` may use `{{.BuildName}}`-style data, so it is rendered when the post-processor runs.
pub(crate) const NO_RENDER: &[&str] = &["output"];

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    /// Unrendered; defaults to `packer-manifest.json`.
    pub output: String,
    pub strip_path: bool,
    pub strip_time: bool,
    pub custom_data: Vec<(String, String)>,
}

pub(crate) fn decode(d: &mut Decoder<'_>) -> Config {
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

pub(crate) fn write(c: &Config, input: &Artifact, env: &PostEnv<'_>) -> anyhow::Result<()> {
    let output = env.data.render(
        &c.output,
        Some(dot(&[
            ("BuildName", &env.data.build_name),
            ("BuilderType", &env.data.builder_type),
        ])),
    )?;
    let path = PathBuf::from(&output);
    let files: Vec<serde_json::Value> = input
        .files()
        .iter()
        .map(|f| {
            let size = std::fs::metadata(f).map_or(0, |m| m.len());
            let name = if c.strip_path {
                f.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            } else {
                f.display().to_string()
            };
            serde_json::json!({ "name": name, "size": size })
        })
        .collect();
    let mut custom = BTreeMap::new();
    for (k, v) in &c.custom_data {
        custom.insert(k.clone(), env.data.render(v, None)?);
    }
    let mut build = serde_json::Map::new();
    build.insert("name".into(), env.data.build_name.clone().into());
    build.insert("builder_type".into(), env.data.builder_type.clone().into());
    if !c.strip_time && env.build_time != 0 {
        build.insert("build_time".into(), env.build_time.into());
    }
    build.insert(
        "files".into(),
        if files.is_empty() {
            serde_json::Value::Null
        } else {
            files.into()
        },
    );
    build.insert("artifact_id".into(), input.id().into());
    build.insert("packer_run_uuid".into(), env.run_uuid.into());
    build.insert(
        "custom_data".into(),
        if c.custom_data.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::to_value(&custom).expect("string map serialises")
        },
    );

    let _guard = MANIFEST_LOCK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut builds = Vec::new();
    if let Ok(text) = std::fs::read_to_string(&path) {
        if !text.trim().is_empty() {
            let old: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("reading the existing manifest {}", path.display()))?;
            let last = old
                .get("last_run_uuid")
                .and_then(|v| v.as_str())
                .unwrap_or("");
            // Packer truncates only with -force and a manifest from another run.
            if !(env.force && last != env.run_uuid) {
                if let Some(b) = old.get("builds").and_then(|b| b.as_array()) {
                    builds.extend(b.iter().cloned());
                }
            }
        }
    }
    builds.push(serde_json::Value::Object(build));
    let mut doc = serde_json::Map::new();
    doc.insert("builds".into(), builds.into());
    doc.insert("last_run_uuid".into(), env.run_uuid.into());
    let text = crate::gocompat::fmt::json_escape(
        &serde_json::to_string_pretty(&serde_json::Value::Object(doc))
            .expect("manifest serialises"),
    );
    write_file(&path, text.as_bytes(), 0o664)
        .with_context(|| format!("writing manifest {}", path.display()))?;
    Ok(())
}
