//! What the SSH communicator is asked to connect to: the target and bastion endpoints, their
//! credentials, and the session options, derived from the decoded communicator configuration.

use std::path::PathBuf;
use std::time::Duration;

use crate::communicator::config::{SshConfig, TransferMethod};
use crate::communicator::keys::KeyText;

/// How to authenticate to one SSH server.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Auth {
    pub password: Option<String>,
    pub private_key_file: Option<PathBuf>,
    /// `ssh_certificate_file`: an OpenSSH certificate of `private_key_file`'s key, offered
    /// instead of the bare key (as Packer's certificate signer).
    pub certificate_file: Option<PathBuf>,
    /// A private key in memory (the build's temporary key), offered after `private_key_file`.
    pub private_key: Option<KeyText>,
    pub agent: bool,
    /// The agent's socket; `None` is `$SSH_AUTH_SOCK`, as in Packer.
    pub agent_socket: Option<PathBuf>,
    /// The host key this server must present (bastion only: `ssh_bastion_host_key`, an OpenSSH
    /// public key line or a `SHA256:` fingerprint). `None`: the first key seen is pinned.
    pub host_key: Option<String>,
}

/// One SSH endpoint: address, user and credentials.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub auth: Auth,
}

/// Everything needed to dial the machine.
#[derive(Debug, Clone)]
pub struct ConnectParams {
    pub target: Endpoint,
    pub bastion: Option<Endpoint>,
    pub pty: bool,
    pub keep_alive: Option<Duration>,
    pub read_write_timeout: Option<Duration>,
    pub transfer: TransferMethod,
    /// Packer's default with `ssh_agent_auth`. Not requested: libssh2 cannot serve forwarded
    /// agent channels, and a remote `SSH_AUTH_SOCK` that refuses every connection is worse
    /// than none.
    pub agent_forwarding: bool,
}

impl ConnectParams {
    /// Connection parameters from a decoded config and the host the builder found.
    pub fn from_config(cfg: &SshConfig, host: &str) -> Self {
        let auth = Auth {
            password: cfg.password.clone(),
            private_key_file: cfg.private_key_file.clone(),
            certificate_file: cfg.certificate_file.clone(),
            private_key: cfg.private_key.clone(),
            agent: cfg.agent_auth,
            agent_socket: None,
            host_key: None,
        };
        ConnectParams {
            target: Endpoint {
                host: host.to_string(),
                port: cfg.port,
                user: cfg.username.clone(),
                auth,
            },
            bastion: cfg.bastion.as_ref().map(|b| Endpoint {
                host: b.host.clone(),
                port: b.port,
                user: b.username.clone(),
                auth: Auth {
                    password: b.password.clone(),
                    private_key_file: b.private_key_file.clone(),
                    certificate_file: b.certificate_file.clone(),
                    private_key: None,
                    agent: b.agent_auth,
                    agent_socket: None,
                    host_key: b.host_key.clone(),
                },
            }),
            pty: cfg.pty,
            keep_alive: cfg.keep_alive_interval,
            read_write_timeout: cfg.read_write_timeout,
            transfer: cfg.file_transfer_method,
            agent_forwarding: cfg.agent_auth && !cfg.disable_agent_forwarding,
        }
    }
}
