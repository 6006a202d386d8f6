//! The `file` builder (Packer 1.6.6 `builder/file`): copies `source` to `target`, or writes
//! `content` there. Its artifact is the target file.

pub mod config;

use std::path::PathBuf;

pub use config::{decode, Config};

use crate::ui::Ui;

/// Writes the target; returns its path (the artifact's one file).
pub fn run(cfg: &Config, ui: &dyn Ui) -> Result<PathBuf, String> {
    let target = PathBuf::from(&cfg.target);
    let res = if cfg.source.is_empty() {
        ui.say(&format!("Writing content to {}", cfg.target));
        std::fs::write(&target, &cfg.content)
    } else {
        ui.say(&format!("Copying {} to {}", cfg.source, cfg.target));
        std::fs::copy(&cfg.source, &target).map(|_| ())
    };
    res.map_err(|e| format!("writing {}: {e}", target.display()))?;
    Ok(target)
}
