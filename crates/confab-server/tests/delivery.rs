//! Delivery guarantees: offline push, catch-up cursors, idempotent resends, history paging,
//! durability across a restart, slow consumers and graceful shutdown.

mod common;

use std::time::Duration;

use common::{Ended, TestServer};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

const EVENTS: &[&str] = &["presence", "typing", "membership", "receipt"];

#[tokio::test]
async fn offline_users_get_what_they_missed_in_order_and_once() {
    let server = TestServer::start().await;
    let (_, mut alice) = server.user("alice").await;
    let (bob_token, bob) = server.user("bob").await;
    drop(bob);
    alice.recv_type("presence").await;
    alice.recv_type("presence").await;

    let mut sent = Vec::new();
    for i in 0..5 {
        sent.push(alice.say("#general", &format!("room {i}")).await["id"].clone());
    }
    sent.push(alice.say("bob", "dm while away").await["id"].clone());

    let mut bob = server.connect(&bob_token).await;
    assert_eq!(bob.ready["rooms"][0]["last_seq"], 5);
    let mut got = Vec::new();
    for _ in 0..6 {
        got.push(bob.recv_type("message").await);
    }
    let mut ids: Vec<Value> = got.iter().map(|m| m["id"].clone()).collect();
    let room: Vec<u64> = got
        .iter()
        .filter(|m| m["receiver"] == "#general")
        .map(|m| m["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(room, vec![1, 2, 3, 4, 5], "in order");
    ids.sort_by_key(|v| v.as_str().unwrap().to_owned());
    sent.sort_by_key(|v| v.as_str().unwrap().to_owned());
    assert_eq!(ids, sent, "every missed message, once");
    bob.expect_quiet(Duration::from_millis(300), EVENTS).await;

    // Delivered now: a new session is not pushed them again.
    drop(bob);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut again = server.connect(&bob_token).await;
    again.expect_quiet(Duration::from_millis(400), EVENTS).await;
}

#[tokio::test]
async fn a_resend_with_the_same_id_is_acked_again_but_stored_once() {
    let server = TestServer::start().await;
    let (_, mut alice) = server.user("alice").await;
    let (_, mut bob) = server.user("bob").await;
    let frame =
        json!({"type": "message", "id": "same-1", "receiver": "#general", "content": "once"});
    alice.send(frame.clone()).await;
    let first = alice.recv_type("ack").await;
    alice.send(frame).await;
    let second = alice.recv_type("ack").await;
    assert_eq!(first["id"], second["id"]);
    assert_eq!(first["seq"], second["seq"]);
    assert_eq!(second["duplicate"], true);
    assert!(first.get("duplicate").is_none());
    assert_eq!(bob.recv_type("message").await["content"], "once");
    bob.expect_quiet(Duration::from_millis(300), EVENTS).await;
    let history = bob
        .request(json!({"type": "history", "receiver": "#general"}))
        .await;
    assert_eq!(history["messages"].as_array().unwrap().len(), 1);
}

/// A session's own new message can commit while its catch-up is still reading the store, so
/// the catch-up pushes it as a `message` before its ack is sent. The ack then says
/// `duplicate`: the session holds every entry once, whichever way it came.
#[tokio::test]
async fn an_own_message_committed_during_catch_up_is_held_once() {
    const BACKLOG: u64 = 1500;
    let server = TestServer::start_with(|c| {
        c.rate.messages_burst = 10_000.0;
        c.rate.frames_burst = 10_000.0;
    })
    .await;
    let (token, mut alice) = server.user("alice").await;
    for i in 0..BACKLOG {
        alice
            .send(json!({"type": "message", "id": format!("b{i}"), "receiver": "#general", "content": format!("backlog {i}")}))
            .await;
    }
    let mut acked = 0;
    while acked < BACKLOG {
        if alice.recv().await["type"] == "ack" {
            acked += 1;
        }
    }
    drop(alice);

    // A session that starts from 0 reads slowly (a 4 KiB buffer), so its catch-up is still
    // reading pages when its new message commits.
    let mut again = server.open_small_buffer(&server.ws_url()).await;
    again
        .send(json!({"type": "login", "token": token, "cursors": {"#general": 0}}))
        .await;
    again
        .send(json!({"type": "message", "id": "new-1", "receiver": "#general", "content": "new"}))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(again.recv().await["type"], "ready");
    let mut held = 0;
    let mut ack = None;
    while ack.is_none() {
        let frame = again.recv().await;
        let seq = frame["seq"].as_u64();
        match frame["type"].as_str() {
            Some("message") => {
                assert_eq!(seq, Some(held + 1), "in order, once: {frame}");
                held += 1;
            }
            Some("ack") => {
                assert_eq!(frame["reply_to"], "new-1");
                if frame["duplicate"] == true {
                    assert!(seq.unwrap() <= held, "a duplicate ack names a held entry");
                } else {
                    assert_eq!(seq, Some(held + 1), "a new ack is the next entry: {frame}");
                    held += 1;
                }
                ack = Some(frame);
            }
            _ => {}
        }
    }
    assert_eq!(held, BACKLOG + 1, "every entry, once");
    again.expect_quiet(Duration::from_millis(300), EVENTS).await;
}

#[tokio::test]
async fn history_pages_backwards_and_forwards() {
    let server = TestServer::start_with(|c| c.rate.messages_burst = 100.0).await;
    let (token, mut alice) = server.user("alice").await;
    let mut ids = Vec::new();
    for i in 1..=25 {
        ids.push(
            alice.say("#general", &format!("m{i}")).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let latest = alice
        .request(json!({"type": "history", "receiver": "#general", "limit": 10}))
        .await;
    let contents = |page: &Value| -> Vec<String> {
        page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["content"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(latest["type"], "history");
    assert_eq!(
        contents(&latest),
        (16..=25).map(|i| format!("m{i}")).collect::<Vec<_>>()
    );
    assert_eq!(latest["has_more"], true);
    let before = alice
        .request(json!({"type": "history", "receiver": "#general", "limit": 10, "before": latest["messages"][0]["id"]}))
        .await;
    assert_eq!(
        contents(&before),
        (6..=15).map(|i| format!("m{i}")).collect::<Vec<_>>()
    );
    let first = alice
        .request(json!({"type": "history", "receiver": "#general", "limit": 10, "before": before["messages"][0]["id"]}))
        .await;
    assert_eq!(contents(&first).len(), 5);
    assert_eq!(first["has_more"], false);

    // The catch-up cursor: everything after the last id seen.
    let after = alice
        .request(json!({"type": "history", "receiver": "#general", "after": ids[19]}))
        .await;
    assert_eq!(
        contents(&after),
        (21..=25).map(|i| format!("m{i}")).collect::<Vec<_>>()
    );
    assert_eq!(after["has_more"], false);

    let capped = alice
        .request(json!({"type": "history", "receiver": "#general", "limit": 1000}))
        .await;
    assert_eq!(capped["messages"].as_array().unwrap().len(), 25);
    let missing = alice
        .request(json!({"type": "history", "receiver": "#general", "before": "01NOSUCHMESSAGE"}))
        .await;
    assert_eq!(missing["code"], "not_found");
    let not_member = alice
        .request(json!({"type": "history", "receiver": "#secret"}))
        .await;
    assert_eq!(not_member["code"], "not_found");
    let empty_dm = alice
        .request(json!({"type": "history", "receiver": "alice"}))
        .await;
    assert_eq!(empty_dm["messages"], json!([]));

    let path = format!(
        "/api/v1/history?receiver=%23general&limit=3&after={}",
        ids[0]
    );
    let (status, rest) = server.get(&path, Some(&token)).await;
    assert_eq!(status, 200, "{rest}");
    assert_eq!(contents(&rest), vec!["m2", "m3", "m4"]);
    assert_eq!(rest["has_more"], true);
    let (status, _) = server
        .get("/api/v1/history?receiver=%23nope", Some(&token))
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn acknowledged_messages_survive_a_restart() {
    let server = TestServer::start().await;
    let (token, mut alice) = server.user("alice").await;
    let (bob_token, bob) = server.user("bob").await;
    drop(bob);
    let ack = alice.say("#general", "remember me").await;
    assert_eq!(ack["type"], "ack");
    let dm = alice.say("bob", "and me").await;
    assert_eq!(dm["type"], "ack");
    let dir = server.dir.clone();
    let temp = server.stop().await;

    let server = TestServer::start_in(dir, |_| {}).await;
    let mut alice = server.connect(&token).await;
    let history = alice
        .request(json!({"type": "history", "receiver": "#general"}))
        .await;
    assert_eq!(history["messages"][0]["id"], ack["id"]);
    assert_eq!(history["messages"][0]["content"], "remember me");
    // Bob was offline throughout: the restart did not lose his push.
    let mut bob = server.connect(&bob_token).await;
    let first = bob.recv_type("message").await;
    let second = bob.recv_type("message").await;
    let mut got = vec![first["content"].clone(), second["content"].clone()];
    got.sort_by_key(|v| v.as_str().unwrap().to_owned());
    assert_eq!(got, vec![json!("and me"), json!("remember me")]);
    // Sequence numbers carry on.
    assert_eq!(alice.say("#general", "after restart").await["seq"], 2);
    server.stop().await;
    drop(temp);
}

#[tokio::test]
async fn shutdown_closes_sessions_with_1001() {
    let server = TestServer::start().await;
    let (_, mut alice) = server.user("alice").await;
    let stopping = tokio::spawn(server.stop());
    let (ended, _) = alice.until_end().await;
    assert_eq!(ended, Ended::Closed(1001));
    stopping.await.unwrap();
}

#[tokio::test]
async fn a_slow_consumer_is_cut_off_at_its_frame_bound_and_loses_nothing() {
    slow_consumer_is_cut_off(|c| c.session.outbound_queue = 16).await;
}

#[tokio::test]
async fn a_slow_consumer_is_cut_off_at_its_byte_bound_and_loses_nothing() {
    slow_consumer_is_cut_off(|c| {
        c.session.outbound_queue_bytes = 64 * 1024;
        c.session.slow_consumer_secs = 1;
    })
    .await;
}

/// Bob stops reading while Alice floods a room: his queue passes the bound `tune` sets, he is
/// closed with 4000 (or his connection dropped), and a resume catches him up with no gap.
async fn slow_consumer_is_cut_off(tune: impl FnOnce(&mut confab_server::Config)) {
    let server = TestServer::start_with(|c| {
        tune(c);
        c.rate.frames_per_sec = 100_000.0;
        c.rate.frames_burst = 100_000.0;
        c.rate.messages_per_sec = 100_000.0;
        c.rate.messages_burst = 100_000.0;
    })
    .await;
    let (_, mut alice) = server.user("alice").await;
    // Bob's receive buffer is small and fixed, so the server's writes to him back up soon.
    let bob_token = server.register("bob").await;
    let mut bob = server.connect_small_buffer(&bob_token).await;
    alice.recv_type("presence").await;
    let total = 2500;
    let content = "x".repeat(4000);
    // Bob reads nothing while Alice floods: his socket buffers fill, then his queue. Alice
    // reads her acks as they come, so she keeps up.
    let (mut tx, mut rx) = alice.ws.split();
    let acks = tokio::spawn(async move {
        let mut acks = 0;
        while acks < total {
            let Some(Ok(Message::Text(text))) = rx.next().await else {
                continue;
            };
            let frame: Value = serde_json::from_str(text.as_str()).unwrap();
            match frame["type"].as_str() {
                Some("ack") => acks += 1,
                Some(kind) => assert!(EVENTS.contains(&kind), "{frame}"),
                None => panic!("{frame}"),
            }
        }
    });
    for i in 0..total {
        let frame = json!({"type": "message", "id": format!("f{i}"), "receiver": "#general", "content": content});
        tx.send(Message::Text(frame.to_string().into()))
            .await
            .unwrap();
    }
    tokio::time::timeout(Duration::from_secs(60), acks)
        .await
        .expect("every message acked in time")
        .unwrap();
    let (ended, frames) = bob.until_end().await;
    assert!(
        matches!(ended, Ended::Closed(4000) | Ended::Dropped),
        "slow consumer is disconnected: {ended:?}"
    );
    let mut seqs: Vec<u64> = frames
        .iter()
        .filter(|f| f["type"] == "message")
        .map(|f| f["seq"].as_u64().unwrap())
        .collect();
    assert!(seqs.len() < total, "bob was cut off before the end");

    // Reconnecting from the last sequence number seen (none if the cut came before anything
    // was written) catches up on the rest, with no gap and no duplicate.
    let last = seqs.last().copied().unwrap_or(0);
    let mut bob = server.resume(&bob_token, json!({"#general": last})).await;
    while seqs.len() < total {
        let frame = bob.recv_type("message").await;
        seqs.push(frame["seq"].as_u64().unwrap());
    }
    let mut sorted = seqs.clone();
    sorted.dedup();
    assert_eq!(
        sorted,
        (1..=total as u64).collect::<Vec<_>>(),
        "in order, once each"
    );
    bob.expect_quiet(Duration::from_millis(300), EVENTS).await;
}

/// Found by the SIGTERM harness (`crates/confab/tests/durability`): a session whose peer
/// stopped reading and an upload still arriving each took a whole grace period, one after the
/// other, so a shutdown took twice `shutdown_grace_secs`.
#[tokio::test]
async fn shutdown_waits_one_grace_period_for_sessions_and_uploads_together() {
    let grace = Duration::from_secs(2);
    let server = TestServer::start_with(|c| {
        c.session.shutdown_grace_secs = grace.as_secs();
        c.session.outbound_queue = 8192;
        c.rate.frames_per_sec = 100_000.0;
        c.rate.frames_burst = 100_000.0;
        c.rate.messages_per_sec = 100_000.0;
        c.rate.messages_burst = 100_000.0;
    })
    .await;
    let (alice_token, mut alice) = server.user("alice").await;
    // Bob reads nothing and his receive buffer is small: the server's writes to him block.
    let bob_token = server.register("bob").await;
    let _bob = server.connect_small_buffer(&bob_token).await;
    alice.recv_type("presence").await;
    let content = "x".repeat(4000);
    let total = 2500;
    let (mut tx, mut rx) = alice.ws.split();
    for i in 0..total {
        let frame = json!({"type": "message", "id": format!("f{i}"), "receiver": "#general", "content": content});
        tx.feed(Message::Text(frame.to_string().into()))
            .await
            .unwrap();
    }
    tx.flush().await.unwrap();
    let mut acks = 0;
    while acks < total {
        let next = tokio::time::timeout(Duration::from_secs(60), rx.next()).await;
        let Ok(Some(Ok(Message::Text(text)))) = next else {
            panic!("acks in time: {acks} of {total}");
        };
        acks += usize::from(text.as_str().contains(r#""type":"ack""#));
    }
    // An upload that has sent its headers and a little of its body.
    let mut upload = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST /api/v1/attachments?name=slow.bin HTTP/1.1\r\nHost: x\r\n\
         Authorization: Bearer {alice_token}\r\nContent-Length: 1048576\r\n\r\n"
    );
    tokio::io::AsyncWriteExt::write_all(&mut upload, head.as_bytes())
        .await
        .unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut upload, &[7u8; 1024])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let started = std::time::Instant::now();
    server.stop().await;
    let took = started.elapsed();
    assert!(
        took < grace + Duration::from_millis(1500),
        "one grace period ({grace:?}) in all, not one each: the shutdown took {took:?}"
    );
}
