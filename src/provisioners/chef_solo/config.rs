//! `chef-solo` provisioner configuration: Packer 1.6.6's keys, defaults and validation messages
//! (unix guests).

use std::path::PathBuf;

use crate::decoder::Decoder;
use crate::provisioners::staging::{absolute, check_guest_os, check_path, Kind};
use crate::template::json::{Node, Value};

pub const DEFAULT_EXECUTE: &str =
    "{{if .Sudo}}sudo {{end}}chef-solo --no-color -c {{.ConfigPath}} -j {{.JsonPath}}";
pub const DEFAULT_INSTALL: &str = "curl -L https://omnitruck.chef.io/install.sh | {{if .Sudo}}sudo {{end}}bash -s --{{if .Version}} -v {{.Version}}{{end}}";
pub const DEFAULT_STAGING: &str = "/tmp/packer-chef-solo";

/// Packer's `DefaultConfigTemplate` for `solo.rb`.
pub const DEFAULT_SOLO_RB: &str = r#"
chef_license 		"{{.ChefLicense}}"
cookbook_path 	[{{.CookbookPaths}}]
{{if .HasRolesPath}}
role_path		"{{.RolesPath}}"
{{end}}
{{if .HasDataBagsPath}}
data_bag_path	"{{.DataBagsPath}}"
{{end}}
{{if .HasEncryptedDataBagSecretPath}}
encrypted_data_bag_secret "{{.EncryptedDataBagSecretPath}}"
{{end}}
{{if .HasEnvironmentsPath}}
environment_path "{{.EnvironmentsPath}}"
environment "{{.ChefEnvironment}}"
{{end}}
"#;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    pub chef_environment: String,
    pub chef_license: String,
    /// The `solo.rb` template text (`config_template`'s content, or Packer's default).
    pub config_template: String,
    pub cookbook_paths: Vec<PathBuf>,
    pub roles_path: Option<PathBuf>,
    pub data_bags_path: Option<PathBuf>,
    pub encrypted_data_bag_secret_path: Option<PathBuf>,
    pub environments_path: Option<PathBuf>,
    /// Unrendered (`.ConfigPath`, `.JsonPath`, `.Sudo`).
    pub execute_command: String,
    /// Unrendered (`.Sudo`, `.Version`).
    pub install_command: String,
    pub remote_cookbook_paths: Vec<String>,
    /// The node attributes (`json`), keys sorted as Go's encoder writes them.
    pub json: serde_json::Map<String, serde_json::Value>,
    pub prevent_sudo: bool,
    pub run_list: Vec<String>,
    pub skip_install: bool,
    pub staging_directory: String,
    pub version: String,
}

pub fn decode(d: &mut Decoder) -> Config {
    check_guest_os(d);
    let execute_command = d
        .string("execute_command")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_EXECUTE.into());
    let install_command = d
        .string("install_command")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_INSTALL.into());
    let skip_install = d.bool("skip_install").unwrap_or(false);
    let mut chef_license = d.string("chef_license").unwrap_or_default();
    if !skip_install && install_command == DEFAULT_INSTALL && chef_license.is_empty() {
        chef_license = "accept-silent".into();
    }
    let mut config_template = DEFAULT_SOLO_RB.to_string();
    if let Some(t) = d.string("config_template").filter(|s| !s.is_empty()) {
        match check_path(d, &t, Kind::File) {
            Ok(p) => match std::fs::read_to_string(&p) {
                Ok(text) => config_template = text,
                Err(e) => d.error("config_template", format!("Bad config template path: {e}")),
            },
            Err(Some(e)) => d.error("config_template", format!("Bad config template path: {e}")),
            Err(None) => d.error(
                "config_template",
                "Config template path must be a file: <nil>",
            ),
        }
    }
    let mut cookbook_paths = Vec::new();
    for p in d.string_list("cookbook_paths").unwrap_or_default() {
        match check_path(d, &p, Kind::Dir) {
            Ok(full) => cookbook_paths.push(absolute(&full)),
            Err(e) => d.error(
                "cookbook_paths",
                format!("Bad cookbook path '{p}': {}", e.unwrap_or("<nil>".into())),
            ),
        }
    }
    let roles_path = dir_key(d, "roles_path", "Bad roles path");
    let data_bags_path = dir_key(d, "data_bags_path", "Bad data bags path");
    let encrypted_data_bag_secret_path = match d
        .string("encrypted_data_bag_secret_path")
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(p) => match check_path(d, &p, Kind::File) {
            Ok(full) => Some(absolute(&full)),
            Err(e) => {
                d.error(
                    "encrypted_data_bag_secret_path",
                    format!(
                        "Bad encrypted data bag secret '{p}': {}",
                        e.unwrap_or("<nil>".into())
                    ),
                );
                None
            }
        },
    };
    let environments_path = dir_key(d, "environments_path", "Bad environments path");
    let json = match d.raw("json") {
        None => serde_json::Map::new(),
        Some(n) => match &n.value {
            Value::Null => serde_json::Map::new(),
            Value::Object(_) => match to_json(d, n) {
                serde_json::Value::Object(m) => m,
                _ => serde_json::Map::new(),
            },
            other => {
                d.error(
                    "json",
                    format!(
                        "json: expected a JSON object of node attributes, got {}",
                        other.go_type()
                    ),
                );
                serde_json::Map::new()
            }
        },
    };
    Config {
        chef_environment: d.string("chef_environment").unwrap_or_default(),
        chef_license,
        config_template,
        cookbook_paths,
        roles_path,
        data_bags_path,
        encrypted_data_bag_secret_path,
        environments_path,
        execute_command,
        install_command,
        remote_cookbook_paths: d.string_list("remote_cookbook_paths").unwrap_or_default(),
        json,
        prevent_sudo: d.bool("prevent_sudo").unwrap_or(false),
        run_list: d.string_list("run_list").unwrap_or_default(),
        skip_install,
        staging_directory: d
            .string("staging_directory")
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| DEFAULT_STAGING.into()),
        version: d.string("version").unwrap_or_default(),
    }
}

fn dir_key(d: &mut Decoder, key: &str, what: &str) -> Option<PathBuf> {
    let p = d.string(key).filter(|s| !s.is_empty())?;
    match check_path(d, &p, Kind::Dir) {
        Ok(full) => Some(absolute(&full)),
        Err(e) => {
            d.error(
                key,
                format!("{what} '{p}': {}", e.unwrap_or("<nil>".into())),
            );
            None
        }
    }
}

/// A template JSON node as serde JSON: object keys sorted (Go's map encoding), strings rendered
/// with the template's variables (Packer's `processJsonUserVars`).
fn to_json(d: &mut Decoder, n: &Node) -> serde_json::Value {
    match &n.value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Number(s) => serde_json::from_str(s).unwrap_or(serde_json::Value::Null),
        Value::String(s) => {
            let rendered = match crate::template::interp::render(s, d.ctx()) {
                Ok(r) => r,
                Err(e) => {
                    d.error(
                        "json",
                        format!("Error processing user variables in JSON: {e}"),
                    );
                    s.clone()
                }
            };
            serde_json::Value::String(rendered)
        }
        Value::Array(items) => {
            serde_json::Value::Array(items.iter().map(|i| to_json(d, i)).collect())
        }
        Value::Object(o) => {
            let mut sorted: Vec<&(String, _, Node)> = o.entries.iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(&b.0));
            let mut m = serde_json::Map::new();
            for (k, _, v) in sorted {
                m.insert(k.clone(), to_json(d, v));
            }
            serde_json::Value::Object(m)
        }
    }
}
