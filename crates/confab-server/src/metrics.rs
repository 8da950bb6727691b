//! What the server counts, rendered for Prometheus at `GET /metrics` (the OpenMetrics text
//! format, by the `prometheus-client` crate). One `Metrics` per server (no global registry), so
//! tests in one process stay apart. Every hot-path hook is an atomic add on a handle taken
//! once; labelled families are filled with every known label value up front, so a scrape shows
//! zeros rather than missing series.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use confab_protocol::{close, ErrorCode};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

/// The transports a session can come in on, as the `transport` label shows them.
pub const TRANSPORTS: [&str; 4] = ["ws", "tcp", "udp", "sse"];

/// Why a connection can be closed as it comes in, as `connections_refused` shows it.
pub const REFUSALS: [&str; 2] = ["per_ip", "tls_handshake"];

/// Close codes counted apart; any other code counts as `other`.
const CLOSE_CODES: [u16; 9] = [
    close::NORMAL,
    close::GOING_AWAY,
    close::POLICY_VIOLATION,
    close::TOO_BIG,
    close::INTERNAL_ERROR,
    close::SLOW_CONSUMER,
    close::REVOKED,
    close::IDLE_TIMEOUT,
    close::TOKEN_EXPIRED,
];

type Label = [(&'static str, &'static str); 1];
type OwnedLabel = [(&'static str, String); 1];

pub struct Metrics {
    registry: Registry,
    started: Instant,
    uptime: Gauge<f64, AtomicU64>,
    connections: Family<Label, Gauge>,
    sessions: Gauge,
    sessions_opened: Counter,
    sessions_closed: Family<OwnedLabel, Counter>,
    frames_in: Family<Label, Counter>,
    frames_out: Family<Label, Counter>,
    messages_stored: Counter,
    deliveries: Counter,
    errors: Family<Label, Counter>,
    ack_latency: Histogram,
    commit_latency: Histogram,
    commit_failures: Counter,
    batch_size: Histogram,
    queue_bytes: Gauge,
    slow_consumer_closes: Counter,
    rate_limited: Family<Label, Counter>,
    connections_refused: Family<Label, Counter>,
    bus_events: Family<Label, Counter>,
    bus_on: Gauge,
    bus_resyncs: Counter,
    gap_fills: Counter,
}

/// What happened to bus events between nodes, as `bus_events` shows it.
pub const BUS_EVENTS: [&str; 3] = ["published", "received", "dropped"];

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Latency buckets in seconds: 0.25 ms to about 4 s, doubling.
fn latency_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.000_25, 2.0, 15)
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("confab");
        let metrics = Self {
            started: Instant::now(),
            uptime: Gauge::default(),
            connections: Family::default(),
            sessions: Gauge::default(),
            sessions_opened: Counter::default(),
            sessions_closed: Family::default(),
            frames_in: Family::default(),
            frames_out: Family::default(),
            messages_stored: Counter::default(),
            deliveries: Counter::default(),
            errors: Family::default(),
            ack_latency: Histogram::new(latency_buckets()),
            commit_latency: Histogram::new(latency_buckets()),
            commit_failures: Counter::default(),
            batch_size: Histogram::new(exponential_buckets(1.0, 2.0, 12)),
            queue_bytes: Gauge::default(),
            slow_consumer_closes: Counter::default(),
            rate_limited: Family::default(),
            connections_refused: Family::default(),
            bus_events: Family::default(),
            bus_on: Gauge::default(),
            bus_resyncs: Counter::default(),
            gap_fills: Counter::default(),
            registry: Registry::default(),
        };
        for transport in TRANSPORTS {
            let _ = metrics
                .connections
                .get_or_create(&[("transport", transport)]);
        }
        for code in CLOSE_CODES
            .iter()
            .map(u16::to_string)
            .chain(["other".into()])
        {
            let _ = metrics.sessions_closed.get_or_create(&[("code", code)]);
        }
        for kind in confab_protocol::ServerFrame::KINDS {
            let _ = metrics.frames_out.get_or_create(&[("type", kind)]);
        }
        for code in ErrorCode::ALL {
            let _ = metrics.errors.get_or_create(&[("code", code.as_str())]);
        }
        for scope in ["frames", "messages"] {
            let _ = metrics.rate_limited.get_or_create(&[("scope", scope)]);
        }
        for what in BUS_EVENTS {
            let _ = metrics.bus_events.get_or_create(&[("event", what)]);
        }
        for reason in REFUSALS {
            let _ = metrics
                .connections_refused
                .get_or_create(&[("reason", reason)]);
        }
        registry.register(
            "build",
            "The running build.",
            Info::new([("version", env!("CARGO_PKG_VERSION"))]),
        );
        registry.register(
            "uptime_seconds",
            "Seconds since the server started.",
            metrics.uptime.clone(),
        );
        registry.register(
            "connections",
            "Open connections, by transport (udp: peers with a live session).",
            metrics.connections.clone(),
        );
        registry.register(
            "sessions",
            "Authenticated sessions open now, over every transport.",
            metrics.sessions.clone(),
        );
        registry.register(
            "sessions_opened",
            "Authenticated sessions opened.",
            metrics.sessions_opened.clone(),
        );
        registry.register(
            "sessions_closed",
            "Sessions closed, by WebSocket close code (4000: slow consumer, 4001: revoked).",
            metrics.sessions_closed.clone(),
        );
        registry.register(
            "frames_in",
            "Client frames received by open sessions, by type.",
            metrics.frames_in.clone(),
        );
        registry.register(
            "frames_out",
            "Frames handed to sessions' transports, by type.",
            metrics.frames_out.clone(),
        );
        registry.register(
            "messages_stored",
            "Entries (messages, edits, deletes, reactions) durably stored.",
            metrics.messages_stored.clone(),
        );
        registry.register(
            "messages_delivered",
            "Stored entries queued to sessions (copies and acks).",
            metrics.deliveries.clone(),
        );
        registry.register(
            "errors",
            "Error frames sent to sessions, by code.",
            metrics.errors.clone(),
        );
        registry.register(
            "ack_latency_seconds",
            "From a message frame's arrival to its ack (or error), in seconds.",
            metrics.ack_latency.clone(),
        );
        registry.register(
            "store_commit_seconds",
            "Time to run and commit one store batch, in seconds.",
            metrics.commit_latency.clone(),
        );
        registry.register(
            "store_commit_failures",
            "Store batches whose commit failed (nothing in them was acknowledged).",
            metrics.commit_failures.clone(),
        );
        registry.register(
            "store_batch_size",
            "Writes committed per store batch (group commit).",
            metrics.batch_size.clone(),
        );
        registry.register(
            "outbound_queue_bytes",
            "Bytes waiting in every session's outbound queue.",
            metrics.queue_bytes.clone(),
        );
        registry.register(
            "slow_consumer_closes",
            "Sessions closed because they did not read what was sent to them.",
            metrics.slow_consumer_closes.clone(),
        );
        registry.register(
            "rate_limited",
            "Frames refused with rate_limited, by limit (frames: per connection, messages: per user).",
            metrics.rate_limited.clone(),
        );
        registry.register(
            "connections_refused",
            "Connections closed as they came in, by reason (per_ip: the address has \
             transport.max_connections_per_ip open; tls_handshake: failed or too slow).",
            metrics.connections_refused.clone(),
        );
        registry.register(
            "bus_events",
            "Events on the bus between nodes (published: sent to Redis; received: from other \
             nodes; dropped: not sent, Redis away or the queue full; the store fills the gap).",
            metrics.bus_events.clone(),
        );
        registry.register(
            "bus_on",
            "1 while this node hears its own heartbeat on the bus (always 0 for a lone node).",
            metrics.bus_on.clone(),
        );
        registry.register(
            "bus_resyncs",
            "Times this node reloaded its caches and filled every conversation from the store \
             after being off the bus.",
            metrics.bus_resyncs.clone(),
        );
        registry.register(
            "gap_fills",
            "Conversation entries delivered from the store because the bus had not brought them.",
            metrics.gap_fills.clone(),
        );
        Self {
            registry,
            ..metrics
        }
    }

    /// Counts bus events: `what` is one of [`BUS_EVENTS`].
    pub fn bus_events(&self, what: &'static str, n: u64) {
        self.bus_events.get_or_create(&[("event", what)]).inc_by(n);
    }

    pub fn bus_on(&self, on: bool) {
        self.bus_on.set(i64::from(on));
    }

    pub fn bus_resynced(&self) {
        self.bus_resyncs.inc();
    }

    pub fn gap_filled(&self) {
        self.gap_fills.inc();
    }

    /// Counts an open connection on `transport` until the guard drops.
    pub fn connection(&self, transport: &'static str) -> ConnectionGuard {
        let gauge = self
            .connections
            .get_or_create(&[("transport", transport)])
            .clone();
        gauge.inc();
        ConnectionGuard(gauge)
    }

    pub fn session_opened(&self) {
        self.sessions.inc();
        self.sessions_opened.inc();
    }

    pub fn session_closed(&self, code: u16) {
        self.sessions.dec();
        let label = if CLOSE_CODES.contains(&code) {
            code.to_string()
        } else {
            "other".to_owned()
        };
        self.sessions_closed.get_or_create(&[("code", label)]).inc();
        if code == close::SLOW_CONSUMER {
            self.slow_consumer_closes.inc();
        }
    }

    pub fn frame_received(&self, kind: &'static str) {
        self.frames_in.get_or_create(&[("type", kind)]).inc();
    }

    pub fn frame_sent(&self, kind: &'static str) {
        self.frames_out.get_or_create(&[("type", kind)]).inc();
    }

    pub fn error_sent(&self, code: ErrorCode) {
        self.errors.get_or_create(&[("code", code.as_str())]).inc();
    }

    /// A frame refused by a rate limit: `frames` (per connection) or `messages` (per user).
    /// Counts a connection closed before serving it; `reason` is one of [`REFUSALS`].
    pub fn connection_refused(&self, reason: &'static str) {
        self.connections_refused
            .get_or_create(&[("reason", reason)])
            .inc();
    }

    pub fn rate_limited(&self, scope: &'static str) {
        self.rate_limited.get_or_create(&[("scope", scope)]).inc();
    }

    pub fn message_committed(&self, deliveries: u64) {
        self.messages_stored.inc();
        self.deliveries.inc_by(deliveries);
    }

    pub fn ack_latency(&self, took: Duration) {
        self.ack_latency.observe(took.as_secs_f64());
    }

    /// The gauge of bytes queued to sessions, shared with every session's queue.
    pub fn queue_bytes(&self) -> Gauge {
        self.queue_bytes.clone()
    }

    /// Renders every metric in the OpenMetrics text format.
    pub fn render(&self) -> String {
        self.uptime.set(self.started.elapsed().as_secs_f64());
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// What a store reports about each batch it commits (see [`crate::store::CommitObserver`]).
impl crate::store::CommitObserver for Metrics {
    fn batch_committed(&self, jobs: usize, took: Duration, ok: bool) {
        self.batch_size.observe(jobs as f64);
        self.commit_latency.observe(took.as_secs_f64());
        if !ok {
            self.commit_failures.inc();
        }
    }
}

/// Keeps a connection counted; dropping it uncounts it.
#[derive(Debug)]
pub struct ConnectionGuard(Gauge);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// A shared handle, for the store and the hub.
pub type SharedMetrics = Arc<Metrics>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::CommitObserver;

    #[test]
    fn renders_openmetrics_text() {
        let metrics = Metrics::new();
        metrics.session_opened();
        metrics.session_opened();
        metrics.session_closed(close::SLOW_CONSUMER);
        metrics.error_sent(ErrorCode::RateLimited);
        metrics.message_committed(3);
        metrics.frame_received("message");
        let guard = metrics.connection("tcp");
        metrics.batch_committed(5, Duration::from_millis(2), true);
        let text = metrics.render();
        assert!(text.contains("confab_sessions 1\n"), "{text}");
        assert!(text.contains("confab_sessions_closed_total{code=\"4000\"} 1\n"));
        assert!(text.contains("confab_slow_consumer_closes_total 1\n"));
        assert!(text.contains("confab_errors_total{code=\"rate_limited\"} 1\n"));
        assert!(text.contains("confab_errors_total{code=\"internal\"} 0\n"));
        assert!(text.contains("confab_messages_delivered_total 3\n"));
        assert!(text.contains("confab_frames_in_total{type=\"message\"} 1\n"));
        assert!(text.contains("confab_connections{transport=\"tcp\"} 1\n"));
        assert!(text.contains("confab_store_batch_size_count 1\n"));
        assert!(text.contains("confab_build_info{version=\""));
        assert!(text.ends_with("# EOF\n"));
        drop(guard);
        assert!(metrics
            .render()
            .contains("confab_connections{transport=\"tcp\"} 0\n"));
    }
}
