//! `/metrics` read the way Prometheus reads it: every scrape goes through a Prometheus text
//! parser, and the counters must move with the traffic the test makes. `/readyz` and `/healthz`.

mod common;

use std::time::Duration;

use common::{Reply, TestServer};
use prometheus_parse::{Scrape, Value};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

async fn get(addr: std::net::SocketAddr, path: &str, token: Option<&str>) -> Reply {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    common::read_reply(&mut stream).await
}

async fn scrape(server: &TestServer) -> Scrape {
    let reply = get(server.addr, "/metrics", None).await;
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/openmetrics-text")),
        "{:?}",
        reply.header("content-type")
    );
    let text = reply.text();
    assert!(text.ends_with("# EOF\n"), "{text}");
    Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap()
}

/// The value of the one sample named `name` with these labels.
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    find(scrape, name, labels).unwrap_or_else(|| panic!("no sample {name}{labels:?}"))
}

/// The value of the sample named `name` with these labels, if there is one (and only one).
fn find(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let found: Vec<f64> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .filter_map(|s| match s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => Some(v),
            _ => None,
        })
        .collect();
    assert!(found.len() <= 1, "one sample {name}{labels:?}: {found:?}");
    found.first().copied()
}

#[tokio::test]
async fn a_scrape_parses_and_its_counters_move_with_the_traffic() {
    let server = TestServer::start().await;
    let before = scrape(&server).await;
    assert_eq!(value(&before, "confab_sessions", &[]), 0.0);
    assert_eq!(
        value(&before, "confab_errors_total", &[("code", "not_found")]),
        0.0
    );
    assert!(
        value(
            &before,
            "confab_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ) == 1.0
    );

    let (_, mut alice) = server.user("alice").await;
    let (_, mut bob) = server.user("bob").await;
    alice.say("#general", "counted").await;
    bob.recv_type("message").await;
    assert_eq!(alice.say("#nowhere", "x").await["code"], "not_found");

    // The ack latency is recorded by the sender's task just after the ack went out: wait for it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let after = loop {
        let after = scrape(&server).await;
        if find(&after, "confab_ack_latency_seconds_count", &[]).unwrap_or(0.0) >= 1.0 {
            break after;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no ack latency recorded"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let moved = |name: &str, labels: &[(&str, &str)]| {
        // A labelled series appears with its first sample.
        value(&after, name, labels) - find(&before, name, labels).unwrap_or(0.0)
    };
    assert_eq!(value(&after, "confab_sessions", &[]), 2.0);
    assert_eq!(
        value(&after, "confab_connections", &[("transport", "ws")]),
        2.0
    );
    assert_eq!(
        value(&after, "confab_connections", &[("transport", "tcp")]),
        0.0
    );
    assert_eq!(moved("confab_sessions_opened_total", &[]), 2.0);
    assert_eq!(moved("confab_messages_stored_total", &[]), 1.0);
    // Bob's copy and Alice's ack.
    assert_eq!(moved("confab_messages_delivered_total", &[]), 2.0);
    assert_eq!(moved("confab_errors_total", &[("code", "not_found")]), 1.0);
    assert_eq!(moved("confab_frames_in_total", &[("type", "message")]), 2.0);
    assert!(moved("confab_frames_out_total", &[("type", "ready")]) >= 2.0);
    assert!(moved("confab_frames_out_total", &[("type", "ack")]) >= 1.0);
    assert!(moved("confab_frames_out_total", &[("type", "message")]) >= 1.0);
    assert!(moved("confab_frames_out_total", &[("type", "error")]) >= 1.0);
    assert!(moved("confab_ack_latency_seconds_count", &[]) >= 1.0);
    assert!(moved("confab_store_commit_seconds_count", &[]) >= 1.0);
    assert!(moved("confab_store_batch_size_count", &[]) >= 1.0);
    assert!(moved("confab_store_batch_size_sum", &[]) >= 1.0);
    assert!(value(&after, "confab_uptime_seconds", &[]) > 0.0);
    assert!(value(&after, "confab_outbound_queue_bytes", &[]) >= 0.0);

    drop(bob);
    // The close is counted once the server has seen it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = scrape(&server).await;
        if value(&now, "confab_sessions", &[]) == 1.0 {
            assert_eq!(
                value(&now, "confab_connections", &[("transport", "ws")]),
                1.0
            );
            let closed: f64 = now
                .samples
                .iter()
                .filter(|s| s.metric == "confab_sessions_closed_total")
                .filter_map(|s| match s.value {
                    Value::Counter(v) | Value::Untyped(v) => Some(v),
                    _ => None,
                })
                .sum();
            assert_eq!(closed, 1.0);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "bob's close is never counted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn with_a_metrics_token_every_scrape_needs_it() {
    let token = "a-long-enough-metrics-secret";
    let server = TestServer::start_with(|c| c.metrics_token = Some(token.to_owned())).await;
    let refused = get(server.addr, "/metrics", None).await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.json()["code"], "unauthorized");
    let wrong = get(server.addr, "/metrics", Some("a-long-enough-wrong-secret")).await;
    assert_eq!(wrong.status, 401);
    let allowed = get(server.addr, "/metrics", Some(token)).await;
    assert_eq!(allowed.status, 200);
    assert!(allowed.text().contains("confab_sessions 0\n"));
}

#[tokio::test]
async fn readyz_says_ready_when_storage_can_be_written_and_healthz_only_that_the_process_is_up() {
    let server = TestServer::start().await;
    let ready = get(server.addr, "/readyz", None).await;
    assert_eq!(ready.status, 200);
    assert_eq!(
        ready.json(),
        serde_json::json!({"status": "ready", "store": "ok", "uploads": "ok"})
    );
    let health = get(server.addr, "/healthz", None).await;
    assert_eq!((health.status, health.text().as_str()), (200, "ok\n"));
}
