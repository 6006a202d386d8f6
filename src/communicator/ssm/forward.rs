//! A local port forward over Session Manager, what Packer gets from `session-manager-plugin`
//! listening on `session_manager_port`: a TCP listener on 127.0.0.1 whose every accepted
//! connection runs over its own session, started and bridged by [`SsmTransport::open`] (so it
//! is in the ledger from StartSession's answer, and terminated when the connection closes, when
//! the forward is closed, or when the build is cancelled). Tools that make their own SSH
//! connection (the `ansible` provisioner without its proxy) connect here.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use super::{SsmError, SsmTransport};

/// A listening forward; [`LocalForward::close`] stops it and ends its connections' sessions.
pub struct LocalForward {
    addr: SocketAddr,
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl LocalForward {
    /// Listens on 127.0.0.1:`port` (`0`: a free port the system picks) and carries each
    /// connection over a new session of `transport`. `cancel` (the build's) ends everything.
    pub async fn start(
        transport: Arc<SsmTransport>,
        port: u16,
        cancel: &CancellationToken,
    ) -> Result<LocalForward, SsmError> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
            .await
            .map_err(|e| SsmError::Other(format!("listening on 127.0.0.1:{port}: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| SsmError::Other(format!("listening on 127.0.0.1:{port}: {e}")))?;
        let stop = cancel.child_token();
        let task = tokio::spawn(serve(listener, transport, stop.clone()));
        Ok(LocalForward {
            addr,
            stop,
            task: Some(task),
        })
    }

    /// Where the forward listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops listening, closes every forwarded connection (their sessions' pumps then end and
    /// terminate them; [`SsmTransport::close`] waits for that) and waits until all is done.
    pub async fn close(mut self) {
        self.stop.cancel();
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for LocalForward {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Accepts until `stop`; then drops the listener and waits for the connections to wind down.
async fn serve(listener: TcpListener, transport: Arc<SsmTransport>, stop: CancellationToken) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            a = listener.accept() => match a {
                Ok((tcp, peer)) => {
                    tracing::debug!("Session Manager port forward: connection from {peer}");
                    conns.spawn(carry(tcp, transport.clone(), stop.clone()));
                }
                Err(e) => {
                    // Out of descriptors and the like: wait a little rather than spin.
                    tracing::warn!("Session Manager port forward: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
    drop(listener);
    // Each connection sees `stop` too and returns, dropping its tunnel.
    while conns.join_next().await.is_some() {}
}

/// One forwarded connection: a new session, bridged to `tcp` until either side closes or
/// `stop`. Dropping the tunnel closes the session's socket, which ends and terminates it.
async fn carry(mut tcp: TcpStream, transport: Arc<SsmTransport>, stop: CancellationToken) {
    let tunnel = match transport.open(&stop).await {
        Ok(t) => t,
        Err(e) if e.is_cancelled() => return,
        Err(e) => {
            transport
                .events
                .say(&format!("Session Manager port forward: {e}"));
            return;
        }
    };
    let local = tunnel
        .socket
        .try_clone()
        .and_then(|s| {
            s.set_nonblocking(true)?;
            tokio::net::UnixStream::from_std(s)
        })
        .map_err(|e| format!("session socket: {e}"));
    let mut local = match local {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!("Session Manager port forward: {e}");
            return;
        }
    };
    // Whichever side stops first ends the connection: a session carries no half-close (the
    // instance's sshd would never hear that the client left), so the tunnel goes as a whole.
    let sid = &tunnel.session_id;
    let (mut tcp_r, mut tcp_w) = tcp.split();
    let (mut loc_r, mut loc_w) = local.split();
    tokio::select! {
        r = tokio::io::copy(&mut tcp_r, &mut loc_w) => {
            tracing::debug!("Session Manager port forward: session {sid}: client closed ({r:?})");
        }
        r = tokio::io::copy(&mut loc_r, &mut tcp_w) => {
            tracing::debug!("Session Manager port forward: session {sid}: instance side closed ({r:?})");
        }
        () = stop.cancelled() => {}
    }
    drop(local);
    drop(tunnel);
}
