//! The platform workspace: the folder holding `.elasticbeanstalk/config.yml` (ebcli's format),
//! found from the current directory like ebcli does, and what every command on an existing
//! platform opens first ([`open_platform`]).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::api::Api;
use super::yaml::WorkspaceConfig;
use super::Global;

/// The lines `init` adds to `.gitignore` in a git workspace (ebcli's).
pub(crate) const GITIGNORE_BLOCK: &str = "\n# Elastic Beanstalk Files\n.elasticbeanstalk/*\n!.elasticbeanstalk/*.cfg.yml\n!.elasticbeanstalk/*.global.yml\n";

pub(crate) struct Workspace {
    pub(crate) root: PathBuf,
    pub(crate) config: WorkspaceConfig,
}

impl Workspace {
    /// The nearest folder up from the current one that has `.elasticbeanstalk/`.
    pub(crate) fn find() -> Result<Workspace> {
        let cwd = std::env::current_dir().context("reading the current directory")?;
        let root = cwd
            .ancestors()
            .find(|d| d.join(".elasticbeanstalk").is_dir())
            .map(Path::to_path_buf)
            .context("this folder is not a platform workspace: run `rpack platform init` first")?;
        Workspace::open(root)
    }

    pub(crate) fn open(root: PathBuf) -> Result<Workspace> {
        let path = root.join(".elasticbeanstalk/config.yml");
        let config = match crate::limits::read_text(&path, "workspace configuration") {
            Ok(t) => WorkspaceConfig::parse(&t)
                .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?,
            Err(_) => WorkspaceConfig::default(),
        };
        Ok(Workspace { root, config })
    }

    pub(crate) fn save(&self) -> Result<()> {
        let dir = self.root.join(".elasticbeanstalk");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join("config.yml");
        std::fs::write(&path, self.config.to_yaml())
            .with_context(|| format!("writing {}", path.display()))
    }

    /// The region to work in: the flag's, else the workspace's default region.
    pub(crate) fn region(&self, flag: Option<String>) -> Option<String> {
        flag.or_else(|| self.config.global("default_region"))
    }

    pub(crate) fn platform_name(&self) -> Result<String> {
        match self.config.global("platform_name") {
            Some(n) if self.config.global("workspace_type").as_deref() != Some("Application") => {
                Ok(n)
            }
            _ => bail!("this workspace has no platform name: run `rpack platform init NAME`"),
        }
    }
}

/// The git branch checked out in `root` (ebcli keys branch environments by it), else `default`.
pub(crate) fn current_branch(root: &Path) -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--abbrev-ref", "HEAD"])
        .current_dir(root)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| "default".into())
}

/// What every command on an existing platform starts with: the workspace around the current
/// directory, an API client for its region (or `global.region`) and the platform's name.
pub(crate) async fn open_platform(global: &Global) -> Result<(Workspace, Api, String)> {
    let ws = Workspace::find()?;
    let api = Api::load(ws.region(global.region.clone()).as_deref(), global).await?;
    let name = ws.platform_name()?;
    Ok((ws, api, name))
}
