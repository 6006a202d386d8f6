//! `ansible-local` provisioner configuration: Packer 1.6.6's keys, defaults and validation
//! messages.

use std::path::PathBuf;

use crate::decoder::Decoder;
use crate::provisioners::staging::{absolute, check_path, Kind};

pub const DEFAULT_COMMAND: &str = "ANSIBLE_FORCE_COLOR=1 PYTHONUNBUFFERED=1 ansible-playbook";
pub const DEFAULT_STAGING_PARENT: &str = "/tmp/packer-provisioner-ansible-local";

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    pub command: String,
    pub extra_arguments: Vec<String>,
    pub group_vars: Option<PathBuf>,
    pub host_vars: Option<PathBuf>,
    pub playbook_dir: Option<PathBuf>,
    pub playbook_file: Option<PathBuf>,
    /// Absolute local paths.
    pub playbook_files: Vec<PathBuf>,
    pub playbook_paths: Vec<PathBuf>,
    pub role_paths: Vec<PathBuf>,
    pub staging_directory: String,
    pub clean_staging_directory: bool,
    pub inventory_file: Option<PathBuf>,
    pub inventory_groups: Vec<String>,
    pub galaxy_file: Option<PathBuf>,
    pub galaxy_command: String,
}

/// Packer's `validateFileConfig` / `validateDirConfig` messages.
fn checked(d: &mut Decoder, key: &str, path: &str, kind: Kind) -> Option<PathBuf> {
    match check_path(d, path, kind) {
        Ok(full) => Some(absolute(&full)),
        Err(e) => {
            let msg = match e {
                Some(e) => format!("{key}: {path} is invalid: {e}"),
                None if kind == Kind::Dir => format!("{key}: {path} must point to a directory"),
                None => format!("{key}: {path} must point to a file"),
            };
            d.error(key, msg);
            None
        }
    }
}

fn opt(d: &mut Decoder, key: &str, kind: Kind) -> Option<PathBuf> {
    let p = d.string(key).filter(|s| !s.is_empty())?;
    checked(d, key, &p, kind)
}

pub fn decode(d: &mut Decoder) -> Config {
    let command = d
        .string("command")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_COMMAND.into());
    let galaxy_command = d
        .string("galaxy_command")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "ansible-galaxy".into());
    let staging_directory = d
        .string("staging_directory")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| format!("{DEFAULT_STAGING_PARENT}/{}", time_ordered_uuid()));
    let file = d.string("playbook_file").filter(|s| !s.is_empty());
    let files = d.string_list("playbook_files").unwrap_or_default();
    if !files.is_empty() && file.is_some() {
        d.error(
            "playbook_files",
            "Either playbook_file or playbook_files can be specified, not both",
        );
    }
    if files.is_empty() && file.is_none() {
        d.error(
            "playbook_file",
            "Either playbook_file or playbook_files must be specified",
        );
    }
    let playbook_file = file.and_then(|f| checked(d, "playbook_file", &f, Kind::File));
    let playbook_files = files
        .iter()
        .filter_map(|f| checked(d, "playbook_files", f, Kind::File))
        .collect();
    let inventory_file = opt(d, "inventory_file", Kind::File);
    let galaxy_file = opt(d, "galaxy_file", Kind::File);
    let playbook_dir = opt(d, "playbook_dir", Kind::Dir);
    let group_vars = opt(d, "group_vars", Kind::Dir);
    let host_vars = opt(d, "host_vars", Kind::Dir);
    let playbook_paths = d
        .string_list("playbook_paths")
        .unwrap_or_default()
        .iter()
        .filter_map(|p| checked(d, "playbook_paths", p, Kind::Dir))
        .collect();
    let role_paths = d
        .string_list("role_paths")
        .unwrap_or_default()
        .iter()
        .filter_map(|p| checked(d, "role_paths", p, Kind::Dir))
        .collect();
    Config {
        command,
        extra_arguments: d.string_list("extra_arguments").unwrap_or_default(),
        group_vars,
        host_vars,
        playbook_dir,
        playbook_file,
        playbook_files,
        playbook_paths,
        role_paths,
        staging_directory,
        clean_staging_directory: d.bool("clean_staging_directory").unwrap_or(false),
        inventory_file,
        inventory_groups: d.string_list("inventory_groups").unwrap_or_default(),
        galaxy_file,
        galaxy_command,
    }
}

/// Packer's `uuid.TimeOrderedUUID`: the Unix time in nanoseconds, then random bits, in the
/// 8-4-4-4-12 layout.
fn time_ordered_uuid() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let r = uuid::Uuid::new_v4();
    let b = r.as_bytes();
    format!(
        "{:08x}-{:04x}-{:04x}-{:02x}{:02x}-{}",
        nanos >> 32,
        (nanos >> 16) & 0xffff,
        nanos & 0xffff,
        b[0],
        b[1],
        b[2..8]
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
    )
}
