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
use super::reliable::{ack_content, Limits, Reliable};

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
}

impl Default for ChannelOptions {
    fn default() -> Self {
        ChannelOptions {
            chunk: 1024,
            limits: Limits::default(),
            handshake_timeout: Duration::from_secs(30),
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
            _ = cancel.cancelled() => Err(ChannelError::Cancelled),
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
        let (mut ws, _) =
            tokio_tungstenite::connect_async_tls_with_config(url, None, true, connector)
                .await
                .map_err(|e| ChannelError::Connect {
                    url: shown(url).to_string(),
                    reason: e.to_string(),
                })?;
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

    /// One WebSocket message: acks applied, stream messages acknowledged; returns the stream
    /// messages now deliverable in order. `channel_closed` ends the channel.
    async fn on_ws(&mut self, m: WsMessage) -> Result<Vec<Message>, ChannelError> {
        let data = match m {
            WsMessage::Binary(b) => b,
            WsMessage::Close(f) => {
                return Err(ChannelError::Closed(
                    f.map(|f| format!("the service closed the WebSocket ({})", f.reason))
                        .unwrap_or_else(|| "the service closed the WebSocket".into()),
                ))
            }
            _ => return Ok(Vec::new()),
        };
        let m = match Message::decode(&data) {
            Ok(m) => m,
            Err(e) => {
                // Not acknowledged: a damaged message is resent by the agent.
                tracing::debug!("ignoring a data-channel message: {e}");
                return Ok(Vec::new());
            }
        };
        match m.message_type.as_str() {
            frame::ACKNOWLEDGE => {
                if let Some(a) = ack_content(&m) {
                    self.rel.on_ack(&a, Instant::now());
                }
                Ok(Vec::new())
            }
            frame::OUTPUT_STREAM_DATA => {
                let r = self.rel.on_stream(m);
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
                Ok(r.deliver)
            }
            frame::CHANNEL_CLOSED => {
                let c: frame::ChannelClosed =
                    serde_json::from_slice(&m.payload).unwrap_or_default();
                let why = if c.output.is_empty() {
                    format!("session {} ended", c.session_id)
                } else {
                    format!("session {}: {}", c.session_id, c.output)
                };
                Err(ChannelError::Closed(why))
            }
            frame::PAUSE_PUBLICATION => {
                self.paused = true;
                Ok(Vec::new())
            }
            frame::START_PUBLICATION => {
                self.paused = false;
                Ok(Vec::new())
            }
            _ => Ok(Vec::new()),
        }
    }

    /// Moves bytes between `local` and the channel until `local` reaches end of stream (then the
    /// agent is told to end the session and pending input is flushed), the channel closes, or
    /// `cancel` fires.
    pub async fn pump<S>(mut self, local: S, cancel: &CancellationToken) -> Result<(), ChannelError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let (mut rd, mut wr) = tokio::io::split(local);
        let mut pending: VecDeque<Vec<u8>> = std::mem::take(&mut self.early).into();
        let mut pending_bytes: usize = pending.iter().map(Vec::len).sum();
        let mut off = 0usize;
        let mut buf = vec![0u8; 64 * 1024];
        let mut local_eof = false;
        let mut eof_at = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        const MAX_PENDING: usize = 4 << 20;
        loop {
            let room = self.rel.can_send() && !self.paused && !local_eof;
            let chunk = self.opts.chunk;
            let slots = self.opts.limits.window.saturating_sub(self.rel.in_flight());
            let want = (chunk * slots.clamp(1, 64)).min(buf.len());
            tokio::select! {
                _ = cancel.cancelled() => return Err(ChannelError::Cancelled),
                m = self.ws.next(), if pending_bytes < MAX_PENDING => {
                    let Some(m) = m else { return Err(ChannelError::Closed("the WebSocket ended".into())) };
                    let m = m.map_err(|e| ChannelError::Io(format!("receiving: {e}")))?;
                    for d in self.on_ws(m).await? {
                        if d.payload_type == payload::OUTPUT && !d.payload.is_empty() {
                            pending_bytes += d.payload.len();
                            pending.push_back(d.payload);
                        }
                    }
                }
                n = rd.read(&mut buf[..want]), if room => {
                    let n = n.map_err(|e| ChannelError::Io(format!("reading the local stream: {e}")))?;
                    if n == 0 {
                        local_eof = true;
                        eof_at = Instant::now();
                        let f = frame::flag::TERMINATE_SESSION.to_be_bytes().to_vec();
                        let wire = self.rel.send(payload::FLAG, f, Instant::now());
                        self.ws.send(WsMessage::binary(wire)).await
                            .map_err(|e| ChannelError::Io(format!("sending: {e}")))?;
                        continue;
                    }
                    let now = Instant::now();
                    for part in buf[..n].chunks(chunk) {
                        let wire = self.rel.send(payload::OUTPUT, part.to_vec(), now);
                        self.ws.feed(WsMessage::binary(wire)).await
                            .map_err(|e| ChannelError::Io(format!("sending: {e}")))?;
                    }
                    self.ws.flush().await.map_err(|e| ChannelError::Io(format!("sending: {e}")))?;
                }
                w = wr.write(pending.front().map(|p| &p[off..]).unwrap_or(&[])), if !pending.is_empty() => {
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
                    self.resend_due().await?;
                    // After our end closed, pending input gets a short grace to be acknowledged.
                    if local_eof && (self.rel.in_flight() == 0 || eof_at.elapsed() > Duration::from_secs(2)) {
                        let _ = self.ws.close(None).await;
                        return Ok(());
                    }
                }
            }
        }
    }
}
