//! The proxy's SSH session handler: public-key authentication against the one key generated
//! for this run, `exec` relayed to the communicator with its standard input, output and exit
//! status, `pty-req`
//! accepted (Ansible's `ssh -tt`; the command runs without a terminal), and the `sftp`
//! subsystem served by [`super::sftp`].

use std::collections::HashMap;
use std::path::PathBuf;

use russh::server::{Auth, ChannelOpenHandle, Msg, Session as SshSession, VerifiedPublicKey};
use russh::{Channel, ChannelId, Pty};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::sftp::Sftp;
use super::Relay;

/// The server configuration: `host_key`, no auth delay for the client's first `none` probe,
/// and no inactivity limit (a quiet remote command may run for long).
pub(super) fn config(host_key: russh::keys::PrivateKey) -> russh::server::Config {
    russh::server::Config {
        keys: vec![host_key],
        auth_rejection_time: std::time::Duration::from_millis(200),
        auth_rejection_time_initial: Some(std::time::Duration::ZERO),
        inactivity_timeout: None,
        nodelay: true,
        ..Default::default()
    }
}

/// One client connection.
pub(super) struct Session {
    relay: Relay,
    authorized: russh::keys::PublicKey,
    scratch: PathBuf,
    peer: String,
    channels: HashMap<ChannelId, Channel<Msg>>,
    stops: HashMap<ChannelId, CancellationToken>,
}

impl Session {
    pub(super) fn new(
        relay: Relay,
        authorized: russh::keys::PublicKey,
        scratch: PathBuf,
        peer: String,
    ) -> Session {
        Session {
            relay,
            authorized,
            scratch,
            peer,
            channels: HashMap::new(),
            stops: HashMap::new(),
        }
    }
}

impl russh::server::Handler for Session {
    type Error = russh::Error;

    async fn auth_publickey_offered(
        &mut self,
        _user: &str,
        offer: russh::server::PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        Ok(
            if offer.public_key.key_data() == self.authorized.key_data() {
                Auth::Accept
            } else {
                Auth::reject()
            },
        )
    }

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        if key.public_key.key_data() == self.authorized.key_data() {
            tracing::debug!(peer = %self.peer, user, "ansible proxy: client authenticated");
            Ok(Auth::Accept)
        } else {
            Ok(Auth::reject())
        }
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        self.channels.insert(channel.id(), channel);
        reply.accept().await;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn pty_request(
        &mut self,
        channel: ChannelId,
        _term: &str,
        _col_width: u32,
        _row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(Pty, u32)],
        session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)
    }

    async fn env_request(
        &mut self,
        channel: ChannelId,
        _name: &str,
        _value: &str,
        session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        session.channel_failure(channel)
    }

    async fn exec_request(
        &mut self,
        id: ChannelId,
        data: &[u8],
        session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        let Some(channel) = self.channels.remove(&id) else {
            return session.channel_failure(id);
        };
        session.channel_success(id)?;
        let command = String::from_utf8_lossy(data).into_owned();
        let stop = CancellationToken::new();
        self.stops.insert(id, stop.clone());
        let handle = session.handle();
        let relay = self.relay.clone();
        // The client's standard input goes into a pipe the communicator reads.
        let (stdin_tx, stdin_rx) = match tokio::net::unix::pipe::pipe()
            .and_then(|(tx, rx)| Ok((tx, rx.into_blocking_fd()?)))
        {
            Ok((tx, rx)) => (Some(tx), Some(rx)),
            Err(e) => {
                tracing::warn!("ansible proxy: no pipe for standard input ({e}); relaying none");
                (None, None)
            }
        };
        tokio::spawn(async move {
            let drain = tokio::spawn(forward_stdin(channel, stdin_tx));
            let (tx, mut rx) = mpsc::unbounded_channel();
            let run = relay.exec(&command, tx, stop, stdin_rx);
            tokio::pin!(run);
            let code = loop {
                tokio::select! {
                    Some((err, line)) = rx.recv() => send_line(&handle, id, err, line).await,
                    r = &mut run => break r,
                }
            };
            while let Ok((err, line)) = rx.try_recv() {
                send_line(&handle, id, err, line).await;
            }
            let status = match code {
                Ok(c) => c.clamp(0, 255) as u32,
                Err(e) => {
                    send_line(&handle, id, true, format!("rpack ansible proxy: {e}")).await;
                    255
                }
            };
            let _ = handle.exit_status_request(id, status).await;
            let _ = handle.eof(id).await;
            let _ = handle.close(id).await;
            drain.abort();
        });
        Ok(())
    }

    async fn subsystem_request(
        &mut self,
        id: ChannelId,
        name: &str,
        session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        match (name, self.channels.remove(&id)) {
            ("sftp", Some(channel)) => {
                session.channel_success(id)?;
                let sftp = Sftp::new(self.relay.clone(), self.scratch.clone());
                russh_sftp::server::run(channel.into_stream(), sftp).await;
                Ok(())
            }
            _ => session.channel_failure(id),
        }
    }

    async fn channel_close(
        &mut self,
        id: ChannelId,
        _session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        self.channels.remove(&id);
        if let Some(stop) = self.stops.remove(&id) {
            stop.cancel();
        }
        Ok(())
    }
}

/// Copies the client's channel data into the pipe until the client's end of file (which closes
/// the pipe). Once the command stops reading (the pipe is gone), the rest is read and dropped.
async fn forward_stdin(
    mut channel: Channel<Msg>,
    mut pipe: Option<tokio::net::unix::pipe::Sender>,
) {
    use tokio::io::AsyncWriteExt;
    while let Some(msg) = channel.wait().await {
        match msg {
            russh::ChannelMsg::Data { data } => {
                if let Some(p) = pipe.as_mut() {
                    if p.write_all(&data).await.is_err() {
                        pipe = None;
                    }
                }
            }
            russh::ChannelMsg::Eof => pipe = None,
            _ => {}
        }
    }
}

async fn send_line(handle: &russh::server::Handle, id: ChannelId, err: bool, mut line: String) {
    line.push('\n');
    if err {
        let _ = handle.extended_data(id, 1, line.into_bytes()).await;
    } else {
        let _ = handle.data(id, line.into_bytes()).await;
    }
}
