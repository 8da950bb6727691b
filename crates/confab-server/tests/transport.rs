//! The limits every connection meets as it is accepted: connections per address (over HTTP,
//! WebSocket and the TCP gateway together), the request head deadline (slowloris) and the TLS
//! handshake deadline.

mod common;

use std::time::{Duration, Instant};

use common::tls::DevCert;
use common::{http_text, TestServer, WAIT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the server closes; returns what came and how long it took.
async fn until_closed(stream: &mut TcpStream) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(WAIT, stream.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection in time");
    (answer, started.elapsed())
}

/// The value of the metric line starting with `name`.
fn counter(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|rest| rest.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

#[tokio::test]
async fn connections_per_address_are_capped_over_every_transport() {
    let server = TestServer::start_with(|c| c.transport.max_connections_per_ip = 3).await;
    let token = server.register("alice").await;
    // One WebSocket, one TCP gateway connection and one idle HTTP connection: three.
    let _ws = server.connect(&token).await;
    let mut line = common::LineClient::connect(server.tcp_addr).await;
    line.send(serde_json::json!({"type": "login", "token": token}))
        .await;
    assert_eq!(line.recv_type("ready").await["type"], "ready");
    let idle = TcpStream::connect(server.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    // A fourth is closed at once, on either listener, without an answer.
    for addr in [server.addr, server.tcp_addr] {
        let mut fourth = TcpStream::connect(addr).await.unwrap();
        let _ = fourth
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await;
        let (answer, _) = until_closed(&mut fourth).await;
        assert!(answer.is_empty(), "{:?}", String::from_utf8_lossy(&answer));
    }

    // When one goes, there is room again.
    drop(idle);
    let deadline = Instant::now() + WAIT;
    loop {
        let reply = http_text(server.addr, "/metrics").await;
        if reply.starts_with("HTTP/1.1 200") {
            // The two above, and any look that came before the slot was given back.
            let refused = counter(
                &reply,
                "confab_connections_refused_total{reason=\"per_ip\"}",
            );
            assert!(refused >= 2, "{reply}");
            break;
        }
        assert!(Instant::now() < deadline, "a slot frees up: {reply:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn a_request_head_that_trickles_in_is_cut_off() {
    let server = TestServer::start_with(|c| c.transport.header_timeout_secs = 1).await;
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // Each byte comes in good time, but the head as a whole takes too long.
    let started = Instant::now();
    for byte in b"X-Slow: 1234567890" {
        if slow.write_all(&[*byte]).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        if started.elapsed() > WAIT {
            break;
        }
    }
    let (answer, _) = until_closed(&mut slow).await;
    let elapsed = started.elapsed();
    assert!(
        !String::from_utf8_lossy(&answer).contains("200 OK"),
        "{answer:?}"
    );
    assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");

    // An idle connection that never starts a request is closed too; a prompt one is served.
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    let (answer, waited) = until_closed(&mut idle).await;
    assert!(answer.is_empty());
    assert!(waited >= Duration::from_millis(900), "{waited:?}");
    assert!(http_text(server.addr, "/healthz")
        .await
        .starts_with("HTTP/1.1 200"));
    server.stop().await;
}

#[tokio::test]
async fn a_stalled_tls_handshake_is_cut_off() {
    let cert = DevCert::new();
    let server = TestServer::start_with(|c| {
        cert.configure(c);
        c.transport.tls_handshake_timeout_secs = 1;
    })
    .await;
    for addr in [server.addr, server.tcp_addr] {
        let mut stalled = TcpStream::connect(addr).await.unwrap();
        // Half a ClientHello record header, then nothing.
        stalled.write_all(&[0x16, 0x03]).await.unwrap();
        let (answer, waited) = until_closed(&mut stalled).await;
        assert!(answer.is_empty(), "{answer:?}");
        assert!(waited >= Duration::from_millis(900), "{waited:?}");
    }
    let reply = common::tls::https(server.addr, cert.client(), "GET", "/healthz", None, None).await;
    assert_eq!(reply.status, 200);
    let mut plain = TcpStream::connect(server.addr).await.unwrap();
    plain
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (answer, _) = until_closed(&mut plain).await;
    assert!(
        !answer.starts_with(b"HTTP"),
        "plain HTTP is not served on the TLS port"
    );
    let metrics =
        common::tls::https(server.addr, cert.client(), "GET", "/metrics", None, None).await;
    assert!(
        metrics
            .text()
            .contains("confab_connections_refused_total{reason=\"tls_handshake\"} 3"),
        "two stalled and one plain: {}",
        metrics.text()
    );
    server.stop().await;
}
