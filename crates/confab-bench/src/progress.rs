//! The progress line: one line on stderr, rewritten every second while a scenario runs.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Counters a scenario bumps and the progress line reads.
#[derive(Debug, Default)]
pub struct Counters {
    pub sent: AtomicU64,
    pub acked: AtomicU64,
    pub delivered: AtomicU64,
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// Prints `name`'s counters every second until the returned guard is dropped.
pub fn start(name: &'static str, counters: Arc<Counters>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let start = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.tick().await;
        loop {
            tick.tick().await;
            let secs = start.elapsed().as_secs_f64();
            let rate = |c: &AtomicU64| c.load(Ordering::Relaxed) as f64 / secs;
            eprint!(
                "\r[{name}] {secs:>5.1}s  sent {:>9.0}/s  acked {:>9.0}/s  delivered {:>10.0}/s ",
                rate(&counters.sent),
                rate(&counters.acked),
                rate(&counters.delivered)
            );
            let _ = std::io::stderr().flush();
        }
    })
}

/// Ends the progress line.
pub fn stop(handle: tokio::task::JoinHandle<()>) {
    handle.abort();
    eprintln!();
}
