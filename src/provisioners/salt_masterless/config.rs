//! `salt-masterless` provisioner configuration: Packer 1.6.6's keys, defaults, validation
//! messages and the `salt-call` arguments it derives (unix guests).

use std::path::PathBuf;

use crate::decoder::Decoder;
use crate::provisioners::staging::{absolute, check_guest_os, check_path, Kind};

pub const CONFIG_DIR: &str = "/etc/salt";
pub const DEFAULT_TEMP_DIR: &str = "/tmp/salt";
pub const STATE_ROOT: &str = "/srv/salt";
pub const PILLAR_ROOT: &str = "/srv/pillar";
pub const BOOTSTRAP_FETCH: &str = "curl -L https://bootstrap.saltstack.com -o /tmp/install_salt.sh || wget -O /tmp/install_salt.sh https://bootstrap.saltstack.com";
pub const BOOTSTRAP_RUN: &str = "sh /tmp/install_salt.sh";

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    pub skip_bootstrap: bool,
    pub bootstrap_args: String,
    pub disable_sudo: bool,
    pub minion_config: Option<PathBuf>,
    pub grains_file: Option<PathBuf>,
    pub local_state_tree: PathBuf,
    pub local_pillar_roots: Option<PathBuf>,
    pub remote_state_tree: String,
    pub remote_pillar_roots: String,
    pub temp_config_dir: String,
    pub no_exit_on_failure: bool,
    pub salt_bin_dir: String,
    /// The arguments after `salt-call --local` (Packer's `CmdArgs`, leading space included).
    pub cmd_args: String,
    /// Git formula URLs fetched into `local_state_tree` before it is uploaded.
    pub formulas: Vec<String>,
}

fn optional(d: &mut Decoder, key: &str, kind: Kind) -> Option<PathBuf> {
    let p = d.string(key).filter(|s| !s.is_empty())?;
    match check_path(d, &p, kind) {
        Ok(full) => Some(absolute(&full)),
        Err(e) => {
            let msg = match e {
                Some(e) => format!("{key}: path '{p}' is invalid: {e}"),
                None if kind == Kind::Dir => format!("{key}: path '{p}' must point to a directory"),
                None => format!("{key}: path '{p}' must point to a file"),
            };
            d.error(key, msg);
            None
        }
    }
}

pub fn decode(d: &mut Decoder) -> Config {
    check_guest_os(d);
    let local_state_tree = match d.string("local_state_tree").filter(|s| !s.is_empty()) {
        None => {
            d.error("local_state_tree", "local_state_tree cannot be empty");
            PathBuf::new()
        }
        Some(_) => {
            // Re-read through the shared check (the key is marked known already).
            optional(d, "local_state_tree", Kind::Dir).unwrap_or_default()
        }
    };
    let formulas = d.string_list("formulas").unwrap_or_default();
    if !formulas.iter().all(|u| valid_formula_url(u)) {
        d.error(
            "formulas",
            "Invalid formula URL. Please verify the git URLs also contain a '//' subdir",
        );
    }
    let local_pillar_roots = optional(d, "local_pillar_roots", Kind::Dir);
    let minion_config = optional(d, "minion_config", Kind::File);
    let remote_state_tree = d.string("remote_state_tree").unwrap_or_default();
    let remote_pillar_roots = d.string("remote_pillar_roots").unwrap_or_default();
    if d.is_set("minion_config")
        && (!remote_state_tree.is_empty() || !remote_pillar_roots.is_empty())
    {
        d.error(
            "minion_config",
            "remote_state_tree and remote_pillar_roots only apply when minion_config is not used",
        );
    }
    let grains_file = optional(d, "grains_file", Kind::File);

    let custom_state = d.string("custom_state").unwrap_or_default();
    let no_exit_on_failure = d.bool("no_exit_on_failure").unwrap_or(false);
    let log_level = d.string("log_level").unwrap_or_default();
    let salt_call_args = d.string("salt_call_args").unwrap_or_default();
    let mut args = String::new();
    if custom_state.is_empty() {
        args.push_str(" state.highstate");
    } else {
        args.push_str(" state.sls ");
        args.push_str(&custom_state);
    }
    if minion_config.is_none() && !d.is_set("minion_config") {
        args.push_str(" --file-root=");
        args.push_str(if remote_state_tree.is_empty() {
            STATE_ROOT
        } else {
            &remote_state_tree
        });
        args.push_str(" --pillar-root=");
        args.push_str(if remote_pillar_roots.is_empty() {
            PILLAR_ROOT
        } else {
            &remote_pillar_roots
        });
    }
    if !no_exit_on_failure {
        args.push_str(" --retcode-passthrough");
    }
    args.push_str(" -l ");
    args.push_str(if log_level.is_empty() {
        "info"
    } else {
        &log_level
    });
    if !salt_call_args.is_empty() {
        args.push(' ');
        args.push_str(&salt_call_args);
    }
    Config {
        skip_bootstrap: d.bool("skip_bootstrap").unwrap_or(false),
        bootstrap_args: d.string("bootstrap_args").unwrap_or_default(),
        disable_sudo: d.bool("disable_sudo").unwrap_or(false),
        minion_config,
        grains_file,
        local_state_tree,
        local_pillar_roots,
        remote_state_tree,
        remote_pillar_roots,
        temp_config_dir: d
            .string("temp_config_dir")
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| DEFAULT_TEMP_DIR.into()),
        no_exit_on_failure,
        salt_bin_dir: d.string("salt_bin_dir").unwrap_or_default(),
        cmd_args: args,
        formulas,
    }
}

/// Packer's `^(.*).git\/\/[a-zA-Z0-9-_]+(\?.*)?$`.
fn valid_formula_url(u: &str) -> bool {
    let head = u.split_once('?').map_or(u, |(h, _)| h);
    let Some(i) = head.rfind("//") else {
        return false;
    };
    let (repo, sub) = (&head[..i], &head[i + 2..]);
    repo.len() >= 4
        && repo.ends_with("git")
        && !sub.is_empty()
        && sub
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
