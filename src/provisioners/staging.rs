//! Pieces the configuration-management provisioners (ansible, ansible-local, chef-solo,
//! puppet-masterless, salt-masterless) share: remote commands whose output streams to the UI and
//! whose last lines go into the error, Packer's `mkdir`/`chmod`/`rm -rf` guest commands, local
//! path checks with Packer's wording, go-template rendering with a `.`, and running a local tool
//! (its own process group, killed on cancel).

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;

use anyhow::{anyhow, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_util::sync::CancellationToken;

use crate::communicator::{Communicator, OutputSink};
use crate::decoder::Decoder;
use crate::gocompat::fmt::stat_error as go_stat_error;
use crate::shell_local::script::resolve;
use crate::shell_local::RunData;
use crate::template::interp::Value;
use crate::ui::Ui;

/// How many output lines a failure message repeats.
pub(crate) const TAIL_LINES: usize = 10;

/// Streams output to the UI (stdout as messages, stderr as errors) and keeps the last lines.
pub(crate) struct TailSink<'a> {
    ui: &'a dyn Ui,
    tail: Mutex<VecDeque<String>>,
}

impl<'a> TailSink<'a> {
    pub(crate) fn new(ui: &'a dyn Ui) -> Self {
        TailSink {
            ui,
            tail: Mutex::new(VecDeque::new()),
        }
    }
    fn keep(&self, line: &str) {
        let mut t = self
            .tail
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if t.len() == TAIL_LINES {
            t.pop_front();
        }
        t.push_back(line.to_string());
    }
    /// `"; last output lines:\n  …"`, or nothing when there was no output.
    pub(crate) fn suffix(&self) -> String {
        let t = self
            .tail
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if t.is_empty() {
            return String::new();
        }
        let lines: Vec<String> = t.iter().map(|l| format!("  {l}")).collect();
        format!("\nLast output lines:\n{}", lines.join("\n"))
    }
}

impl OutputSink for TailSink<'_> {
    fn stdout_line(&self, line: &str) {
        self.keep(line);
        self.ui.message(line);
    }
    fn stderr_line(&self, line: &str) {
        self.keep(line);
        self.ui.error(line);
    }
}

/// The instance side of a provisioner run: the communicator, the UI, the cancel token and
/// whether guest commands get `sudo ` in front.
pub(crate) struct Guest<'a> {
    pub comm: &'a dyn Communicator,
    pub ui: &'a dyn Ui,
    pub cancel: &'a CancellationToken,
    pub sudo: bool,
    /// Directories this provisioner creates get `chmod 0777` (chef-solo, puppet-masterless).
    pub open_dirs: bool,
}

impl Guest<'_> {
    /// Runs `command`, streaming its output; returns the exit status and the output's tail.
    pub(crate) async fn run(&self, command: &str) -> anyhow::Result<(i32, String)> {
        let sink = TailSink::new(self.ui);
        let status = self.comm.start(command, &sink, self.cancel).await?;
        Ok((status, sink.suffix()))
    }

    /// Runs `command`; a non-zero status is an error `"<what>: exit status N"` plus the tail.
    pub(crate) async fn run_ok(&self, command: &str, what: &str) -> anyhow::Result<()> {
        let (status, tail) = self.run(command).await?;
        if status != 0 {
            bail!("{what}: exit status {status}{tail}");
        }
        Ok(())
    }

    /// `cmd` with `sudo ` in front when this guest uses sudo (Packer's `GuestCommands.sudo`).
    pub(crate) fn sudo(&self, cmd: &str) -> String {
        if self.sudo {
            format!("sudo {cmd}")
        } else {
            cmd.to_string()
        }
    }

    /// `mkdir -p '<dir>'` (Packer's unix guest command).
    pub(crate) async fn mkdir(&self, dir: &str) -> anyhow::Result<()> {
        self.ui.message(&format!("Creating directory: {dir}"));
        self.run_ok(
            &self.sudo(&format!("mkdir -p '{dir}'")),
            "Non-zero exit status",
        )
        .await
    }

    /// `mkdir -p`, then `chmod 0777` when the provisioner opens its directories (so the
    /// unprivileged login user can upload into a directory sudo created).
    pub(crate) async fn mkdir_open(&self, dir: &str) -> anyhow::Result<()> {
        self.mkdir(dir).await?;
        if !self.open_dirs {
            return Ok(());
        }
        self.run_ok(
            &self.sudo(&format!("chmod 0777 '{dir}'")),
            "Non-zero exit status",
        )
        .await
    }

    /// `rm -rf '<dir>'`.
    pub(crate) async fn remove_dir(&self, dir: &str) -> anyhow::Result<()> {
        self.ui.message(&format!("Removing directory: {dir}"));
        self.run_ok(
            &self.sudo(&format!("rm -rf '{dir}'")),
            "Non-zero exit status",
        )
        .await
    }

    /// Creates `dst` and copies the contents of the local directory `src` into it.
    pub(crate) async fn upload_dir(&self, src: &Path, dst: &str) -> anyhow::Result<()> {
        self.mkdir_open(dst).await?;
        self.comm
            .upload_dir(src, dst, self.cancel)
            .await
            .map_err(|e| anyhow!("uploading {} to {dst}: {e}", src.display()))
    }

    /// Uploads the local file `src` to `dst`.
    pub(crate) async fn upload_file(&self, src: &Path, dst: &str) -> anyhow::Result<()> {
        self.comm
            .upload(src, dst, None, self.cancel)
            .await
            .map_err(|e| anyhow!("Error uploading {}: {e}", src.display()))
    }

    /// Uploads generated content to `dst`.
    pub(crate) async fn upload_bytes(&self, data: &[u8], dst: &str) -> anyhow::Result<()> {
        self.comm
            .upload_bytes(data, dst, Some(0o644), self.cancel)
            .await
            .map_err(|e| anyhow!("Error uploading {dst}: {e}"))
    }
}

/// What a local path must be.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Kind {
    File,
    Dir,
    Any,
}

/// Stats `path` (relative to the template's directory) as `kind`; `Err` carries Go's stat
/// text (`stat x: no such file or directory`) or `None` for "exists but is the wrong kind".
pub(crate) fn check_path(d: &Decoder, path: &str, kind: Kind) -> Result<PathBuf, Option<String>> {
    let full = resolve(&d.base_dir, path);
    match std::fs::metadata(&full) {
        Err(e) => Err(Some(go_stat_error(Path::new(path), &e))),
        Ok(m) if kind == Kind::File && m.is_dir() => Err(None),
        Ok(m) if kind == Kind::Dir && !m.is_dir() => Err(None),
        Ok(_) => Ok(full),
    }
}

/// Absolute form of a checked local path (commands and uploads see it from any directory).
pub(crate) fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Renders a go template with `.` bound to `dot` and the build's data.
pub(crate) fn render(
    data: &RunData,
    template: &str,
    dot: &[(&str, Value)],
) -> anyhow::Result<String> {
    let map: BTreeMap<String, Value> = dot
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    data.render(template, Some(Value::Map(map)))
}

pub(crate) fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

/// Checks that `guest_os_type` is one Packer knows; rpack runs the unix commands only.
pub(crate) fn check_guest_os(d: &mut Decoder) {
    if let Some(t) = d.string("guest_os_type").filter(|t| !t.is_empty()) {
        match t.to_lowercase().as_str() {
            "unix" => {}
            "windows" => d.error(
                "guest_os_type",
                "guest_os_type \"windows\" is not supported by rpack (it builds Linux images over SSH); use \"unix\"",
            ),
            _ => d.error("guest_os_type", format!("Invalid guest_os_type: \"{t}\"")),
        }
    }
}

/// A private local directory (mode 0700) removed with everything in it when dropped — on every
/// exit path, errors and cancellation included.
pub(crate) struct PrivateDir(PathBuf);

impl PrivateDir {
    pub(crate) fn new(prefix: &str) -> anyhow::Result<Self> {
        Self::new_in(None, prefix)
    }

    /// A new private directory in `parent` (made 0700 when missing: the build's work
    /// directory), or in the system temp dir when `parent` is `None`.
    pub(crate) fn new_in(parent: Option<&Path>, prefix: &str) -> anyhow::Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        let p = match parent {
            Some(dir) => {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
                    .map_err(|e| anyhow!("creating {}: {e}", dir.display()))?;
                let meta = std::fs::symlink_metadata(dir)
                    .map_err(|e| anyhow!("checking {}: {e}", dir.display()))?;
                use std::os::unix::fs::MetadataExt;
                // SAFETY: geteuid has no preconditions and cannot fail.
                let me = unsafe { libc::geteuid() };
                if !meta.is_dir() || meta.uid() != me || meta.mode() & 0o077 != 0 {
                    bail!(
                        "{} is not a private directory of this user (mode 0700)",
                        dir.display()
                    );
                }
                dir.join(format!("{prefix}-{}", uuid::Uuid::new_v4().simple()))
            }
            None => crate::communicator::temp_path(prefix),
        };
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&p)
            .map_err(|e| anyhow!("creating {}: {e}", p.display()))?;
        Ok(PrivateDir(p))
    }
    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
    /// Writes `name` in this directory with `mode`; returns its path.
    pub(crate) fn write(&self, name: &str, data: &[u8], mode: u32) -> anyhow::Result<PathBuf> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let p = self.0.join(name);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&p)
            .map_err(|e| anyhow!("writing {}: {e}", p.display()))?;
        f.write_all(data)
            .map_err(|e| anyhow!("writing {}: {e}", p.display()))?;
        Ok(p)
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The outcome of a local tool run.
pub(crate) struct LocalExit {
    pub code: i32,
    pub tail: String,
}

/// Runs a local program in its own process group, streaming stdout/stderr line by line to the
/// UI. Cancellation kills the whole group (Ansible forks workers and ssh processes).
pub(crate) async fn run_local(
    ui: &dyn Ui,
    program: &str,
    args: &[String],
    env: &[(String, String)],
    cancel: &CancellationToken,
) -> anyhow::Result<LocalExit> {
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    let mut child = spawn_retrying_busy(&mut cmd).map_err(|e| not_installed(program, &e))?;
    let sink = TailSink::new(ui);
    let mut out = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let mut err = BufReader::new(child.stderr.take().expect("piped stderr")).lines();
    let (mut out_done, mut err_done) = (false, false);
    let status = loop {
        tokio::select! {
            l = out.next_line(), if !out_done => match l {
                Ok(Some(l)) => sink.stdout_line(l.trim_end()),
                _ => out_done = true,
            },
            l = err.next_line(), if !err_done => match l {
                Ok(Some(l)) => sink.stderr_line(l.trim_end()),
                _ => err_done = true,
            },
            s = child.wait(), if out_done && err_done => break s?,
            () = cancel.cancelled() => {
                if let Some(pid) = child.id() {
                    // SAFETY: kill(2) of the process group created with process_group(0).
                    unsafe { libc::kill(-(pid as i32), libc::SIGTERM) };
                    tokio::select! {
                        _ = child.wait() => {}
                        () = tokio::time::sleep(std::time::Duration::from_secs(3)) => {
                            // SAFETY: as above; the group ignored SIGTERM.
                            unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
                            let _ = child.wait().await;
                        }
                    }
                }
                bail!("{program} was interrupted (cancelled)");
            }
        }
    };
    let code = if let Some(c) = status.code() {
        c
    } else {
        use std::os::unix::process::ExitStatusExt;
        128 + status.signal().unwrap_or(0)
    };
    Ok(LocalExit {
        code,
        tail: sink.suffix(),
    })
}

/// `cmd.spawn()`, tried again a few times on ETXTBSY: a program file written just before (a
/// generated wrapper, a test's stand-in) can still be open for writing in a child that another
/// thread forked in the meantime, until that child's exec closes it (Go's os/exec has the same
/// race, golang/go#22315).
fn spawn_retrying_busy(
    cmd: &mut tokio::process::Command,
) -> std::io::Result<tokio::process::Child> {
    let mut tries = 0;
    loop {
        match cmd.spawn() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 10 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

/// The message for a local tool that cannot be started.
pub(crate) fn not_installed(program: &str, e: &std::io::Error) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        let name = Path::new(program)
            .file_name()
            .map_or_else(|| program.to_string(), |n| n.to_string_lossy().into_owned());
        let how = if name.starts_with("ansible") {
            "install Ansible on this machine (for example `pip install ansible-core`) or set `command`/`galaxy_command` to its path"
        } else {
            "install it or give its full path"
        };
        anyhow!("{name} is not installed or not on PATH ({program}): {how}")
    } else {
        anyhow!("starting {program}: {e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::testing::Recording;

    #[tokio::test]
    async fn local_runs_stream_and_keep_the_tail() {
        let ui = Recording::default();
        let args = vec![
            "-c".to_string(),
            "echo one; sleep 0.2; echo two >&2; exit 4".to_string(),
        ];
        let r = run_local(&ui, "/bin/sh", &args, &[], &CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(r.code, 4);
        assert_eq!(r.tail, "\nLast output lines:\n  one\n  two");
        assert_eq!(ui.lines(), ["message: one", "error: two"]);
    }

    #[tokio::test]
    async fn a_missing_tool_names_itself_and_how_to_install() {
        let ui = Recording::default();
        let e = run_local(
            &ui,
            "ansible-playbook-not-here",
            &[],
            &[],
            &CancellationToken::new(),
        )
        .await
        .err()
        .unwrap()
        .to_string();
        assert!(
            e.starts_with("ansible-playbook-not-here is not installed or not on PATH"),
            "{e}"
        );
        assert!(e.contains("pip install ansible-core"), "{e}");
    }

    #[tokio::test]
    async fn cancel_kills_the_process_group() {
        let ui = Recording::default();
        let cancel = CancellationToken::new();
        let c2 = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            c2.cancel();
        });
        let start = std::time::Instant::now();
        // The child sleeps in a grandchild; killing only the shell would leave it running.
        let args = vec!["-c".to_string(), "sleep 30 & wait".to_string()];
        let e = run_local(&ui, "/bin/sh", &args, &[], &cancel)
            .await
            .err()
            .unwrap();
        assert_eq!(e.to_string(), "/bin/sh was interrupted (cancelled)");
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
    }
}
