//! `ssh_local_tunnels` and `ssh_remote_tunnels`: port forwarding while the build is connected.
//!
//! The tunnels run over their own SSH connection to the instance, dialled like the
//! communicator's (same transport and bastion, same host-key pin, same credentials and
//! algorithms): a libssh2 session serves one thread at a time, and the communicator's holds its
//! connection for a whole command. One thread ("rpack-tunnels") drives that session
//! non-blocking and every forwarded connection on it:
//! * local: rpack listens on `127.0.0.1:port` (Packer's `localhost:port`); each accepted
//!   connection opens a `direct-tcpip` channel to `host:hostport` as the instance sees it;
//! * remote: the instance's sshd listens on its `localhost:port` (`tcpip-forward`); each
//!   connection it passes back is connected to `host:hostport` as rpack's machine sees it.
//!
//! If the connection drops (a reboot), the thread dials again and asks for the remote forwards
//! again; local listeners stay bound and close what arrives meanwhile. Dropping the
//! [`Forwarder`] (the connect step's cleanup, on success, failure or cancellation) or the build's
//! cancellation stops the thread, closes every listener and connection, and ends the session.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use ssh2::{Channel, Listener};
use tokio_util::sync::CancellationToken;

use super::ctl::{is_retry, Ctl};
use super::transport::tcp_connect;
use super::tunnel::{Got, Half};
use super::{Conn, Inner, TICK};
use crate::communicator::tunnel_spec::{Direction, TunnelSpec};
use crate::communicator::CommError;

/// How long a remote tunnel's connection to its destination may take.
const DEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the server may take to answer a channel open or a forward request.
const OPEN_TIMEOUT: Duration = Duration::from_secs(15);
/// libssh2's `LIBSSH2_ERROR_SOCKET_TIMEOUT`: counted as the connection being gone.
const SOCKET_TIMEOUT: i32 = -30;
/// How long one dial of the tunnels' connection may take.
const DIAL_TIMEOUT: Duration = Duration::from_secs(20);

/// The running tunnels. Dropping it tears them down.
pub(super) struct Forwarder {
    stop: CancellationToken,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.stop.cancel();
        if let Some(t) = self.thread.take() {
            // The thread may hold the communicator's last reference for a moment.
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
    }
}

/// Binds the local listeners, dials the tunnels' connection and asks for the remote forwards,
/// then hands everything to the tunnels' thread. Blocking; any failure is the build's.
pub(super) fn start(
    inner: &Arc<Inner>,
    specs: &[TunnelSpec],
    cancel: &CancellationToken,
) -> Result<Forwarder, CommError> {
    let stop = cancel.child_token();
    let mut locals = Vec::new();
    for spec in specs.iter().filter(|s| s.direction == Direction::Local) {
        let l = TcpListener::bind(("127.0.0.1", spec.listen_port)).map_err(|e| {
            CommError::Other(format!(
                "Tunnel: Failed to bind local port 127.0.0.1:{} ({} '{}'): {e}",
                spec.listen_port,
                spec.key(),
                spec.text
            ))
        })?;
        l.set_nonblocking(true)
            .map_err(|e| CommError::Other(format!("Tunnel: listener: {e}")))?;
        tracing::info!(
            "Tunnel: Local bound on 127.0.0.1:{} forwarding to {}:{}",
            spec.listen_port,
            spec.host,
            spec.port
        );
        locals.push((l, spec.clone()));
    }
    let remotes: Vec<TunnelSpec> = specs
        .iter()
        .filter(|s| s.direction == Direction::Remote)
        .cloned()
        .collect();
    let live = Live::dial(inner, &remotes, &stop)?;
    let weak = Arc::downgrade(inner);
    let thread = {
        let stop = stop.clone();
        std::thread::Builder::new()
            .name("rpack-tunnels".into())
            .spawn(move || serve(&weak, Some(live), &locals, &remotes, &stop))
            .map_err(|e| CommError::Other(format!("starting the tunnels' thread: {e}")))?
    };
    Ok(Forwarder {
        stop,
        thread: Some(thread),
    })
}

/// The tunnels' SSH connection and the remote forwards asked on it.
struct Live {
    conn: Conn,
    remotes: Vec<(Listener, TunnelSpec)>,
}

impl Live {
    fn dial(
        inner: &Inner,
        remotes: &[TunnelSpec],
        stop: &CancellationToken,
    ) -> Result<Live, CommError> {
        let conn = inner.dial_as(stop, Some(Instant::now() + DIAL_TIMEOUT), false)?;
        let ctl = ctl(&conn, stop);
        let mut listeners = Vec::new();
        for spec in remotes {
            let what = format!(
                "Tunnel: Failed to bind remote localhost:{} on the instance ({} '{}')",
                spec.listen_port,
                spec.key(),
                spec.text
            );
            let deadline = Instant::now() + OPEN_TIMEOUT;
            let (l, _) = ctl
                .request(&conn.sess, &what, || {
                    if Instant::now() >= deadline {
                        return Err(timed_out());
                    }
                    conn.sess
                        .channel_forward_listen(spec.listen_port, Some("localhost"), None)
                })
                .map_err(|e| match e {
                    CommError::Other(m) => CommError::Other(format!(
                        "{m}. Hint: the instance's sshd must allow it (AllowTcpForwarding yes) \
                         and the port must be free there"
                    )),
                    e => e,
                })?;
            tracing::info!(
                "Tunnel: Remote bound on localhost:{} forwarding to {}:{}",
                spec.listen_port,
                spec.host,
                spec.port
            );
            listeners.push((l, spec.clone()));
        }
        conn.sess.set_blocking(false);
        Ok(Live {
            conn,
            remotes: listeners,
        })
    }

    /// Ends the session: the server drops its remote listeners with it.
    fn close(self) {
        self.conn.sess.set_blocking(true);
        self.conn.sess.set_timeout(1000);
        let _ = self
            .conn
            .sess
            .disconnect(None, "rpack: build done with the tunnels", None);
        self.conn.sock.shutdown();
    }
}

fn ctl(conn: &Conn, stop: &CancellationToken) -> Ctl {
    Ctl {
        cancel: stop.clone(),
        keep_alive: Some(TICK),
        rw_timeout: None,
        fd: conn.sock.fd(),
    }
}

/// One forwarded connection: a local TCP stream and its SSH channel.
struct Pair {
    tcp: TcpStream,
    ch: Channel,
    /// TCP → channel, and back.
    up: Half,
    down: Half,
    tcp_eof: bool,
    eof_to_send: bool,
    ch_eof: bool,
}

impl Pair {
    fn new(tcp: TcpStream, ch: Channel) -> Pair {
        let _ = tcp.set_nonblocking(true);
        let _ = tcp.set_nodelay(true);
        Pair {
            tcp,
            ch,
            up: Half::new(),
            down: Half::new(),
            tcp_eof: false,
            eof_to_send: false,
            ch_eof: false,
        }
    }

    /// Moves what can move without waiting. `Ok(progress)`, or `Err` when the pair is done.
    fn step(&mut self) -> Result<bool, ()> {
        let mut progress = false;
        if !self.up.pending() && !self.tcp_eof {
            match self.up.fill(&mut self.tcp).map_err(drop)? {
                Got::End => {
                    self.tcp_eof = true;
                    self.eof_to_send = true;
                }
                Got::Data => progress = true,
                Got::Nothing => {}
            }
        }
        if self.up.pending() {
            progress |= self.up.drain(&mut self.ch).map_err(drop)?;
        }
        if self.eof_to_send && !self.up.pending() {
            match self.ch.send_eof() {
                Ok(()) => self.eof_to_send = false,
                Err(e) if is_retry(&e) => {}
                Err(_) => return Err(()),
            }
        }
        if !self.down.pending() && !self.ch_eof {
            match self.down.fill(&mut self.ch).map_err(drop)? {
                Got::End if self.ch.eof() => {
                    self.ch_eof = true;
                    let _ = self.tcp.shutdown(std::net::Shutdown::Write);
                }
                Got::Data => progress = true,
                Got::End | Got::Nothing => {}
            }
        }
        if self.down.pending() {
            progress |= self.down.drain(&mut self.tcp).map_err(drop)?;
        }
        if self.tcp_eof && self.ch_eof && !self.eof_to_send && !self.down.pending() {
            return Err(());
        }
        Ok(progress)
    }
}

/// The tunnels' thread: accepts, pumps, keeps the connection alive and dials it again when it
/// drops, until `stop`.
fn serve(
    inner: &Weak<Inner>,
    mut live: Option<Live>,
    locals: &[(TcpListener, TunnelSpec)],
    remotes: &[TunnelSpec],
    stop: &CancellationToken,
) {
    let mut pairs: Vec<Pair> = Vec::new();
    let mut next_dial = Instant::now();
    while !stop.is_cancelled() {
        if live.is_none() && Instant::now() >= next_dial {
            let Some(inner) = inner.upgrade() else { break };
            match Live::dial(&inner, remotes, stop) {
                Ok(l) => live = Some(l),
                Err(e) => {
                    tracing::debug!("Tunnel: reconnecting: {e}");
                    next_dial = Instant::now() + TICK;
                }
            }
        }
        let mut progress = false;
        let mut dead = false;
        for (l, spec) in locals {
            while let Ok((tcp, peer)) = l.accept() {
                progress = true;
                let Some(lv) = live.as_ref().filter(|_| !dead) else {
                    tracing::warn!("Tunnel: {}: not connected, closing {peer}", spec.text);
                    continue;
                };
                match open_local(lv, spec, peer, stop) {
                    Ok(ch) => pairs.push(Pair::new(tcp, ch)),
                    Err(e) => {
                        tracing::warn!("Tunnel: {} '{}': {e}", spec.key(), spec.text);
                        dead |= matches!(e, CommError::Disconnected(_));
                    }
                }
            }
        }
        if let Some(lv) = &mut live {
            for (l, spec) in &mut lv.remotes {
                match l.accept() {
                    Ok(mut ch) => {
                        progress = true;
                        match tcp_connect(&spec.host, spec.port, DEST_TIMEOUT) {
                            Ok(tcp) => pairs.push(Pair::new(tcp, ch)),
                            Err(e) => {
                                // The instance's client sees its connection end.
                                tracing::warn!("Tunnel: {} '{}': {e}", spec.key(), spec.text);
                                close_channel(&lv.conn.sess, &mut ch);
                            }
                        }
                    }
                    Err(e) if is_retry(&e) => {}
                    Err(e) => {
                        tracing::debug!("Tunnel: accepting: {e}");
                        dead = true;
                    }
                }
            }
            if !dead && lv.conn.sess.keepalive_send().is_err_and(|e| !is_retry(&e)) {
                dead = true;
            }
        }
        pairs.retain_mut(|p| {
            if let Ok(moved) = p.step() {
                progress |= moved;
                return true;
            }
            progress = true;
            if let Some(lv) = &live {
                close_channel(&lv.conn.sess, &mut p.ch);
            }
            false
        });
        if dead {
            tracing::info!("Tunnel: the connection dropped; dialling again");
            pairs.clear();
            if let Some(l) = live.take() {
                l.close();
            }
            continue;
        }
        if !progress {
            wait(live.as_ref(), locals, &pairs);
        }
    }
    drop(pairs);
    if let Some(l) = live {
        l.close();
    }
    tracing::info!("Tunnel: stopped");
}

/// Opens the `direct-tcpip` channel for a connection accepted on a local tunnel.
fn open_local(
    lv: &Live,
    spec: &TunnelSpec,
    peer: SocketAddr,
    stop: &CancellationToken,
) -> Result<Channel, CommError> {
    let sess = &lv.conn.sess;
    let what = format!(
        "opening a channel to {}:{} from the instance",
        spec.host, spec.port
    );
    let peer_ip = peer.ip().to_string();
    // A server that does not answer within OPEN_TIMEOUT is taken for gone (the tunnels' thread
    // then dials again) rather than stalling every other tunnel.
    let deadline = Instant::now() + OPEN_TIMEOUT;
    let res = ctl(&lv.conn, stop).request(sess, &what, || {
        if Instant::now() >= deadline {
            return Err(timed_out());
        }
        sess.channel_direct_tcpip(&spec.host, spec.port, Some((&peer_ip, peer.port())))
    });
    sess.set_blocking(false);
    res
}

/// The error for a request the server did not answer within [`OPEN_TIMEOUT`].
fn timed_out() -> ssh2::Error {
    ssh2::Error::new(
        ssh2::ErrorCode::Session(SOCKET_TIMEOUT),
        "the server did not answer within 15s",
    )
}

/// Closes a finished connection's channel (waiting at most a tick for the server's close), so
/// that the far side sees it end.
fn close_channel(sess: &ssh2::Session, ch: &mut Channel) {
    sess.set_blocking(true);
    sess.set_timeout(TICK.as_millis() as u32);
    let _ = ch.close();
    sess.set_blocking(false);
}

/// Sleeps until a socket has something to do, or 100 ms.
fn wait(live: Option<&Live>, locals: &[(TcpListener, TunnelSpec)], pairs: &[Pair]) {
    let mut fds = Vec::with_capacity(1 + locals.len() + pairs.len());
    if let Some(lv) = live {
        super::transport::push_ack(lv.conn.sock.fd());
        let out = matches!(
            lv.conn.sess.block_directions(),
            ssh2::BlockDirections::Outbound | ssh2::BlockDirections::Both
        );
        fds.push(pollfd(
            lv.conn.sock.fd(),
            libc::POLLIN | (libc::POLLOUT * i16::from(out)),
        ));
    }
    for (l, _) in locals {
        fds.push(pollfd(l.as_raw_fd(), libc::POLLIN));
    }
    for p in pairs {
        let read = !p.up.pending() && !p.tcp_eof;
        fds.push(pollfd(
            p.tcp.as_raw_fd(),
            (libc::POLLIN * i16::from(read)) | (libc::POLLOUT * i16::from(p.down.pending())),
        ));
    }
    // SAFETY: `fds` is a valid array of pollfd structs for the duration of the call.
    unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 100) };
}

fn pollfd(fd: i32, events: i16) -> libc::pollfd {
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}
