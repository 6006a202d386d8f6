//! `shell` provisioner configuration: Packer 1.6.6's keys, defaults and validation messages
//! (plus the later `env` map).

use std::time::Duration;

use crate::decoder::Decoder;
use crate::gocompat::fmt::stat_error as go_stat_error;
use crate::provisioners::script::rand_name_number;
use crate::shell_local::script::{check_env_vars, crlf_warning, decode_exit_codes};

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Inline commands (`None` when not given; an empty list counts as not given, like Packer).
    pub inline: Option<Vec<String>>,
    pub inline_shebang: String,
    /// Local script paths, in order (`script` is folded in).
    pub scripts: Vec<String>,
    pub environment_vars: Vec<String>,
    pub env: Vec<(String, String)>,
    pub env_var_format: String,
    /// Unrendered; rendered per script with `.Vars`, `.Path`, `.EnvVarFile`.
    pub execute_command: String,
    pub use_env_var_file: bool,
    pub remote_folder: String,
    pub remote_file: String,
    pub remote_path: String,
    pub skip_clean: bool,
    pub expect_disconnect: bool,
    pub start_retry_timeout: Duration,
    pub valid_exit_codes: Vec<i32>,
    pub pause_after: Option<Duration>,
    pub binary: bool,
    /// Shown at validate time.
    pub warnings: Vec<String>,
}

impl Default for Config {
    /// Packer's defaults, with no script given.
    fn default() -> Self {
        Config {
            inline: None,
            inline_shebang: "/bin/sh -e".into(),
            scripts: Vec::new(),
            environment_vars: Vec::new(),
            env: Vec::new(),
            env_var_format: "%s='%s' ".into(),
            execute_command: DEFAULT_EXECUTE.into(),
            use_env_var_file: false,
            remote_folder: "/tmp".into(),
            remote_file: "script_0.sh".into(),
            remote_path: "/tmp/script_0.sh".into(),
            skip_clean: false,
            expect_disconnect: false,
            start_retry_timeout: Duration::from_secs(300),
            valid_exit_codes: vec![0],
            pause_after: None,
            binary: false,
            warnings: Vec::new(),
        }
    }
}

/// Packer's default `execute_command`s. With these, rpack shell-quotes `{{.Path}}` and
/// `{{.EnvVarFile}}` where needed (Packer does not; a template's own command gets them raw).
pub(crate) const DEFAULT_EXECUTE: &str = "chmod +x {{.Path}}; {{.Vars}} {{.Path}}";
pub(crate) const DEFAULT_EXECUTE_ENV_FILE: &str =
    "chmod +x {{.Path}}; . {{.EnvVarFile}} && {{.Path}}";

pub fn decode(d: &mut Decoder) -> Config {
    let inline = d.string_list("inline").filter(|l| !l.is_empty());
    let script = d.string("script").filter(|s| !s.is_empty());
    let scripts = d.string_list("scripts").unwrap_or_default();
    let environment_vars = d.string_list("environment_vars").unwrap_or_default();
    let env = d.string_map("env").unwrap_or_default();
    let use_env_var_file = d.bool("use_env_var_file").unwrap_or(false);
    let env_var_format = d
        .string("env_var_format")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| {
            if use_env_var_file {
                "export %s='%s'\n"
            } else {
                "%s='%s' "
            }
            .to_string()
        });
    let execute_command = d
        .string("execute_command")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| {
            if use_env_var_file {
                DEFAULT_EXECUTE_ENV_FILE
            } else {
                DEFAULT_EXECUTE
            }
            .to_string()
        });
    let inline_shebang = d
        .string("inline_shebang")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "/bin/sh -e".into());
    let remote_folder = d
        .string("remote_folder")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "/tmp".into());
    let remote_file = d
        .string("remote_file")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| format!("script_{}.sh", rand_name_number()));
    let remote_path = d
        .string("remote_path")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| format!("{remote_folder}/{remote_file}"));
    let skip_clean = d.bool("skip_clean").unwrap_or(false);
    let expect_disconnect = d.bool("expect_disconnect").unwrap_or(false);
    let start_retry_timeout = d
        .duration("start_retry_timeout")
        .filter(|t| !t.is_zero())
        .unwrap_or(Duration::from_secs(300));
    let valid_exit_codes = decode_exit_codes(d);
    let pause_after = d.duration("pause_after").filter(|t| !t.is_zero());
    let binary = d.bool("binary").unwrap_or(false);

    let mut all_scripts = scripts.clone();
    if script.is_some() && !scripts.is_empty() {
        d.error("script", "Only one of script or scripts can be specified.");
    }
    if let Some(s) = &script {
        all_scripts = vec![s.clone()];
    }
    if all_scripts.is_empty() && inline.is_none() {
        d.error(
            "inline",
            "Either a script file or inline script must be specified.",
        );
    } else if !all_scripts.is_empty() && inline.is_some() {
        d.error(
            "inline",
            "Only a script file or an inline script can be specified, not both.",
        );
    }
    let mut warnings = Vec::new();
    for path in &all_scripts {
        let full = crate::shell_local::script::resolve(&d.base_dir, path);
        match std::fs::metadata(&full) {
            Err(e) => d.error(
                "script",
                format!(
                    "Bad script '{path}': {}",
                    go_stat_error(std::path::Path::new(path), &e)
                ),
            ),
            Ok(_) => warnings.extend(crlf_warning(&full.to_string_lossy(), binary)),
        }
    }
    check_env_vars(d, "environment_vars", &environment_vars);
    crate::shell_local::script::check_env_names(d, "env", env.iter().map(|(k, _)| k));

    Config {
        inline,
        inline_shebang,
        scripts: all_scripts
            .iter()
            .map(|s| {
                crate::shell_local::script::resolve(&d.base_dir, s)
                    .to_string_lossy()
                    .into_owned()
            })
            .collect(),
        environment_vars,
        env,
        env_var_format,
        execute_command,
        use_env_var_file,
        remote_folder,
        remote_file,
        remote_path,
        skip_clean,
        expect_disconnect,
        start_retry_timeout,
        valid_exit_codes,
        pause_after,
        binary,
        warnings,
    }
}
