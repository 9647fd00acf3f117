//! The outbound side of a connection, whatever protocol it speaks: a queue of
//! encoded bytes, the transport they are written to, and the backpressure
//! that ties a publisher to the subscribers it fills.
//!
//! Producers (the reader of a publishing connection, or an internal service)
//! append to the queue, then flush it themselves once their read is routed,
//! straight into the subscriber's socket when the socket has room, as
//! nats-server's `flushClients` does. The connection's writer task only
//! writes what a producer could not: when the socket was full, or for bytes
//! queued outside any producer (server PINGs, INFO updates).
//!
//! A subscriber whose socket is full keeps bytes pending. Once they pass the
//! high-water mark, the producer waits for them to drain before it reads
//! more, so TCP slows the publishing client to the pace of the slowest
//! subscriber that still reads. One that stops reading is cut off: pending
//! bytes over `max_pending`, or no write progress for `write_deadline`.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use parking_lot::Mutex;
use tokio::io::AsyncWrite;
use tokio::sync::Notify;

/// Any transport a connection writes to: TCP, TLS, WebSocket frames.
pub type Transport = Box<dyn AsyncWrite + Send + Unpin>;

/// Pending bytes above which a producer stops to let the subscriber drain,
/// unless `max_pending` is smaller (then half of it). The kernel's socket
/// buffer is the real slack; this only bounds what waits in user space.
const HIGH_WATER: usize = 1024 * 1024;

/// Write buffers larger than this are not kept once written out, so one
/// burst does not pin memory on an idle connection.
const KEEP_CAPACITY: usize = 256 * 1024;

#[derive(Default)]
struct Queue {
    buf: BytesMut,
    /// Nothing more is queued; the writer writes what is there and stops.
    closing: bool,
    out_msgs: u64,
    out_bytes: u64,
}

/// The transport and the bytes taken from the queue for it. Whoever holds
/// the lock writes: a producer flushing, or the writer task.
struct Sink {
    io: Transport,
    taken: BytesMut,
    /// The writer task's waker: a producer that finds the socket full leaves
    /// this registered, so the writer task carries on when it has room.
    waker: Option<Waker>,
}

/// What became of bytes offered to an outlet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queued {
    /// Queued; `pending` bytes now wait for the transport.
    Yes { pending: usize, was_empty: bool },
    /// The connection is closing; the bytes were dropped.
    Closed,
    /// Pending bytes passed `max_pending`: the subscriber is a slow consumer
    /// and must be cut off.
    OverLimit,
}

/// Why the writer stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Everything queued before `close` was written.
    Closed,
    /// Dropped by `close_now`.
    Killed,
    /// The transport failed.
    WriteError,
    /// No write progress for `write_deadline`.
    WriteDeadline,
}

pub struct Outlet {
    queue: Mutex<Queue>,
    /// Queued bytes plus bytes taken for the transport and not yet accepted.
    pending: AtomicUsize,
    sink: Mutex<Option<Sink>>,
    /// Drop everything and stop writing (slow consumer, kill).
    discard: AtomicBool,
    /// Bytes accepted by the transport so far, the progress `write_deadline` watches.
    written: AtomicU64,
    /// Wakes the writer task: bytes queued outside a producer, or closing.
    wake: Notify,
    /// Interrupts the writer task at once.
    kill: Notify,
    /// Producers waiting for pending bytes to fall to the high-water mark.
    drained: Notify,
    waiters: AtomicUsize,
    /// The flush round of the producer that last touched this outlet.
    mark: AtomicU64,
    /// `max_pending` and the high-water mark that follows from it; a reload
    /// may change them.
    max_pending: AtomicUsize,
    high_water: AtomicUsize,
}

/// Where producers start waiting, for a given `max_pending`.
fn high_water(max_pending: usize) -> usize {
    HIGH_WATER.min(max_pending / 2).max(1)
}

impl Outlet {
    pub fn new(max_pending: usize) -> Self {
        Outlet {
            queue: Mutex::new(Queue::default()),
            pending: AtomicUsize::new(0),
            sink: Mutex::new(None),
            discard: AtomicBool::new(false),
            written: AtomicU64::new(0),
            wake: Notify::new(),
            kill: Notify::new(),
            drained: Notify::new(),
            waiters: AtomicUsize::new(0),
            mark: AtomicU64::new(0),
            max_pending: AtomicUsize::new(max_pending),
            high_water: AtomicUsize::new(high_water(max_pending)),
        }
    }

    /// A reload changed `max_pending`: the next bytes queued are held to it.
    pub fn set_max_pending(&self, max_pending: usize) {
        self.max_pending.store(max_pending, Ordering::Relaxed);
        self.high_water.store(high_water(max_pending), Ordering::Relaxed);
    }

    fn high_water(&self) -> usize {
        self.high_water.load(Ordering::Relaxed)
    }

    /// Queues one message: `encode` appends its bytes, and `payload` bytes
    /// are counted as delivered (nats-server counts payloads, not lines).
    pub fn push_msg(&self, payload: usize, encode: impl FnOnce(&mut BytesMut)) -> Queued {
        let mut q = self.queue.lock();
        if q.closing {
            return Queued::Closed;
        }
        let before = q.buf.len();
        encode(&mut q.buf);
        q.out_msgs += 1;
        q.out_bytes += payload as u64;
        let added = q.buf.len() - before;
        // Counted before the lock goes, so a writer never takes bytes not yet counted.
        let queued = self.added(before == 0, added);
        drop(q);
        queued
    }

    /// Queues protocol bytes (INFO, PONG, +OK, -ERR …) behind what is queued.
    pub fn push_proto(&self, bytes: &[u8]) -> Queued {
        let mut q = self.queue.lock();
        if q.closing {
            return Queued::Closed;
        }
        let was_empty = q.buf.is_empty();
        q.buf.extend_from_slice(bytes);
        let queued = self.added(was_empty, bytes.len());
        drop(q);
        queued
    }

    fn added(&self, was_empty: bool, n: usize) -> Queued {
        let pending = self.pending.fetch_add(n, Ordering::AcqRel) + n;
        if pending > self.max_pending.load(Ordering::Relaxed) {
            return Queued::OverLimit;
        }
        Queued::Yes { pending, was_empty }
    }

    /// Bytes waiting for the transport.
    pub fn pending(&self) -> usize {
        if self.discard.load(Ordering::Relaxed) {
            return 0;
        }
        self.pending.load(Ordering::Acquire)
    }

    /// Messages and payload bytes queued so far.
    pub fn out_counts(&self) -> (u64, u64) {
        let q = self.queue.lock();
        (q.out_msgs, q.out_bytes)
    }

    /// Whether a producer should wait before adding more.
    pub fn is_behind(&self, pending: usize) -> bool {
        pending > self.high_water()
    }

    pub fn is_closing(&self) -> bool {
        self.queue.lock().closing
    }

    /// Wakes the writer task to write what is queued.
    pub fn wake_writer(&self) {
        self.wake.notify_one();
    }

    /// No more bytes are taken; what is queued is still written.
    pub fn close(&self) {
        self.queue.lock().closing = true;
        self.wake.notify_one();
        self.release_waiters();
    }

    /// Stops at once, dropping whatever is queued.
    pub fn close_now(&self) {
        self.discard.store(true, Ordering::Release);
        let mut q = self.queue.lock();
        q.closing = true;
        q.buf = BytesMut::new();
        drop(q);
        self.wake.notify_one();
        self.kill.notify_one();
        self.release_waiters();
    }

    fn release_waiters(&self) {
        if self.waiters.load(Ordering::Acquire) > 0 {
            self.drained.notify_waiters();
        }
    }

    /// Gives the outlet its transport; until then bytes only queue.
    pub fn attach(&self, io: Transport) {
        *self.sink.lock() = Some(Sink {
            io,
            taken: BytesMut::new(),
            waker: None,
        });
    }

    /// Takes the transport back, for shutting it down.
    fn detach(&self) -> Option<Transport> {
        self.sink.lock().take().map(|s| s.io)
    }

    /// Writes what is queued from a producer's path, without waiting: into
    /// the socket if it has room, otherwise the writer task carries on.
    pub fn flush(&self) {
        if let Some(mut guard) = self.sink.try_lock() {
            if let Some(sink) = guard.as_mut() {
                if let Some(waker) = sink.waker.clone() {
                    let mut cx = Context::from_waker(&waker);
                    // Done; otherwise the writer task takes over, whether the
                    // transport is full or failed.
                    if let Poll::Ready(Ok(())) = self.write_out(sink, &mut cx) {
                        return;
                    }
                }
            }
        }
        // The writer task is writing (it will see the new bytes), has not
        // started yet, or must wait for the transport to have room.
        self.wake.notify_one();
    }

    /// Waits until pending bytes are down to the high-water mark, or the
    /// connection closes. Bounded by the writer's `write_deadline`.
    pub async fn drained(&self) {
        self.waiters.fetch_add(1, Ordering::AcqRel);
        loop {
            let notified = self.drained.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.pending.load(Ordering::Acquire) <= self.high_water()
                || self.discard.load(Ordering::Acquire)
                || self.queue.lock().closing
            {
                break;
            }
            notified.await;
        }
        self.waiters.fetch_sub(1, Ordering::AcqRel);
    }

    /// Writes until everything queued is accepted or the transport is full.
    fn write_out(&self, sink: &mut Sink, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if self.discard.load(Ordering::Acquire) {
                return Poll::Ready(Ok(()));
            }
            if sink.taken.is_empty() {
                let mut q = self.queue.lock();
                if q.buf.is_empty() {
                    break;
                }
                if sink.taken.capacity() > KEEP_CAPACITY {
                    sink.taken = BytesMut::new();
                }
                std::mem::swap(&mut q.buf, &mut sink.taken);
            }
            match Pin::new(&mut sink.io).poll_write(cx, &sink.taken) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    sink.taken.advance(n);
                    self.written.fetch_add(n as u64, Ordering::Relaxed);
                    let left = self.pending.fetch_sub(n, Ordering::AcqRel) - n;
                    if left <= self.high_water() {
                        self.release_waiters();
                    }
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        // TLS and WebSocket keep bytes of their own until flushed.
        Pin::new(&mut sink.io).poll_flush(cx)
    }

    /// The writer task's turn: writes until the queue is empty, waiting for
    /// the transport as needed. Errs when the transport fails, or makes no
    /// progress for `deadline`.
    pub async fn write_queued(&self, deadline: Duration) -> Result<(), Stopped> {
        let write = poll_fn(|cx| {
            let mut guard = self.sink.lock();
            let Some(sink) = guard.as_mut() else {
                return Poll::Ready(Ok(()));
            };
            if !sink.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                sink.waker = Some(cx.waker().clone());
            }
            self.write_out(sink, cx)
        });
        tokio::pin!(write);
        loop {
            let before = self.written.load(Ordering::Relaxed);
            tokio::select! {
                r = tokio::time::timeout(deadline, write.as_mut()) => match r {
                    Ok(Ok(())) => return Ok(()),
                    Ok(Err(_)) => return Err(Stopped::WriteError),
                    // Producers may have written meanwhile: only no progress at all counts.
                    Err(_) if self.written.load(Ordering::Relaxed) != before => {}
                    Err(_) => return Err(Stopped::WriteDeadline),
                },
                _ = self.kill.notified() => return Err(Stopped::Killed),
            }
        }
    }

    /// Runs the writer side until the connection closes: writes what
    /// producers could not, and calls `tick` every period (keep-alive
    /// PINGs), the first time after `first`. `settings` gives the write
    /// deadline and the period; it is asked again each round, so a
    /// configuration reload reaches connections already open. The caller
    /// then shuts the transport down (`shut_transport`).
    pub async fn run_writer(
        &self,
        settings: impl Fn() -> (Duration, Duration),
        first: Duration,
        mut tick: impl FnMut(),
    ) -> Stopped {
        let mut period = settings().1;
        let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + first, period);
        let stopped = loop {
            if self.discard.load(Ordering::Acquire) {
                break Stopped::Killed;
            }
            let (deadline, now_period) = settings();
            if now_period != period {
                period = now_period;
                ping = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            }
            if let Err(stop) = self.write_queued(deadline).await {
                break stop;
            }
            let closing = self.queue.lock().closing;
            if closing {
                // Anything queued after the last write is written before stopping.
                match self.write_queued(deadline).await {
                    Ok(()) => break Stopped::Closed,
                    Err(stop) => break stop,
                }
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = self.kill.notified() => break Stopped::Killed,
                _ = ping.tick() => tick(),
            }
        };
        self.discard.store(stopped != Stopped::Closed, Ordering::Release);
        {
            let mut q = self.queue.lock();
            q.closing = true;
        }
        self.release_waiters();
        stopped
    }

    /// Shuts the transport down once the writer has stopped. The caller
    /// first records why it stopped (a slow consumer is counted before its
    /// peer can see the connection close).
    pub async fn shut_transport(&self) {
        if let Some(mut io) = self.detach() {
            use tokio::io::AsyncWriteExt;
            // Best effort: the peer may already be gone.
            let _ = tokio::time::timeout(Duration::from_secs(1), io.shutdown()).await;
        }
    }
}

/// What one producer filled while routing: the outlets it must flush before
/// reading more, and whether one of them is behind.
pub struct Producer {
    round: u64,
    touched: Vec<Arc<Outlet>>,
    behind: bool,
    /// This round marked an outlet.
    touched_any: bool,
}

static ROUNDS: AtomicU64 = AtomicU64::new(1);

impl Default for Producer {
    fn default() -> Self {
        Producer {
            round: ROUNDS.fetch_add(1, Ordering::Relaxed),
            touched: Vec::new(),
            behind: false,
            touched_any: false,
        }
    }
}

impl Producer {
    /// Notes that `outlet` was given bytes and now has `pending` waiting.
    pub fn touch(&mut self, outlet: &Arc<Outlet>, pending: usize) {
        if outlet.is_behind(pending) {
            self.behind = true;
        }
        // Once per round; a race with another producer only adds a duplicate.
        self.touched_any = true;
        if outlet.mark.swap(self.round, Ordering::Relaxed) != self.round {
            self.touched.push(outlet.clone());
        }
    }

    /// Whether an outlet passed its high-water mark during this round.
    pub fn is_behind(&self) -> bool {
        self.behind
    }

    /// Writes out everything touched, without waiting (internal producers).
    pub fn flush(&mut self) {
        for outlet in self.touched.drain(..) {
            outlet.flush();
        }
        self.next_round();
    }

    /// Writes out everything touched, then waits for each outlet that is
    /// still behind, except the producer's own (its client may not read
    /// until it is done writing).
    pub async fn flush_and_wait(&mut self, own: Option<&Arc<Outlet>>) {
        for outlet in &self.touched {
            outlet.flush();
        }
        for outlet in self.touched.drain(..) {
            if own.is_some_and(|o| Arc::ptr_eq(o, &outlet)) {
                continue;
            }
            if outlet.is_behind(outlet.pending()) {
                outlet.drained().await;
            }
        }
        self.next_round();
    }

    fn next_round(&mut self) {
        self.behind = false;
        // A round that touched nothing left no marks: it can be reused, and
        // an idle read costs no shared counter.
        if self.touched_any {
            self.touched_any = false;
            self.round = ROUNDS.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Drop for Producer {
    /// A producer dropped mid-round still gets its bytes written.
    fn drop(&mut self) {
        for outlet in self.touched.drain(..) {
            outlet.flush();
        }
    }
}
