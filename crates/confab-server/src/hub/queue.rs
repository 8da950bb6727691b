//! The byte bound on one session's outbound queue. Every queued item counts its frame's bytes
//! plus a fixed overhead. A queue over its bound (`session.outbound_queue_bytes`) for longer
//! than `session.slow_consumer_secs` closes its session as a slow consumer; one that reaches
//! twice the bound closes at once, so memory stays bounded however fast frames arrive. The
//! user reconnects and catches up from the store with no gap.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use confab_protocol::close;
use prometheus_client::metrics::gauge::Gauge;

use super::sessions::SessionControl;

/// Bytes counted per queued item besides its frame (the item and the channel's slot).
pub const ITEM_OVERHEAD: usize = 64;

/// What a push found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Within the bound.
    Under,
    /// Over the bound since this push: the grace period starts now.
    CrossedOver,
    /// Over the bound already.
    Over,
    /// At twice the bound or more: close now.
    Overflowing,
}

/// One session's queued bytes.
#[derive(Debug)]
pub struct QueueBytes {
    bytes: AtomicUsize,
    /// Counts the times the queue fell back under its bound, so a grace timer can tell whether
    /// the queue stayed over the whole time.
    drained: AtomicU64,
    bound: usize,
    grace: Duration,
    /// The server-wide gauge of queued bytes.
    total: Gauge,
}

impl QueueBytes {
    pub fn new(bound: usize, grace: Duration, total: Gauge) -> Self {
        Self {
            bytes: AtomicUsize::new(0),
            drained: AtomicU64::new(0),
            bound,
            grace,
            total,
        }
    }

    /// Counts `size` bytes in.
    pub fn add(&self, size: usize) -> Level {
        let before = self.bytes.fetch_add(size, Ordering::AcqRel);
        self.total.inc_by(size as i64);
        let after = before + size;
        if after >= self.bound.saturating_mul(2) {
            Level::Overflowing
        } else if after > self.bound && before <= self.bound {
            Level::CrossedOver
        } else if after > self.bound {
            Level::Over
        } else {
            Level::Under
        }
    }

    /// Counts `size` bytes out.
    pub fn remove(&self, size: usize) {
        let before = self.bytes.fetch_sub(size, Ordering::AcqRel);
        self.total.dec_by(size as i64);
        if before > self.bound && before - size <= self.bound {
            self.drained.fetch_add(1, Ordering::AcqRel);
        }
    }

    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Acquire)
    }

    /// Starts the grace period of a queue that just went over its bound: if it is still over,
    /// without having drained in between, when the period ends, the session closes.
    pub fn start_grace(self: &Arc<Self>, session: u64, control: Arc<SessionControl>) {
        let queue = self.clone();
        let drained = self.drained.load(Ordering::Acquire);
        tokio::spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(queue.grace) => {}
                () = control.closed() => return,
            }
            if queue.drained.load(Ordering::Acquire) == drained && queue.bytes() > queue.bound {
                tracing::warn!(
                    session,
                    bytes = queue.bytes(),
                    "slow consumer: outbound queue over its bound"
                );
                control.close(close::SLOW_CONSUMER, "slow consumer: outbound queue full");
            }
        });
    }
}

impl Drop for QueueBytes {
    fn drop(&mut self) {
        // What was still queued when the session went away leaves the server-wide count.
        self.total.dec_by(*self.bytes.get_mut() as i64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_the_shared_gauge() {
        let total = Gauge::default();
        let queue = QueueBytes::new(100, Duration::from_secs(5), total.clone());
        assert_eq!(queue.add(60), Level::Under);
        assert_eq!(queue.add(60), Level::CrossedOver);
        assert_eq!(queue.add(10), Level::Over);
        assert_eq!(queue.add(70), Level::Overflowing);
        assert_eq!(total.get(), 200);
        queue.remove(150);
        assert_eq!(queue.bytes(), 50);
        assert_eq!(queue.drained.load(Ordering::Acquire), 1);
        drop(queue);
        assert_eq!(total.get(), 0, "a dropped queue leaves the total");
    }

    #[tokio::test(start_paused = true)]
    async fn a_queue_over_its_bound_for_the_whole_grace_closes_its_session() {
        let queue = Arc::new(QueueBytes::new(
            100,
            Duration::from_secs(5),
            Gauge::default(),
        ));
        let control = Arc::new(SessionControl::default());
        queue.add(150);
        queue.start_grace(1, control.clone());
        tokio::time::sleep(Duration::from_secs(6)).await;
        assert_eq!(
            control.requested().map(|(c, _)| c),
            Some(close::SLOW_CONSUMER)
        );

        // One that drains in time (even if it goes over again later) stays open.
        let queue = Arc::new(QueueBytes::new(
            100,
            Duration::from_secs(5),
            Gauge::default(),
        ));
        let control = Arc::new(SessionControl::default());
        queue.add(150);
        queue.start_grace(2, control.clone());
        tokio::time::sleep(Duration::from_secs(2)).await;
        queue.remove(150);
        queue.add(150);
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert_eq!(control.requested(), None);
    }
}
