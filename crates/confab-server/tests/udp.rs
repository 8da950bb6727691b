//! The UDP gateway: token-bound datagrams into and out of the same hub.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::TestServer;
use serde_json::{json, Value};
use tokio::net::UdpSocket;

struct Udp {
    socket: UdpSocket,
    server: SocketAddr,
}

impl Udp {
    async fn new(server: SocketAddr) -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        Self { socket, server }
    }

    async fn send_raw(&self, bytes: &[u8]) {
        self.socket.send_to(bytes, self.server).await.unwrap();
    }

    async fn send(&self, frame: Value) {
        self.send_raw(frame.to_string().as_bytes()).await;
    }

    async fn recv(&self) -> Option<Value> {
        let mut buf = vec![0u8; 70000];
        let (len, _) =
            tokio::time::timeout(Duration::from_millis(1500), self.socket.recv_from(&mut buf))
                .await
                .ok()?
                .unwrap();
        assert!(
            len <= 4096,
            "datagrams from the server stay within 4096 bytes"
        );
        Some(serde_json::from_slice(&buf[..len]).unwrap())
    }

    async fn recv_type(&self, kind: &str) -> Value {
        loop {
            let frame = self.recv().await.expect("a datagram");
            if frame["type"] == kind {
                return frame;
            }
        }
    }
}

#[tokio::test]
async fn udp_and_websocket_clients_share_rooms_and_dms() {
    let server = TestServer::start().await;
    let token = server.register("dgram").await;
    let (_, mut web) = server.user("web").await;
    let udp = Udp::new(server.udp_addr).await;
    udp.send(json!({"type": "login", "id": "l", "token": token}))
        .await;
    let ready = udp.recv_type("ready").await;
    assert_eq!(ready["reply_to"], "l");

    udp.send(json!({"token": token, "type": "message", "id": "u1", "receiver": "#general", "content": "over udp"}))
        .await;
    let ack = udp.recv_type("ack").await;
    assert_eq!(ack["reply_to"], "u1");
    let got = web.recv_type("message").await;
    assert_eq!(
        (got["sender"].as_str(), got["content"].as_str()),
        (Some("dgram"), Some("over udp"))
    );

    web.say("dgram", "back at you").await;
    let dm = udp.recv_type("message").await;
    assert_eq!(dm["content"], "back at you");
    assert!(
        dm["seq"].as_u64().is_some(),
        "seq lets the client see losses"
    );

    // A reply too big for a datagram becomes a small error.
    for i in 0..40 {
        web.say("#general", &format!("{i} {}", "y".repeat(200)))
            .await;
    }
    udp.send(
        json!({"token": token, "type": "history", "id": "h", "receiver": "#general", "limit": 100}),
    )
    .await;
    loop {
        let frame = udp.recv().await.expect("an answer");
        if frame["type"] == "error" {
            assert_eq!(frame["code"], "too_large");
            break;
        }
    }
}

#[tokio::test]
async fn udp_refuses_what_it_must_and_never_amplifies() {
    let server = TestServer::start().await;
    let token = server.register("dgram").await;
    let (_, mut web) = server.user("web").await;

    let stranger = Udp::new(server.udp_addr).await;
    stranger.send_raw(b"x").await;
    assert!(
        stranger.recv().await.is_none(),
        "no reply larger than the request"
    );
    let padded = format!("{{\"type\":\"ping\",\"pad\":\"{}\"}}", "p".repeat(200));
    stranger.send_raw(padded.as_bytes()).await;
    assert_eq!(stranger.recv().await.unwrap()["code"], "unauthorized");

    let bad = json!({"type": "login", "token": "not-a-token", "pad": "p".repeat(200)});
    stranger.send(bad).await;
    assert_eq!(stranger.recv().await.unwrap()["code"], "unauthorized");

    stranger.send_raw(&vec![b' '; 5000]).await;
    assert_eq!(stranger.recv().await.unwrap()["code"], "too_large");

    // Bound to one address, the token does nothing from another.
    let owner = Udp::new(server.udp_addr).await;
    owner.send(json!({"type": "login", "token": token})).await;
    owner.recv_type("ready").await;
    let other = Udp::new(server.udp_addr).await;
    other
        .send(json!({"token": token, "type": "message", "receiver": "#general", "content": "spoof", "pad": "p".repeat(100)}))
        .await;
    assert_eq!(other.recv().await.unwrap()["code"], "unauthorized");
    let wrong = server.register("someone").await;
    owner
        .send(json!({"token": wrong, "type": "message", "receiver": "#general", "content": "mixed", "pad": "p".repeat(100)}))
        .await;
    assert_eq!(owner.recv_type("error").await["code"], "forbidden");
    web.expect_quiet(
        Duration::from_millis(300),
        &["presence", "membership", "receipt"],
    )
    .await;

    // Revoked: the session closes.
    let (status, _) = server.post("/api/v1/logout", "", Some(&token)).await;
    assert_eq!(status, 204);
    let close = owner.recv_type("close").await;
    assert_eq!(close["code"], 4001);
}

#[tokio::test]
async fn every_way_in_reaches_every_other() {
    let server = TestServer::start().await;
    let (_, mut web) = server.user("web").await;
    let tcp_token = server.register("tcp").await;
    let udp_token = server.register("udp").await;
    let mut tcp = common::LineClient::connect(server.tcp_addr).await;
    tcp.send(json!({"type": "login", "token": tcp_token})).await;
    tcp.recv_type("ready").await;
    let udp = Udp::new(server.udp_addr).await;
    udp.send(json!({"type": "login", "token": udp_token})).await;
    udp.recv_type("ready").await;

    web.say("#general", "from ws").await;
    assert_eq!(tcp.recv_type("message").await["content"], "from ws");
    assert_eq!(udp.recv_type("message").await["content"], "from ws");

    tcp.send(json!({"type": "message", "id": "t", "receiver": "#general", "content": "from tcp"}))
        .await;
    assert_eq!(tcp.recv_type("ack").await["reply_to"], "t");
    assert_eq!(web.recv_type("message").await["content"], "from tcp");
    assert_eq!(udp.recv_type("message").await["content"], "from tcp");

    udp.send(json!({"token": udp_token, "type": "message", "id": "u", "receiver": "#general", "content": "from udp"}))
        .await;
    assert_eq!(web.recv_type("message").await["content"], "from udp");
    assert_eq!(tcp.recv_type("message").await["content"], "from udp");
}
