//! How provisioners reach a machine: a small [`Communicator`] trait (run a command with streamed
//! output, upload, upload a directory, download) and its SSH implementation over `ssh2`
//! ([`ssh::SshComm`]), plus the communicator configuration keys shared by every builder
//! ([`config::SshConfig`]) and the OpenSSH key files rpack writes and checks ([`keys`]).

pub mod config;
pub(crate) mod host_key;
pub mod keys;
pub(crate) mod private_temp;
pub(crate) mod refuse;
pub mod ssh;
pub mod ssm;
pub mod tunnel_spec;

use std::path::Path;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

pub use config::SshConfig;
pub use ssh::SshComm;

/// Exit status reported when the remote command ended because the connection went away
/// (Packer's `packersdk.CmdDisconnect`, which users put in `valid_exit_codes`).
pub const CMD_DISCONNECT: i32 = 2_300_218;

/// Output of a remote command, delivered line by line as it arrives.
pub trait OutputSink: Send + Sync {
    fn stdout_line(&self, line: &str);
    fn stderr_line(&self, line: &str);
}

/// An [`OutputSink`] for commands whose output nobody reads.
pub struct Discard;
impl OutputSink for Discard {
    fn stdout_line(&self, _: &str) {}
    fn stderr_line(&self, _: &str) {}
}

/// Transfer progress: called with (bytes done, bytes total) as a transfer advances.
pub type Progress = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// The remote side of a build. Every call is cancellable through `cancel`.
#[async_trait::async_trait]
pub trait Communicator: Send + Sync {
    /// Runs `command` through the remote shell; returns its exit status. A dropped connection
    /// is an error of kind [`CommError::Disconnected`].
    async fn start(
        &self,
        command: &str,
        out: &dyn OutputSink,
        cancel: &CancellationToken,
    ) -> Result<i32, CommError>;
    /// As [`Communicator::start`], with the command's standard input read from `stdin` (the
    /// read end of a pipe) and closed (end of file) when the pipe's writer closes it. The
    /// default, for communicators that cannot feed standard input, runs the command without
    /// it and drops the pipe.
    async fn start_with_stdin(
        &self,
        command: &str,
        stdin: std::os::fd::OwnedFd,
        out: &dyn OutputSink,
        cancel: &CancellationToken,
    ) -> Result<i32, CommError> {
        drop(stdin);
        self.start(command, out, cancel).await
    }
    /// Uploads the bytes of `local` to the remote path `remote` with `mode` (default: the local
    /// file's permission bits).
    async fn upload(
        &self,
        local: &Path,
        remote: &str,
        mode: Option<u32>,
        cancel: &CancellationToken,
    ) -> Result<(), CommError>;
    /// Copies the *contents* of the local directory `local` into the remote directory `remote`
    /// (created when missing), keeping permission bits. Packer's trailing-slash rules (whether
    /// `src` itself or only its contents land in `dst`) are the provisioner's job.
    async fn upload_dir(
        &self,
        local: &Path,
        remote: &str,
        cancel: &CancellationToken,
    ) -> Result<(), CommError>;
    /// Downloads the remote file `remote` into the local file `local`.
    async fn download(
        &self,
        remote: &str,
        local: &Path,
        cancel: &CancellationToken,
    ) -> Result<(), CommError>;
    /// Copies the contents of the remote directory `remote` into the local directory `local`.
    async fn download_dir(
        &self,
        remote: &str,
        local: &Path,
        cancel: &CancellationToken,
    ) -> Result<(), CommError>;

    /// Uploads `data` to `remote` (scripts, env-var files). The default writes a local temporary
    /// file and calls [`Communicator::upload`].
    async fn upload_bytes(
        &self,
        data: &[u8],
        remote: &str,
        mode: Option<u32>,
        cancel: &CancellationToken,
    ) -> Result<(), CommError> {
        let path = temp_path("rpack-upload");
        let tmp = private_temp::PrivateTemp::write(path.clone(), data).map_err(|e| {
            CommError::Other(format!("writing temporary file {}: {e}", path.display()))
        })?;
        self.upload(tmp.path(), remote, mode.or(Some(0o644)), cancel)
            .await
    }

    /// [`Communicator::upload`] reporting progress; the default reports nothing.
    async fn upload_with_progress(
        &self,
        local: &Path,
        remote: &str,
        mode: Option<u32>,
        progress: Progress,
        cancel: &CancellationToken,
    ) -> Result<(), CommError> {
        let _ = progress;
        self.upload(local, remote, mode, cancel).await
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CommError {
    #[error("connection to the remote host was lost: {0}")]
    Disconnected(String),
    #[error("cancelled")]
    Cancelled,
    /// The server presented a different host key than at the first connection of this build.
    #[error("host key of {addr} changed during the build (first {expected}, now {found}); refusing to connect")]
    HostKeyChanged {
        addr: String,
        expected: String,
        found: String,
    },
    /// The host-key check refused the server's key (`ssh_host_key_check`); the message says
    /// which evidence disagrees. Nothing was sent to that server.
    #[error("{0}")]
    HostKeyRejected(String),
    /// The server refused our credentials (Packer counts these against `ssh_handshake_attempts`).
    #[error("{0}")]
    Auth(String),
    /// The server accepts none of the algorithms the template allows (`ssh_ciphers`,
    /// `ssh_key_exchange_algorithms`): connecting again cannot help.
    #[error("{0}")]
    Negotiation(String),
    #[error("{0}")]
    Other(String),
}

/// A unique path in the system temp dir (no file is created).
pub(crate) fn temp_path(prefix: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("{prefix}-{}", uuid::Uuid::new_v4().simple()))
}

/// Stands in for the communicator when a build has none (`"communicator": "none"`): every
/// remote operation fails with a clear message; `shell-local` and `breakpoint` still work.
pub struct NoneComm;

#[async_trait::async_trait]
impl Communicator for NoneComm {
    async fn start(
        &self,
        _: &str,
        _: &dyn OutputSink,
        _: &CancellationToken,
    ) -> Result<i32, CommError> {
        Err(none_err("remote commands cannot run"))
    }
    async fn upload(
        &self,
        _: &Path,
        _: &str,
        _: Option<u32>,
        _: &CancellationToken,
    ) -> Result<(), CommError> {
        Err(none_err("files cannot be uploaded"))
    }
    async fn upload_dir(&self, _: &Path, _: &str, _: &CancellationToken) -> Result<(), CommError> {
        Err(none_err("files cannot be uploaded"))
    }
    async fn download(&self, _: &str, _: &Path, _: &CancellationToken) -> Result<(), CommError> {
        Err(none_err("files cannot be downloaded"))
    }
    async fn download_dir(
        &self,
        _: &str,
        _: &Path,
        _: &CancellationToken,
    ) -> Result<(), CommError> {
        Err(none_err("files cannot be downloaded"))
    }
}

fn none_err(what: &str) -> CommError {
    CommError::Other(format!(
        "this build has no communicator (communicator: none); {what}"
    ))
}

#[cfg(test)]
mod none_comm_tests {
    use super::*;

    #[tokio::test]
    async fn every_operation_says_the_build_has_no_communicator() {
        let c = CancellationToken::new();
        let e = NoneComm
            .start("true", &Discard, &c)
            .await
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "this build has no communicator (communicator: none); remote commands cannot run"
        );
        let e = NoneComm
            .download("/x", Path::new("x"), &c)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.ends_with("; files cannot be downloaded"), "{e}");
    }
}
