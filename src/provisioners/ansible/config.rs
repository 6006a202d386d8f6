//! `ansible` provisioner configuration: Packer 1.6.6's keys, defaults and validation messages,
//! and its `ansible-playbook --version` check at validate time.

use std::path::PathBuf;

use crate::decoder::Decoder;
use crate::provisioners::staging::{absolute, check_path, Kind};

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    pub command: String,
    pub extra_arguments: Vec<String>,
    pub ansible_env_vars: Vec<String>,
    pub playbook_file: PathBuf,
    pub ansible_ssh_extra_args: Vec<String>,
    pub groups: Vec<String>,
    pub empty_groups: Vec<String>,
    pub host_alias: String,
    /// `None`: the build's SSH user.
    pub user: Option<String>,
    pub ssh_host_key_file: Option<PathBuf>,
    pub skip_version_check: bool,
    pub use_sftp: bool,
    pub inventory_directory: Option<PathBuf>,
    /// Unrendered (`.HostAlias`, `.Host`, `.User`, `.Port` and the build data).
    pub inventory_file_template: Option<String>,
    pub inventory_file: Option<PathBuf>,
    pub keep_inventory_file: bool,
    pub galaxy_file: Option<PathBuf>,
    pub galaxy_command: String,
    pub galaxy_force_install: bool,
    pub roles_path: String,
    pub collections_path: String,
    /// Major version from `--version` (1 selects Packer's `ansible_ssh_*` inventory).
    pub ansible_major: Option<u32>,
    /// `use_proxy`: `None` lets rpack choose (direct when the build has an SSH address).
    pub use_proxy: Option<bool>,
    /// Proxy mode: the loopback port (`local_port`, default a free one).
    pub local_port: Option<u16>,
    /// Proxy mode: the public key Ansible authenticates with instead of a generated one.
    pub ssh_authorized_key_file: Option<PathBuf>,
}

fn file_key(d: &mut Decoder, key: &str, required: bool) -> Option<PathBuf> {
    let p = d.string(key).filter(|s| !s.is_empty());
    let Some(p) = p else {
        if required {
            d.error(key, format!("{key} must be specified."));
        }
        return None;
    };
    match check_path(d, &p, Kind::File) {
        Ok(full) => Some(absolute(&full)),
        Err(Some(e)) => {
            d.error(key, format!("{key}: {p} is invalid: {e}"));
            None
        }
        Err(None) => {
            d.error(key, format!("{key}: {p} must point to a file"));
            None
        }
    }
}

pub fn decode(d: &mut Decoder) -> Config {
    let command = d
        .string("command")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "ansible-playbook".into());
    let galaxy_command = d
        .string("galaxy_command")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "ansible-galaxy".into());
    let host_alias = d
        .string("host_alias")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "default".into());
    let playbook_file = file_key(d, "playbook_file", true).unwrap_or_default();
    let galaxy_file = file_key(d, "galaxy_file", false);
    // Proxy-adapter keys: checked like Packer, used only by the proxy (see `use_proxy`).
    let ssh_authorized_key_file = file_key(d, "ssh_authorized_key_file", false);
    let ssh_host_key_file = file_key(d, "ssh_host_key_file", false);
    let _ = d.string("sftp_command");
    let use_sftp = d.bool("use_sftp").unwrap_or(false);
    let mut ansible_env_vars = d.string_list("ansible_env_vars").unwrap_or_default();
    if !use_sftp {
        ansible_env_vars.push("ANSIBLE_SCP_IF_SSH=True".into());
    }
    let mut local_port = None;
    if let Some(port) = d.int("local_port") {
        match u16::try_from(port) {
            Ok(0) => {}
            Ok(p) => local_port = Some(p),
            Err(_) => d.error(
                "local_port",
                format!("local_port: {port} must be a valid port"),
            ),
        }
    }
    let inventory_directory = match d.string("inventory_directory").filter(|s| !s.is_empty()) {
        None => None,
        Some(p) => match check_path(d, &p, Kind::Dir) {
            Ok(full) => Some(absolute(&full)),
            Err(Some(e)) => {
                d.error(
                    "inventory_directory",
                    format!("inventory_directory: {p} is invalid: {e}"),
                );
                None
            }
            Err(None) => {
                d.error(
                    "inventory_directory",
                    format!("inventory_directory: {p} must point to a directory"),
                );
                None
            }
        },
    };
    let use_proxy = d.bool("use_proxy");
    let skip_version_check = d.bool("skip_version_check").unwrap_or(false);
    let mut ansible_major = None;
    if !skip_version_check && !d.keys_only {
        match version(&command) {
            Ok((_, major)) => ansible_major = Some(major),
            Err(e) => d.error("command", e),
        }
    }
    let user = d.string("user").filter(|s| !s.is_empty());
    Config {
        command,
        extra_arguments: d.string_list("extra_arguments").unwrap_or_default(),
        ansible_env_vars,
        playbook_file,
        ansible_ssh_extra_args: d.string_list("ansible_ssh_extra_args").unwrap_or_default(),
        groups: d.string_list("groups").unwrap_or_default(),
        empty_groups: d.string_list("empty_groups").unwrap_or_default(),
        host_alias,
        user,
        ssh_host_key_file,
        skip_version_check,
        use_sftp,
        inventory_directory,
        inventory_file_template: d
            .string("inventory_file_template")
            .filter(|s| !s.is_empty()),
        inventory_file: file_key(d, "inventory_file", false),
        keep_inventory_file: d.bool("keep_inventory_file").unwrap_or(false),
        galaxy_file,
        galaxy_command,
        galaxy_force_install: d.bool("galaxy_force_install").unwrap_or(false),
        roles_path: d.string("roles_path").unwrap_or_default(),
        collections_path: d.string("collections_path").unwrap_or_default(),
        ansible_major,
        use_proxy,
        local_port,
        ssh_authorized_key_file,
    }
}

/// Runs `<command> --version` and reads the version like Packer (`\w (\d+\.\d+[.\d+]*)`).
pub fn version(command: &str) -> Result<(String, u32), String> {
    let out = std::process::Command::new(command)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| {
            format!(
                "Error running \"{command} --version\": {}; or set \"skip_version_check\": true",
                crate::provisioners::staging::not_installed(command, &e)
            )
        })?;
    if !out.status.success() {
        return Err(format!(
            "Error running \"{command} --version\": {}",
            out.status
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let found = parse_version(&text)
        .ok_or_else(|| format!("Could not find {command} version in output:\n{text}"))?;
    let major = found
        .split('.')
        .next()
        .and_then(|m| m.parse::<u32>().ok())
        .ok_or_else(|| format!("Could not parse major version from \"{found}\"."))?;
    Ok((found, major))
}

/// The first `<word char> <digits>.<digits>[.digits…]` in `text`.
pub(crate) fn parse_version(text: &str) -> Option<String> {
    let b = text.as_bytes();
    for i in 1..b.len() {
        if b[i] != b' ' || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_') {
            continue;
        }
        let rest = &text[i + 1..];
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+'))
            .unwrap_or(rest.len());
        let v = &rest[..end];
        let mut parts = v.split('.');
        let (Some(a), Some(b2)) = (parts.next(), parts.next()) else {
            continue;
        };
        if !a.is_empty()
            && a.chars().all(|c| c.is_ascii_digit())
            && b2.chars().next().is_some_and(|c| c.is_ascii_digit())
        {
            return Some(v.trim_end_matches(['.', '+']).to_string());
        }
    }
    None
}
