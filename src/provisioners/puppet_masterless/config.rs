//! `puppet-masterless` provisioner configuration: Packer 1.6.6's keys, defaults and validation
//! messages (unix guests).

use std::path::PathBuf;

use crate::decoder::Decoder;
use crate::provisioners::staging::{absolute, check_guest_os, check_path, Kind};

/// Packer's unix `execute_command`.
pub const DEFAULT_EXECUTE: &str = concat!(
    "cd {{.WorkingDir}} && ",
    r#"{{if ne .FacterVars ""}}{{.FacterVars}} {{end}}"#,
    "{{if .Sudo}}sudo -E {{end}}",
    r#"{{if ne .PuppetBinDir ""}}{{.PuppetBinDir}}/{{end}}"#,
    "puppet apply --detailed-exitcodes ",
    "{{if .Debug}}--debug {{end}}",
    r#"{{if ne .ModulePath ""}}--modulepath='{{.ModulePath}}' {{end}}"#,
    r#"{{if ne .HieraConfigPath ""}}--hiera_config='{{.HieraConfigPath}}' {{end}}"#,
    r#"{{if ne .ManifestDir ""}}--manifestdir='{{.ManifestDir}}' {{end}}"#,
    r#"{{if ne .ExtraArguments ""}}{{.ExtraArguments}} {{end}}"#,
    "{{.ManifestFile}}"
);
pub const DEFAULT_STAGING: &str = "/tmp/packer-puppet-masterless";

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    pub clean_staging_directory: bool,
    /// Unrendered (Packer's `ExecuteTemplate` fields).
    pub execute_command: String,
    /// Unrendered; rendered with the same data as `execute_command`, then joined by spaces.
    pub extra_arguments: Vec<String>,
    /// `facter` as given (sorted by name); `packer_build_name`/`packer_builder_type` are added
    /// at run time.
    pub facter: Vec<(String, String)>,
    pub hiera_config_path: Option<PathBuf>,
    pub ignore_exit_codes: bool,
    pub module_paths: Vec<PathBuf>,
    pub manifest_file: PathBuf,
    pub manifest_dir: Option<PathBuf>,
    pub prevent_sudo: bool,
    pub puppet_bin_dir: String,
    pub staging_directory: String,
    pub working_directory: String,
}

pub fn decode(d: &mut Decoder) -> Config {
    check_guest_os(d);
    // Windows-only keys (elevated runner); accepted so templates validate.
    let _ = d.string("elevated_user");
    let _ = d.string("elevated_password");
    let staging_directory = d
        .string("staging_directory")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_STAGING.into());
    let working_directory = d
        .string("working_directory")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| staging_directory.clone());
    let mut facter = d.string_map("facter").unwrap_or_default();
    facter.sort();
    let hiera_config_path = match d.string("hiera_config_path").filter(|s| !s.is_empty()) {
        None => None,
        Some(p) => match check_path(d, &p, Kind::File) {
            Ok(full) => Some(absolute(&full)),
            Err(Some(e)) => {
                d.error(
                    "hiera_config_path",
                    format!("hiera_config_path is invalid: {e}"),
                );
                None
            }
            Err(None) => {
                d.error(
                    "hiera_config_path",
                    "hiera_config_path must point to a file",
                );
                None
            }
        },
    };
    let manifest_dir = match d.string("manifest_dir").filter(|s| !s.is_empty()) {
        None => None,
        Some(p) => match check_path(d, &p, Kind::Dir) {
            Ok(full) => Some(absolute(&full)),
            Err(Some(e)) => {
                d.error("manifest_dir", format!("manifest_dir is invalid: {e}"));
                None
            }
            Err(None) => {
                d.error("manifest_dir", "manifest_dir must point to a directory");
                None
            }
        },
    };
    let mut manifest_file = PathBuf::new();
    match d.string("manifest_file").filter(|s| !s.is_empty()) {
        None => d.error("manifest_file", "A manifest_file must be specified."),
        Some(p) => match check_path(d, &p, Kind::Any) {
            Ok(full) => manifest_file = absolute(&full),
            Err(e) => d.error(
                "manifest_file",
                format!("manifest_file is invalid: {}", e.unwrap_or_default()),
            ),
        },
    }
    let mut module_paths = Vec::new();
    for (i, p) in d
        .string_list("module_paths")
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        match check_path(d, p, Kind::Dir) {
            Ok(full) => module_paths.push(absolute(&full)),
            Err(Some(e)) => d.error("module_paths", format!("module_path[{i}] is invalid: {e}")),
            Err(None) => d.error(
                "module_paths",
                format!("module_path[{i}] must point to a directory"),
            ),
        }
    }
    Config {
        clean_staging_directory: d.bool("clean_staging_directory").unwrap_or(false),
        execute_command: d
            .string("execute_command")
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| DEFAULT_EXECUTE.into()),
        extra_arguments: d.string_list("extra_arguments").unwrap_or_default(),
        facter,
        hiera_config_path,
        ignore_exit_codes: d.bool("ignore_exit_codes").unwrap_or(false),
        module_paths,
        manifest_file,
        manifest_dir,
        prevent_sudo: d.bool("prevent_sudo").unwrap_or(false),
        puppet_bin_dir: d.string("puppet_bin_dir").unwrap_or_default(),
        staging_directory,
        working_directory,
    }
}
