//! The data channel's reliability layer, free of I/O so it can be tested with a clock in hand:
//! sequence numbers for what we send, an unacknowledged-message buffer with retransmission on
//! an RTT-based timeout (the plugin's constants: 200 ms initial, 10 ms granularity, 1 s
//! ceiling), in-order delivery of what we receive through a bounded reorder buffer, and the
//! acknowledgements every stream message needs.
//!
//! Differences from the plugin, on purpose: duplicates (a retransmission whose ack we sent but
//! the peer lost) are acknowledged again instead of ignored, so the peer stops resending; a full
//! send window makes the caller wait instead of silently dropping the oldest unacknowledged
//! message; and every message past its timeout is resent, not just the oldest one per tick.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use super::frame::{self, AckContent, Message};

const INITIAL_RTO: Duration = Duration::from_millis(200);
const INITIAL_RTT: Duration = Duration::from_millis(100);
const CLOCK_GRANULARITY: Duration = Duration::from_millis(10);
const MAX_RTO: Duration = Duration::from_secs(1);

/// Tunables; [`Limits::default`] follows the plugin.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Unacknowledged messages we may have in flight before the sender must wait.
    pub window: usize,
    /// Out-of-order messages we hold; beyond that they are dropped unacknowledged (resent later).
    pub reorder: usize,
    /// How long one message may stay unacknowledged, resent all along, before the channel fails.
    pub give_up_after: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            window: 4096,
            reorder: 10_000,
            give_up_after: Duration::from_secs(300),
        }
    }
}

struct Outgoing {
    sequence: i64,
    wire: Vec<u8>,
    first_sent: Instant,
    last_sent: Instant,
    resent: u32,
}

/// What a received stream message produced.
#[derive(Debug, Default)]
pub struct Received {
    /// Acknowledgements to send (encoded).
    pub acks: Vec<Vec<u8>>,
    /// Messages now deliverable, in sequence order.
    pub deliver: Vec<Message>,
}

#[derive(Debug, thiserror::Error)]
#[error("message {sequence} was not acknowledged after {attempts} transmissions over {}", crate::gocompat::time::human_wait(*waited))]
pub struct GaveUp {
    pub sequence: i64,
    pub attempts: u32,
    pub waited: Duration,
}

/// One direction's sender plus the other direction's receiver.
pub struct Reliable {
    limits: Limits,
    /// Message type of what we send (`input_stream_data` for a client).
    send_type: &'static str,
    next_seq: i64,
    unacked: VecDeque<Outgoing>,
    expected: i64,
    held: BTreeMap<i64, Message>,
    rtt: f64,
    rttvar: f64,
    rto: Duration,
}

impl Reliable {
    pub fn new(send_type: &'static str, limits: Limits) -> Self {
        Reliable {
            limits,
            send_type,
            next_seq: 0,
            unacked: VecDeque::new(),
            expected: 0,
            held: BTreeMap::new(),
            rtt: INITIAL_RTT.as_secs_f64(),
            rttvar: 0.0,
            rto: INITIAL_RTO,
        }
    }

    /// Whether another message may be sent now.
    pub fn can_send(&self) -> bool {
        self.unacked.len() < self.limits.window
    }

    pub fn in_flight(&self) -> usize {
        self.unacked.len()
    }

    pub fn rto(&self) -> Duration {
        self.rto
    }

    /// Numbers, remembers and encodes one stream message; returns the bytes to transmit.
    pub fn send(&mut self, payload_type: u32, payload: Vec<u8>, now: Instant) -> Vec<u8> {
        let m = Message::stream(self.send_type, self.next_seq, payload_type, payload);
        let wire = m.encode();
        self.unacked.push_back(Outgoing {
            sequence: self.next_seq,
            wire: wire.clone(),
            first_sent: now,
            last_sent: now,
            resent: 0,
        });
        self.next_seq += 1;
        wire
    }

    /// Applies an acknowledgement; unknown or repeated acks are ignored.
    pub fn on_ack(&mut self, ack: &AckContent, now: Instant) {
        let Some(pos) = self.unacked.iter().position(|o| o.sequence == ack.sequence) else {
            return;
        };
        let o = self.unacked.remove(pos).expect("position is in range");
        // Karn: only an unambiguous sample (never resent) updates the estimate.
        if o.resent == 0 {
            self.sample_rtt(now.saturating_duration_since(o.last_sent));
        }
    }

    fn sample_rtt(&mut self, sample: Duration) {
        let s = sample.as_secs_f64();
        self.rttvar = 0.75 * self.rttvar + 0.25 * (self.rtt - s).abs();
        self.rtt = 0.875 * self.rtt + 0.125 * s;
        let rto = self.rtt + (4.0 * self.rttvar).max(CLOCK_GRANULARITY.as_secs_f64());
        self.rto = Duration::from_secs_f64(rto).min(MAX_RTO);
    }

    /// A received stream message: acknowledge it unless it cannot be held, and return what is
    /// now deliverable in order.
    pub fn on_stream(&mut self, m: Message) -> Received {
        let mut r = Received::default();
        if m.sequence < self.expected {
            // A duplicate: our ack was lost or is late. Acknowledge again.
            r.acks.push(Message::ack_for(&m).encode());
            return r;
        }
        if m.sequence > self.expected {
            if self.held.len() >= self.limits.reorder && !self.held.contains_key(&m.sequence) {
                return r; // no room: leave it unacknowledged, the peer resends
            }
            r.acks.push(Message::ack_for(&m).encode());
            self.held.entry(m.sequence).or_insert(m);
            return r;
        }
        r.acks.push(Message::ack_for(&m).encode());
        self.expected += 1;
        r.deliver.push(m);
        while let Some(next) = self.held.remove(&self.expected) {
            self.expected += 1;
            r.deliver.push(next);
        }
        r
    }

    /// An error once a message has waited longer than `give_up_after` for its ack.
    pub fn check(&self, now: Instant) -> Result<(), GaveUp> {
        match self.unacked.front() {
            Some(o) if now.saturating_duration_since(o.first_sent) > self.limits.give_up_after => {
                Err(GaveUp {
                    sequence: o.sequence,
                    attempts: o.resent + 1,
                    waited: now.saturating_duration_since(o.first_sent),
                })
            }
            _ => Ok(()),
        }
    }

    /// Messages whose timeout passed, to transmit again; an error once one has waited longer
    /// than `give_up_after`. A timeout doubles the next one (up to 1 s) until a fresh round
    /// trip is measured, so late acks on a loaded machine cost one resend of the window per
    /// timeout, not a storm of resends every tick.
    pub fn due(&mut self, now: Instant) -> Result<Vec<Vec<u8>>, GaveUp> {
        self.check(now)?;
        let rto = self.rto;
        let mut out = Vec::new();
        for o in &mut self.unacked {
            if now.saturating_duration_since(o.last_sent) >= rto {
                o.last_sent = now;
                o.resent += 1;
                out.push(o.wire.clone());
            }
        }
        if !out.is_empty() {
            self.rto = (self.rto * 2).min(MAX_RTO);
        }
        Ok(out)
    }

    /// When the next retransmission could be due (for sleeping until then).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.unacked.iter().map(|o| o.last_sent + self.rto).min()
    }
}

/// Parses an ack message's payload.
pub fn ack_content(m: &Message) -> Option<AckContent> {
    if m.message_type != frame::ACKNOWLEDGE {
        return None;
    }
    serde_json::from_slice(&m.payload).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::communicator::ssm::frame::{payload, OUTPUT_STREAM_DATA};

    fn out(seq: i64, data: &str) -> Message {
        Message::stream(
            OUTPUT_STREAM_DATA,
            seq,
            payload::OUTPUT,
            data.as_bytes().to_vec(),
        )
    }

    fn acked_seqs(acks: &[Vec<u8>]) -> Vec<i64> {
        acks.iter()
            .map(|a| ack_content(&Message::decode(a).unwrap()).unwrap().sequence)
            .collect()
    }

    fn texts(ms: &[Message]) -> String {
        ms.iter()
            .map(|m| String::from_utf8_lossy(&m.payload).into_owned())
            .collect()
    }

    #[test]
    fn in_order_messages_are_delivered_and_acknowledged() {
        let mut r = Reliable::new(frame::INPUT_STREAM_DATA, Limits::default());
        let a = r.on_stream(out(0, "a"));
        assert_eq!(acked_seqs(&a.acks), vec![0]);
        assert_eq!(texts(&a.deliver), "a");
        let b = r.on_stream(out(1, "b"));
        assert_eq!(texts(&b.deliver), "b");
    }

    #[test]
    fn out_of_order_messages_are_held_then_delivered_in_order() {
        let mut r = Reliable::new(frame::INPUT_STREAM_DATA, Limits::default());
        let x = r.on_stream(out(2, "c"));
        assert_eq!(acked_seqs(&x.acks), vec![2]);
        assert!(x.deliver.is_empty());
        let y = r.on_stream(out(1, "b"));
        assert!(y.deliver.is_empty());
        let z = r.on_stream(out(0, "a"));
        assert_eq!(texts(&z.deliver), "abc");
        assert_eq!(acked_seqs(&z.acks), vec![0]);
    }

    #[test]
    fn duplicates_are_acknowledged_again_but_delivered_once() {
        let mut r = Reliable::new(frame::INPUT_STREAM_DATA, Limits::default());
        assert_eq!(texts(&r.on_stream(out(0, "a")).deliver), "a");
        let d = r.on_stream(out(0, "a"));
        assert!(d.deliver.is_empty());
        assert_eq!(acked_seqs(&d.acks), vec![0]);
        // A duplicate of a held message is held once.
        r.on_stream(out(2, "c"));
        r.on_stream(out(2, "c"));
        assert_eq!(texts(&r.on_stream(out(1, "b")).deliver), "bc");
    }

    #[test]
    fn a_full_reorder_buffer_leaves_messages_unacknowledged() {
        let limits = Limits {
            reorder: 1,
            ..Limits::default()
        };
        let mut r = Reliable::new(frame::INPUT_STREAM_DATA, limits);
        assert_eq!(r.on_stream(out(1, "b")).acks.len(), 1);
        assert!(r.on_stream(out(2, "c")).acks.is_empty());
        assert_eq!(texts(&r.on_stream(out(0, "a")).deliver), "ab");
    }

    #[test]
    fn unacknowledged_messages_are_resent_after_the_timeout_and_acks_stop_it() {
        let mut r = Reliable::new(frame::INPUT_STREAM_DATA, Limits::default());
        let t0 = Instant::now();
        let w0 = r.send(payload::OUTPUT, b"x".to_vec(), t0);
        let w1 = r.send(payload::OUTPUT, b"y".to_vec(), t0);
        assert!(r.due(t0 + Duration::from_millis(150)).unwrap().is_empty());
        let again = r.due(t0 + Duration::from_millis(200)).unwrap();
        assert_eq!(again, vec![w0.clone(), w1.clone()]);
        // Retransmissions are byte-identical (same id, sequence and digest).
        let m1 = Message::decode(&w1).unwrap();
        r.on_ack(&ack_content(&Message::ack_for(&m1)).unwrap(), t0);
        // The timeout doubled (backoff): not yet at 400 ms, again at 600 ms.
        assert!(r.due(t0 + Duration::from_millis(400)).unwrap().is_empty());
        let later = r.due(t0 + Duration::from_millis(600)).unwrap();
        assert_eq!(later, vec![w0]);
        assert_eq!(r.in_flight(), 1);
    }

    /// Acks that are merely late (a loaded machine) must not turn into a resend of the whole
    /// window every tick: each timeout doubles the next, up to 1 s, until a fresh sample.
    #[test]
    fn late_acks_back_the_timeout_off_instead_of_resending_every_tick() {
        let mut r = Reliable::new(frame::INPUT_STREAM_DATA, Limits::default());
        let t0 = Instant::now();
        for i in 0..100u8 {
            r.send(payload::OUTPUT, vec![i], t0);
        }
        let mut resent = 0;
        let mut t = t0;
        while t < t0 + Duration::from_secs(3) {
            t += Duration::from_millis(20);
            resent += r.due(t).unwrap().len();
        }
        // 200 ms, then 400, 800, 1000, ... : resends at 0.2, 0.6, 1.4, 2.4 s.
        assert_eq!(resent, 4 * 100, "{resent}");
        assert_eq!(r.rto(), MAX_RTO);
        // A fresh (never resent) sample brings the timeout back down.
        let w = r.send(payload::OUTPUT, vec![0], t);
        let m = Message::decode(&w).unwrap();
        r.on_ack(
            &ack_content(&Message::ack_for(&m)).unwrap(),
            t + Duration::from_millis(5),
        );
        assert!(r.rto() < Duration::from_millis(300), "{:?}", r.rto());
    }

    #[test]
    fn the_timeout_follows_the_measured_round_trip() {
        let mut r = Reliable::new(frame::INPUT_STREAM_DATA, Limits::default());
        let t0 = Instant::now();
        for i in 0..50 {
            let t = t0 + Duration::from_millis(i * 10);
            let w = r.send(payload::OUTPUT, vec![1], t);
            let m = Message::decode(&w).unwrap();
            r.on_ack(
                &ack_content(&Message::ack_for(&m)).unwrap(),
                t + Duration::from_millis(2),
            );
        }
        assert!(r.rto() < Duration::from_millis(60), "{:?}", r.rto());
        assert!(r.rto() >= Duration::from_millis(10), "{:?}", r.rto());
    }

    #[test]
    fn the_send_window_is_bounded_and_giving_up_is_an_error() {
        let limits = Limits {
            window: 2,
            reorder: 10,
            give_up_after: Duration::from_secs(1),
        };
        let mut r = Reliable::new(frame::INPUT_STREAM_DATA, limits);
        let t0 = Instant::now();
        r.send(payload::OUTPUT, vec![1], t0);
        assert!(r.can_send());
        r.send(payload::OUTPUT, vec![2], t0);
        assert!(!r.can_send());
        let e = r
            .due(t0 + Duration::from_micros(2_000_123_456))
            .unwrap_err();
        assert_eq!(e.sequence, 0);
        assert_eq!(
            e.to_string(),
            "message 0 was not acknowledged after 1 transmissions over 33m20.1s"
        );
    }
}
