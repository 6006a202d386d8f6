//! The data-channel client: a WebSocket to the session's `StreamUrl` (tokio-tungstenite over
//! rustls), the `OpenDataChannel` token message, the agent's handshake, then a pump that moves
//! the bytes of any local `AsyncRead + AsyncWrite` stream through `input_stream_data` /
//! `output_stream_data` messages with [`Reliable`]'s acks and retransmissions.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

use super::frame::{self, payload, Message};
use super::outbox::Outbox;
use super::reliable::{ack_content, Limits, Received, Reliable};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How rpack announces itself to the agent.
pub const CLIENT_VERSION: &str = concat!("rpack-", env!("CARGO_PKG_VERSION"));

/// Data-channel tunables.
#[derive(Debug, Clone)]
pub struct ChannelOptions {
    /// Bytes per `input_stream_data` message (the plugin and agent use 1,024).
    pub chunk: usize,
    pub limits: Limits,
    /// Connect plus handshake must finish within this.
    pub handshake_timeout: Duration,
    /// SO_SNDBUF/SO_RCVBUF of the channel's socket; `None` leaves the kernel's autotuning.
    /// (Tests shrink it so that flow-control mistakes show at once instead of after megabytes.)
    pub socket_buffer: Option<u32>,
}

impl Default for ChannelOptions {
    fn default() -> Self {
        ChannelOptions {
            chunk: 1024,
            limits: Limits::default(),
            handshake_timeout: Duration::from_secs(30),
            socket_buffer: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("cannot open the Session Manager data channel {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("Session Manager handshake failed: {0}")]
    Handshake(String),
    #[error("the Session Manager data channel closed: {0}")]
    Closed(String),
    #[error("Session Manager data channel: {0}")]
    Io(String),
    #[error("Session Manager data channel: {0}")]
    GaveUp(#[from] super::reliable::GaveUp),
    #[error("cancelled")]
    Cancelled,
}

/// An open data channel whose handshake completed.
pub struct DataChannel {
    ws: Ws,
    rel: Reliable,
    opts: ChannelOptions,
    /// Stream output that arrived before the pump started.
    early: Vec<Vec<u8>>,
    /// The agent's version from the handshake.
    pub agent_version: String,
    /// Between `pause_publication` and `start_publication`: the service asks us not to send.
    paused: bool,
}

/// The URL with its query (which carries nothing secret today, but may) left out, for messages.
fn shown(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

fn tls_config() -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(c);
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("aws-lc-rs supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(cfg)
}

/// A TCP connection to the host and port of `url` (ws:// 80, wss:// 443 by default), Nagle off.
async fn connect_tcp(url: &str, buffer: Option<u32>) -> Result<TcpStream, String> {
    let uri: tokio_tungstenite::tungstenite::http::Uri =
        url.parse().map_err(|e| format!("invalid URL: {e}"))?;
    let host = uri.host().ok_or("the URL has no host")?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("wss") {
            443
        } else {
            80
        });
    let mut last = format!("{host} has no address");
    for addr in tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("resolving {host}: {e}"))?
    {
        let sock = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()
        } else {
            tokio::net::TcpSocket::new_v6()
        }
        .map_err(|e| e.to_string())?;
        if let Some(n) = buffer {
            sock.set_send_buffer_size(n).map_err(|e| e.to_string())?;
            sock.set_recv_buffer_size(n).map_err(|e| e.to_string())?;
        }
        match sock.connect(addr).await {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

impl DataChannel {
    /// Connects to `url`, sends the token, and completes the agent's handshake.
    pub async fn open(
        url: &str,
        token: &str,
        opts: ChannelOptions,
        cancel: &CancellationToken,
    ) -> Result<DataChannel, ChannelError> {
        let deadline = tokio::time::Instant::now() + opts.handshake_timeout;
        let fut = Self::open_inner(url, token, opts);
        tokio::select! {
            () = cancel.cancelled() => Err(ChannelError::Cancelled),
            r = tokio::time::timeout_at(deadline, fut) => r.unwrap_or_else(|_| {
                Err(ChannelError::Handshake(format!(
                    "no handshake from the agent at {} within the timeout",
                    shown(url)
                )))
            }),
        }
    }

    async fn open_inner(
        url: &str,
        token: &str,
        opts: ChannelOptions,
    ) -> Result<DataChannel, ChannelError> {
        let connector = url
            .starts_with("wss://")
            .then(|| tokio_tungstenite::Connector::Rustls(tls_config()));
        let fail = |reason: String| ChannelError::Connect {
            url: shown(url).to_string(),
            reason,
        };
        let tcp = connect_tcp(url, opts.socket_buffer).await.map_err(fail)?;
        let (mut ws, _) =
            tokio_tungstenite::client_async_tls_with_config(url, tcp, None, connector)
                .await
                .map_err(|e| fail(e.to_string()))?;
        let open = frame::OpenDataChannel {
            schema_version: "1.0".into(),
            request_id: uuid::Uuid::new_v4().hyphenated().to_string(),
            token: token.to_string(),
            client_id: uuid::Uuid::new_v4().hyphenated().to_string(),
            client_version: CLIENT_VERSION.into(),
        };
        let text = serde_json::to_string(&open).expect("OpenDataChannel serialises");
        ws.send(WsMessage::text(text))
            .await
            .map_err(|e| ChannelError::Connect {
                url: shown(url).to_string(),
                reason: format!("sending the token: {e}"),
            })?;
        let mut dc = DataChannel {
            ws,
            rel: Reliable::new(frame::INPUT_STREAM_DATA, opts.limits.clone()),
            opts,
            early: Vec::new(),
            agent_version: String::new(),
            paused: false,
        };
        dc.handshake().await?;
        Ok(dc)
    }

    /// Answers the agent's HandshakeRequest and waits for HandshakeComplete, acknowledging and
    /// retransmitting as usual meanwhile.
    async fn handshake(&mut self) -> Result<(), ChannelError> {
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        loop {
            tokio::select! {
                m = self.ws.next() => {
                    let Some(m) = m else {
                        return Err(ChannelError::Handshake("the agent closed the channel".into()));
                    };
                    let m = m.map_err(|e| ChannelError::Handshake(e.to_string()))?;
                    let mut complete = false;
                    for m in self.on_ws(m).await? {
                        match m.payload_type {
                            payload::HANDSHAKE_REQUEST => self.answer_handshake(&m).await?,
                            payload::HANDSHAKE_COMPLETE => complete = true,
                            payload::OUTPUT => self.early.push(m.payload),
                            _ => {}
                        }
                    }
                    if complete {
                        return Ok(());
                    }
                }
                _ = tick.tick() => self.resend_due().await?,
            }
        }
    }

    async fn answer_handshake(&mut self, m: &Message) -> Result<(), ChannelError> {
        let req: serde_json::Value = serde_json::from_slice(&m.payload)
            .map_err(|e| ChannelError::Handshake(format!("unreadable HandshakeRequest: {e}")))?;
        self.agent_version = req["AgentVersion"].as_str().unwrap_or_default().to_string();
        let mut processed = Vec::new();
        let mut errors = Vec::new();
        for action in req["RequestedClientActions"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            let kind = action["ActionType"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let (status, error) = match kind.as_str() {
                "SessionType" => {
                    let st = action["ActionParameters"]["SessionType"]
                        .as_str()
                        .unwrap_or_default();
                    if st == "Port" || st == "Standard_Stream" {
                        (1, String::new())
                    } else {
                        (
                            2,
                            format!("session type {st} is not a byte stream rpack can use"),
                        )
                    }
                }
                "KMSEncryption" => (
                    2,
                    "KMS-encrypted sessions are not supported by rpack's Session Manager client"
                        .to_string(),
                ),
                other => (3, format!("Unsupported action {other}")),
            };
            if !error.is_empty() {
                errors.push(error.clone());
            }
            processed.push(serde_json::json!({
                "ActionType": kind, "ActionStatus": status, "ActionResult": null, "Error": error,
            }));
        }
        let resp = serde_json::json!({
            "ClientVersion": CLIENT_VERSION,
            "ProcessedClientActions": processed,
            "Errors": if errors.is_empty() { serde_json::Value::Null } else { errors.clone().into() },
        });
        self.send_stream(payload::HANDSHAKE_RESPONSE, resp.to_string().into_bytes())
            .await?;
        if !errors.is_empty() {
            return Err(ChannelError::Handshake(errors.join("; ")));
        }
        Ok(())
    }

    async fn send_stream(&mut self, ptype: u32, data: Vec<u8>) -> Result<(), ChannelError> {
        let wire = self.rel.send(ptype, data, Instant::now());
        self.ws
            .send(WsMessage::binary(wire))
            .await
            .map_err(|e| ChannelError::Io(format!("sending: {e}")))
    }

    async fn resend_due(&mut self) -> Result<(), ChannelError> {
        let due = self.rel.due(Instant::now())?;
        if due.is_empty() {
            return Ok(());
        }
        for w in due {
            self.ws
                .feed(WsMessage::binary(w))
                .await
                .map_err(|e| ChannelError::Io(format!("resending: {e}")))?;
        }
        self.ws
            .flush()
            .await
            .map_err(|e| ChannelError::Io(format!("resending: {e}")))
    }

    /// One WebSocket message during the handshake: acks applied, stream messages acknowledged
    /// at once (the handshake moves a few small messages); returns what is deliverable.
    async fn on_ws(&mut self, m: WsMessage) -> Result<Vec<Message>, ChannelError> {
        let r = receive(&mut self.rel, &mut self.paused, m, false)?;
        if !r.acks.is_empty() {
            for a in r.acks {
                self.ws
                    .feed(WsMessage::binary(a))
                    .await
                    .map_err(|e| ChannelError::Io(format!("acknowledging: {e}")))?;
            }
            self.ws
                .flush()
                .await
                .map_err(|e| ChannelError::Io(format!("acknowledging: {e}")))?;
        }
        Ok(r.deliver)
    }

    /// Moves bytes between `local` and the channel until `local` reaches end of stream (then the
    /// agent is told to end the session and pending input is flushed), the channel closes, or
    /// `cancel` fires. Receiving never waits for sending: outgoing messages go through an
    /// [`Outbox`] drained by its own branch (see [`super::outbox`] for why).
    pub async fn pump<S>(self, local: S, cancel: &CancellationToken) -> Result<(), ChannelError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let DataChannel {
            ws,
            mut rel,
            opts,
            early,
            mut paused,
            ..
        } = self;
        let (mut sink, mut stream) = ws.split();
        let (mut rd, mut wr) = tokio::io::split(local);
        let mut outbox = Outbox::default();
        let mut pending: VecDeque<Vec<u8>> = early.into();
        let mut pending_bytes: usize = pending.iter().map(Vec::len).sum();
        let mut off = 0usize;
        let mut buf = vec![0u8; 64 * 1024];
        let mut local_eof = false;
        let mut eof_at = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let chunk = opts.chunk;
        let wrap: fn(Vec<u8>) -> WsMessage = WsMessage::binary;
        loop {
            let room = rel.can_send() && !paused && !local_eof && outbox.has_room_for_input();
            let slots = opts.limits.window.saturating_sub(rel.in_flight());
            let want = (chunk * slots.clamp(1, 64)).min(buf.len());
            let sending = outbox.busy();
            let out_now: &[u8] = pending.front().map_or(&[], |p| &p[off..]);
            tokio::select! {
                () = cancel.cancelled() => return Err(ChannelError::Cancelled),
                r = outbox.drain(&mut sink, wrap), if sending => {
                    r.map_err(|e| ChannelError::Io(format!("sending: {e}")))?;
                }
                m = stream.next() => {
                    let Some(m) = m else { return Err(ChannelError::Closed("the WebSocket ended".into())) };
                    let m = m.map_err(|e| ChannelError::Io(format!("receiving: {e}")))?;
                    let r = receive(&mut rel, &mut paused, m, pending_bytes >= MAX_PENDING)?;
                    for a in r.acks {
                        outbox.push_ack(a);
                    }
                    for d in r.deliver {
                        if d.payload_type == payload::OUTPUT && !d.payload.is_empty() {
                            pending_bytes += d.payload.len();
                            pending.push_back(d.payload);
                        }
                    }
                }
                n = rd.read(&mut buf[..want]), if room => {
                    let n = n.map_err(|e| ChannelError::Io(format!("reading the local stream: {e}")))?;
                    let now = Instant::now();
                    if n == 0 {
                        local_eof = true;
                        eof_at = now;
                        let f = frame::flag::TERMINATE_SESSION.to_be_bytes().to_vec();
                        outbox.push(rel.send(payload::FLAG, f, now));
                        continue;
                    }
                    for part in buf[..n].chunks(chunk) {
                        outbox.push(rel.send(payload::OUTPUT, part.to_vec(), now));
                    }
                }
                w = wr.write(out_now), if !out_now.is_empty() => {
                    let w = w.map_err(|e| ChannelError::Io(format!("writing the local stream: {e}")))?;
                    if w == 0 {
                        return Err(ChannelError::Io("the local stream stopped accepting data".into()));
                    }
                    off += w;
                    pending_bytes -= w;
                    if off == pending.front().map_or(0, Vec::len) {
                        pending.pop_front();
                        off = 0;
                    }
                }
                _ = tick.tick() => {
                    let now = Instant::now();
                    rel.check(now)?;
                    // A message still queued has not been lost: resend only what really went out.
                    if outbox.is_empty() {
                        for w in rel.due(now)? {
                            outbox.push(w);
                        }
                    }
                    // After our end closed, pending input gets a short grace to be acknowledged.
                    if local_eof && (rel.in_flight() == 0 || eof_at.elapsed() > Duration::from_secs(2)) {
                        let _ = tokio::time::timeout(Duration::from_secs(2), async {
                            let _ = outbox.drain(&mut sink, wrap).await;
                            let _ = sink.close().await;
                        })
                        .await;
                        return Ok(());
                    }
                }
            }
        }
    }
}

/// Local output held for the stream beyond this makes the pump refuse (leave unacknowledged, so
/// the agent resends later) new output messages until the stream has taken some.
const MAX_PENDING: usize = 4 << 20;

/// One received WebSocket message: acks applied to `rel`, publication pauses noted; returns the
/// acknowledgements to send and the stream messages now deliverable in order. With `full`, new
/// stream output is refused unacknowledged. `channel_closed` and a close frame end the channel.
fn receive(
    rel: &mut Reliable,
    paused: &mut bool,
    m: WsMessage,
    full: bool,
) -> Result<Received, ChannelError> {
    let data = match m {
        WsMessage::Binary(b) => b,
        WsMessage::Close(f) => {
            return Err(ChannelError::Closed(f.map_or_else(
                || "the service closed the WebSocket".into(),
                |f| format!("the service closed the WebSocket ({})", f.reason),
            )))
        }
        _ => return Ok(Received::default()),
    };
    let m = match Message::decode(&data) {
        Ok(m) => m,
        Err(e) => {
            // Not acknowledged: a damaged message is resent by the agent.
            tracing::debug!("ignoring a data-channel message: {e}");
            return Ok(Received::default());
        }
    };
    match m.message_type.as_str() {
        frame::ACKNOWLEDGE => {
            if let Some(a) = ack_content(&m) {
                rel.on_ack(&a, Instant::now());
            }
            Ok(Received::default())
        }
        frame::OUTPUT_STREAM_DATA if full => Ok(Received::default()),
        frame::OUTPUT_STREAM_DATA => Ok(rel.on_stream(m)),
        frame::CHANNEL_CLOSED => {
            let c: frame::ChannelClosed = serde_json::from_slice(&m.payload).unwrap_or_default();
            let why = if c.output.is_empty() {
                format!("session {} ended", c.session_id)
            } else {
                format!("session {}: {}", c.session_id, c.output)
            };
            Err(ChannelError::Closed(why))
        }
        frame::PAUSE_PUBLICATION => {
            *paused = true;
            Ok(Received::default())
        }
        frame::START_PUBLICATION => {
            *paused = false;
            Ok(Received::default())
        }
        _ => Ok(Received::default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::communicator::ssm::frame::OUTPUT_STREAM_DATA;
    use std::collections::BTreeSet;

    const TOTAL: usize = 12 << 20;

    fn pattern(seed: u8, len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31) ^ seed)
            .collect()
    }

    /// An agent that, like the first test fake, writes all its output before reading anything
    /// (its writes block once the client stops reading), then reads and acknowledges the
    /// client's input. Returns the input it got.
    async fn stubborn_agent(listener: tokio::net::TcpListener) -> Vec<u8> {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        let _open = ws.next().await.unwrap().unwrap();
        let send = |seq: i64, ptype: u32, p: Vec<u8>| {
            WsMessage::binary(Message::stream(OUTPUT_STREAM_DATA, seq, ptype, p).encode())
        };
        let hello = serde_json::json!({"AgentVersion": "3.3", "RequestedClientActions": [
            {"ActionType": "SessionType", "ActionParameters": {"SessionType": "Port"}}]});
        ws.send(send(
            0,
            payload::HANDSHAKE_REQUEST,
            hello.to_string().into_bytes(),
        ))
        .await
        .unwrap();
        let mut input: std::collections::BTreeMap<i64, Message> = Default::default();
        let mut seen = BTreeSet::new();
        // The handshake response.
        loop {
            let m = Message::decode(&ws.next().await.unwrap().unwrap().into_data()).unwrap();
            if m.message_type == frame::INPUT_STREAM_DATA {
                ws.send(WsMessage::binary(Message::ack_for(&m).encode()))
                    .await
                    .unwrap();
                seen.insert(m.sequence);
                break;
            }
        }
        ws.send(send(1, payload::HANDSHAKE_COMPLETE, b"{}".to_vec()))
            .await
            .unwrap();
        // All output first, never reading meanwhile.
        for (i, part) in pattern(7, TOTAL).chunks(16 << 10).enumerate() {
            ws.send(send(2 + i as i64, payload::OUTPUT, part.to_vec()))
                .await
                .unwrap();
        }
        // Then the input, acknowledged, until the client closes.
        while let Some(Ok(m)) = ws.next().await {
            let WsMessage::Binary(b) = m else { continue };
            let m = Message::decode(&b).expect("the client's frames decode");
            if m.message_type == frame::INPUT_STREAM_DATA {
                // The client may close as soon as it has its acks; an ack of its last
                // retransmission then has nowhere to go.
                if ws
                    .send(WsMessage::binary(Message::ack_for(&m).encode()))
                    .await
                    .is_err()
                {
                    break;
                }
                if seen.insert(m.sequence) && m.payload_type == payload::OUTPUT {
                    input.insert(m.sequence, m);
                }
            }
        }
        input.into_values().flat_map(|m| m.payload).collect()
    }

    /// The deadlock that hung the 24 MiB upload under load: both ends sending at once, each
    /// waiting for its write before reading again. With sends queued ([`Outbox`]) the client
    /// keeps reading while its writes are blocked, so a peer that writes everything before it
    /// reads still gets through. Small socket buffers make both directions block at once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn receiving_goes_on_while_sending_is_blocked() {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.set_recv_buffer_size(32 << 10).unwrap();
        sock.set_send_buffer_size(32 << 10).unwrap();
        sock.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = sock.listen(4).unwrap();
        let url = format!("ws://{}/v1/data-channel/s", listener.local_addr().unwrap());
        let agent = tokio::spawn(stubborn_agent(listener));

        let opts = ChannelOptions {
            chunk: 16 << 10,
            socket_buffer: Some(32 << 10),
            ..ChannelOptions::default()
        };
        let cancel = CancellationToken::new();
        let work = async {
            let dc = DataChannel::open(&url, "tok", opts, &cancel).await.unwrap();
            let (ours, theirs) = tokio::io::duplex(64 << 10);
            let pump = tokio::spawn({
                let cancel = cancel.clone();
                async move { dc.pump(theirs, &cancel).await }
            });
            let (mut rd, mut wr) = tokio::io::split(ours);
            let writer = tokio::spawn(async move {
                wr.write_all(&pattern(3, TOTAL)).await.unwrap();
                wr.shutdown().await.unwrap();
            });
            let mut got = vec![0u8; TOTAL];
            rd.read_exact(&mut got).await.unwrap();
            assert!(got == pattern(7, TOTAL), "the output arrived changed");
            writer.await.unwrap();
            pump.await.unwrap().unwrap();
            let input = agent.await.unwrap();
            assert_eq!(input.len(), TOTAL);
            assert!(input == pattern(3, TOTAL), "the input arrived changed");
        };
        if tokio::time::timeout(Duration::from_secs(120), work)
            .await
            .is_err()
        {
            cancel.cancel();
            panic!("the data channel deadlocked");
        }
    }
}
