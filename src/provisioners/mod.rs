//! Provisioners (`shell`, `file`, `shell-local`, `breakpoint`, and the configuration-management
//! ones: `ansible`, `ansible-local`, `chef-solo`, `puppet-masterless`, `salt-masterless`):
//! configuration and run logic over
//! the [`crate::communicator::Communicator`] trait, plus the runtime wrapper for the common
//! provisioner keys (`pause_before`, `max_retries`, `timeout`).
//!
//! The template layer decodes `only`/`except`/`override` and the common keys; it builds a
//! [`Decoder`] per provisioner with [`no_render`] as the keys rendered only at run time, calls
//! [`Provisioner::decode`], shows [`Provisioner::warnings`], and at build time runs
//! [`run_with_common`] around [`Provisioner::provision`].

pub mod ansible;
pub mod ansible_local;
pub(crate) mod ansible_proxy;
pub mod breakpoint;
pub mod chef_solo;
#[cfg(test)]
mod config_tests;
pub mod file;
pub(crate) mod imds_hint;
pub mod puppet_masterless;
pub(crate) mod quote;
pub mod salt_masterless;
pub mod shell;
pub mod shell_local;
pub(crate) mod staging;
#[cfg(test)]
pub(crate) mod testing;

use std::collections::BTreeMap;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::communicator::{Communicator, OutputSink};
use crate::decoder::Decoder;
use crate::gocompat::fmt::sprintf2;
use crate::gocompat::strconv::quote as go_quote;
pub(crate) use crate::gocompat::time::duration_string as go_duration;
use crate::template::interp::{self, Context, Value};
use crate::ui::Ui;

/// What a provisioner knows about the build it runs in.
#[derive(Clone, Default)]
pub struct BuildData {
    /// `PACKER_BUILD_NAME`.
    pub build_name: String,
    /// `PACKER_BUILDER_TYPE`.
    pub builder_type: String,
    /// The builder's generated data (`Host`, `Port`, `User`, `ID`, `SSHPrivateKey`, …) that
    /// `{{ build `X` }}` reads. `PackerHTTPAddr` feeds `PACKER_HTTP_ADDR`.
    pub values: BTreeMap<String, String>,
    /// The template's render context (user variables, template path, …).
    pub ctx: Context,
}

impl BuildData {
    /// A render context with this build's data and `dot` as `.`.
    pub fn render_ctx(&self, dot: Option<Value>) -> Context {
        let mut c = self.ctx.clone();
        c.build_name = Some(self.build_name.clone());
        c.build_type = Some(self.builder_type.clone());
        c.build_data = interp::BuildData::Values(self.values.clone());
        c.data = dot;
        c
    }

    /// Renders `s` at run time (build values available).
    pub fn render(&self, s: &str, dot: Option<Value>) -> anyhow::Result<String> {
        interp::render(s, &self.render_ctx(dot))
            .map_err(|e| anyhow::anyhow!("rendering {s:?}: {e}"))
    }
}

/// A provisioner as one build runs it.
#[derive(Debug, Clone)]
pub struct PlannedProvisioner {
    pub kind: String,
    pub common: Common,
    pub config: Provisioner,
}

/// One configured provisioner.
#[derive(Debug, Clone)]
pub enum Provisioner {
    Shell(shell::Config),
    File(file::Config),
    ShellLocal(shell_local::Config),
    Breakpoint(breakpoint::Config),
    Ansible(Box<ansible::Config>),
    AnsibleLocal(Box<ansible_local::Config>),
    ChefSolo(Box<chef_solo::Config>),
    PuppetMasterless(Box<puppet_masterless::Config>),
    SaltMasterless(Box<salt_masterless::Config>),
}

/// Provisioner types rpack knows.
pub const KINDS: &[&str] = &[
    "shell",
    "file",
    "shell-local",
    "breakpoint",
    "ansible",
    "ansible-local",
    "chef-solo",
    "puppet-masterless",
    "salt-masterless",
];

/// Keys of `kind` whose strings must not be rendered at decode time (they see per-run data
/// such as `{{.Path}}`).
pub fn no_render(kind: &str) -> &'static [&'static str] {
    match kind {
        "shell" | "shell-local" => &["execute_command"],
        "ansible" => &["inventory_file_template"],
        "chef-solo" => &["execute_command", "install_command"],
        "puppet-masterless" => &["execute_command", "extra_arguments"],
        _ => &[],
    }
}

impl Provisioner {
    /// Decodes a provisioner of type `kind`; `None` for a type rpack does not know (the caller
    /// reports Packer's `Unknown provisioner <kind>`). Problems are recorded on `d`.
    pub fn decode(kind: &str, d: &mut Decoder) -> Option<Provisioner> {
        Some(match kind {
            "shell" => Provisioner::Shell(shell::config::decode(d)),
            "file" => Provisioner::File(file::config::decode(d)),
            "shell-local" => Provisioner::ShellLocal(shell_local::config::decode(d)),
            "breakpoint" => Provisioner::Breakpoint(breakpoint::config::decode(d)),
            "ansible" => Provisioner::Ansible(Box::new(ansible::config::decode(d))),
            "ansible-local" => {
                Provisioner::AnsibleLocal(Box::new(ansible_local::config::decode(d)))
            }
            "chef-solo" => Provisioner::ChefSolo(Box::new(chef_solo::config::decode(d))),
            "puppet-masterless" => {
                Provisioner::PuppetMasterless(Box::new(puppet_masterless::config::decode(d)))
            }
            "salt-masterless" => {
                Provisioner::SaltMasterless(Box::new(salt_masterless::config::decode(d)))
            }
            _ => return None,
        })
    }

    /// Validate-time warnings (e.g. CRLF line endings in a script).
    pub fn warnings(&self) -> Vec<String> {
        match self {
            Provisioner::Shell(c) => c.warnings.clone(),
            Provisioner::ShellLocal(c) => c.warnings.clone(),
            _ => Vec::new(),
        }
    }

    pub async fn provision(
        &self,
        ui: &dyn Ui,
        comm: &dyn Communicator,
        data: &BuildData,
        cancel: &CancellationToken,
    ) -> anyhow::Result<()> {
        match self {
            Provisioner::Shell(c) => shell::provision(c, ui, comm, data, cancel).await,
            Provisioner::File(c) => file::provision(c, ui, comm, data, cancel).await,
            Provisioner::ShellLocal(c) => shell_local::provision(c, ui, data, cancel).await,
            Provisioner::Breakpoint(c) => breakpoint::provision(c, ui, cancel).await,
            Provisioner::Ansible(c) => ansible::provision(c, ui, comm, data, cancel).await,
            Provisioner::AnsibleLocal(c) => {
                ansible_local::provision(c, ui, comm, data, cancel).await
            }
            Provisioner::ChefSolo(c) => chef_solo::provision(c, ui, comm, data, cancel).await,
            Provisioner::PuppetMasterless(c) => {
                puppet_masterless::provision(c, ui, comm, data, cancel).await
            }
            Provisioner::SaltMasterless(c) => {
                salt_masterless::provision(c, ui, comm, data, cancel).await
            }
        }
    }
}

/// The common provisioner keys, decoded by the template layer.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Common {
    pub pause_before: Option<Duration>,
    pub max_retries: u32,
    pub timeout: Option<Duration>,
}

/// Runs `run` with Packer's wrappers for the common keys: retries (immediately, as Packer
/// does) around an optional pause around an optional timeout. Unlike Packer, `timeout` also
/// applies when `pause_before` is set. `run` gets a token that is cancelled on timeout or when
/// `cancel` is.
pub async fn run_with_common<F, Fut>(
    common: &Common,
    ui: &dyn Ui,
    cancel: &CancellationToken,
    mut run: F,
) -> anyhow::Result<()>
where
    F: FnMut(CancellationToken) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let tries = common.max_retries + 1;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let res = run_once(common, ui, cancel, &mut run).await;
        match res {
            Ok(()) => return Ok(()),
            Err(e) if cancel.is_cancelled() => return Err(e),
            Err(e) if attempt < tries => {
                ui.say(&format!(
                    "Provisioner failed with {}, retrying with {} trie(s) left",
                    go_quote(&e.to_string()),
                    tries - attempt
                ));
            }
            Err(e) => {
                if common.max_retries > 0 {
                    ui.say("retry limit reached.");
                }
                return Err(e);
            }
        }
    }
}

async fn run_once<F, Fut>(
    common: &Common,
    ui: &dyn Ui,
    cancel: &CancellationToken,
    run: &mut F,
) -> anyhow::Result<()>
where
    F: FnMut(CancellationToken) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    if let Some(p) = common.pause_before.filter(|p| !p.is_zero()) {
        ui.say(&format!(
            "Pausing {} before the next provisioner...",
            go_duration(p)
        ));
        tokio::select! {
            _ = tokio::time::sleep(p) => {}
            _ = cancel.cancelled() => anyhow::bail!("cancelled while pausing before the provisioner"),
        }
    }
    let Some(t) = common.timeout.filter(|t| !t.is_zero()) else {
        return run(cancel.child_token()).await;
    };
    ui.say(&format!(
        "Setting a {} timeout for the next provisioner...",
        go_duration(t)
    ));
    let token = cancel.child_token();
    let fut = run(token.clone());
    tokio::pin!(fut);
    tokio::select! {
        res = &mut fut => res,
        _ = tokio::time::sleep(t) => {
            ui.error("Cancelling provisioner after a timeout...");
            token.cancel();
            // Let the provisioner stop (close channels, kill local processes) before returning.
            match tokio::time::timeout(Duration::from_secs(10), &mut fut).await {
                Ok(Err(e)) => Err(e),
                _ => Err(anyhow::anyhow!("provisioner timed out after {}", go_duration(t))),
            }
        }
    }
}

/// Streams command output to the UI like Packer's `RunWithUi`: stdout as messages, stderr as
/// errors.
pub struct UiSink<'a>(pub &'a dyn Ui);
impl OutputSink for UiSink<'_> {
    fn stdout_line(&self, line: &str) {
        self.0.message(line)
    }
    fn stderr_line(&self, line: &str) {
        self.0.error(line)
    }
}

/// The environment of a script, sorted by name: `PACKER_BUILD_NAME`, `PACKER_BUILDER_TYPE`,
/// `PACKER_HTTP_ADDR` when the builder serves HTTP, then `environment_vars` and `env`
/// (single quotes escaped for the shell as Packer does).
pub(crate) fn env_vars(
    data: &BuildData,
    vars: &[String],
    env: &[(String, String)],
) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    m.insert("PACKER_BUILD_NAME".to_string(), data.build_name.clone());
    m.insert("PACKER_BUILDER_TYPE".to_string(), data.builder_type.clone());
    if let Some(addr) = data
        .values
        .get("PackerHTTPAddr")
        .filter(|a| !a.is_empty() && !a.contains("Not Implemented"))
    {
        m.insert("PACKER_HTTP_ADDR".to_string(), addr.clone());
        if let Some((ip, port)) = addr.rsplit_once(':') {
            m.insert("PACKER_HTTP_IP".to_string(), ip.to_string());
            m.insert("PACKER_HTTP_PORT".to_string(), port.to_string());
        }
    }
    for kv in vars {
        if let Some((k, v)) = kv.split_once('=') {
            m.insert(k.to_string(), v.replace('\'', r#"'"'"'"#));
        }
    }
    for (k, v) in env {
        m.insert(k.clone(), v.replace('\'', r#"'"'"'"#));
    }
    m
}

/// Flattens env vars with `format` (Packer's `env_var_format`).
pub(crate) fn flatten_env(vars: &BTreeMap<String, String>, format: &str) -> String {
    vars.iter().map(|(k, v)| sprintf2(format, k, v)).collect()
}

/// Checks `environment_vars` entries (`Environment variable not in format 'key=value': …`).
pub(crate) fn check_env_vars(d: &mut Decoder, key: &str, vars: &[String]) {
    for kv in vars {
        match kv.split_once('=') {
            // rpack: a key that is not a shell name would be run as shell code (Packer copies
            // it into the command line as is).
            Some((k, _)) if !k.is_empty() && !quote::is_shell_name(k) => d.error(
                key,
                format!("Environment variable name {k:?} is not a valid shell variable name (letters, digits and _, not starting with a digit)"),
            ),
            Some((k, _)) if !k.is_empty() => {}
            _ => d.error(
                key,
                format!("Environment variable not in format 'key=value': {kv}"),
            ),
        }
    }
}

/// Checks the names of `env` (a map) are shell names (rpack; Packer does not check).
pub(crate) fn check_env_names<'a>(
    d: &mut Decoder,
    key: &str,
    names: impl IntoIterator<Item = &'a String>,
) {
    for k in names {
        if !quote::is_shell_name(k) {
            d.error(
                key,
                format!("Environment variable name {k:?} is not a valid shell variable name (letters, digits and _, not starting with a digit)"),
            );
        }
    }
}

/// Checks `valid_exit_codes` (`Script exited with non-zero exit status: 3.Allowed exit codes
/// are: [0]` — Packer's text, missing space included).
pub(crate) fn check_exit_code(status: i32, valid: &[i32]) -> anyhow::Result<()> {
    if valid.contains(&status) {
        return Ok(());
    }
    let list: Vec<String> = valid.iter().map(|c| c.to_string()).collect();
    anyhow::bail!(
        "Script exited with non-zero exit status: {status}.Allowed exit codes are: [{}]",
        list.join(" ")
    )
}

/// Decodes `valid_exit_codes` (default `[0]`).
pub(crate) fn decode_exit_codes(d: &mut Decoder) -> Vec<i32> {
    let Some(node) = d.raw("valid_exit_codes") else {
        return vec![0];
    };
    let mut codes = Vec::new();
    let items: Vec<&crate::template::json::Node> = match node.as_array() {
        Some(a) => a.iter().collect(),
        None => vec![node],
    };
    for n in items {
        let parsed = match &n.value {
            crate::template::json::Value::Number(s) => s.parse::<i32>().ok(),
            crate::template::json::Value::String(s) => s.trim().parse::<i32>().ok(),
            _ => None,
        };
        match parsed {
            Some(c) => codes.push(c),
            None => d.error(
                "valid_exit_codes",
                format!("valid_exit_codes: cannot use {:?} as an exit code", n.value),
            ),
        }
    }
    if codes.is_empty() {
        vec![0]
    } else {
        codes
    }
}

/// The CRLF warning shown at validate time for a script file.
pub(crate) fn crlf_warning(path: &str, binary: bool) -> Option<String> {
    let data = std::fs::read(path).ok()?;
    if !data.windows(2).any(|w| w == b"\r\n") {
        return None;
    }
    Some(if binary {
        format!(
            "Script '{path}' has Windows (CRLF) line endings and \"binary\": true uploads it unchanged; \
             it will fail on the instance with $'\\r': command not found. Convert it to LF line endings."
        )
    } else {
        format!(
            "Script '{path}' has Windows (CRLF) line endings; rpack converts them to LF when uploading, \
             but other tools running it may fail with $'\\r': command not found. Convert it to LF line endings."
        )
    })
}

/// Packer's `UnixReader`: CRLF → LF.
pub(crate) fn to_unix(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        if data[i] == b'\r' && data.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(data[i]);
        i += 1;
    }
    out
}

/// A random number in `0..9999` for remote file names (Packer's `rand.Intn(9999)`).
pub(crate) fn rand_name_number() -> u32 {
    use rand::Rng;
    rand::thread_rng().gen_range(0..9999)
}

/// `path` relative to `base` (kept as written when `base` is the current directory, so
/// messages show the path the user wrote).
pub(crate) fn resolve(base: &std::path::Path, path: &str) -> std::path::PathBuf {
    let p = std::path::Path::new(path);
    if p.is_absolute() || base.as_os_str().is_empty() || base == std::path::Path::new(".") {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// Sleeps `d` unless cancelled first.
pub(crate) async fn sleep_or_cancel(d: Duration, cancel: &CancellationToken) -> anyhow::Result<()> {
    tokio::select! {
        _ = tokio::time::sleep(d) => Ok(()),
        _ = cancel.cancelled() => anyhow::bail!("cancelled"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provisioners::testing::RecordingUi;

    #[test]
    fn env_is_sorted_escaped_and_formatted() {
        let data = BuildData {
            build_name: "web".into(),
            builder_type: "amazon-ebs".into(),
            ..Default::default()
        };
        let vars = env_vars(&data, &["B=it's".into(), "A=1".into()], &[]);
        assert_eq!(
            flatten_env(&vars, "%s='%s' "),
            r#"A='1' B='it'"'"'s' PACKER_BUILDER_TYPE='amazon-ebs' PACKER_BUILD_NAME='web' "#
        );
        assert_eq!(sprintf2("export %s='%s'\n", "K", "v"), "export K='v'\n");
    }

    #[test]
    fn exit_code_message_matches_packer() {
        assert!(check_exit_code(2, &[0, 2]).is_ok());
        assert_eq!(
            check_exit_code(3, &[0]).unwrap_err().to_string(),
            "Script exited with non-zero exit status: 3.Allowed exit codes are: [0]"
        );
        assert_eq!(
            check_exit_code(1, &[0, 2]).unwrap_err().to_string(),
            "Script exited with non-zero exit status: 1.Allowed exit codes are: [0 2]"
        );
    }

    #[test]
    fn crlf_is_converted() {
        assert_eq!(to_unix(b"a\r\nb\rc\n"), b"a\nb\rc\n");
    }

    #[tokio::test]
    async fn retries_say_packers_lines_and_stop_at_the_limit() {
        let ui = RecordingUi::default();
        let common = Common {
            max_retries: 2,
            ..Default::default()
        };
        let mut calls = 0;
        let res = run_with_common(&common, &ui, &CancellationToken::new(), |_| {
            calls += 1;
            async { anyhow::bail!("boom") }
        })
        .await;
        assert_eq!(res.unwrap_err().to_string(), "boom");
        assert_eq!(calls, 3);
        assert_eq!(
            ui.lines(),
            [
                "say: Provisioner failed with \"boom\", retrying with 2 trie(s) left",
                "say: Provisioner failed with \"boom\", retrying with 1 trie(s) left",
                "say: retry limit reached."
            ]
        );
    }

    #[tokio::test]
    async fn timeout_applies_even_with_pause_before() {
        let ui = RecordingUi::default();
        let common = Common {
            pause_before: Some(Duration::from_millis(10)),
            timeout: Some(Duration::from_millis(50)),
            max_retries: 0,
        };
        let started = std::time::Instant::now();
        let res = run_with_common(&common, &ui, &CancellationToken::new(), |tok| async move {
            tok.cancelled().await;
            anyhow::bail!("Error executing script: x")
        })
        .await;
        assert!(res.is_err());
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(
            ui.lines(),
            [
                "say: Pausing 10ms before the next provisioner...",
                "say: Setting a 50ms timeout for the next provisioner...",
                "error: Cancelling provisioner after a timeout..."
            ]
        );
    }
}
