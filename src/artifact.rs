//! What a build produced, as the CLI and post-processors see it: Packer's `Artifact` interface
//! (builder id, id, string, files, destroy) over the builders' own artifact types.

use std::path::PathBuf;
use std::sync::Arc;

use crate::builders::{amazon_ebs, amazon_ebsvolume};

/// Packer's builder id of the file builder.
pub(crate) const FILE_BUILDER_ID: &str = "packer.file";

#[derive(Clone)]
pub(crate) enum Artifact {
    Ami(Arc<amazon_ebs::Artifact>),
    Volumes(Arc<amazon_ebsvolume::Artifact>),
    Null,
    File(PathBuf),
    /// A post-processor's output (manifest, checksum files, or shell-local's pass-through).
    PostProcessor {
        builder_id: String,
        id: String,
        string: String,
        files: Vec<PathBuf>,
    },
}

impl Artifact {
    pub(crate) fn builder_id(&self) -> String {
        match self {
            Artifact::Ami(a) => a.builder_id().to_string(),
            Artifact::Volumes(a) => a.builder_id().to_string(),
            Artifact::Null => crate::builders::null::BUILDER_ID.to_string(),
            Artifact::File(_) => FILE_BUILDER_ID.to_string(),
            Artifact::PostProcessor { builder_id, .. } => builder_id.clone(),
        }
    }

    pub(crate) fn id(&self) -> String {
        match self {
            Artifact::Ami(a) => a.id(),
            Artifact::Volumes(a) => a.id(),
            Artifact::Null => crate::builders::null::ARTIFACT_ID.to_string(),
            Artifact::File(_) => "File".to_string(),
            Artifact::PostProcessor { id, .. } => id.clone(),
        }
    }

    pub(crate) fn string(&self) -> String {
        match self {
            Artifact::Ami(a) => a.string(),
            Artifact::Volumes(a) => a.string(),
            Artifact::Null => crate::builders::null::ARTIFACT_STRING.to_string(),
            Artifact::File(p) => format!("Stored file: {}", p.display()),
            Artifact::PostProcessor { string, .. } => string.clone(),
        }
    }

    pub(crate) fn files(&self) -> Vec<PathBuf> {
        match self {
            Artifact::File(p) => vec![p.clone()],
            Artifact::PostProcessor { files, .. } => files.clone(),
            _ => Vec::new(),
        }
    }

    /// Removes what the artifact stands for (an AMI is deregistered and its snapshots deleted).
    pub(crate) async fn destroy(&self) -> anyhow::Result<()> {
        match self {
            Artifact::Ami(a) => a.destroy().await,
            Artifact::Volumes(a) => a.destroy().await,
            Artifact::File(p) => std::fs::remove_file(p)
                .or_else(|e| {
                    if e.kind() == std::io::ErrorKind::NotFound {
                        Ok(())
                    } else {
                        Err(e)
                    }
                })
                .map_err(|e| anyhow::anyhow!("removing {}: {e}", p.display())),
            Artifact::PostProcessor { files, .. } => {
                for f in files {
                    let _ = std::fs::remove_file(f);
                }
                Ok(())
            }
            Artifact::Null => Ok(()),
        }
    }

    /// Machine-readable `artifact,<i>,…` records and the human `--> build: string` line.
    pub(crate) fn report(&self, ui: &dyn crate::ui::Ui, build: &str, index: usize) {
        let i = index.to_string();
        ui.machine(build, "artifact", &[&i, "builder-id", &self.builder_id()]);
        ui.machine(build, "artifact", &[&i, "id", &self.id()]);
        ui.machine(build, "artifact", &[&i, "string", &self.string()]);
        let files = self.files();
        ui.machine(
            build,
            "artifact",
            &[&i, "files-count", &files.len().to_string()],
        );
        for (j, f) in files.iter().enumerate() {
            ui.machine(
                build,
                "artifact",
                &[&i, "file", &j.to_string(), &f.display().to_string()],
            );
        }
        ui.machine(build, "artifact", &[&i, "end"]);
        ui.say(&format!("--> {build}: {}", self.string()));
    }
}
