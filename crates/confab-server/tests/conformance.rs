//! The test-only echo route `/conformance/echo`: absent (404) unless `conformance_echo` is
//! set, and then an echo of text and binary messages over the real WebSocket stack, with its
//! limits (the full Autobahn run is `conformance/autobahn.sh`).

mod common;

use common::{http_text, Ended, TestServer, WAIT};
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

async fn next_data(ws: &mut common::Client) -> Message {
    loop {
        let message = tokio::time::timeout(WAIT, ws.ws.next())
            .await
            .expect("echo in time")
            .expect("connection open")
            .expect("no error");
        match message {
            Message::Ping(_) | Message::Pong(_) => {}
            other => return other,
        }
    }
}

#[tokio::test]
async fn echo_route_is_a_bare_404_without_the_flag() {
    let server = TestServer::start().await;
    let raw = http_text(server.addr, "/conformance/echo").await;
    assert!(raw.starts_with("HTTP/1.1 404"), "{raw}");
    let upgrade =
        tokio_tungstenite::connect_async(format!("ws://{}/conformance/echo", server.addr)).await;
    assert!(upgrade.is_err(), "no WebSocket without the flag");
    server.stop().await;
}

#[tokio::test]
async fn echo_route_echoes_text_and_binary_with_the_flag() {
    let server = TestServer::start_with(|config| config.conformance_echo = true).await;
    let url = format!("ws://{}/conformance/echo", server.addr);
    let mut client = common::Client::open(&url).await;

    client.send_raw(Message::Text("héllo, echo".into())).await;
    assert_eq!(
        next_data(&mut client).await,
        Message::Text("héllo, echo".into())
    );
    // Not JSON, and binary: the echo never goes near the chat protocol.
    let bytes = vec![0u8, 159, 146, 150, 255];
    client.send_raw(Message::Binary(bytes.clone().into())).await;
    assert_eq!(next_data(&mut client).await, Message::Binary(bytes.into()));

    // The close handshake is answered with the peer's own code.
    client.ws.close(Some(normal_close())).await.unwrap();
    assert_eq!(client.until_end().await.0, Ended::Closed(1000));
    server.stop().await;
}

fn normal_close() -> CloseFrame {
    CloseFrame {
        code: common::close_code(1000),
        reason: "bye".into(),
    }
}

fn invalid_utf8_text() -> Message {
    Message::Frame(Frame::message(
        vec![0xce, 0xba, 0xff],
        OpCode::Data(Data::Text),
        true,
    ))
}

/// The close codes come from the code `/ws` shares with the echo: `/ws` answers the same way.
#[tokio::test]
async fn ws_closes_bad_utf8_with_1007_like_the_echo() {
    let server = TestServer::start().await;
    let (_, mut amy) = server.user("amy").await;
    amy.send_raw(invalid_utf8_text()).await;
    assert_eq!(amy.until_end().await.0, Ended::Closed(1007));
    server.stop().await;
}

#[tokio::test]
async fn ws_answers_the_peers_close() {
    let server = TestServer::start().await;
    let (_, mut bob) = server.user("bob").await;
    bob.ws.close(Some(normal_close())).await.unwrap();
    assert_eq!(bob.until_end().await.0, Ended::Closed(1000));
    server.stop().await;
}

#[tokio::test]
async fn echo_route_has_the_frame_limit_and_close_codes_of_ws() {
    let server = TestServer::start_with(|config| {
        config.conformance_echo = true;
        config.limits.max_frame_bytes = 1024;
        config.limits.max_content_bytes = 512;
    })
    .await;
    let url = format!("ws://{}/conformance/echo", server.addr);

    // Over `limits.max_frame_bytes`: close 1009, as on /ws.
    let mut client = common::Client::open(&url).await;
    client
        .send_raw(Message::Binary(vec![7u8; 2048].into()))
        .await;
    assert_eq!(client.until_end().await.0, Ended::Closed(1009));

    // Invalid UTF-8 in a text message: close 1007.
    let mut client = common::Client::open(&url).await;
    client.send_raw(invalid_utf8_text()).await;
    assert_eq!(client.until_end().await.0, Ended::Closed(1007));
    server.stop().await;
}
