//! Post-processor chains at run time: each chain gets the builder's artifact, each element the
//! previous one's; `keep_input_artifact` and the post-processors' forced keeps decide whether the
//! builder artifact survives (an AMI no post-processor keeps is deregistered, as Packer does).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context as _;
use sha2::Digest as _;
use tokio_util::sync::CancellationToken;

use super::artifact::Artifact;
use super::ui::BuildUi;
use crate::post_processors::{checksum, manifest, PostProcessor};
use crate::provisioners::BuildData;
use crate::template::interp::Value;
use crate::template::plan::PlannedPostProcessor;
use crate::ui::Ui;

/// Builds in one process append to the same manifest: one writer at a time.
static MANIFEST_LOCK: Mutex<()> = Mutex::new(());

/// What the chains left: artifacts to report and errors (`Post-processor failed: …`).
pub struct ChainsOutcome {
    pub artifacts: Vec<Artifact>,
    pub errors: Vec<String>,
}

pub struct PostEnv<'a> {
    pub ui: &'a BuildUi,
    pub data: &'a BuildData,
    pub run_uuid: &'a str,
    pub force: bool,
    pub build_time: i64,
    pub cancel: &'a CancellationToken,
}

/// Runs every chain over `builder_artifact`, then keeps or destroys the builder's artifact.
pub async fn run_chains(
    chains: &[Vec<PlannedPostProcessor>],
    builder_artifact: Artifact,
    env: &PostEnv<'_>,
) -> ChainsOutcome {
    let mut artifacts = Vec::new();
    let mut errors = Vec::new();
    let mut keep_original = chains.is_empty();
    for chain in chains {
        let mut prior = builder_artifact.clone();
        let mut failed = false;
        for (i, pp) in chain.iter().enumerate() {
            if pp.name == pp.kind {
                env.ui.say(&format!("Running post-processor: {}", pp.name));
            } else {
                env.ui.say(&format!(
                    "Running post-processor: {} (type {})",
                    pp.name, pp.kind
                ));
            }
            let pui = env.ui.for_post_processor(&pp.kind);
            match run_one(pp, &prior, &pui, env).await {
                Ok((artifact, default_keep, forced)) => {
                    let keep = forced || pp.keep_input_artifact.unwrap_or(default_keep);
                    if i == 0 {
                        keep_original |= keep;
                    } else if !keep {
                        env.ui.say(&format!(
                            "Deleting prior artifact from post-processor '{}'",
                            pp.name
                        ));
                        if let Err(e) = prior.destroy().await {
                            errors.push(format!("Error destroying prior artifact: {e:#}"));
                        }
                    }
                    prior = artifact;
                }
                Err(e) => {
                    errors.push(format!("Post-processor failed: {e:#}"));
                    // Packer keeps the original when the chain could not run.
                    keep_original = true;
                    failed = true;
                    break;
                }
            }
        }
        if !failed && !chain.is_empty() {
            artifacts.push(prior);
        }
    }
    if keep_original {
        artifacts.insert(0, builder_artifact);
    } else {
        env.ui.say(&format!(
            "Deleting original artifact for build '{}'",
            env.ui.name
        ));
        if let Err(e) = builder_artifact.destroy().await {
            errors.push(format!("Error destroying original artifact: {e:#}"));
        }
    }
    ChainsOutcome { artifacts, errors }
}

/// Returns (artifact, default keep_input_artifact, keep forced).
async fn run_one(
    pp: &PlannedPostProcessor,
    input: &Artifact,
    ui: &BuildUi,
    env: &PostEnv<'_>,
) -> anyhow::Result<(Artifact, bool, bool)> {
    match &pp.config {
        PostProcessor::Manifest(c) => {
            write_manifest(c, input, env)?;
            Ok((input.clone(), true, true))
        }
        PostProcessor::Checksum(c) => Ok((checksum_files(c, input, env)?, true, true)),
        PostProcessor::ShellLocal(c) => {
            crate::provisioners::shell_local::run(c, ui, env.data, env.cancel).await?;
            Ok((input.clone(), true, true))
        }
    }
}

fn dot(pairs: &[(&str, &str)]) -> Value {
    Value::Map(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect(),
    )
}

/// Go's `json.Marshal` escapes `<`, `>`, `&`, U+2028 and U+2029; Packer's manifest shows that.
fn go_json_escape(s: &str) -> String {
    s.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

fn write_manifest(c: &manifest::Config, input: &Artifact, env: &PostEnv<'_>) -> anyhow::Result<()> {
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
            let size = std::fs::metadata(f).map(|m| m.len()).unwrap_or(0);
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

    let _guard = MANIFEST_LOCK.lock().unwrap_or_else(|e| e.into_inner());
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
    let text = go_json_escape(
        &serde_json::to_string_pretty(&serde_json::Value::Object(doc))
            .expect("manifest serialises"),
    );
    write_file(&path, text.as_bytes(), 0o664)
        .with_context(|| format!("writing manifest {}", path.display()))?;
    Ok(())
}

fn write_file(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
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

fn checksum_files(
    c: &checksum::Config,
    input: &Artifact,
    env: &PostEnv<'_>,
) -> anyhow::Result<Artifact> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_escaping_matches_encoding_json() {
        assert_eq!(go_json_escape("a<b>&c"), "a\\u003cb\\u003e\\u0026c");
    }
}
