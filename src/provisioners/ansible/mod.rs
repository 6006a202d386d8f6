//! The `ansible` provisioner: runs `ansible-playbook` on this machine against the instance,
//! connecting Ansible's own ssh straight to it with the build's credentials (Packer's
//! `use_proxy: false` mode, made the default): the build's private key file as it is, or,
//! when the build holds only the key's text, a copy in a 0600 file in a 0700 directory
//! (removed on every exit path); the host key rpack's connection saw pinned in a private
//! `known_hosts`; the bastion as a `ProxyCommand` whose hop checks the bastion's key rpack's
//! connection pinned. With `use_proxy: true`, or when the build has no SSH address, Ansible
//! goes through rpack's SSH proxy instead ([`crate::provisioners::ansible_proxy`]). Packer's
//! generated inventory, galaxy install, extra variables and command line are kept.

pub mod config;

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail};
use tokio_util::sync::CancellationToken;

pub use config::Config;

use crate::communicator::Communicator;
use crate::gocompat::strconv::quote as go_quote;
use crate::provisioners::ansible_proxy::{self, Options as ProxyOptions, Proxy};
use crate::provisioners::staging::{render, run_local, s, PrivateDir};
use crate::shell_local::RunData;
use crate::template::interp::Value;
use crate::ui::Ui;

/// Packer's `commonsteps.HttpAddrNotImplemented`: builders without an HTTP server.
pub const HTTP_ADDR_NOT_IMPLEMENTED: &str = "ErrHTTPAddrNotImplemented";

const INVENTORY_V2: &str =
    "{{ .HostAlias }} ansible_host={{ .Host }} ansible_user={{ .User }} ansible_port={{ .Port }}\n";
const INVENTORY_V1: &str = "{{ .HostAlias }} ansible_ssh_host={{ .Host }} ansible_ssh_user={{ .User }} ansible_ssh_port={{ .Port }}\n";

/// Everything the run needs, resolved from the configuration and the build data.
pub(crate) struct Plan {
    pub program: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Holds the key copy, known_hosts and (by default) the inventory until the run ends.
    #[cfg_attr(
        not(test),
        allow(dead_code, reason = "held for its Drop, which removes the directory")
    )]
    private: PrivateDir,
    /// A generated inventory outside the private directory (`inventory_directory`).
    inventory_to_remove: Option<PathBuf>,
    /// Where Ansible's ssh keeps its master connections' sockets.
    control_dir: Option<ControlDir>,
}

/// The directory of Ansible's master sockets: `cp` in the run's private directory, or, when that
/// path is too long for a socket name (a build's work directory can be deep), a private
/// directory of its own under the system temp dir, removed with the run.
pub(crate) struct ControlDir {
    pub(crate) path: PathBuf,
    _own: Option<PrivateDir>,
}

impl Drop for Plan {
    fn drop(&mut self) {
        if let Some(d) = &self.control_dir {
            close_masters(&d.path);
        }
        if let Some(p) = &self.inventory_to_remove {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn value<'a>(data: &'a RunData, key: &str) -> &'a str {
    data.values.get(key).map_or("", String::as_str)
}

/// Where Ansible's ssh goes: the instance itself, or rpack's proxy on loopback.
pub(crate) enum Target<'a> {
    Direct,
    Proxy(&'a Proxy),
}

/// Whether this run uses the proxy: `use_proxy` when set; otherwise only when the build has no
/// SSH address Ansible could reach directly, or reaches it in a way Ansible's own ssh would not
/// (through a SOCKS5 proxy, `ssh_proxy_host`; with a certificate, `ssh_certificate_file`): the
/// proxy goes over rpack's own connection, which does both.
pub(crate) fn wants_proxy(c: &Config, data: &RunData) -> anyhow::Result<bool> {
    let direct_ok = value(data, "ConnType") == "ssh"
        && !value(data, "Host").is_empty()
        && value(data, "SSHProxy").is_empty()
        && value(data, "SSHCertificateFile").is_empty();
    match c.use_proxy {
        Some(p) => Ok(p),
        None if direct_ok => Ok(false),
        None if value(data, "ConnType") == "none" || value(data, "ConnType").is_empty() => bail!(
            "the ansible provisioner needs the build's communicator (\"ssh\"); this build has \
             communicator {:?}",
            value(data, "ConnType")
        ),
        None => Ok(true),
    }
}

/// Builds the `ansible-playbook` invocation (files written; removed when the plan drops).
pub(crate) fn plan(c: &Config, data: &RunData, target: Target<'_>) -> anyhow::Result<Plan> {
    let private = PrivateDir::new_in(data.work_dir.as_deref(), "rpack-ansible")?;
    let user = c
        .user
        .clone()
        .unwrap_or_else(|| value(data, "User").to_string());
    let proxy_port;
    let (host, port, key_file, known_hosts) = match target {
        Target::Proxy(p) => {
            proxy_port = p.port.to_string();
            (
                "127.0.0.1",
                proxy_port.as_str(),
                p.client_key.clone(),
                Some(p.known_hosts.clone()),
            )
        }
        Target::Direct => {
            let host = value(data, "Host");
            if value(data, "ConnType") != "ssh" || host.is_empty() {
                bail!(
                    "the ansible provisioner needs the build's SSH connection (communicator \
                     \"ssh\" with a host address) or \"use_proxy\": true; this build has \
                     communicator {:?} and host {host:?}",
                    value(data, "ConnType")
                );
            }
            let port = match value(data, "Port") {
                "" => "22",
                p => p,
            };
            // The private key: the build's key file as is, or a 0600 copy of the key's text.
            let key_file = match value(data, "SSHPrivateKeyFile") {
                "" => match value(data, "SSHPrivateKey") {
                    "" => None,
                    text => Some(private.write("ansible-key", text.as_bytes(), 0o600)?),
                },
                f => Some(PathBuf::from(f)),
            };
            // Host key: pinned to what rpack's own connection saw, when the builder reports it.
            let host_key = value(data, "SSHHostKey");
            let known_hosts = if host_key.is_empty() || c.ssh_host_key_file.is_some() {
                None
            } else {
                Some(private.write(
                    "known_hosts",
                    format!("{} {host_key}\n", known_hosts_name(host, port)).as_bytes(),
                    0o600,
                )?)
            };
            (host, port, key_file, known_hosts)
        }
    };

    let mut env_vars: Vec<String> = Vec::new();
    for v in &c.ansible_env_vars {
        env_vars.push(
            data.render(v, None)
                .map_err(|e| anyhow!("Could not interpolate ansible env vars: {e}"))?,
        );
    }
    let mut ssh_opts: Vec<String> = if c.ansible_ssh_extra_args.is_empty() {
        vec!["-o IdentitiesOnly=yes".into()]
    } else {
        c.ansible_ssh_extra_args.clone()
    };
    match &known_hosts {
        Some(kh) => ssh_opts.push(format!(
            "-o StrictHostKeyChecking=yes -o UserKnownHostsFile={}",
            kh.display()
        )),
        None if c.ssh_host_key_file.is_none() => {
            env_vars.push("ANSIBLE_HOST_KEY_CHECKING=False".into());
        }
        None => {}
    }
    match target {
        // The proxy serves file transfers over SFTP itself: the user's method stands.
        Target::Proxy(_) => {
            if !check_arg("ANSIBLE_SSH_TRANSFER_METHOD", &env_vars) {
                env_vars.push("ANSIBLE_SSH_TRANSFER_METHOD=sftp".into());
            }
        }
        Target::Direct => {
            if let Some(proxy) = proxy_command(data, &private)? {
                ssh_opts.push(format!("-o ProxyCommand=\"{proxy}\""));
            }
        }
    }
    // Ansible's ssh multiplexes every task over one master connection (its default
    // ControlPersist). The master's socket goes into this run's private directory instead of
    // the shared ~/.ansible/cp, so a master left by an earlier build to the same address, user
    // and port (cloud addresses are reused) can never carry this build's commands; the master
    // is closed when the run ends ([`Plan`]'s drop).
    let control_dir = control_path_dir(&private, &env_vars);
    if let Some(d) = &control_dir {
        env_vars.push(format!("ANSIBLE_SSH_CONTROL_PATH_DIR={}", d.path.display()));
    }
    // Pipelining: one ssh exec per task instead of mkdir + upload + run + cleanup (the
    // master connection is kept; the proxy relays standard input). Off when the user says so
    // in `ansible_env_vars` or rpack's own environment.
    if !check_arg("ANSIBLE_PIPELINING", &env_vars)
        && std::env::var_os("ANSIBLE_PIPELINING").is_none()
    {
        env_vars.push("ANSIBLE_PIPELINING=True".into());
    }

    // The inventory.
    let mut inventory_to_remove = None;
    let inventory = if let Some(f) = &c.inventory_file {
        f.clone()
    } else {
        let text = inventory(c, data, &user, host, port)?;
        let name = format!("packer-provisioner-ansible{}", rand::random::<u32>());
        match &c.inventory_directory {
            Some(dir) => {
                let p = dir.join(name);
                std::fs::write(&p, text)
                    .map_err(|e| anyhow!("Error preparing inventory file: {e}"))?;
                if !c.keep_inventory_file {
                    inventory_to_remove = Some(p.clone());
                }
                p
            }
            None if c.keep_inventory_file => {
                let p = std::env::temp_dir().join(name);
                std::fs::write(&p, text)
                    .map_err(|e| anyhow!("Error preparing inventory file: {e}"))?;
                p
            }
            None => private.write(&name, text.as_bytes(), 0o600)?,
        }
    };

    let mut args: Vec<String> = Vec::new();
    if !data.build_name.is_empty() {
        args.push("-e".into());
        args.push(format!("packer_build_name={}", go_quote(&data.build_name)));
    }
    args.push("-e".into());
    args.push(format!("packer_builder_type={}", data.builder_type));
    let http = value(data, "PackerHTTPAddr");
    if !http.is_empty() && http != HTTP_ADDR_NOT_IMPLEMENTED {
        args.push("-e".into());
        args.push(format!("packer_http_addr={http}"));
    }
    if key_file.is_some() {
        args.push("--ssh-extra-args".into());
        // Unquoted (Packer wraps the value in single quotes, which makes several options one
        // word); Ansible splits it like a shell.
        args.push(ssh_opts.join(" "));
    }
    for a in &c.extra_arguments {
        args.push(
            data.render(a, None)
                .map_err(|e| anyhow!("Could not interpolate ansible env vars: {e}"))?,
        );
    }
    if let Some(k) = &key_file {
        if !check_arg("ansible_password", &args) {
            args.push("-e".into());
            args.push(format!("ansible_ssh_private_key_file={}", k.display()));
        }
    }
    if check_arg("ansible_password", &args)
        && !check_arg("ansible_host_key_checking", &args)
        && !check_arg("ANSIBLE_HOST_KEY_CHECKING", &env_vars)
    {
        args.push("-e".into());
        args.push("ansible_host_key_checking=False".into());
    }
    args.push("-i".into());
    args.push(inventory.display().to_string());
    args.push(c.playbook_file.display().to_string());

    let env = env_vars
        .iter()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Ok(Plan {
        program: c.command.clone(),
        args,
        env,
        private,
        control_dir,
        inventory_to_remove,
    })
}

/// Longest control-socket directory: `%C` adds a 40-character name, and a Unix socket path has
/// room for 107 bytes.
const MAX_CONTROL_DIR: usize = 107 - 41;

/// The directory for Ansible's ssh master sockets (see [`ControlDir`]); `None` leaves Ansible's
/// own setting: the user chose one (`ansible_env_vars`, the environment, or an ansible.cfg
/// that mentions `control_path`), or even the temp dir's path is too long for a socket.
fn control_path_dir(private: &PrivateDir, env_vars: &[String]) -> Option<ControlDir> {
    let keys = ["ANSIBLE_SSH_CONTROL_PATH_DIR", "ANSIBLE_SSH_CONTROL_PATH"];
    if keys
        .iter()
        .any(|k| check_arg(k, env_vars) || std::env::var_os(k).is_some())
    {
        return None;
    }
    if ansible_cfg().is_some_and(|text| text.contains("control_path")) {
        return None;
    }
    let dir = private.path().join("cp");
    if dir.as_os_str().len() <= MAX_CONTROL_DIR {
        std::fs::create_dir(&dir).ok()?;
        return Some(ControlDir {
            path: dir,
            _own: None,
        });
    }
    let own = PrivateDir::new("rpack-cp").ok()?;
    if own.path().as_os_str().len() > MAX_CONTROL_DIR {
        return None;
    }
    Some(ControlDir {
        path: own.path().to_path_buf(),
        _own: Some(own),
    })
}

/// The text of the ansible.cfg Ansible would read: `ANSIBLE_CONFIG`, `./ansible.cfg`,
/// `~/.ansible.cfg`, `/etc/ansible/ansible.cfg`, the first that exists.
fn ansible_cfg() -> Option<String> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os("ANSIBLE_CONFIG") {
        candidates.push(PathBuf::from(p));
    }
    candidates.push(PathBuf::from("ansible.cfg"));
    if let Some(h) = std::env::var_os("HOME") {
        candidates.push(Path::new(&h).join(".ansible.cfg"));
    }
    candidates.push(PathBuf::from("/etc/ansible/ansible.cfg"));
    candidates
        .into_iter()
        .find(|p| p.is_file())
        .and_then(|p| crate::limits::read_text(&p, "ansible.cfg").ok())
}

/// Asks every ssh master with a socket in `dir` to exit (`ssh -O exit`), so none outlives the
/// run by ControlPersist's 60 s holding a connection to the instance.
fn close_masters(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let _ = std::process::Command::new("ssh")
            .arg("-o")
            .arg(format!("ControlPath={}", e.path().display()))
            .args(["-O", "exit", "rpack-ansible-master"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// The name ssh looks a host up by in known_hosts: the host in lower case (ssh lowers the
/// name it was given before matching), in brackets with the port unless the port is 22.
fn known_hosts_name(host: &str, port: &str) -> String {
    let host = host.to_ascii_lowercase();
    if port == "22" {
        host
    } else {
        format!("[{host}]:{port}")
    }
}

/// `ssh -W %h:%p` through the build's bastion, when it has one. The bastion's host key that
/// rpack's connection pinned (`SSHBastionHostKey`) goes into a private known_hosts file, and
/// the hop checks it strictly; only when no key was recorded is the hop unchecked.
fn proxy_command(data: &RunData, private: &PrivateDir) -> anyhow::Result<Option<String>> {
    let host = value(data, "SSHBastionHost");
    if host.is_empty() {
        return Ok(None);
    }
    let port = match value(data, "SSHBastionPort") {
        "" => "22",
        p => p,
    };
    let mut cmd = String::from("ssh -W %h:%p");
    match value(data, "SSHBastionHostKey") {
        "" => cmd.push_str(" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"),
        key => {
            let file = private.write(
                "bastion_known_hosts",
                format!("{} {key}\n", known_hosts_name(host, port)).as_bytes(),
                0o600,
            )?;
            cmd.push_str(&format!(
                " -o StrictHostKeyChecking=yes -o UserKnownHostsFile={} \
                 -o GlobalKnownHostsFile=/dev/null",
                file.display()
            ));
        }
    }
    cmd.push_str(" -o BatchMode=yes");
    let key = value(data, "SSHBastionPrivateKeyFile");
    if !key.is_empty() {
        cmd.push_str(&format!(" -o IdentitiesOnly=yes -i {key}"));
    }
    let user = value(data, "SSHBastionUser");
    let target = if user.is_empty() {
        host.to_string()
    } else {
        format!("{user}@{host}")
    };
    cmd.push_str(&format!(" -p {port} {target}"));
    Ok(Some(cmd))
}

/// Packer's inventory: the host line (from `inventory_file_template` or the default for the
/// Ansible version), repeated under each of `groups`, then the `empty_groups` headers.
pub(crate) fn inventory(
    c: &Config,
    data: &RunData,
    user: &str,
    host: &str,
    port: &str,
) -> anyhow::Result<String> {
    let template = match &c.inventory_file_template {
        Some(t) => t.as_str(),
        None if c.ansible_major.is_some_and(|m| m < 2) => INVENTORY_V1,
        None => INVENTORY_V2,
    };
    let mut dot: Vec<(&str, Value)> = data
        .values
        .iter()
        .map(|(k, v)| (k.as_str(), s(v)))
        .collect();
    dot.retain(|(k, _)| !["HostAlias", "User", "Host", "Port"].contains(k));
    dot.push(("HostAlias", s(&c.host_alias)));
    dot.push(("User", s(user)));
    dot.push(("Host", s(host)));
    dot.push(("Port", s(port)));
    let host = render(data, template, &dot)
        .map_err(|e| anyhow!("Error generating inventory file from template: {e}"))?;
    let mut out = host.clone();
    for g in &c.groups {
        out.push_str(&format!("[{g}]\n{host}"));
    }
    for g in &c.empty_groups {
        out.push_str(&format!("[{g}]\n"));
    }
    Ok(out)
}

/// Packer's `checkArg`: whether any `=`-separated part of any argument is `name`.
fn check_arg(name: &str, args: &[String]) -> bool {
    args.iter().any(|a| a.split('=').any(|p| p == name))
}

pub async fn provision(
    c: &Config,
    ui: &dyn Ui,
    comm: &dyn Communicator,
    data: &RunData,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    ui.say("Provisioning with Ansible...");
    let mut proxy = None;
    if wants_proxy(c, data)? {
        let p = Proxy::start(&ProxyOptions {
            port: c.local_port,
            host_key_file: c.ssh_host_key_file.as_deref(),
            authorized_key_file: c.ssh_authorized_key_file.as_deref(),
        })
        .await
        .map_err(|e| anyhow!("Error setting up the Ansible proxy: {e}"))?;
        ui.message(&format!(
            "SSH proxy: serving on 127.0.0.1:{} (relaying to the build's communicator)",
            p.port
        ));
        proxy = Some(p);
    } else {
        ui.message(
            "Not using Proxy adapter for Ansible run:\n\tUsing ssh keys from Packer communicator...",
        );
    }
    let target = match &proxy {
        Some(p) => Target::Proxy(p),
        None => Target::Direct,
    };
    let plan = plan(c, data, target)?;
    if let Some(g) = &c.galaxy_file {
        galaxy(c, g, ui, cancel)
            .await
            .map_err(|e| anyhow!("Error executing Ansible: Error executing Ansible Galaxy: {e}"))?;
    }
    ui.say(&format!(
        "Executing Ansible: {} {}",
        plan.program,
        plan.args.join(" ")
    ));
    let run = run_local(ui, &plan.program, &plan.args, &plan.env, cancel);
    let exit = match proxy.as_mut() {
        None => run.await,
        Some(p) => {
            let serve = ansible_proxy::serve(comm, p.requests(), cancel);
            tokio::pin!(serve);
            tokio::select! {
                r = run => r,
                // Unreachable while the proxy holds its side of the channel.
                () = &mut serve => Err(anyhow!("the Ansible proxy stopped")),
            }
        }
    };
    drop(proxy);
    let exit = exit.map_err(|e| anyhow!("Error executing Ansible: {e}"))?;
    if exit.code != 0 {
        bail!(
            "Error executing Ansible: Non-zero exit status: exit status {}{}",
            exit.code,
            exit.tail
        );
    }
    Ok(())
}

/// Packer's `executeGalaxy`: roles unless the file lists only collections, then collections.
async fn galaxy(
    c: &Config,
    file: &Path,
    ui: &dyn Ui,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file)?;
    let has = |k: &str| text.lines().any(|l| l.starts_with(k));
    let (roles, collections) = (has("roles:"), has("collections:"));
    let f = file.display().to_string();
    let mut runs: Vec<Vec<String>> = Vec::new();
    if roles || !collections {
        let mut a = vec!["install".to_string(), "-r".into(), f.clone()];
        if c.galaxy_force_install {
            a.push("-f".into());
        }
        if !c.roles_path.is_empty() {
            a.extend(["-p".to_string(), c.roles_path.clone()]);
        }
        runs.push(a);
    }
    if collections {
        let mut a = vec![
            "collection".to_string(),
            "install".into(),
            "-r".into(),
            f.clone(),
        ];
        if c.galaxy_force_install {
            a.push("-f".into());
        }
        if !c.collections_path.is_empty() {
            a.extend(["-p".to_string(), c.collections_path.clone()]);
        }
        runs.push(a);
    }
    for args in runs {
        ui.message("Executing Ansible Galaxy");
        let exit = run_local(ui, &c.galaxy_command, &args, &[], cancel).await?;
        if exit.code != 0 {
            bail!(
                "Non-zero exit status: exit status {}{}",
                exit.code,
                exit.tail
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
