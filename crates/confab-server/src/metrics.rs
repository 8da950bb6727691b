//! Counters on the hot path, rendered in the Prometheus text format at `GET /metrics`. Plain
//! atomics: counting costs one relaxed add, so every message and delivery can be counted.
//! One `Metrics` per server (no global registry), so tests in one process stay apart.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use confab_protocol::{close, ErrorCode};

/// Close codes counted apart; any other code counts as `other`.
const CLOSE_CODES: [u16; 8] = [
    close::NORMAL,
    close::GOING_AWAY,
    close::POLICY_VIOLATION,
    close::TOO_BIG,
    close::INTERNAL_ERROR,
    close::SLOW_CONSUMER,
    close::REVOKED,
    close::IDLE_TIMEOUT,
];

const ERROR_CODES: [ErrorCode; ErrorCode::ALL.len()] = ErrorCode::ALL;

#[derive(Debug, Default)]
pub struct Metrics {
    sessions_open: AtomicI64,
    sessions_opened: AtomicU64,
    sessions_closed: [AtomicU64; CLOSE_CODES.len() + 1],
    frames_received: AtomicU64,
    errors_sent: [AtomicU64; ERROR_CODES.len()],
    messages_committed: AtomicU64,
    deliveries: AtomicU64,
}

impl Metrics {
    pub fn session_opened(&self) {
        self.sessions_open.fetch_add(1, Ordering::Relaxed);
        self.sessions_opened.fetch_add(1, Ordering::Relaxed);
    }

    pub fn session_closed(&self, code: u16) {
        self.sessions_open.fetch_sub(1, Ordering::Relaxed);
        let slot = CLOSE_CODES
            .iter()
            .position(|&c| c == code)
            .unwrap_or(CLOSE_CODES.len());
        self.sessions_closed[slot].fetch_add(1, Ordering::Relaxed);
    }

    pub fn frame_received(&self) {
        self.frames_received.fetch_add(1, Ordering::Relaxed);
    }

    pub fn error_sent(&self, code: ErrorCode) {
        if let Some(slot) = ERROR_CODES.iter().position(|&c| c == code) {
            self.errors_sent[slot].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn message_committed(&self, deliveries: u64) {
        self.messages_committed.fetch_add(1, Ordering::Relaxed);
        self.deliveries.fetch_add(deliveries, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, String)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        metric(
            "confab_sessions_open",
            "gauge",
            "Sessions open now, over every transport.",
            &[(
                String::new(),
                self.sessions_open.load(Ordering::Relaxed).to_string(),
            )],
        );
        metric(
            "confab_sessions_opened_total",
            "counter",
            "Sessions opened.",
            &[(String::new(), get(&self.sessions_opened).to_string())],
        );
        let closed: Vec<(String, String)> = CLOSE_CODES
            .iter()
            .map(|c| c.to_string())
            .chain(["other".to_owned()])
            .zip(&self.sessions_closed)
            .map(|(code, n)| (format!("{{code=\"{code}\"}}"), get(n).to_string()))
            .collect();
        metric(
            "confab_sessions_closed_total",
            "counter",
            "Sessions closed, by WebSocket close code (4000: slow consumer).",
            &closed,
        );
        metric(
            "confab_frames_received_total",
            "counter",
            "Client frames received by open sessions.",
            &[(String::new(), get(&self.frames_received).to_string())],
        );
        let errors: Vec<(String, String)> = ERROR_CODES
            .iter()
            .zip(&self.errors_sent)
            .map(|(code, n)| (format!("{{code=\"{code}\"}}"), get(n).to_string()))
            .collect();
        metric(
            "confab_errors_sent_total",
            "counter",
            "Error frames sent to sessions, by code.",
            &errors,
        );
        metric(
            "confab_messages_committed_total",
            "counter",
            "Messages durably stored and fanned out.",
            &[(String::new(), get(&self.messages_committed).to_string())],
        );
        metric(
            "confab_deliveries_total",
            "counter",
            "Message frames and acks queued to sessions.",
            &[(String::new(), get(&self.deliveries).to_string())],
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let metrics = Metrics::default();
        metrics.session_opened();
        metrics.session_opened();
        metrics.session_closed(close::SLOW_CONSUMER);
        metrics.error_sent(ErrorCode::RateLimited);
        metrics.message_committed(3);
        let text = metrics.render();
        assert!(text.contains("confab_sessions_open 1\n"), "{text}");
        assert!(text.contains("confab_sessions_closed_total{code=\"4000\"} 1\n"));
        assert!(text.contains("confab_errors_sent_total{code=\"rate_limited\"} 1\n"));
        assert!(text.contains("confab_deliveries_total 3\n"));
        assert!(text.contains("# TYPE confab_messages_committed_total counter\n"));
    }
}
