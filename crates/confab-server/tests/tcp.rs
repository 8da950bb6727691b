//! The TCP gateway: newline-delimited JSON, the same hub as the WebSocket.

mod common;

use common::{LineClient, TestServer, PASSWORD};
use serde_json::json;
use tokio::io::AsyncWriteExt;

#[tokio::test]
async fn a_tcp_client_and_a_websocket_client_talk_in_one_room() {
    let server = TestServer::start().await;
    let token = server.register("nc").await;
    let (_, mut web) = server.user("web").await;

    let mut tcp = LineClient::connect(server.tcp_addr).await;
    tcp.send(json!({"type": "login", "token": token, "id": "l"}))
        .await;
    let ready = tcp.recv().await.unwrap();
    assert_eq!(
        (ready["type"].as_str(), ready["reply_to"].as_str()),
        (Some("ready"), Some("l"))
    );

    tcp.send(json!({"type": "message", "id": "t1", "receiver": "#general", "content": "from nc"}))
        .await;
    let ack = tcp.recv_type("ack").await;
    assert_eq!(ack["reply_to"], "t1");
    let got = web.recv_type("message").await;
    assert_eq!(
        (got["sender"].as_str(), got["content"].as_str()),
        (Some("nc"), Some("from nc"))
    );

    web.say("nc", "hello over tcp").await;
    let dm = tcp.recv_type("message").await;
    assert_eq!(dm["content"], "hello over tcp");
    assert_eq!(dm["receiver"], "nc");

    // A password login works too, and carriage returns (telnet) are fine.
    let mut telnet = LineClient::connect(server.tcp_addr).await;
    telnet
        .send_line(&format!(
            "{}\r",
            json!({"type": "login", "username": "nc", "password": PASSWORD})
        ))
        .await;
    let ready = telnet.recv().await.unwrap();
    assert_eq!(ready["type"], "ready");
    assert!(ready["token"].is_string());
}

#[tokio::test]
async fn tcp_refuses_bad_input_with_the_documented_errors() {
    let server = TestServer::start_with(|c| {
        c.limits.max_frame_bytes = 1024;
        c.limits.max_content_bytes = 512;
    })
    .await;
    let token = server.register("nc").await;

    let mut client = LineClient::connect(server.tcp_addr).await;
    client.send_line("not json").await;
    assert_eq!(client.recv().await.unwrap()["code"], "bad_request");
    client.send(json!({"type": "ping", "id": "p"})).await;
    let refused = client.recv().await.unwrap();
    assert_eq!(
        (refused["code"].as_str(), refused["reply_to"].as_str()),
        (Some("unauthorized"), Some("p"))
    );
    client
        .send(json!({"type": "login", "token": "revoked-or-bogus"}))
        .await;
    assert_eq!(client.recv().await.unwrap()["code"], "unauthorized");
    client.send(json!({"type": "login", "token": token})).await;
    assert_eq!(client.recv().await.unwrap()["type"], "ready");
    client.write.write_all(&[0xff, 0xfe, b'\n']).await.unwrap();
    assert_eq!(client.recv_type("error").await["code"], "bad_request");
    client.send(json!({"type": "ping", "id": "alive"})).await;
    assert_eq!(client.recv_type("pong").await["reply_to"], "alive");

    // A line over the frame limit: an error, the close line, the end of the stream.
    client.send_line(&"x".repeat(5000)).await;
    let error = client.recv_type("error").await;
    assert_eq!(error["code"], "too_large");
    let close = client.recv().await.unwrap();
    assert_eq!(
        close,
        json!({"type": "close", "code": 1009, "reason": "line too long"})
    );
    assert!(client.recv().await.is_none());

    // Too many refused frames before login close with 1008.
    let mut noisy = LineClient::connect(server.tcp_addr).await;
    for _ in 0..5 {
        noisy.send(json!({"type": "rooms"})).await;
    }
    let mut last = None;
    while let Some(frame) = noisy.recv().await {
        last = Some(frame);
    }
    assert_eq!(last.unwrap()["code"], 1008);
}

#[tokio::test]
async fn tcp_sessions_get_the_shutdown_line() {
    let server = TestServer::start().await;
    let token = server.register("nc").await;
    let mut client = LineClient::connect(server.tcp_addr).await;
    client.send(json!({"type": "login", "token": token})).await;
    assert_eq!(client.recv().await.unwrap()["type"], "ready");
    let stopping = tokio::spawn(server.stop());
    let mut last = None;
    while let Some(frame) = client.recv().await {
        last = Some(frame);
    }
    assert_eq!(last.unwrap()["code"], 1001);
    stopping.await.unwrap();
}

#[tokio::test]
async fn silent_tcp_peers_are_closed_after_the_idle_timeout() {
    let server = TestServer::start_with(|c| c.session.idle_timeout_secs = 1).await;
    let token = server.register("nc").await;
    let mut client = LineClient::connect(server.tcp_addr).await;
    client.send(json!({"type": "login", "token": token})).await;
    assert_eq!(client.recv().await.unwrap()["type"], "ready");
    let mut last = None;
    while let Some(frame) = client.recv().await {
        last = Some(frame);
    }
    assert_eq!(
        last.unwrap(),
        json!({"type": "close", "code": 4002, "reason": "idle timeout"})
    );
}
