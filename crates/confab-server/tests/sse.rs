//! The Server-Sent Events + POST gateway against the real server, with a raw HTTP client: the
//! stream's headers and first event, the chat over it (rooms, messages, DMs, history, typing,
//! presence), replies in the POST answers, a WebSocket user and an SSE user together, resuming
//! with `Last-Event-ID`, fresh streams for ids that cannot be resumed, the grace period, the
//! heartbeat, limits and every bad input.

mod common;

use std::time::Duration;

use common::sse::{post_frames, SseClient};
use common::{http, TestServer, WAIT};
use serde_json::{json, Value};

fn contents(frames: &[Value]) -> Vec<String> {
    frames
        .iter()
        .filter(|f| f["type"] == "message")
        .map(|f| f["content"].as_str().unwrap().to_owned())
        .collect()
}

/// Waits until a POST to `stream` is refused with 404 (the stream is gone).
async fn until_gone(server: &TestServer, token: &str, stream: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, _) = post_frames(server.addr, token, stream, r#"{"type":"ping"}"#).await;
        if status == 404 {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "the stream stays");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_stream_opens_with_ready_and_headers_that_keep_proxies_and_caches_out() {
    let server = TestServer::start().await;
    let token = server.register("alice").await;
    let alice = SseClient::open(server.addr, &token).await;
    assert_eq!(alice.header("content-type"), Some("text/event-stream"));
    assert_eq!(alice.header("cache-control"), Some("no-cache, no-store"));
    assert_eq!(alice.header("x-accel-buffering"), Some("no"));
    assert_eq!(alice.ready["user"]["username"], "alice");
    assert_eq!(alice.ready["protocol"], 1);
    assert!(alice.ready["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["receiver"] == "#general"));
    assert_eq!(alice.stream.len(), 32, "{}", alice.stream);
    assert_eq!(alice.ready_id, format!("{}.0", alice.stream));
    assert_eq!(
        alice.retries,
        vec![2000],
        "the reconnection delay comes with ready"
    );
    // The bearer header works as well as `?token=`, and a second stream is a second session.
    let bearer = format!("Bearer {token}");
    let second = SseClient::open_with(server.addr, "", "", &[("Authorization", &bearer)])
        .await
        .expect("a stream");
    assert_ne!(second.stream, alice.stream);
    assert_ne!(second.ready["session"], alice.ready["session"]);
    // HEAD answers the headers and opens nothing.
    let reply = http(
        server.addr,
        "HEAD",
        &format!("/api/v1/events?token={token}"),
        None,
        None,
    )
    .await;
    assert_eq!(reply.0, 200);
}

#[tokio::test]
async fn rooms_messages_dms_history_typing_and_presence_over_sse() {
    let server = TestServer::start().await;
    let alice_token = server.register("alice").await;
    let bob_token = server.register("bob").await;
    let mut alice = SseClient::open(server.addr, &alice_token).await;
    let mut bob = SseClient::open(server.addr, &bob_token).await;
    alice
        .recv_matching(|f| f["type"] == "presence" && f["user"] == "bob")
        .await;

    // Join a room: the ack in the POST answer, the membership on the stream.
    let ack = alice
        .request(json!({"type": "join", "room": "#rust"}))
        .await;
    assert_eq!(ack["type"], "ack");
    let joined = alice.recv_type("membership").await;
    assert_eq!(
        (joined["user"].as_str(), joined["change"].as_str()),
        (Some("alice"), Some("joined"))
    );
    bob.request(json!({"type": "join", "room": "#rust"})).await;
    alice
        .recv_matching(|f| f["type"] == "membership" && f["user"] == "bob")
        .await;

    // A room message: acked in the answer, delivered on the other's stream.
    let ack = alice.say("#rust", "hello rust").await;
    assert_eq!(
        (ack["type"].as_str(), ack["seq"].as_u64()),
        (Some("ack"), Some(1))
    );
    assert_eq!(ack["receiver"], "#rust");
    let message = bob.recv_type("message").await;
    assert_eq!(message["content"], "hello rust");
    assert_eq!(message["sender"], "alice");
    assert_eq!(message["id"], ack["id"]);

    // A direct message.
    let ack = alice.say("Bob", "psst").await;
    assert_eq!(
        (ack["receiver"].as_str(), ack["seq"].as_u64()),
        (Some("bob"), Some(1))
    );
    let dm = bob.recv_type("message").await;
    assert_eq!(
        (dm["sender"].as_str(), dm["receiver"].as_str()),
        (Some("alice"), Some("bob"))
    );
    assert_eq!(dm["content"], "psst");

    // History, in the answer.
    let history = bob
        .request(json!({"type": "history", "receiver": "#rust"}))
        .await;
    assert_eq!(history["type"], "history");
    assert_eq!(
        contents(
            &history["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| {
                    let mut m = m.clone();
                    m["type"] = json!("message");
                    m
                })
                .collect::<Vec<_>>()
        ),
        ["hello rust"]
    );

    // Typing goes to the other member's stream, never to one's own.
    let ack = bob
        .request(json!({"type": "typing", "receiver": "#rust"}))
        .await;
    assert_eq!(ack["type"], "ack");
    let typing = alice.recv_type("typing").await;
    assert_eq!(
        (typing["sender"].as_str(), typing["receiver"].as_str()),
        (Some("bob"), Some("#rust"))
    );

    // Presence: a third stream comes online.
    let carol_token = server.register("carol").await;
    let carol = SseClient::open(server.addr, &carol_token).await;
    let online = alice
        .recv_matching(|f| f["type"] == "presence" && f["user"] == "carol")
        .await;
    assert_eq!(online["status"], "online");
    let members = bob
        .request(json!({"type": "members", "room": "#general"}))
        .await;
    let carol_row = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["username"] == "carol")
        .cloned()
        .unwrap();
    assert_eq!(carol_row["online"], true);
    drop(carol);
}

#[tokio::test]
async fn replies_come_in_the_post_answer_in_frame_order_and_not_on_the_stream() {
    let server = TestServer::start().await;
    let alice_token = server.register("alice").await;
    let (_, mut bob) = server.user("bob").await;
    let mut alice = SseClient::open(server.addr, &alice_token).await;
    bob.recv_type("presence").await;
    // The message's ack comes after its commit, the pong at once: the answer keeps the frames'
    // order all the same. The id-less typing gets nothing.
    let body = json!([
        {"type": "message", "id": "m1", "receiver": "#general", "content": "first"},
        {"type": "ping", "id": "p1"},
        {"type": "typing", "receiver": "#general"},
        {"type": "rooms", "id": "r1"},
        {"type": "message", "id": "m2", "receiver": "#general", "content": "second"},
        {"type": "history", "id": "h1", "receiver": "#general", "limit": 5},
    ]);
    let (status, replies) = alice.post(&body.to_string()).await;
    assert_eq!(status, 200, "{replies}");
    let replies = replies.as_array().unwrap();
    let kinds: Vec<(&str, &str)> = replies
        .iter()
        .map(|r| (r["type"].as_str().unwrap(), r["reply_to"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("ack", "m1"),
            ("pong", "p1"),
            ("rooms", "r1"),
            ("ack", "m2"),
            ("history", "h1")
        ]
    );
    assert_eq!(
        replies[0]["seq"].as_u64().unwrap() + 1,
        replies[3]["seq"].as_u64().unwrap()
    );
    // Bob sees both messages, in order.
    assert_eq!(bob.recv_type("message").await["content"], "first");
    assert_eq!(bob.recv_type("message").await["content"], "second");
    // An id-less ping is answered on the stream, as on a WebSocket (without reply_to).
    let (status, replies) = alice.post(r#"{"type":"ping"}"#).await;
    assert_eq!((status, replies), (200, json!([])));
    // Then a marker from Bob: nothing that answers a posted frame came on the stream before it.
    bob.say("#general", "marker").await;
    let mut before = Vec::new();
    loop {
        let frame = alice.recv().await;
        if frame["type"] == "message" && frame["content"] == "marker" {
            break;
        }
        before.push(frame);
    }
    let pongs: Vec<&Value> = before.iter().filter(|f| f["type"] == "pong").collect();
    assert_eq!(pongs.len(), 1, "{before:?}");
    assert!(pongs[0].get("reply_to").is_none());
    assert!(
        before.iter().all(|f| f.get("reply_to").is_none()),
        "{before:?}"
    );
    assert!(
        contents(&before).is_empty(),
        "one's own messages are acked, not echoed: {before:?}"
    );
}

#[tokio::test]
async fn a_websocket_user_and_an_sse_user_talk() {
    let server = TestServer::start().await;
    let (_, mut alice) = server.user("alice").await;
    let bob_token = server.register("bob").await;
    let mut bob = SseClient::open(server.addr, &bob_token).await;
    let online = alice.recv_type("presence").await;
    assert_eq!(
        (online["user"].as_str(), online["status"].as_str()),
        (Some("bob"), Some("online"))
    );

    // Room messages both ways.
    alice.say("#general", "from the websocket").await;
    let got = bob.recv_type("message").await;
    assert_eq!(
        (got["sender"].as_str(), got["content"].as_str()),
        (Some("alice"), Some("from the websocket"))
    );
    let ack = bob.say("#general", "from the event stream").await;
    let got = alice.recv_type("message").await;
    assert_eq!(
        (got["sender"].as_str(), got["content"].as_str()),
        (Some("bob"), Some("from the event stream"))
    );
    assert_eq!(got["seq"], ack["seq"]);

    // Direct messages both ways.
    alice.say("bob", "dm over ws").await;
    assert_eq!(bob.recv_type("message").await["content"], "dm over ws");
    bob.say("alice", "dm over sse").await;
    assert_eq!(alice.recv_type("message").await["content"], "dm over sse");

    // Typing both ways.
    alice
        .request(json!({"type": "typing", "receiver": "bob"}))
        .await;
    let typing = bob.recv_type("typing").await;
    assert_eq!(
        (typing["sender"].as_str(), typing["receiver"].as_str()),
        (Some("alice"), Some("bob"))
    );
    bob.request(json!({"type": "typing", "receiver": "#general"}))
        .await;
    let typing = alice.recv_type("typing").await;
    assert_eq!(typing["sender"], "bob");

    // The same user on both transports: the other session gets the message as an echo.
    let bob_ws_token = server.register("carol").await;
    let mut carol_ws = server.connect(&bob_ws_token).await;
    let mut carol_sse = SseClient::open(server.addr, &bob_ws_token).await;
    carol_ws.say("alice", "sent on ws").await;
    let echo = carol_sse.recv_type("message").await;
    assert_eq!(
        (echo["sender"].as_str(), echo["content"].as_str()),
        (Some("carol"), Some("sent on ws"))
    );
    carol_sse.say("alice", "sent on sse").await;
    let echo = carol_ws.recv_type("message").await;
    assert_eq!(echo["content"], "sent on sse");
}

#[tokio::test]
async fn a_dropped_stream_resumes_after_its_last_event_once_and_in_order() {
    let server = TestServer::start().await;
    let (_, mut bob) = server.user("bob").await;
    let (_, mut dave) = server.user("dave").await;
    let alice_token = server.register("alice").await;
    let mut alice = SseClient::open(server.addr, &alice_token).await;
    bob.recv_type("presence").await;
    let online = dave.recv_type("presence").await;
    assert_eq!(online["user"], "alice");
    for text in ["m1", "m2", "m3"] {
        bob.say("#general", text).await;
    }
    // Alice reads m1 only: m2 and m3 reach her socket, and are lost with it.
    assert_eq!(alice.recv_type("message").await["content"], "m1");
    let held = alice.last_id.clone().unwrap();
    let stream = alice.stream.clone();
    drop(alice);
    for text in ["m4", "m5"] {
        bob.say("#general", text).await;
    }
    let mut alice =
        SseClient::open_with(server.addr, &alice_token, "", &[("Last-Event-ID", &held)])
            .await
            .expect("resumed");
    assert_eq!(alice.stream, stream, "the same stream");
    assert_eq!(alice.ready_id, held, "ready stands where the client left");
    assert_eq!(alice.retries, vec![2000]);
    bob.say("#general", "m6").await;
    let mut got = Vec::new();
    while got.len() < 5 {
        let frame = alice.recv_type("message").await;
        got.push(frame);
    }
    assert_eq!(contents(&got), ["m2", "m3", "m4", "m5", "m6"]);
    let seqs: Vec<u64> = got.iter().map(|f| f["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");

    // A new EventSource names the id in the query instead.
    let held = alice.last_id.clone().unwrap();
    drop(alice);
    let query = format!("&last_event_id={held}");
    let mut alice = SseClient::open_with(server.addr, &alice_token, &query, &[])
        .await
        .expect("resumed");
    assert_eq!(alice.stream, stream);
    bob.say("#general", "m7").await;
    assert_eq!(
        alice.recv_type("message").await["content"],
        "m7",
        "nothing again"
    );
    // Bob never saw Alice go offline: her session stayed open.
    let members = bob
        .request(json!({"type": "members", "room": "#general"}))
        .await;
    assert!(members["members"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["username"] == "alice" && m["online"] == true));
    // Nor did Dave, who only watched: not one presence change of hers.
    let mut seen = Vec::new();
    while let Ok(frame) = tokio::time::timeout(Duration::from_millis(300), dave.recv()).await {
        seen.push(frame);
    }
    assert_eq!(contents(&seen), ["m1", "m2", "m3", "m4", "m5", "m6", "m7"]);
    assert!(
        !seen
            .iter()
            .any(|f| f["type"] == "presence" && f["user"] == "alice"),
        "{seen:?}"
    );
}

#[tokio::test]
async fn a_new_connection_replaces_the_one_before() {
    let server = TestServer::start().await;
    let (_, mut bob) = server.user("bob").await;
    let alice_token = server.register("alice").await;
    let mut first = SseClient::open(server.addr, &alice_token).await;
    bob.recv_type("presence").await;
    bob.say("#general", "one").await;
    assert_eq!(first.recv_type("message").await["content"], "one");
    let held = first.last_id.clone().unwrap();
    // The first connection is still open when the second comes with its id.
    let mut second =
        SseClient::open_with(server.addr, &alice_token, "", &[("Last-Event-ID", &held)])
            .await
            .expect("resumed");
    assert_eq!(second.stream, first.stream);
    assert!(
        first.until_end().await.is_empty(),
        "the old connection ends"
    );
    bob.say("#general", "two").await;
    assert_eq!(second.recv_type("message").await["content"], "two");
}

#[tokio::test]
async fn an_id_that_cannot_be_resumed_gets_a_fresh_stream_with_catch_up() {
    let server = TestServer::start_with(|c| c.sse.replay_events = 2).await;
    let (_, mut bob) = server.user("bob").await;
    let alice_token = server.register("alice").await;
    let mut alice = SseClient::open(server.addr, &alice_token).await;
    bob.recv_type("presence").await;
    let mut seqs = Vec::new();
    for i in 1..=5 {
        seqs.push(
            bob.say("#general", &format!("m{i}")).await["seq"]
                .as_u64()
                .unwrap(),
        );
    }
    for i in 1..=5 {
        assert_eq!(alice.recv_type("message").await["content"], format!("m{i}"));
    }
    // Settle: the last chunk counts as written once the connection asks for more.
    alice.post(r#"{"type":"ping","id":"settle"}"#).await;
    let old = alice.stream.clone();
    drop(alice);

    // She claims to hold nothing, but the replay keeps only the last two events: a fresh
    // stream, whose catch-up starts at the delivery cursor (all five were written).
    let nothing = format!("{old}.0");
    let mut alice = SseClient::open_with(
        server.addr,
        &alice_token,
        "",
        &[("Last-Event-ID", &nothing)],
    )
    .await
    .expect("a fresh stream");
    assert_ne!(alice.stream, old);
    assert_eq!(alice.ready_id, format!("{}.0", alice.stream));
    bob.say("#general", "m6").await;
    assert_eq!(alice.recv_type("message").await["content"], "m6");
    // The old stream was closed, not left to its grace period.
    until_gone(&server, &alice_token, &old).await;

    // An id that is not one of ours, with the client's own cursors: catch-up from there.
    drop(alice);
    let cursors = format!("&cursors=%7B%22%23general%22%3A{}%7D", seqs[2]);
    let mut alice = SseClient::open_with(
        server.addr,
        &alice_token,
        &cursors,
        &[("Last-Event-ID", "nonsense")],
    )
    .await
    .expect("a fresh stream");
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(alice.recv_type("message").await);
    }
    assert_eq!(contents(&got), ["m4", "m5", "m6"]);

    // Another user's stream id opens a stream of one's own, and leaves the other alone.
    let carol_token = server.register("carol").await;
    let theirs = alice.last_id.clone().unwrap();
    let carol = SseClient::open_with(server.addr, &carol_token, "", &[("Last-Event-ID", &theirs)])
        .await
        .expect("a fresh stream");
    assert_ne!(carol.stream, alice.stream);
    bob.say("#general", "m7").await;
    assert_eq!(alice.recv_type("message").await["content"], "m7");
}

#[tokio::test]
async fn a_stream_not_resumed_in_time_closes_like_a_dropped_websocket() {
    let server = TestServer::start_with(|c| {
        c.sse.resume_grace_secs = 1;
        c.sse.heartbeat_secs = 1;
    })
    .await;
    let (_, mut alice) = server.user("alice").await;
    let carol_token = server.register("carol").await;
    let carol = SseClient::open(server.addr, &carol_token).await;
    let online = alice.recv_type("presence").await;
    assert_eq!(
        (online["user"].as_str(), online["status"].as_str()),
        (Some("carol"), Some("online"))
    );
    let (stream, held) = (carol.stream.clone(), carol.ready_id.clone());
    drop(carol);
    let offline = alice.recv_type("presence").await;
    assert_eq!(
        (offline["user"].as_str(), offline["status"].as_str()),
        (Some("carol"), Some("offline"))
    );
    until_gone(&server, &carol_token, &stream).await;
    // Coming back too late is a fresh stream.
    let carol = SseClient::open_with(server.addr, &carol_token, "", &[("Last-Event-ID", &held)])
        .await
        .expect("a fresh stream");
    assert_ne!(carol.stream, stream);
    assert_eq!(alice.recv_type("presence").await["status"], "online");
}

#[tokio::test]
async fn an_idle_stream_gets_heartbeats() {
    let server = TestServer::start_with(|c| c.sse.heartbeat_secs = 1).await;
    let token = server.register("alice").await;
    let mut alice = SseClient::open(server.addr, &token).await;
    let started = tokio::time::Instant::now();
    alice.heartbeat(&[]).await;
    alice.heartbeat(&[]).await;
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "about one a second"
    );
    // Still a working stream.
    let pong = alice.request(json!({"type": "ping"})).await;
    assert_eq!(pong["type"], "pong");
}

#[tokio::test]
async fn bad_requests_get_their_documented_errors() {
    let server = TestServer::start_with(|c| c.limits.max_frame_bytes = 8192).await;
    let token = server.register("alice").await;
    let other = server.register("bob").await;
    let alice = SseClient::open(server.addr, &token).await;
    let stream = alice.stream.clone();

    // The stream.
    let code = |reply: &common::Reply| {
        (
            reply.status,
            reply.json()["code"].as_str().map(str::to_owned),
        )
    };
    let refused = SseClient::open_with(server.addr, "", "", &[])
        .await
        .err()
        .unwrap();
    assert_eq!(code(&refused), (401, Some("unauthorized".into())));
    let refused = SseClient::open_with(server.addr, &"0".repeat(64), "", &[])
        .await
        .err()
        .unwrap();
    assert_eq!(code(&refused), (401, Some("unauthorized".into())));
    let refused = SseClient::open_with(server.addr, &token, "&cursors=%5B1%5D", &[])
        .await
        .err()
        .unwrap();
    assert_eq!(code(&refused), (400, Some("bad_request".into())));
    let many: serde_json::Map<String, Value> =
        (0..1001).map(|i| (format!("u{i}"), json!(1))).collect();
    let many = Value::Object(many)
        .to_string()
        .replace('"', "%22")
        .replace('{', "%7B")
        .replace('}', "%7D");
    let refused = SseClient::open_with(server.addr, &token, &format!("&cursors={many}"), &[])
        .await
        .err()
        .unwrap();
    assert_eq!(code(&refused), (413, Some("too_large".into())));
    let (status, _) = http(
        server.addr,
        "POST",
        "/api/v1/events",
        Some(""),
        Some(&token),
    )
    .await;
    assert_eq!(status, 405);

    // The posts.
    let ping = r#"{"type":"ping","id":"p"}"#;
    let path = format!("/api/v1/frames?stream={stream}");
    let (status, body) = http(server.addr, "POST", &path, Some(ping), None).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")));
    let (status, _) = post_frames(server.addr, &"0".repeat(64), &stream, ping).await;
    assert_eq!(status, 401);
    let (status, body) = http(
        server.addr,
        "POST",
        "/api/v1/frames",
        Some(ping),
        Some(&token),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (400, Some("bad_request")));
    let (status, body) = post_frames(server.addr, &token, &"f".repeat(32), ping).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    let (status, body) = post_frames(server.addr, &other, &stream, ping).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("not_found")),
        "not someone else's"
    );
    for bad in ["", "{", "[]", "42", "\"ping\"", "null"] {
        let (status, body) = alice.post(bad).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("bad_request")),
            "{bad:?}"
        );
    }
    let big = json!({"type": "ping", "id": "x".repeat(9000)}).to_string();
    let (status, body) = alice.post(&big).await;
    assert_eq!((status, body["code"].as_str()), (413, Some("too_large")));
    let many = format!("[{}]", vec![r#"{"type":"ping"}"#; 101].join(","));
    let (status, body) = alice.post(&many).await;
    assert_eq!((status, body["code"].as_str()), (413, Some("too_large")));
    let (status, _) = http(server.addr, "GET", &path, None, Some(&token)).await;
    assert_eq!(status, 405);
    // Nothing above reached the stream's session: it still answers.
    assert_eq!(alice.request(json!({"type": "ping"})).await["type"], "pong");
}

#[tokio::test]
async fn bad_frames_get_the_error_frames_a_websocket_gets() {
    let server = TestServer::start_with(|c| c.limits.max_content_bytes = 100).await;
    let token = server.register("alice").await;
    server.register("bob").await;
    let mut alice = SseClient::open(server.addr, &token).await;
    let body = json!([
        {"type": "message", "id": "e1", "receiver": "#general", "content": "  "},
        {"type": "nope", "id": "e2"},
        {"type": "message", "id": "e3", "receiver": "#general", "content": "x".repeat(101)},
        {"type": "login", "id": "e4", "token": token},
        {"type": "message", "id": "e5", "receiver": "#nowhere", "content": "hi"},
        {"type": "message", "id": "e6", "sender": "bob", "receiver": "#general", "content": "hi"},
        {"type": "leave", "id": "e7", "room": "#nowhere"},
        {"type": "history", "id": "e8", "receiver": "#general", "before": "x", "after": "y"},
    ]);
    let (status, replies) = alice.post(&body.to_string()).await;
    assert_eq!(status, 200);
    let got: Vec<(&str, &str)> = replies
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["type"], "error", "{r}");
            (r["reply_to"].as_str().unwrap(), r["code"].as_str().unwrap())
        })
        .collect();
    assert_eq!(
        got,
        [
            ("e1", "bad_request"),
            ("e2", "bad_request"),
            ("e3", "too_large"),
            ("e4", "bad_request"),
            ("e5", "not_found"),
            ("e6", "forbidden"),
            ("e7", "not_found"),
            ("e8", "bad_request"),
        ]
    );
    // Without an id (or with one that is not valid) the error has no reply_to, so it comes
    // on the stream, as it would on a WebSocket.
    let body = json!([7, {"type": "ping", "id": "x".repeat(65)}]).to_string();
    let (status, replies) = alice.post(&body).await;
    assert_eq!((status, replies), (200, json!([])));
    for _ in 0..2 {
        let error = alice.recv_type("error").await;
        assert_eq!(error["code"], "bad_request");
        assert!(error.get("reply_to").is_none());
    }
}

#[tokio::test]
async fn posts_are_rate_limited_like_a_connection() {
    let server = TestServer::start_with(|c| {
        c.rate.frames_per_sec = 0.5;
        c.rate.frames_burst = 3.0;
    })
    .await;
    let token = server.register("alice").await;
    let alice = SseClient::open(server.addr, &token).await;
    let body: Vec<Value> = (0..5)
        .map(|i| json!({"type": "ping", "id": format!("p{i}")}))
        .collect();
    let (status, replies) = alice.post(&Value::Array(body).to_string()).await;
    assert_eq!(status, 200);
    let kinds: Vec<&str> = replies
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap_or(r["type"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        ["pong", "pong", "pong", "rate_limited", "rate_limited"]
    );
    // The budget is the stream's: another stream of the same user has its own.
    let second = SseClient::open(server.addr, &token).await;
    assert_eq!(
        second.request(json!({"type": "ping"})).await["type"],
        "pong"
    );
}

#[tokio::test]
async fn a_stream_that_falls_behind_is_a_slow_consumer_and_loses_nothing() {
    let server = TestServer::start_with(|c| {
        c.session.outbound_queue = 16;
        c.sse.replay_events = 8;
        c.rate.frames_per_sec = 100_000.0;
        c.rate.frames_burst = 100_000.0;
        c.rate.messages_per_sec = 100_000.0;
        c.rate.messages_burst = 100_000.0;
    })
    .await;
    let (_, alice) = server.user("alice").await;
    let bob_token = server.register("bob").await;
    let mut bob = SseClient::open_small_buffer(server.addr, &bob_token).await;
    let total = 2500;
    let content = "x".repeat(4000);
    // Bob reads nothing while Alice floods: his socket buffers fill, then his replay, then his
    // queue.
    let (mut tx, mut rx) = futures_util::StreamExt::split(alice.ws);
    let acks = tokio::spawn(async move {
        use futures_util::StreamExt;
        let mut acks = 0;
        while acks < total {
            let Some(Ok(tokio_tungstenite::tungstenite::Message::Text(text))) = rx.next().await
            else {
                continue;
            };
            let frame: Value = serde_json::from_str(text.as_str()).unwrap();
            if frame["type"] == "ack" {
                acks += 1;
            }
        }
    });
    for i in 0..total {
        let frame = json!({"type": "message", "id": format!("f{i}"), "receiver": "#general", "content": content});
        futures_util::SinkExt::send(
            &mut tx,
            tokio_tungstenite::tungstenite::Message::Text(frame.to_string().into()),
        )
        .await
        .unwrap();
    }
    tokio::time::timeout(Duration::from_secs(60), acks)
        .await
        .expect("every message acked in time")
        .unwrap();
    let frames = bob.until_end().await;
    let last = frames.last().unwrap();
    assert_eq!(
        (last["type"].as_str(), last["code"].as_u64()),
        (Some("close"), Some(4000))
    );
    let mut seqs: Vec<u64> = frames
        .iter()
        .filter(|f| f["type"] == "message")
        .map(|f| f["seq"].as_u64().unwrap())
        .collect();
    assert!(seqs.len() < total, "bob was cut off before the end");
    // A fresh stream from the last seq seen catches up on the rest, no gap, no duplicate.
    let held = *seqs.last().unwrap();
    let query = format!("&cursors=%7B%22%23general%22%3A{held}%7D");
    let mut bob = SseClient::open_with(server.addr, &bob_token, &query, &[])
        .await
        .expect("a fresh stream");
    while seqs.len() < total {
        seqs.push(bob.recv_type("message").await["seq"].as_u64().unwrap());
    }
    assert_eq!(
        seqs,
        (1..=total as u64).collect::<Vec<_>>(),
        "in order, once each"
    );
}

#[tokio::test]
async fn logout_revocation_and_shutdown_end_streams_with_their_close_codes() {
    let server = TestServer::start().await;
    // Logout over the stream: acked in the answer, then close 1000.
    let token = server.register("alice").await;
    let mut alice = SseClient::open(server.addr, &token).await;
    let ack = alice.request(json!({"type": "logout"})).await;
    assert_eq!(ack["type"], "ack");
    let frames = alice.until_end().await;
    let last = frames.last().unwrap();
    assert_eq!(
        (last["type"].as_str(), last["code"].as_u64()),
        (Some("close"), Some(1000))
    );
    let (status, _) = alice.post(r#"{"type":"ping"}"#).await;
    assert_eq!(status, 401, "the token is gone");
    let refused = SseClient::open_with(server.addr, &token, "", &[])
        .await
        .err()
        .unwrap();
    assert_eq!(refused.status, 401);

    // Logout over REST revokes the token: its streams close with 4001.
    let token = server.register("bob").await;
    let mut bob = SseClient::open(server.addr, &token).await;
    let (status, _) = server.post("/api/v1/logout", "", Some(&token)).await;
    assert_eq!(status, 204);
    let last = bob.until_end().await.pop().unwrap();
    assert_eq!(
        (last["type"].as_str(), last["code"].as_u64()),
        (Some("close"), Some(4001))
    );

    // A shutdown says 1001 to every stream.
    let token = server.register("carol").await;
    let mut carol = SseClient::open(server.addr, &token).await;
    let stopping = tokio::spawn(server.stop());
    let last = carol.until_end().await.pop().unwrap();
    assert_eq!(
        (last["type"].as_str(), last["code"].as_u64()),
        (Some("close"), Some(1001))
    );
    stopping.await.unwrap();
}

#[tokio::test]
async fn streams_count_toward_the_per_user_and_per_address_limits() {
    let server = TestServer::start_with(|c| {
        c.abuse.max_sessions_per_user = 2;
        c.session.max_connections_per_ip = 3;
        c.sse.resume_grace_secs = 1;
        c.sse.heartbeat_secs = 1;
    })
    .await;
    let token = server.register("alice").await;
    let ws = server.connect(&token).await;
    let stream = SseClient::open(server.addr, &token).await;
    // A third session of hers, over either transport, is one too many.
    let refused = SseClient::open_with(server.addr, &token, "", &[])
        .await
        .err()
        .unwrap();
    assert_eq!(
        (refused.status, refused.json()["code"].as_str()),
        (429, Some("rate_limited"))
    );
    let mut third = common::Client::open(&server.ws_url()).await;
    third
        .send(json!({"type": "login", "id": "l", "token": token}))
        .await;
    let error = third.recv().await;
    assert_eq!(
        (error["code"].as_str(), error["reply_to"].as_str()),
        (Some("rate_limited"), Some("l"))
    );
    assert_eq!(third.until_end().await.0, common::Ended::Closed(1008));

    // Per address: Bob's stream is the third connection from here; a fourth is refused on
    // every transport.
    let bob = server.register("bob").await;
    let bob_stream = SseClient::open(server.addr, &bob).await;
    let refused = SseClient::open_with(server.addr, &bob, "", &[])
        .await
        .err()
        .unwrap();
    assert_eq!(refused.status, 429);
    assert!(refused.json()["message"]
        .as_str()
        .unwrap()
        .contains("address"));
    let upgrade =
        tokio_tungstenite::connect_async(format!("{}?token={bob}", server.ws_url())).await;
    match upgrade {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 429)
        }
        other => panic!("{other:?}"),
    }
    let mut line = common::LineClient::connect(server.tcp_addr).await;
    assert_eq!(line.recv().await.unwrap()["code"], "rate_limited");
    let close = line.recv().await.unwrap();
    assert_eq!(
        (close["type"].as_str(), close["code"].as_u64()),
        (Some("close"), Some(1008))
    );

    // A stream keeps its place through its grace period, and frees it when it ends.
    drop(ws);
    drop(stream);
    let deadline = tokio::time::Instant::now() + WAIT;
    let again = loop {
        match SseClient::open_with(server.addr, &token, "", &[]).await {
            Ok(again) => break again,
            Err(reply) => assert_eq!(reply.status, 429),
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the places never came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(again.ready["user"]["username"], "alice");
    drop(bob_stream);
}
