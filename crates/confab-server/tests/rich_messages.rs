//! Rich messaging against the real server: replies, edits, deletes, reactions, locations,
//! receipts and unread counts, the chat list, delete chat, and search; live, after an
//! absence, over REST, and across a restart.

mod common;

use std::time::Duration;

use common::{http, TestServer};
use serde_json::{json, Value};

const EVENTS: &[&str] = &["presence", "typing", "membership", "receipt"];

/// Sends a frame and returns its answer, skipping everything else.
async fn ask(client: &mut common::Client, frame: Value) -> Value {
    client.request(frame).await
}

#[tokio::test]
async fn replies_edits_reactions_and_deletes_reach_everyone_live() {
    let server = TestServer::start().await;
    let (_, mut alice) = server.user("alice").await;
    let (_, mut bob) = server.user("bob").await;
    alice.recv_type("presence").await;

    let posted = alice.say("#general", "lunch at noon?").await;
    let id = posted["id"].as_str().unwrap().to_owned();
    assert_eq!(bob.recv_type("message").await["id"], json!(id));

    // A reply carries a preview of what it answers.
    let reply = ask(
        &mut bob,
        json!({"type": "message", "receiver": "#general", "content": "yes", "reply_to_message": id}),
    )
    .await;
    assert_eq!(reply["type"], "ack", "{reply}");
    let got = alice.recv_type("message").await;
    assert_eq!(
        got["reply_to_message"],
        json!({"id": id, "sender": "alice", "excerpt": "lunch at noon?"})
    );
    let missing = ask(
        &mut bob,
        json!({"type": "message", "receiver": "#general", "content": "?", "reply_to_message": "01J0000000000000000000000A"}),
    )
    .await;
    assert_eq!(missing["code"], "not_found", "{missing}");

    // The sender edits: an update with its own seq and the new content, for everyone.
    let edit = ask(
        &mut alice,
        json!({"type": "edit", "message": id, "content": "lunch at 1?"}),
    )
    .await;
    assert_eq!(edit["type"], "ack", "{edit}");
    assert_eq!(edit["seq"], 3);
    let update = bob.recv_type("update").await;
    assert_eq!(update["change"], "edited");
    assert_eq!(update["seq"], 3);
    assert_eq!(update["by"], "alice");
    assert_eq!(update["receiver"], "#general");
    assert_eq!(update["message"]["id"], json!(id));
    assert_eq!(update["message"]["content"], "lunch at 1?");
    assert!(update["message"]["edited"].as_str().unwrap().ends_with('Z'));
    let refused = ask(
        &mut bob,
        json!({"type": "edit", "message": id, "content": "mine now"}),
    )
    .await;
    assert_eq!(refused["code"], "forbidden", "{refused}");
    // Bad edits change nothing: empty or oversized content, a malformed or unknown id.
    for (frame, code) in [
        (
            json!({"type": "edit", "message": id, "content": "  "}),
            "bad_request",
        ),
        (
            json!({"type": "edit", "message": id, "content": "x".repeat(4097)}),
            "too_large",
        ),
        (
            json!({"type": "edit", "message": "not an id!", "content": "x"}),
            "bad_request",
        ),
        (
            json!({"type": "edit", "message": "01J0000000000000000000000A", "content": "x"}),
            "not_found",
        ),
        (json!({"type": "delete", "message": ""}), "bad_request"),
        (
            json!({"type": "react", "message": "01J0000000000000000000000A", "emoji": "👍"}),
            "not_found",
        ),
        (
            json!({"type": "search", "query": "lunch", "before": "no such/id"}),
            "bad_request",
        ),
    ] {
        let answer = ask(&mut alice, frame.clone()).await;
        assert_eq!(answer["code"], code, "{frame} -> {answer}");
    }

    // Reactions toggle per user, with counts.
    let react = json!({"type": "react", "message": id, "emoji": "👍"});
    assert_eq!(ask(&mut bob, react.clone()).await["type"], "ack");
    let update = alice.recv_type("update").await;
    assert_eq!(update["change"], "reactions");
    assert_eq!(
        update["message"]["reactions"],
        json!([{"emoji": "👍", "count": 1, "users": ["bob"]}])
    );
    assert_eq!(ask(&mut alice, react.clone()).await["type"], "ack");
    let update = bob.recv_type("update").await;
    assert_eq!(update["message"]["reactions"][0]["count"], 2);
    assert_eq!(ask(&mut bob, react).await["type"], "ack");
    let update = alice.recv_type("update").await;
    assert_eq!(
        update["message"]["reactions"],
        json!([{"emoji": "👍", "count": 1, "users": ["alice"]}])
    );
    let not_emoji = ask(
        &mut bob,
        json!({"type": "react", "message": id, "emoji": "<b>lol</b>"}),
    )
    .await;
    assert_eq!(not_emoji["code"], "bad_request", "{not_emoji}");

    // Only the sender (or a room moderator) deletes; a tombstone remains.
    let refused = ask(&mut bob, json!({"type": "delete", "message": id})).await;
    assert_eq!(refused["code"], "forbidden");
    assert_eq!(
        ask(&mut alice, json!({"type": "delete", "message": id})).await["type"],
        "ack"
    );
    let update = bob.recv_type("update").await;
    assert_eq!(update["change"], "deleted");
    assert_eq!(update["message"]["deleted"], true);
    assert_eq!(update["message"]["content"], "");
    assert!(update["message"].get("reactions").is_none());
    for frame in [
        json!({"type": "edit", "message": id, "content": "back"}),
        json!({"type": "react", "message": id, "emoji": "🎉"}),
        json!({"type": "delete", "message": id}),
    ] {
        let answer = ask(&mut alice, frame).await;
        assert_eq!(answer["code"], "gone", "{answer}");
    }
    let history = ask(&mut bob, json!({"type": "history", "receiver": "#general"})).await;
    let messages = history["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2, "updates are not in history: {history}");
    assert_eq!(messages[0]["deleted"], true);
    assert_eq!(messages[1]["reply_to_message"]["deleted"], true);
    assert_eq!(messages[1]["reply_to_message"]["excerpt"], "");
    // The erased text is gone from storage, not just hidden.
    drop((alice, bob));
    let dir = server.dir.clone();
    let _temp = server.stop().await;
    for file in ["confab.db", "confab.db-wal", "search.db", "search.db-wal"] {
        let bytes = std::fs::read(dir.join(file)).unwrap_or_default();
        assert!(
            !bytes.windows(10).any(|w| w == b"lunch at 1"),
            "deleted text left in {file}"
        );
    }
}

#[tokio::test]
async fn changes_made_while_away_are_replayed_in_order_once() {
    let server = TestServer::start().await;
    let (_, mut alice) = server.user("alice").await;
    let (bob_token, mut bob) = server.user("bob").await;
    let first = alice.say("#general", "first").await;
    let second = alice.say("#general", "second").await;
    bob.recv_type("message").await;
    let seen = bob.recv_type("message").await["seq"].as_u64().unwrap();
    drop(bob);
    let (first, second) = (first["id"].clone(), second["id"].clone());
    ask(
        &mut alice,
        json!({"type": "edit", "message": first, "content": "first!"}),
    )
    .await;
    ask(
        &mut alice,
        json!({"type": "react", "message": second, "emoji": "🎉"}),
    )
    .await;
    ask(&mut alice, json!({"type": "delete", "message": second})).await;
    alice.say("#general", "third").await;

    let mut bob = server.resume(&bob_token, json!({"#general": seen})).await;
    let mut got = Vec::new();
    while got.len() < 4 {
        let frame = bob.recv().await;
        if EVENTS.contains(&frame["type"].as_str().unwrap()) {
            continue;
        }
        got.push(frame);
    }
    let summary: Vec<(u64, &str, &str)> = got
        .iter()
        .map(|f| {
            (
                f["seq"].as_u64().unwrap(),
                f["type"].as_str().unwrap(),
                f["change"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (3, "update", "edited"),
            (4, "update", "reactions"),
            (5, "update", "deleted"),
            (6, "message", "")
        ]
    );
    // Each update carries the message as it is now: the reaction shows as already erased.
    assert_eq!(got[0]["message"]["content"], "first!");
    assert_eq!(got[1]["message"]["deleted"], true);
    bob.expect_quiet(Duration::from_millis(300), EVENTS).await;
}

#[tokio::test]
async fn receipts_and_unread_counts_follow_reads_across_sessions_and_restarts() {
    let server = TestServer::start().await;
    let (alice_token, mut alice) = server.user("alice").await;
    let bob_token = server.register("bob").await;
    for text in ["one", "two", "three"] {
        assert_eq!(alice.say("bob", text).await["type"], "ack");
    }
    // Bob was offline: three unread in his chat list, the newest first.
    let (status, chats) = server.get("/api/v1/chats", Some(&bob_token)).await;
    assert_eq!(status, 200, "{chats}");
    let dm = &chats["chats"][0];
    assert_eq!(dm["receiver"], "alice");
    assert_eq!(dm["kind"], "direct");
    assert_eq!(dm["unread"], 3);
    assert_eq!(dm["last_message"]["content"], "three");
    assert_eq!(dm["online"], true);
    assert_eq!(chats["chats"][1]["receiver"], "#general");

    // Bob connects twice; catch-up delivers, and Alice hears it was delivered.
    let mut bob = server.connect(&bob_token).await;
    let mut bob_phone = server.connect(&bob_token).await;
    for _ in 0..3 {
        bob.recv_type("message").await;
    }
    let delivered = loop {
        let receipt = alice.recv_type("receipt").await;
        if receipt["delivered_seq"] == 3 {
            break receipt;
        }
    };
    assert_eq!(delivered["receiver"], "bob");
    assert_eq!(delivered["user"], "bob");

    // Bob reads up to 2 on one device: Alice and his other device are told.
    let read = ask(
        &mut bob,
        json!({"type": "read", "receiver": "alice", "seq": 2}),
    )
    .await;
    assert_eq!(read["type"], "ack", "{read}");
    let receipt = loop {
        let receipt = alice.recv_type("receipt").await;
        if receipt.get("read_seq").is_some() {
            break receipt;
        }
    };
    assert_eq!(
        receipt,
        json!({"type": "receipt", "receiver": "bob", "user": "bob", "read_seq": 2})
    );
    // The phone may also get the catch-up of the three messages, depending on whether it
    // connected before the first session's cursor moved.
    let mine = loop {
        let frame = bob_phone.recv().await;
        if frame["type"] == "receipt" && frame.get("read_seq").is_some() {
            break frame;
        }
    };
    assert_eq!(mine["receiver"], "alice");
    let chats = ask(&mut bob_phone, json!({"type": "chats"})).await;
    assert_eq!(chats["chats"][0]["unread"], 1);
    assert_eq!(chats["chats"][0]["read_seq"], 2);
    // A read marker never moves back, and cannot pass the end.
    ask(
        &mut bob,
        json!({"type": "read", "receiver": "alice", "seq": 1}),
    )
    .await;
    ask(
        &mut bob,
        json!({"type": "read", "receiver": "alice", "seq": 99}),
    )
    .await;
    let receipts = ask(&mut alice, json!({"type": "receipts", "receiver": "bob"})).await;
    assert_eq!(
        receipts["members"],
        json!([
            {"user": "alice", "delivered_seq": 3, "read_seq": 0},
            {"user": "bob", "delivered_seq": 3, "read_seq": 3}
        ])
    );
    ask(
        &mut bob,
        json!({"type": "read", "receiver": "alice", "seq": 2}),
    )
    .await;
    let unknown = ask(
        &mut bob,
        json!({"type": "read", "receiver": "#nowhere", "seq": 1}),
    )
    .await;
    assert_eq!(unknown["code"], "not_found");

    // A room shows how many have read: every member's markers.
    let said = alice.say("#general", "all hands").await;
    let seq = said["seq"].as_u64().unwrap();
    ask(
        &mut bob,
        json!({"type": "read", "receiver": "#general", "seq": seq}),
    )
    .await;
    let (status, receipts) = server
        .get("/api/v1/receipts?receiver=%23general", Some(&alice_token))
        .await;
    assert_eq!(status, 200, "{receipts}");
    let readers = receipts["members"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["read_seq"].as_u64() >= Some(seq))
        .count();
    assert_eq!(readers, 1);

    // After a restart the counts are the same.
    drop((alice, bob, bob_phone));
    let temp = server.stop().await.unwrap();
    let server = TestServer::start_in(temp.path().to_owned(), |_| {}).await;
    let (_, chats) = server.get("/api/v1/chats", Some(&bob_token)).await;
    let dm = chats["chats"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["receiver"] == "alice")
        .unwrap()
        .clone();
    assert_eq!(
        (dm["unread"].clone(), dm["read_seq"].clone()),
        (json!(0), json!(3))
    );
    let general = &chats["chats"][0];
    assert_eq!(general["receiver"], "#general");
    assert_eq!(general["unread"], 0);
}

#[tokio::test]
async fn delete_chat_clears_a_direct_conversation_for_one_side_only() {
    let server = TestServer::start().await;
    let (alice_token, mut alice) = server.user("alice").await;
    let (bob_token, mut bob) = server.user("bob").await;
    alice.say("bob", "secret plan").await;
    bob.recv_type("message").await;
    let refused = ask(
        &mut bob,
        json!({"type": "delete_chat", "receiver": "#general"}),
    )
    .await;
    assert_eq!(refused["code"], "bad_request");
    let (status, _) = http(
        server.addr,
        "DELETE",
        "/api/v1/chats/alice",
        None,
        Some(&bob_token),
    )
    .await;
    assert_eq!(status, 204);
    let chats = ask(&mut bob, json!({"type": "chats"})).await;
    assert!(
        chats["chats"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["receiver"] != "alice"),
        "{chats}"
    );
    let history = ask(&mut bob, json!({"type": "history", "receiver": "alice"})).await;
    assert_eq!(history["messages"], json!([]));
    let found = ask(&mut bob, json!({"type": "search", "query": "plan"})).await;
    assert_eq!(found["results"], json!([]));
    // Alice keeps hers; a new message brings the chat back for Bob, with only what is new.
    let (_, theirs) = server.get("/api/v1/chats", Some(&alice_token)).await;
    assert_eq!(theirs["chats"][0]["last_message"]["content"], "secret plan");
    alice.say("bob", "new plan").await;
    bob.recv_type("message").await;
    let chats = ask(&mut bob, json!({"type": "chats"})).await;
    assert_eq!(chats["chats"][0]["receiver"], "alice");
    assert_eq!(chats["chats"][0]["unread"], 1);
    let history = ask(&mut bob, json!({"type": "history", "receiver": "alice"})).await;
    assert_eq!(history["messages"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn locations_are_range_checked() {
    let server = TestServer::start().await;
    let (_, mut alice) = server.user("alice").await;
    let (_, mut bob) = server.user("bob").await;
    let ack = ask(
        &mut alice,
        json!({"type": "message", "receiver": "#general", "location": {"latitude": 18.5204, "longitude": 73.8567, "label": "Pune"}}),
    )
    .await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let got = bob.recv_type("message").await;
    assert_eq!(got["kind"], "location");
    assert_eq!(got["content"], "");
    assert_eq!(
        got["location"],
        json!({"latitude": 18.5204, "longitude": 73.8567, "label": "Pune"})
    );
    for bad in [
        json!({"latitude": 91.0, "longitude": 0.0}),
        json!({"latitude": 0.0, "longitude": -180.01}),
        json!({"latitude": "north", "longitude": 0.0}),
        json!({"latitude": 0.0, "longitude": 0.0, "label": "x".repeat(300)}),
    ] {
        let answer = ask(
            &mut alice,
            json!({"type": "message", "receiver": "#general", "location": bad}),
        )
        .await;
        assert_eq!(answer["code"], "bad_request", "{answer}");
    }
    let both = ask(
        &mut alice,
        json!({"type": "message", "receiver": "#general", "attachment": "abc", "location": {"latitude": 0.0, "longitude": 0.0}}),
    )
    .await;
    assert_eq!(both["code"], "bad_request");
    let forged = ask(
        &mut alice,
        json!({"type": "message", "receiver": "#general", "attachment": "NOSUCHUPLOAD"}),
    )
    .await;
    assert_eq!(forged["code"], "not_found", "{forged}");
    bob.expect_quiet(Duration::from_millis(200), EVENTS).await;
}

#[tokio::test]
async fn search_finds_words_parts_and_cjk_with_highlights_and_pages() {
    let server = TestServer::start().await;
    let (token, mut alice) = server.user("alice").await;
    let (carol_token, _carol) = server.user("carol").await;
    for text in [
        "Deploying the new build",
        "東京で会いましょう",
        "the deploy went fine, deploy again?",
        "unrelated chatter",
    ] {
        alice.say("#general", text).await;
    }
    alice.say("carol", "deploy secrets are in the DM").await;
    let found = ask(
        &mut alice,
        json!({"type": "search", "query": "deploy", "limit": 2}),
    )
    .await;
    assert_eq!(found["type"], "search_results", "{found}");
    let results = found["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(
        results[0]["message"]["content"],
        "deploy secrets are in the DM"
    );
    assert_eq!(
        results[1]["highlight"],
        json!([
            {"text": "the "},
            {"text": "deploy", "match": true},
            {"text": " went fine, "},
            {"text": "deploy", "match": true},
            {"text": " again?"}
        ])
    );
    let next = found["next"].as_str().unwrap();
    let page = ask(
        &mut alice,
        json!({"type": "search", "query": "deploy", "before": next}),
    )
    .await;
    let results = page["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["message"]["content"], "Deploying the new build");
    assert!(page.get("next").is_none());
    // Only in one conversation, and over REST.
    let (status, only) = server
        .get("/api/v1/search?q=deploy&receiver=carol", Some(&token))
        .await;
    assert_eq!(status, 200, "{only}");
    assert_eq!(only["results"].as_array().unwrap().len(), 1);
    let (_, cjk) = server
        .get("/api/v1/search?q=%E6%9D%B1%E4%BA%AC", Some(&carol_token))
        .await;
    assert_eq!(
        cjk["results"][0]["message"]["content"],
        "東京で会いましょう"
    );
    assert_eq!(
        cjk["results"][0]["highlight"][0],
        json!({"text": "東京", "match": true})
    );
    // Bad queries get their errors.
    let (status, body) = server.get("/api/v1/search?q=%20", Some(&token)).await;
    assert_eq!((status, body["code"].clone()), (400, json!("bad_request")));
    let long = "x".repeat(300);
    let (status, _) = server
        .get(&format!("/api/v1/search?q={long}"), Some(&token))
        .await;
    assert_eq!(status, 413);
    let (status, _) = server.get("/api/v1/search?q=deploy", None).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn hosts_delete_anyones_messages_and_muted_members_cannot_edit_or_react() {
    let server = TestServer::start().await;
    let (_, mut alice) = server.user("alice").await;
    let (_, mut bob) = server.user("bob").await;
    let (_, mut carol) = server.user("carol").await;
    for client in [&mut alice, &mut bob, &mut carol] {
        let joined = ask(client, json!({"type": "join", "room": "#ops"})).await;
        assert_eq!(joined["type"], "ack", "{joined}");
    }
    let said = bob.say("#ops", "spam spam").await;
    let spam = said["id"].clone();
    let own = bob.say("#ops", "a fair point").await["id"].clone();
    // A plain member cannot delete someone else's message; the owner can.
    let refused = ask(&mut carol, json!({"type": "delete", "message": spam})).await;
    assert_eq!(refused["code"], "forbidden", "{refused}");
    let deleted = ask(&mut alice, json!({"type": "delete", "message": spam})).await;
    assert_eq!(deleted["type"], "ack", "{deleted}");
    let update = carol.recv_type("update").await;
    assert_eq!(
        (update["change"].clone(), update["by"].clone()),
        (json!("deleted"), json!("alice"))
    );
    // A muted member may not edit or react (deleting their own stays allowed).
    let muted = ask(
        &mut alice,
        json!({"type": "mute", "room": "#ops", "user": "bob", "seconds": 600}),
    )
    .await;
    assert_eq!(muted["type"], "ack", "{muted}");
    for frame in [
        json!({"type": "edit", "message": own, "content": "edited while muted"}),
        json!({"type": "react", "message": own, "emoji": "👍"}),
        json!({"type": "message", "receiver": "#ops", "content": "still here"}),
    ] {
        let answer = ask(&mut bob, frame).await;
        assert_eq!(answer["code"], "muted", "{answer}");
    }
    let gone = ask(&mut bob, json!({"type": "delete", "message": own})).await;
    assert_eq!(gone["type"], "ack", "{gone}");
}
