//! What the data channel has to send, queued so that sending never stops receiving.
//!
//! Both ends of a data channel send a lot at once: a client uploads input and acknowledges
//! output, the agent sends output and acknowledges input. If either end waits for its WebSocket
//! write to finish before reading again, and the other end does the same, both TCP buffers fill
//! and the channel deadlocks (this is what hung the 24 MiB upload under load). So the pump
//! queues outgoing messages here, drains the queue with a future that only makes progress when
//! the socket accepts bytes, and keeps reading meanwhile. The queue is bounded by what feeds it:
//! local input is read only while [`Outbox::has_room_for_input`]; acknowledgements beyond
//! [`ACK_LIMIT`] bytes are dropped (harmless: the peer resends the message and it is
//! acknowledged again); retransmissions wait until the queue is empty (a message still queued
//! has not been lost, it has not been sent).

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::Sink;

/// Local input is read while fewer bytes than this are queued.
pub(crate) const INPUT_LIMIT: usize = 256 << 10;
/// Acknowledgements are dropped while more bytes than this are queued.
pub(crate) const ACK_LIMIT: usize = 2 << 20;

#[derive(Default)]
pub(crate) struct Outbox {
    queue: VecDeque<Vec<u8>>,
    bytes: usize,
    /// Messages were handed to the sink and not flushed yet.
    unflushed: bool,
    /// Acknowledgements dropped because the queue was full (diagnostics and tests).
    pub dropped_acks: u64,
}

impl Outbox {
    pub(crate) fn push(&mut self, wire: Vec<u8>) {
        self.bytes += wire.len();
        self.queue.push_back(wire);
    }

    /// Queues an acknowledgement unless the queue is over [`ACK_LIMIT`].
    pub(crate) fn push_ack(&mut self, wire: Vec<u8>) {
        if self.bytes > ACK_LIMIT {
            self.dropped_acks += 1;
        } else {
            self.push(wire);
        }
    }

    pub(crate) fn has_room_for_input(&self) -> bool {
        self.bytes < INPUT_LIMIT
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Whether [`Outbox::drain`] has work: queued messages, or sent ones to flush.
    pub(crate) fn busy(&self) -> bool {
        !self.queue.is_empty() || self.unflushed
    }

    /// Hands queued messages to `sink` as fast as it takes them, then flushes. Cancel-safe: a
    /// message leaves the queue only once the sink accepted it. Resolves when all is flushed.
    pub(crate) async fn drain<S, M, E>(
        &mut self,
        sink: &mut S,
        wrap: fn(Vec<u8>) -> M,
    ) -> Result<(), E>
    where
        S: Sink<M, Error = E> + Unpin,
    {
        std::future::poll_fn(|cx| self.poll_drain(cx, sink, wrap)).await
    }

    fn poll_drain<S, M, E>(
        &mut self,
        cx: &mut Context<'_>,
        sink: &mut S,
        wrap: fn(Vec<u8>) -> M,
    ) -> Poll<Result<(), E>>
    where
        S: Sink<M, Error = E> + Unpin,
    {
        while !self.queue.is_empty() {
            match Pin::new(&mut *sink).poll_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
            let wire = self.queue.pop_front().expect("queue is not empty");
            self.bytes -= wire.len();
            Pin::new(&mut *sink).start_send(wrap(wire))?;
            self.unflushed = true;
        }
        match Pin::new(&mut *sink).poll_flush(cx) {
            Poll::Ready(r) => {
                self.unflushed = false;
                Poll::Ready(r)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink that accepts `room` messages, then is full until the test makes room.
    struct Gate {
        room: usize,
        got: Vec<Vec<u8>>,
        flushes: usize,
    }
    impl Sink<Vec<u8>> for Gate {
        type Error = ();
        fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), ()>> {
            if self.room > 0 {
                Poll::Ready(Ok(()))
            } else {
                Poll::Pending
            }
        }
        fn start_send(mut self: Pin<&mut Self>, m: Vec<u8>) -> Result<(), ()> {
            self.room -= 1;
            self.got.push(m);
            Ok(())
        }
        fn poll_flush(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), ()>> {
            self.flushes += 1;
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), ()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn poll_once(o: &mut Outbox, g: &mut Gate) -> Poll<Result<(), ()>> {
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        o.poll_drain(&mut cx, g, |w| w)
    }

    #[test]
    fn a_full_sink_leaves_messages_queued_and_in_order() {
        let mut o = Outbox::default();
        let mut g = Gate {
            room: 2,
            got: Vec::new(),
            flushes: 0,
        };
        for i in 0..5u8 {
            o.push(vec![i; 10]);
        }
        assert!(poll_once(&mut o, &mut g).is_pending());
        assert_eq!(g.got, vec![vec![0; 10], vec![1; 10]]);
        assert_eq!(o.bytes, 30);
        assert!(o.busy());
        g.room = 10;
        assert!(poll_once(&mut o, &mut g).is_ready());
        assert_eq!(g.got.len(), 5);
        assert_eq!(g.got[4], vec![4; 10]);
        assert_eq!(g.flushes, 1);
        assert!(!o.busy() && o.is_empty() && o.bytes == 0);
    }

    #[test]
    fn acknowledgements_are_dropped_not_queued_without_bound() {
        let mut o = Outbox::default();
        o.push(vec![0; ACK_LIMIT + 1]);
        o.push_ack(vec![1; 100]);
        assert_eq!(o.dropped_acks, 1);
        assert_eq!(o.bytes, ACK_LIMIT + 1);
        assert!(!o.has_room_for_input());
        let mut small = Outbox::default();
        small.push_ack(vec![1; 100]);
        assert_eq!(small.bytes, 100);
        assert!(small.has_room_for_input());
    }
}
