//! The abuse limits: failed logins per username, password attempts and WebSocket handshakes per
//! address (with `X-Forwarded-For` believed only from trusted proxies), sessions per user.

mod common;

use std::net::SocketAddr;

use common::{Reply, TestServer, PASSWORD};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// A JSON POST with extra headers; the whole reply.
async fn post(addr: SocketAddr, path: &str, body: &Value, headers: &[(&str, &str)]) -> Reply {
    let body = body.to_string();
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body.as_bytes()).await.unwrap();
    common::read_reply(&mut stream).await
}

fn account(name: &str, password: &str) -> Value {
    json!({"username": name, "password": password})
}

fn assert_limited(reply: &Reply) {
    assert_eq!(reply.status, 429, "{}", reply.text());
    assert_eq!(reply.json()["code"], "rate_limited");
    let wait: u64 = reply
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!(wait >= 1, "{wait}");
}

#[tokio::test]
async fn a_username_gets_a_bounded_number_of_failed_logins() {
    let server = TestServer::start_with(|c| c.abuse.failed_logins_per_user = 3).await;
    server.register("alice").await;
    server.register("bob").await;
    let login = "/api/v1/login";
    for _ in 0..3 {
        let reply = post(
            server.addr,
            login,
            &account("alice", "not the password"),
            &[],
        )
        .await;
        assert_eq!(reply.status, 401);
    }
    // Now even the right password is not tried.
    let reply = post(server.addr, login, &account("alice", PASSWORD), &[]).await;
    assert_limited(&reply);
    assert!(reply.json()["message"].as_str().unwrap().contains("alice"));
    // Over the WebSocket the same, as an error frame.
    let mut socket = common::Client::open(&server.ws_url()).await;
    socket
        .send(json!({"type": "login", "id": "l", "username": "alice", "password": PASSWORD}))
        .await;
    let refused = socket.recv().await;
    assert_eq!(
        (refused["type"].as_str(), refused["code"].as_str()),
        (Some("error"), Some("rate_limited")),
        "{refused}"
    );
    // Another user is not affected, and successes do not count.
    for _ in 0..5 {
        let reply = post(server.addr, login, &account("bob", PASSWORD), &[]).await;
        assert_eq!(reply.status, 200);
    }
}

#[tokio::test]
async fn an_address_gets_a_bounded_number_of_password_attempts() {
    let server = TestServer::start_with(|c| {
        c.abuse.attempts_per_ip_burst = 3.0;
        c.abuse.attempts_per_ip_per_min = 0.5;
    })
    .await;
    let register = "/api/v1/register";
    for name in ["u1", "u2", "u3"] {
        let reply = post(server.addr, register, &account(name, PASSWORD), &[]).await;
        assert_eq!(reply.status, 201);
    }
    // A forged X-Forwarded-For from an untrusted peer changes nothing.
    let forged = [("X-Forwarded-For", "198.51.100.1")];
    let reply = post(server.addr, register, &account("u4", PASSWORD), &forged).await;
    assert_limited(&reply);
    let reply = post(server.addr, "/api/v1/login", &account("u1", PASSWORD), &[]).await;
    assert_limited(&reply);
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_counts() {
    let server = TestServer::start_with(|c| {
        c.abuse.attempts_per_ip_burst = 2.0;
        c.abuse.attempts_per_ip_per_min = 0.5;
        c.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    let register = "/api/v1/register";
    // Five clients behind the proxy, two attempts each: all pass.
    for client in 1..=5 {
        let from = format!("203.0.113.{client}");
        for n in 0..2 {
            let name = format!("c{client}n{n}");
            let headers = [("X-Forwarded-For", from.as_str())];
            let reply = post(server.addr, register, &account(&name, PASSWORD), &headers).await;
            assert_eq!(reply.status, 201, "{}", reply.text());
        }
    }
    // The third from one client is limited; the left-most (forgeable) hop is not believed.
    let headers = [("X-Forwarded-For", "192.0.2.99, 203.0.113.1")];
    let reply = post(server.addr, register, &account("extra", PASSWORD), &headers).await;
    assert_limited(&reply);
}

#[tokio::test]
async fn an_address_gets_a_bounded_number_of_websocket_handshakes() {
    let server = TestServer::start_with(|c| {
        c.abuse.handshakes_per_ip_burst = 3.0;
        c.abuse.handshakes_per_ip_per_sec = 0.01;
    })
    .await;
    let token = server.register("alice").await;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(server.connect(&token).await);
    }
    let url = format!("{}?token={token}", server.ws_url());
    match tokio_tungstenite::connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 429);
            assert!(response.headers().contains_key("retry-after"));
        }
        other => panic!("the fourth handshake went through: {:?}", other.map(|_| ())),
    }
}

#[tokio::test]
async fn a_user_gets_a_bounded_number_of_sessions() {
    let server = TestServer::start_with(|c| c.abuse.max_sessions_per_user = 2).await;
    let token = server.register("alice").await;
    let _first = server.connect(&token).await;
    let _second = server.connect(&token).await;
    let mut third = common::Client::open(&format!("{}?token={token}", server.ws_url())).await;
    let (ended, frames) = third.until_end().await;
    assert_eq!(ended, common::Ended::Closed(1008), "{frames:?}");
    assert_eq!(frames[0]["code"], "rate_limited", "{frames:?}");
    // Another user still gets in.
    let (_, _bob) = server.user("bob").await;
}
