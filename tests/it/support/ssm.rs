//! `FakeSsm`: Systems Manager's Session Manager as rpack sees it, which moto lacks.
//!
//! * An HTTP endpoint speaking the AWS JSON 1.1 protocol (`X-Amz-Target: AmazonSSM.<Op>`) for
//!   `StartSession`, `TerminateSession` and `DescribeInstanceInformation`, shaped as botocore's
//!   ssm service model defines them (the `ssm_fake_speaks_botocores_model` test drives it with
//!   boto3). Point rpack at it with `AWS_ENDPOINT_URL_SSM`.
//! * A WebSocket "agent" at the returned `StreamUrl`: it checks the `OpenDataChannel` token,
//!   runs the handshake (HandshakeRequest with SessionType Port, HandshakeComplete after the
//!   client's response), then carries the stream to `127.0.0.1:<portNumber>` (the loopback
//!   sshd) with acknowledgements, a reorder buffer and retransmission of its own output. Its
//!   framing is written here from the protocol's byte layout, independently of rpack's.
//! * [`Faults`] (switchable while running): drop, duplicate, reorder or delay data-channel
//!   messages, disconnect mid-session, answer `TargetNotConnected` to the first N StartSession
//!   calls, hand out an unreachable stream URL.
//!
//! Everything runs on a private tokio runtime thread, on 127.0.0.1 only.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message as Ws;

/// Faults the fake injects; change them with [`FakeSsm::set_faults`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Faults {
    /// Drop every Nth binary message the agent sends, and every Nth it receives (0: never).
    pub drop_every: u32,
    /// Send every Nth message twice.
    pub duplicate_every: u32,
    /// Hold every Nth message back and send it after the next one.
    pub reorder_every: u32,
    /// Wait this long before each message the agent sends.
    pub delay: Duration,
    /// Close the WebSocket abruptly after this many data messages from the client.
    pub disconnect_after: Option<u32>,
    /// Answer TargetNotConnected to this many StartSession calls.
    pub not_connected_calls: u32,
    /// Return this as StreamUrl instead of the agent's.
    pub stream_url: Option<String>,
}

/// What the fake saw.
#[derive(Debug, Clone, Default)]
pub(crate) struct Record {
    /// (operation, request body) of every API call, in order.
    pub calls: Vec<(String, serde_json::Value)>,
    pub started: Vec<String>,
    pub terminated: Vec<String>,
    /// Sessions whose data channel opened with the right token.
    pub opened: Vec<String>,
    /// Sessions whose client sent the TerminateSession flag.
    pub flagged: Vec<String>,
    /// Messages the agent resent because the client did not acknowledge them in time.
    pub agent_resends: u64,
    /// Client messages the agent received more than once (client retransmissions).
    pub client_duplicates: u64,
}

struct Session {
    token: String,
    port: u16,
}

#[derive(Default)]
struct State {
    faults: Faults,
    record: Record,
    sessions: HashMap<String, Session>,
    next: u64,
}

pub(crate) struct FakeSsm {
    endpoint: String,
    state: Arc<Mutex<State>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for FakeSsm {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl FakeSsm {
    pub(crate) fn start() -> FakeSsm {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fake-ssm")
            .enable_all()
            .build()
            .expect("fake SSM runtime");
        let state = Arc::new(Mutex::new(State::default()));
        // std listeners: a test may call this from inside its own runtime, where block_on panics.
        let bind = || {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
            l.set_nonblocking(true).expect("nonblocking listener");
            l
        };
        let (api, ws) = (bind(), bind());
        let endpoint = format!("http://{}", api.local_addr().unwrap());
        let ws_base = format!("ws://{}", ws.local_addr().unwrap());
        {
            let state = state.clone();
            rt.spawn(async move {
                let api = TcpListener::from_std(api).expect("listener");
                while let Ok((s, _)) = api.accept().await {
                    let (state, ws_base) = (state.clone(), ws_base.clone());
                    tokio::spawn(async move {
                        let _ = serve_api(s, state, ws_base).await;
                    });
                }
            });
        }
        {
            let state = state.clone();
            rt.spawn(async move {
                let ws = TcpListener::from_std(ws).expect("listener");
                while let Ok((s, _)) = ws.accept().await {
                    let state = state.clone();
                    tokio::spawn(async move {
                        let _ = s.set_nodelay(true);
                        if let Err(e) = agent(s, state).await {
                            eprintln!("fake SSM agent: {e}");
                        }
                    });
                }
            });
        }
        FakeSsm {
            endpoint,
            state,
            runtime: Some(rt),
        }
    }

    pub(crate) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub(crate) fn set_faults(&self, f: Faults) {
        self.state.lock().unwrap().faults = f;
    }

    pub(crate) fn record(&self) -> Record {
        self.state.lock().unwrap().record.clone()
    }

    /// Waits until every started session was terminated (TerminateSession), up to `timeout`.
    pub(crate) fn wait_all_terminated(&self, timeout: Duration) -> Record {
        let end = Instant::now() + timeout;
        loop {
            let r = self.record();
            let all = r.started.iter().all(|s| r.terminated.contains(s));
            if all || Instant::now() > end {
                return r;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

// ---- the JSON 1.1 API -------------------------------------------------------------------------

async fn serve_api(
    mut s: TcpStream,
    state: Arc<Mutex<State>>,
    ws_base: String,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    loop {
        let head_end = loop {
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p;
            }
            let mut chunk = [0u8; 4096];
            let n = s.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let header = |name: &str| {
            head.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_string())
            })
        };
        let len: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + 4 + len {
            let mut chunk = [0u8; 4096];
            let n = s.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let body: serde_json::Value =
            serde_json::from_slice(&buf[head_end + 4..head_end + 4 + len]).unwrap_or_default();
        buf.drain(..head_end + 4 + len);
        let target = header("x-amz-target").unwrap_or_default();
        let ctype = header("content-type").unwrap_or_default();
        let (status, out) = if ctype == "application/x-amz-json-1.1" {
            dispatch(&target, body, &state, &ws_base)
        } else {
            (
                400,
                error(
                    "SerializationException",
                    "expected application/x-amz-json-1.1",
                ),
            )
        };
        let text = out.to_string();
        let mut resp = format!(
            "HTTP/1.1 {status} {}\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\nx-amzn-RequestId: {}\r\n",
            if status == 200 { "OK" } else { "Bad Request" },
            text.len(),
            uuid::Uuid::new_v4()
        );
        if status != 200 {
            resp.push_str(&format!(
                "x-amzn-ErrorType: {}\r\n",
                out["__type"].as_str().unwrap_or("")
            ));
        }
        resp.push_str("\r\n");
        resp.push_str(&text);
        s.write_all(resp.as_bytes()).await?;
        if header("connection").is_some_and(|c| c.eq_ignore_ascii_case("close")) {
            return Ok(());
        }
    }
}

fn error(code: &str, msg: &str) -> serde_json::Value {
    serde_json::json!({ "__type": code, "Message": msg })
}

fn dispatch(
    target: &str,
    body: serde_json::Value,
    state: &Mutex<State>,
    ws_base: &str,
) -> (u16, serde_json::Value) {
    let op = target.strip_prefix("AmazonSSM.").unwrap_or("").to_string();
    let mut st = state.lock().unwrap();
    st.record.calls.push((op.clone(), body.clone()));
    match op.as_str() {
        "StartSession" => {
            let Some(instance) = body["Target"].as_str() else {
                return (400, error("ValidationException", "1 validation error detected: Value null at 'target' failed to satisfy constraint: Member must not be null"));
            };
            if st.faults.not_connected_calls > 0 {
                st.faults.not_connected_calls -= 1;
                return (
                    400,
                    error(
                        "TargetNotConnected",
                        &format!("{instance} is not connected."),
                    ),
                );
            }
            let port = body["Parameters"]["portNumber"][0]
                .as_str()
                .and_then(|p| p.parse().ok())
                .unwrap_or(22);
            st.next += 1;
            let id = format!("rpack-test-{:017x}", st.next * 0x9e37 + 0x1234);
            let token = format!("tok-{}", uuid::Uuid::new_v4().simple());
            st.sessions.insert(
                id.clone(),
                Session {
                    token: token.clone(),
                    port,
                },
            );
            st.record.started.push(id.clone());
            let url = st.faults.stream_url.clone().unwrap_or_else(|| {
                format!("{ws_base}/v1/data-channel/{id}?role=publish_subscribe")
            });
            (
                200,
                serde_json::json!({ "SessionId": id, "TokenValue": token, "StreamUrl": url }),
            )
        }
        "TerminateSession" => {
            let Some(id) = body["SessionId"].as_str() else {
                return (400, error("ValidationException", "SessionId is required"));
            };
            st.record.terminated.push(id.to_string());
            (200, serde_json::json!({ "SessionId": id }))
        }
        "DescribeInstanceInformation" => {
            let online = st.faults.not_connected_calls == 0;
            let list: Vec<serde_json::Value> = st
                .record
                .calls
                .iter()
                .filter(|(o, _)| o == "StartSession")
                .filter_map(|(_, b)| b["Target"].as_str().map(str::to_string))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .map(|id| {
                    serde_json::json!({
                        "InstanceId": id,
                        "PingStatus": if online { "Online" } else { "ConnectionLost" },
                        "AgentVersion": "3.3.1142.0",
                        "PlatformType": "Linux",
                        "ResourceType": "EC2Instance",
                    })
                })
                .collect();
            (200, serde_json::json!({ "InstanceInformationList": list }))
        }
        _ => (
            400,
            error(
                "UnknownOperationException",
                &format!("unknown operation {target}"),
            ),
        ),
    }
}

// ---- the agent: framing written from the documented layout ------------------------------------

struct Frame {
    ty: String,
    seq: i64,
    id: String,
    ptype: u32,
    payload: Vec<u8>,
}

fn encode(ty: &str, seq: i64, flags: u64, ptype: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(120 + payload.len());
    v.extend_from_slice(&116u32.to_be_bytes());
    v.extend_from_slice(format!("{ty:<32}").as_bytes());
    v.extend_from_slice(&1u32.to_be_bytes());
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    v.extend_from_slice(&ms.to_be_bytes());
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&flags.to_be_bytes());
    let id = *uuid::Uuid::new_v4().as_bytes();
    v.extend_from_slice(&id[8..]);
    v.extend_from_slice(&id[..8]);
    v.extend_from_slice(&Sha256::digest(payload));
    v.extend_from_slice(&ptype.to_be_bytes());
    v.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    v.extend_from_slice(payload);
    v
}

fn decode(b: &[u8]) -> Result<Frame, String> {
    if b.len() < 120 {
        return Err(format!("short frame ({} bytes)", b.len()));
    }
    let be32 = |o: usize| u32::from_be_bytes(b[o..o + 4].try_into().unwrap());
    if be32(0) != 116 {
        return Err(format!("header length {}", be32(0)));
    }
    let len = be32(116) as usize;
    if b.len() != 120 + len {
        return Err("payload length mismatch".into());
    }
    let payload = b[120..].to_vec();
    if !payload.is_empty() && Sha256::digest(&payload).as_slice() != &b[80..112] {
        return Err("digest mismatch".into());
    }
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&b[72..80]);
    id[8..].copy_from_slice(&b[64..72]);
    Ok(Frame {
        ty: String::from_utf8_lossy(&b[4..36]).trim().to_string(),
        seq: i64::from_be_bytes(b[48..56].try_into().unwrap()),
        id: uuid::Uuid::from_bytes(id).hyphenated().to_string(),
        ptype: be32(112),
        payload,
    })
}

fn ack(f: &Frame) -> Vec<u8> {
    let body = serde_json::json!({
        "AcknowledgedMessageType": f.ty,
        "AcknowledgedMessageId": f.id,
        "AcknowledgedMessageSequenceNumber": f.seq,
        "IsSequentialMessage": true,
    });
    encode("acknowledge", 0, 3, 0, body.to_string().as_bytes())
}

/// Applies the send-side faults to one outgoing message; returns what to transmit now.
struct Shaper {
    sent: u32,
    held: Option<Vec<u8>>,
}

impl Shaper {
    fn shape(&mut self, f: &Faults, wire: Vec<u8>) -> Vec<Vec<u8>> {
        self.sent += 1;
        let n = self.sent;
        let hit = |every: u32| every > 0 && n % every == 0;
        if hit(f.drop_every) {
            return self.held.take().into_iter().collect();
        }
        if hit(f.reorder_every) && self.held.is_none() {
            self.held = Some(wire);
            return Vec::new();
        }
        let mut out = vec![wire.clone()];
        if hit(f.duplicate_every) {
            out.push(wire);
        }
        out.extend(self.held.take());
        out
    }
}

type WsStream = tokio_tungstenite::WebSocketStream<TcpStream>;

/// The agent's sending half: a task that writes what the loop queues, so the loop keeps
/// reading while the client is slow to take bytes (an agent that stops reading while it
/// writes deadlocks against a client doing the same once both TCP buffers fill).
struct Outq {
    tx: tokio::sync::mpsc::UnboundedSender<Out>,
    /// Bytes queued and not yet handed to the socket.
    queued: Arc<std::sync::atomic::AtomicUsize>,
}

enum Out {
    Msg(Duration, Vec<u8>),
    Close,
}

impl Outq {
    fn start(
        mut sink: futures_util::stream::SplitSink<WsStream, Ws>,
    ) -> (Outq, tokio::task::JoinHandle<()>) {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Out>();
        let queued = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let q = queued.clone();
        let task = tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut next = Some(first);
                while let Some(item) = next.take() {
                    match item {
                        Out::Msg(delay, w) => {
                            if !delay.is_zero() {
                                tokio::time::sleep(delay).await;
                            }
                            let n = w.len();
                            let r = sink.feed(Ws::binary(w)).await;
                            q.fetch_sub(n, std::sync::atomic::Ordering::SeqCst);
                            if r.is_err() {
                                return;
                            }
                        }
                        Out::Close => {
                            let _ = sink.flush().await;
                            let _ = sink.close().await;
                            return;
                        }
                    }
                    next = rx.try_recv().ok();
                }
                if sink.flush().await.is_err() {
                    return;
                }
            }
        });
        (Outq { tx, queued }, task)
    }

    fn raw(&self, delay: Duration, w: Vec<u8>) {
        self.queued
            .fetch_add(w.len(), std::sync::atomic::Ordering::SeqCst);
        let _ = self.tx.send(Out::Msg(delay, w));
    }

    fn queued(&self) -> usize {
        self.queued.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Queues `wire` with the send-side faults applied.
    fn send(&self, shaper: &mut Shaper, faults: &Faults, wire: Vec<u8>) {
        for w in shaper.shape(faults, wire) {
            self.raw(faults.delay, w);
        }
    }
}

/// Stream input held for the port beyond this stops the agent reading the WebSocket.
const TCP_BATCH: usize = 256 << 10;

// tungstenite's handshake callback type fixes the closure's error type (an HTTP response).
#[allow(clippy::result_large_err)]
async fn agent(s: TcpStream, state: Arc<Mutex<State>>) -> Result<(), String> {
    let mut path = String::new();
    let mut ws = tokio_tungstenite::accept_hdr_async(
        s,
        |req: &tokio_tungstenite::tungstenite::handshake::server::Request, resp| {
            path = req.uri().to_string();
            Ok(resp)
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    let sid = path
        .strip_prefix("/v1/data-channel/")
        .and_then(|p| p.split('?').next())
        .unwrap_or_default()
        .to_string();
    // OpenDataChannel: the first message, text, carrying the session's token.
    let first = match ws.next().await {
        Some(Ok(Ws::Text(t))) => t.to_string(),
        other => {
            return Err(format!(
                "expected the OpenDataChannel text message, got {other:?}"
            ))
        }
    };
    let open: serde_json::Value = serde_json::from_str(&first).map_err(|e| e.to_string())?;
    let checked = {
        let st = state.lock().unwrap();
        st.sessions.get(&sid).map(|sess| {
            let ok = open["TokenValue"].as_str() == Some(sess.token.as_str())
                && open["MessageSchemaVersion"] == "1.0"
                && open["RequestId"].as_str().is_some_and(|r| r.len() >= 16)
                && open["ClientId"].as_str().is_some_and(|c| !c.is_empty())
                && open["ClientVersion"]
                    .as_str()
                    .is_some_and(|c| !c.is_empty());
            (ok, sess.port)
        })
    };
    let Some((true, port)) = checked else {
        let _ = ws.close(None).await;
        return Err(format!("bad OpenDataChannel for session {sid:?}: {first}"));
    };
    state.lock().unwrap().record.opened.push(sid.clone());

    let mut out_seq: i64 = 0;
    let mut unacked: BTreeMap<i64, (Vec<u8>, Instant)> = BTreeMap::new();
    let mut expected: i64 = 0;
    let mut held: BTreeMap<i64, Frame> = BTreeMap::new();
    let mut shaper = Shaper {
        sent: 0,
        held: None,
    };
    let mut received_data: u32 = 0;
    let quiet = Faults::default();

    let hello = serde_json::json!({
        "AgentVersion": "3.3.1142.0",
        "RequestedClientActions": [{
            "ActionType": "SessionType",
            "ActionParameters": {"SessionType": "Port", "Properties": {"portNumber": port.to_string(), "type": ""}},
        }],
    });
    let w = encode(
        "output_stream_data",
        out_seq,
        0,
        5,
        hello.to_string().as_bytes(),
    );
    unacked.insert(out_seq, (w.clone(), Instant::now()));
    out_seq += 1;
    let (sink, mut ws) = ws.split();
    let (outq, writer) = Outq::start(sink);
    outq.raw(Duration::ZERO, w);

    let mut tcp_rd: Option<tokio::net::tcp::OwnedReadHalf> = None;
    let mut tcp_wr: Option<tokio::net::tcp::OwnedWriteHalf> = None;
    let mut buf = vec![0u8; 1024];
    // Stream input for the port, written in batches: every message that has arrived goes into
    // one write (a write per 1 KiB message made the fake agent, not the client, the bottleneck).
    let mut tcp_out: Vec<u8> = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    let mut tcp_eof = false;
    loop {
        let faults = state.lock().unwrap().faults.clone();
        let data_phase = tcp_wr.is_some();
        let f = if data_phase { &faults } else { &quiet };
        let can_read_tcp =
            data_phase && !tcp_eof && unacked.len() < 4096 && outq.queued() < (1 << 20);
        tokio::select! {
            // Ready messages first, so that what they carry for the port is written at once.
            biased;
            _ = tick.tick() => {
                // A message held for reordering with nothing after it goes out now.
                if let Some(h) = shaper.held.take() {
                    outq.raw(Duration::ZERO, h);
                }
                // Resend what went out and was not acknowledged (not what is still queued).
                if outq.queued() == 0 {
                    let now = Instant::now();
                    let mut resent = 0;
                    for (w, at) in unacked.values_mut() {
                        if now.duration_since(*at) > Duration::from_millis(200) {
                            *at = now;
                            resent += 1;
                            outq.raw(Duration::ZERO, w.clone());
                        }
                    }
                    state.lock().unwrap().record.agent_resends += resent;
                }
                if tcp_eof && unacked.is_empty() {
                    let closed = serde_json::json!({
                        "MessageId": uuid::Uuid::new_v4().to_string(), "CreatedDate": "",
                        "DestinationId": "i-fake", "SessionId": sid, "MessageType": "channel_closed",
                        "SchemaVersion": 1, "Output": "",
                    });
                    let w = encode("channel_closed", 0, 0, 1, closed.to_string().as_bytes());
                    outq.raw(Duration::ZERO, w);
                    let _ = outq.tx.send(Out::Close);
                    let _ = tokio::time::timeout(Duration::from_secs(5), writer).await;
                    return Ok(());
                }
            }
            m = ws.next(), if tcp_out.len() < TCP_BATCH => {
                let m = match m {
                    None | Some(Err(_) | Ok(Ws::Close(_))) => return Ok(()),
                    Some(Ok(Ws::Binary(b))) => b,
                    Some(Ok(_)) => continue,
                };
                if data_phase {
                    received_data += 1;
                    if let Some(n) = faults.disconnect_after {
                        if received_data >= n {
                            // Abrupt: no close frame, no channel_closed.
                            return Ok(());
                        }
                    }
                    if faults.drop_every > 0 && received_data % faults.drop_every == 0 {
                        continue; // lost on the way in
                    }
                }
                let fr = decode(&m)?;
                match fr.ty.as_str() {
                    "acknowledge" => {
                        let a: serde_json::Value = serde_json::from_slice(&fr.payload).map_err(|e| e.to_string())?;
                        if let Some(s) = a["AcknowledgedMessageSequenceNumber"].as_i64() {
                            unacked.remove(&s);
                        }
                    }
                    "input_stream_data" => {
                        outq.send(&mut shaper, f, ack(&fr));
                        if fr.seq < expected || held.contains_key(&fr.seq) {
                            state.lock().unwrap().record.client_duplicates += 1;
                        } else {
                            held.insert(fr.seq, fr);
                        }
                        while let Some(fr) = held.remove(&expected) {
                            expected += 1;
                            match fr.ptype {
                                6 => {
                                    let r: serde_json::Value = serde_json::from_slice(&fr.payload).map_err(|e| e.to_string())?;
                                    if r["ClientVersion"].as_str().unwrap_or("").is_empty()
                                        || r["ProcessedClientActions"][0]["ActionStatus"] != 1 {
                                        return Err(format!("bad HandshakeResponse {r}"));
                                    }
                                    let c = serde_json::json!({"HandshakeTimeToComplete": 1_000_000, "CustomerMessage": ""});
                                    let w = encode("output_stream_data", out_seq, 0, 7, c.to_string().as_bytes());
                                    unacked.insert(out_seq, (w.clone(), Instant::now()));
                                    out_seq += 1;
                                    outq.raw(Duration::ZERO, w);
                                    let conn = TcpStream::connect(("127.0.0.1", port)).await
                                        .map_err(|e| format!("connecting to port {port}: {e}"))?;
                                    let _ = conn.set_nodelay(true);
                                    let (r, w) = conn.into_split();
                                    (tcp_rd, tcp_wr) = (Some(r), Some(w));
                                }
                                1 if tcp_wr.is_some() => tcp_out.extend_from_slice(&fr.payload),
                                10 if fr.payload == 2u32.to_be_bytes() => {
                                    state.lock().unwrap().record.flagged.push(sid.clone());
                                    if let Some(w) = tcp_wr.as_mut() {
                                        w.write_all(&tcp_out).await.map_err(|e| e.to_string())?;
                                        tcp_out.clear();
                                        let _ = w.shutdown().await;
                                    }
                                }
                                _ => {}
                            }
                        }
                    }
                    other => return Err(format!("unexpected message type {other}")),
                }
            }
            n = async { tcp_rd.as_mut().unwrap().read(&mut buf).await }, if can_read_tcp => {
                let n = n.unwrap_or(0);
                if n == 0 {
                    tcp_eof = true;
                    continue;
                }
                let w = encode("output_stream_data", out_seq, 0, 1, &buf[..n]);
                unacked.insert(out_seq, (w.clone(), Instant::now()));
                out_seq += 1;
                outq.send(&mut shaper, f, w);
            }
            n = async { tcp_wr.as_mut().unwrap().write(&tcp_out).await }, if !tcp_out.is_empty() => {
                let n = n.map_err(|e| e.to_string())?;
                tcp_out.drain(..n);
            }
        }
    }
}
