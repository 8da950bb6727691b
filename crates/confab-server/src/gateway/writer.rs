//! The writing half every stream transport shares: drain the session's [`Outbox`], writing
//! every frame that is ready and flushing once per batch (one write system call for many
//! frames where the transport allows), report what was written, keep the peer alive, and end
//! with the transport's own goodbye. A transport supplies only the [`FrameSink`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use confab_protocol::close;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::hub::sessions::SessionControl;
use crate::hub::{Next, Outbox};

/// Frames written in one flush, at most.
const WRITE_BATCH: usize = 64;
/// How long a goodbye may take on a connection that stopped reading.
const GOODBYE_WAIT: Duration = Duration::from_secs(1);

/// How one transport writes.
pub trait FrameSink: Send {
    /// Buffers one frame.
    fn feed(&mut self, frame: Bytes) -> impl Future<Output = Result<(), ()>> + Send;
    /// Writes what was buffered.
    fn flush(&mut self) -> impl Future<Output = Result<(), ()>> + Send;
    /// Keeps an idle peer alive (a WebSocket ping); nothing where there is no such thing.
    fn keepalive(&mut self) -> impl Future<Output = Result<(), ()>> + Send;
    /// The last word: a close frame or close line with this code, then the end.
    fn goodbye(&mut self, code: u16, reason: &'static str) -> impl Future<Output = ()> + Send;
}

/// Drains `outbox` into `sink` until a close, the shutdown, or a write failure.
pub async fn run<S: FrameSink>(
    mut sink: S,
    mut outbox: Outbox,
    control: Arc<SessionControl>,
    shutdown: CancellationToken,
    keepalive: Option<Duration>,
) {
    let every = keepalive.unwrap_or(Duration::from_secs(3600));
    let mut tick = tokio::time::interval_at(Instant::now() + every, every);
    loop {
        let next = tokio::select! {
            biased;
            () = shutdown.cancelled() => {
                // Flush what is already queued, then say goodbye.
                let mut pending = Vec::new();
                while let Some(Next::Send(frame, mark)) = outbox.try_next() {
                    pending.push((frame, mark));
                }
                let _ = write_batch(&mut sink, &outbox, pending).await;
                sink.goodbye(close::GOING_AWAY, "server shutting down").await;
                control.close(close::GOING_AWAY, "server shutting down");
                return;
            }
            next = outbox.next() => next,
            _ = tick.tick(), if keepalive.is_some() => {
                if sink.keepalive().await.is_err() {
                    control.close(close::GOING_AWAY, "write failed");
                    return;
                }
                continue;
            }
        };
        let mut batch = Vec::new();
        let mut closing = None;
        match next {
            Next::Send(frame, mark) => batch.push((frame, mark)),
            Next::Close(code, reason) => closing = Some((code, reason)),
        }
        while closing.is_none() && batch.len() < WRITE_BATCH {
            match outbox.try_next() {
                Some(Next::Send(frame, mark)) => batch.push((frame, mark)),
                Some(Next::Close(code, reason)) => closing = Some((code, reason)),
                None => break,
            }
        }
        // A session closed from outside (slow consumer, revocation) must not wait on a peer
        // that stopped reading.
        let written = tokio::select! {
            written = write_batch(&mut sink, &outbox, batch) => written,
            () = control.closed(), if closing.is_none() => Err(()),
        };
        if written.is_err() {
            control.close(close::GOING_AWAY, "write failed");
            if let Some((code, reason)) = control.requested() {
                let _ = tokio::time::timeout(GOODBYE_WAIT, sink.goodbye(code, reason)).await;
            }
            return;
        }
        if let Some((code, reason)) = closing {
            sink.goodbye(code, reason).await;
            return;
        }
    }
}

type Batch = Vec<(Bytes, Option<(i64, u64)>)>;

async fn write_batch<S: FrameSink>(sink: &mut S, outbox: &Outbox, batch: Batch) -> Result<(), ()> {
    if batch.is_empty() {
        return Ok(());
    }
    let mut marks = Vec::new();
    for (frame, mark) in batch {
        sink.feed(frame).await?;
        marks.extend(mark);
    }
    sink.flush().await?;
    for (conv, seq) in marks {
        outbox.written(conv, seq);
    }
    Ok(())
}
