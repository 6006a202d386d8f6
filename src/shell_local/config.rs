//! `shell-local` configuration (packer-plugin-sdk `shell-local/config.go`), shared by the
//! `shell-local` provisioner and post-processor.

use crate::decoder::Decoder;
use crate::gocompat::fmt::stat_error as go_stat_error;
use crate::shell_local::script::{
    check_env_names, check_env_vars, crlf_warning, decode_exit_codes, resolve,
};

/// GOOS names `only_on` accepts.
const SUPPORTED_OS: &[&str] = &[
    "darwin", "freebsd", "linux", "openbsd", "solaris", "windows",
];

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Inline commands (`command` is folded in).
    pub inline: Vec<String>,
    pub inline_shebang: String,
    pub scripts: Vec<String>,
    pub environment_vars: Vec<String>,
    pub env: Vec<(String, String)>,
    pub env_var_format: String,
    /// Unrendered argv; rendered with `.Vars`, `.Script`, `.Command`.
    pub execute_command: Vec<String>,
    pub only_on: Vec<String>,
    pub tempfile_extension: String,
    pub use_linux_pathing: bool,
    pub valid_exit_codes: Vec<i32>,
    pub warnings: Vec<String>,
}

/// Packer's default `execute_command`; with it rpack shell-quotes `{{.Script}}` where needed
/// (Packer does not: a `;` or `$(…)` in the path ran as shell code).
pub(crate) const DEFAULT_EXECUTE: [&str; 3] = ["/bin/sh", "-c", "{{.Vars}} {{.Script}}"];

pub fn decode(d: &mut Decoder) -> Config {
    let command = d.string("command").filter(|s| !s.is_empty());
    let mut inline = d.string_list("inline").unwrap_or_default();
    let script = d.string("script").filter(|s| !s.is_empty());
    let mut scripts = d.string_list("scripts").unwrap_or_default();
    let environment_vars = d.string_list("environment_vars").unwrap_or_default();
    let env = d.string_map("env").unwrap_or_default();
    let env_var_format = d
        .string("env_var_format")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "%s='%s' ".into());
    let execute_command = d
        .string_list("execute_command")
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| {
            DEFAULT_EXECUTE
                .iter()
                .map(std::string::ToString::to_string)
                .collect()
        });
    let inline_shebang = d
        .string("inline_shebang")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "/bin/sh -e".into());
    let only_on = d.string_list("only_on").unwrap_or_default();
    let tempfile_extension = d.string("tempfile_extension").unwrap_or_default();
    let use_linux_pathing = d.bool("use_linux_pathing").unwrap_or(false);
    let valid_exit_codes = decode_exit_codes(d);

    if command.is_none() && inline.is_empty() && scripts.is_empty() && script.is_none() {
        d.error(
            "inline",
            "Command, Inline, Script and Scripts options cannot all be empty.",
        );
    }
    let too_many = "You may only specify one of the following options: Command, Inline, Script or Scripts. Please consolidate these options in your config.";
    if let Some(cmd) = command {
        if !inline.is_empty() || !scripts.is_empty() || script.is_some() {
            d.error("command", too_many);
        } else {
            inline = vec![cmd];
        }
    }
    if let Some(s) = script {
        if !scripts.is_empty() || !inline.is_empty() {
            d.error("script", too_many);
        } else {
            scripts = vec![s];
        }
    }
    if !scripts.is_empty() && !inline.is_empty() {
        d.error("scripts", too_many);
    }
    let mut warnings = Vec::new();
    let scripts: Vec<String> = scripts
        .iter()
        .map(|s| resolve(&d.base_dir, s).to_string_lossy().into_owned())
        .collect();
    for path in &scripts {
        match std::fs::metadata(path) {
            Err(e) => d.error(
                "script",
                format!(
                    "Bad script '{path}': {}",
                    go_stat_error(std::path::Path::new(path), &e)
                ),
            ),
            Ok(_) => warnings.extend(crlf_warning(path, true)),
        }
    }
    for os in &only_on {
        if !SUPPORTED_OS.contains(&os.as_str()) {
            d.error(
                "only_on",
                format!(
                    "Invalid OS specified in only_on: '{os}'\nSupported OS names: {}",
                    SUPPORTED_OS.join(", ")
                ),
            );
        }
    }
    check_env_vars(d, "environment_vars", &environment_vars);
    check_env_names(d, "env", env.iter().map(|(k, _)| k));
    Config {
        inline,
        inline_shebang,
        scripts,
        environment_vars,
        env,
        env_var_format,
        execute_command,
        only_on,
        tempfile_extension,
        use_linux_pathing,
        valid_exit_codes,
        warnings,
    }
}
