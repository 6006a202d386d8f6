//! Packer's path helpers.

use std::path::{Path, PathBuf};

/// `~/x` → `$HOME/x` (Packer's `pathing.ExpandUser`).
pub(crate) fn expand_user(path: &str) -> PathBuf {
    if path == "~" || path.starts_with("~/") {
        if let Some(home) = std::env::var_os("HOME") {
            return Path::new(&home).join(path.trim_start_matches('~').trim_start_matches('/'));
        }
    }
    PathBuf::from(path)
}
