//! The `ansible` provisioner's proxy mode (`use_proxy: true`, Packer's "adapter"): an SSH server
//! on a loopback port that Ansible's ssh connects to, relaying every command and every SFTP
//! transfer to the build's [`Communicator`]. It is what makes Ansible work where it has no
//! route of its own to the instance (Session Manager, a private subnet reached only by rpack).
//!
//! The SSH protocol is `russh`'s (server side) and the SFTP protocol `russh-sftp`'s; what rpack
//! owns is the mapping: [`ssh`] accepts only the key generated for this run and turns `exec`
//! requests into [`Request::Exec`]; [`sftp`] turns file operations into uploads, downloads and
//! small remote commands. Both run on tokio tasks and talk to the provisioner's own future
//! through a channel, which [`serve`] drains with the borrowed communicator.
//!
//! A command's standard input is relayed too: what Ansible's ssh sends on the channel goes
//! through a pipe into [`Communicator::start_with_stdin`], and the client's end of file closes
//! it, so pipelining and the `piped` transfer method work through the proxy.

mod sftp;
mod ssh;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::anyhow;
use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::communicator::keys::PrivateKey;
use crate::communicator::{CommError, Communicator, OutputSink};
use crate::provisioners::staging::PrivateDir;

/// One piece of a relayed command's output (`true`: standard error).
pub(crate) type Chunk = (bool, String);

/// What the SSH side asks of the communicator.
pub(crate) enum Request {
    Exec {
        command: String,
        output: mpsc::UnboundedSender<Chunk>,
        /// Cancelled when the client closes the channel (Ansible's ssh was killed).
        stop: CancellationToken,
        /// The read end of the pipe carrying the client's standard input; `None`: none.
        stdin: Option<std::os::fd::OwnedFd>,
        done: oneshot::Sender<Result<i32, String>>,
    },
    Upload {
        local: PathBuf,
        remote: String,
        mode: u32,
        done: oneshot::Sender<Result<(), String>>,
    },
    Download {
        remote: String,
        local: PathBuf,
        done: oneshot::Sender<Result<(), String>>,
    },
}

/// The SSH side's handle on the communicator (cheap to clone).
#[derive(Clone)]
pub(crate) struct Relay(mpsc::Sender<Request>);

impl Relay {
    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, String>>) -> Request,
    ) -> Result<T, String> {
        let (tx, rx) = oneshot::channel();
        self.0
            .send(make(tx))
            .await
            .map_err(|_| "the provisioner has stopped".to_string())?;
        rx.await
            .map_err(|_| "the provisioner has stopped".to_string())?
    }

    /// Runs `command` remotely, its output sent to `output` as it comes and its standard input
    /// read from `stdin` (end of file at once without one, like `ssh -n`).
    pub(crate) async fn exec(
        &self,
        command: &str,
        output: mpsc::UnboundedSender<Chunk>,
        stop: CancellationToken,
        stdin: Option<std::os::fd::OwnedFd>,
    ) -> Result<i32, String> {
        let command = match stdin {
            Some(_) => command.to_string(),
            None => format!("exec </dev/null; {command}"),
        };
        self.ask(|done| Request::Exec {
            command,
            output,
            stop,
            stdin,
            done,
        })
        .await
    }

    /// Runs `command` remotely; its exit code and standard output.
    pub(crate) async fn capture(&self, command: &str) -> Result<(i32, String), String> {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let code = self
            .exec(command, tx, CancellationToken::new(), None)
            .await?;
        let mut out = String::new();
        while let Ok((err, line)) = rx.try_recv() {
            if !err {
                out.push_str(&line);
                out.push('\n');
            }
        }
        Ok((code, out))
    }

    pub(crate) async fn upload(&self, local: &Path, remote: &str, mode: u32) -> Result<(), String> {
        self.ask(|done| Request::Upload {
            local: local.to_path_buf(),
            remote: remote.to_string(),
            mode,
            done,
        })
        .await
    }

    pub(crate) async fn download(&self, remote: &str, local: &Path) -> Result<(), String> {
        self.ask(|done| Request::Download {
            remote: remote.to_string(),
            local: local.to_path_buf(),
            done,
        })
        .await
    }
}

/// The running proxy: its port, the files Ansible needs, and the tasks serving it (stopped and
/// the files removed when this is dropped).
pub(crate) struct Proxy {
    pub port: u16,
    /// The private key Ansible authenticates with (absent with `ssh_authorized_key_file`).
    pub client_key: Option<PathBuf>,
    /// A known_hosts file naming the proxy's host key for `[127.0.0.1]:port`.
    pub known_hosts: PathBuf,
    requests: Option<mpsc::Receiver<Request>>,
    accept: tokio::task::JoinHandle<()>,
    _dir: PrivateDir,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// How the proxy is set up (Packer's `local_port`, `ssh_host_key_file`, `ssh_authorized_key_file`).
#[derive(Default)]
pub(crate) struct Options<'a> {
    pub port: Option<u16>,
    pub host_key_file: Option<&'a Path>,
    pub authorized_key_file: Option<&'a Path>,
}

impl Proxy {
    /// Binds 127.0.0.1 (`local_port` or a free port) and starts accepting connections.
    pub(crate) async fn start(opts: &Options<'_>) -> anyhow::Result<Proxy> {
        let dir = PrivateDir::new("rpack-ansible-proxy")?;
        let host_key_text = match opts.host_key_file {
            Some(p) => std::fs::read_to_string(p)
                .map_err(|e| anyhow!("ssh_host_key_file: reading {}: {e}", p.display()))?,
            None => PrivateKey::generate_ed25519()
                .and_then(|k| k.to_openssh())
                .map_err(|e| anyhow!("generating the proxy's host key: {e}"))?,
        };
        let host_key = russh::keys::decode_secret_key(&host_key_text, None)
            .map_err(|e| anyhow!("ssh_host_key_file: not a usable private key: {e}"))?;
        let (authorized, client_key) = if let Some(p) = opts.authorized_key_file {
            let text = std::fs::read_to_string(p)
                .map_err(|e| anyhow!("ssh_authorized_key_file: reading {}: {e}", p.display()))?;
            let key = russh::keys::PublicKey::from_openssh(text.trim())
                .map_err(|e| anyhow!("ssh_authorized_key_file: {}: {e}", p.display()))?;
            (key, None)
        } else {
            let k = PrivateKey::generate_ed25519()
                .map_err(|e| anyhow!("generating Ansible's key for the proxy: {e}"))?;
            let text = k.to_openssh().map_err(|e| anyhow!("{e}"))?;
            let file = dir.write("ansible-key", text.as_bytes(), 0o600)?;
            let key = russh::keys::PublicKey::from_openssh(&k.public_key_line())
                .map_err(|e| anyhow!("reading the generated key: {e}"))?;
            (key, Some(file))
        };
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", opts.port.unwrap_or(0)))
            .await
            .map_err(|e| {
                anyhow!(
                    "the Ansible proxy cannot listen on 127.0.0.1:{}: {e}",
                    opts.port.unwrap_or(0)
                )
            })?;
        let port = listener.local_addr()?.port();
        let public = host_key
            .public_key()
            .to_openssh()
            .map_err(|e| anyhow!("{e}"))?;
        let known_hosts = dir.write(
            "known_hosts",
            format!("[127.0.0.1]:{port} {public}\n").as_bytes(),
            0o600,
        )?;
        let config = Arc::new(ssh::config(host_key));
        let (tx, rx) = mpsc::channel(16);
        let relay = Relay(tx);
        // Only the path goes to the tasks: the directory is removed when the proxy drops,
        // whenever the runtime gets round to dropping the aborted tasks.
        let scratch = dir.path().to_path_buf();
        let accept = tokio::spawn(async move {
            let mut sessions = tokio::task::JoinSet::new();
            while let Ok((stream, peer)) = listener.accept().await {
                let handler = ssh::Session::new(
                    relay.clone(),
                    authorized.clone(),
                    scratch.clone(),
                    peer.to_string(),
                );
                let config = config.clone();
                sessions.spawn(async move {
                    let _ = stream.set_nodelay(true);
                    if let Ok(running) = russh::server::run_stream(config, stream, handler).await {
                        let _ = running.await;
                    }
                });
            }
        });
        Ok(Proxy {
            port,
            client_key,
            known_hosts,
            requests: Some(rx),
            accept,
            _dir: dir,
        })
    }

    /// The requests to serve with [`serve`] (once).
    pub(crate) fn requests(&mut self) -> mpsc::Receiver<Request> {
        self.requests.take().expect("requests taken once")
    }
}

/// Serves the proxy's requests with `comm` until every sender is gone; requests run
/// concurrently. `cancel` stops the remote commands.
pub(crate) async fn serve(
    comm: &dyn Communicator,
    mut requests: mpsc::Receiver<Request>,
    cancel: &CancellationToken,
) {
    let mut running = FuturesUnordered::new();
    loop {
        tokio::select! {
            r = requests.recv() => match r {
                Some(r) => running.push(handle(comm, r, cancel)),
                None => break,
            },
            Some(()) = running.next(), if !running.is_empty() => {}
        }
    }
    while running.next().await.is_some() {}
}

struct ChannelSink(mpsc::UnboundedSender<Chunk>);

impl OutputSink for ChannelSink {
    fn stdout_line(&self, line: &str) {
        let _ = self.0.send((false, line.to_string()));
    }
    fn stderr_line(&self, line: &str) {
        let _ = self.0.send((true, line.to_string()));
    }
}

fn text(e: CommError) -> String {
    e.to_string()
}

async fn handle(comm: &dyn Communicator, r: Request, cancel: &CancellationToken) {
    match r {
        Request::Exec {
            command,
            output,
            stop,
            stdin,
            done,
        } => {
            let token = cancel.child_token();
            let sink = ChannelSink(output);
            let run = async {
                match stdin {
                    Some(fd) => comm.start_with_stdin(&command, fd, &sink, &token).await,
                    None => comm.start(&command, &sink, &token).await,
                }
            };
            tokio::pin!(run);
            let r = tokio::select! {
                r = &mut run => r,
                () = stop.cancelled() => {
                    token.cancel();
                    run.await
                }
            };
            let _ = done.send(r.map_err(text));
        }
        Request::Upload {
            local,
            remote,
            mode,
            done,
        } => {
            let r = comm.upload(&local, &remote, Some(mode), cancel).await;
            let _ = done.send(r.map_err(text));
        }
        Request::Download {
            remote,
            local,
            done,
        } => {
            let r = comm.download(&remote, &local, cancel).await;
            let _ = done.send(r.map_err(text));
        }
    }
}

#[cfg(test)]
mod tests;
