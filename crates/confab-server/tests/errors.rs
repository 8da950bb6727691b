//! Bad input: every case gets its error, stores nothing and leaves the connection usable.

mod common;

use std::time::Duration;

use common::{Ended, TestServer};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

const EVENTS: &[&str] = &["presence", "typing", "membership", "receipt"];

#[tokio::test]
async fn malformed_frames_get_bad_request_and_the_connection_survives() {
    let server = TestServer::start().await;
    let (_, mut alice) = server.user("alice").await;
    let (_, mut bob) = server.user("bob").await;

    let cases = [
        ("{not json", None),
        ("[]", None),
        (r##"{"type":"dance","id":"e1"}"##, Some("e1")),
        (
            r##"{"type":"message","id":"e2","receiver":"#general"}"##,
            Some("e2"),
        ),
        (
            r##"{"type":"message","id":"e3","receiver":"#general","content":42}"##,
            Some("e3"),
        ),
        (
            r##"{"type":"message","id":"e4","receiver":"#general","content":"   "}"##,
            Some("e4"),
        ),
        (
            r##"{"type":"message","id":"e5","receiver":"bad name","content":"x"}"##,
            Some("e5"),
        ),
        (
            r##"{"type":"join","id":"e6","room":"no-hash"}"##,
            Some("e6"),
        ),
        (
            r##"{"type":"history","id":"e7","receiver":"#general","limit":0}"##,
            Some("e7"),
        ),
        (
            r##"{"type":"login","id":"e8","token":"again"}"##,
            Some("e8"),
        ),
    ];
    for (text, id) in cases {
        alice.send_raw(Message::Text(text.into())).await;
        let reply = alice.recv_type("error").await;
        assert_eq!(reply["code"], "bad_request", "{text}: {reply}");
        assert!(!reply["message"].as_str().unwrap().is_empty());
        assert_eq!(reply["reply_to"].as_str(), id, "{text}");
    }
    alice.send_raw(Message::Binary(vec![1, 2, 3].into())).await;
    assert_eq!(alice.recv_type("error").await["code"], "bad_request");

    assert_eq!(alice.request(json!({"type": "ping"})).await["type"], "pong");
    bob.expect_quiet(Duration::from_millis(200), EVENTS).await;
    let history = bob
        .request(json!({"type": "history", "receiver": "#general"}))
        .await;
    assert_eq!(history["messages"], json!([]), "nothing was stored");
}

#[tokio::test]
async fn refused_messages_get_their_codes() {
    let server = TestServer::start_with(|c| c.limits.max_content_bytes = 100).await;
    let (_, mut alice) = server.user("alice").await;
    let (_, mut bob) = server.user("bob").await;
    bob.request(json!({"type": "join", "room": "#private"}))
        .await;

    let too_long = alice.say("#general", &"é".repeat(51)).await;
    assert_eq!(too_long["code"], "too_large");
    assert_eq!(alice.say("#general", &"a".repeat(100)).await["type"], "ack");
    let spoofed = alice
        .request(json!({"type": "message", "sender": "bob", "receiver": "#general", "content": "it was bob"}))
        .await;
    assert_eq!(spoofed["code"], "forbidden");
    assert_eq!(alice.say("#nowhere", "hello?").await["code"], "not_found");
    assert_eq!(
        alice.say("#private", "let me in").await["code"],
        "forbidden"
    );
    assert_eq!(alice.say("ghost", "boo").await["code"], "not_found");
    let typing = alice
        .request(json!({"type": "typing", "receiver": "#private"}))
        .await;
    assert_eq!(typing["code"], "forbidden");
    let leave = alice
        .request(json!({"type": "leave", "room": "#private"}))
        .await;
    assert_eq!(leave["code"], "forbidden");

    let history = bob
        .request(json!({"type": "history", "receiver": "#general"}))
        .await;
    assert_eq!(
        history["messages"].as_array().unwrap().len(),
        1,
        "only the good one"
    );
    let private = bob
        .request(json!({"type": "history", "receiver": "#private"}))
        .await;
    assert_eq!(private["messages"], json!([]));
}

#[tokio::test]
async fn floods_are_rate_limited_per_connection_and_per_user() {
    let server = TestServer::start_with(|c| {
        c.rate.frames_per_sec = 1.0;
        c.rate.frames_burst = 5.0;
    })
    .await;
    let (_, mut alice) = server.user("alice").await;
    let mut codes = Vec::new();
    for _ in 0..8 {
        codes.push(alice.request(json!({"type": "ping"})).await["type"].clone());
    }
    assert_eq!(
        codes.iter().filter(|c| *c == "pong").count(),
        5,
        "{codes:?}"
    );
    alice.send(json!({"type": "ping", "id": "last"})).await;
    let limited = alice.recv_type("error").await;
    assert_eq!(limited["code"], "rate_limited");

    let server = TestServer::start_with(|c| {
        c.rate.messages_per_sec = 1.0;
        c.rate.messages_burst = 3.0;
    })
    .await;
    let (token, mut first) = server.user("bob").await;
    let mut second = server.connect(&token).await;
    for i in 0..2 {
        assert_eq!(first.say("#general", &format!("a{i}")).await["type"], "ack");
    }
    assert_eq!(second.say("#general", "b0").await["type"], "ack");
    let limited = second.say("#general", "b1").await;
    assert_eq!(
        limited["code"], "rate_limited",
        "the user's budget is shared"
    );
    assert_eq!(first.say("#general", "a2").await["code"], "rate_limited");
    assert_eq!(
        second.request(json!({"type": "ping"})).await["type"],
        "pong"
    );
}

#[tokio::test]
async fn an_oversized_frame_closes_with_1009() {
    let server = TestServer::start_with(|c| {
        c.limits.max_frame_bytes = 1024;
        c.limits.max_content_bytes = 512;
    })
    .await;
    let (_, mut alice) = server.user("alice").await;
    let big = json!({"type": "message", "receiver": "#general", "content": "x".repeat(2000)});
    alice.send(big).await;
    let (ended, _) = alice.until_end().await;
    assert_eq!(ended, Ended::Closed(1009));
}

#[tokio::test]
async fn silent_peers_are_dropped_after_the_idle_timeout() {
    let server = TestServer::start_with(|c| {
        c.session.ping_interval_secs = 1;
        c.session.idle_timeout_secs = 2;
    })
    .await;
    let (_, mut alice) = server.user("alice").await;
    let (_, mut reader) = server.user("reader").await;
    // Not reading means not answering pings; a reading peer answers them automatically.
    let silent = async {
        tokio::time::sleep(Duration::from_secs(4)).await;
        alice.until_end().await.0
    };
    let (ended, ()) = tokio::join!(silent, reader.expect_quiet(Duration::from_secs(4), EVENTS));
    assert!(
        matches!(ended, Ended::Closed(4002) | Ended::Dropped),
        "{ended:?}"
    );
    assert_eq!(
        reader.request(json!({"type": "ping"})).await["type"],
        "pong"
    );
}
