//! Rooms, direct messages, several sessions per user, typing and presence.

mod common;

use std::time::Duration;

use common::TestServer;
use serde_json::json;

const EVENTS: &[&str] = &["presence", "typing", "membership", "receipt"];

#[tokio::test]
async fn room_messages_reach_every_member_but_the_sending_session() {
    let server = TestServer::start().await;
    let (_, mut alice) = server.user("alice").await;
    let (_, mut bob) = server.user("bob").await;
    let (_, mut carol) = server.user("carol").await;

    assert_eq!(
        alice
            .request(json!({"type": "join", "room": "#Rust"}))
            .await["type"],
        "ack"
    );
    assert_eq!(
        bob.request(json!({"type": "join", "room": "#rust"})).await["type"],
        "ack"
    );
    let mut joined = alice.recv_type("membership").await;
    if joined["user"] == "alice" {
        joined = alice.recv_type("membership").await;
    }
    assert_eq!(
        joined,
        json!({"type":"membership","room":"#rust","user":"bob","change":"joined"})
    );

    let ack = alice.say("#rust", "hello rustaceans").await;
    assert_eq!(ack["type"], "ack", "{ack}");
    assert_eq!(ack["seq"], 1);
    assert_eq!(ack["receiver"], "#rust");
    assert_eq!(ack["id"].as_str().unwrap().len(), 26);
    assert!(ack["timestamp"].as_str().unwrap().ends_with('Z'));

    let got = bob.recv_type("message").await;
    assert_eq!(got["sender"], "alice");
    assert_eq!(got["receiver"], "#rust");
    assert_eq!(got["content"], "hello rustaceans");
    assert_eq!(got["id"], ack["id"]);
    assert_eq!(got["seq"], 1);
    assert_eq!(got["timestamp"], ack["timestamp"]);

    alice.expect_quiet(Duration::from_millis(300), EVENTS).await;
    carol.expect_quiet(Duration::from_millis(100), EVENTS).await;

    // Everyone is in #general.
    alice.say("#general", "hi all").await;
    assert_eq!(bob.recv_type("message").await["content"], "hi all");
    assert_eq!(carol.recv_type("message").await["content"], "hi all");

    // Leaving stops delivery and sending.
    assert_eq!(
        bob.request(json!({"type": "leave", "room": "#rust"})).await["type"],
        "ack"
    );
    let refused = bob.say("#rust", "still here?").await;
    assert_eq!(refused["code"], "forbidden");
    alice.say("#rust", "anyone?").await;
    bob.expect_quiet(Duration::from_millis(300), EVENTS).await;
}

#[tokio::test]
async fn rooms_and_members_are_listed_over_the_protocol_and_rest() {
    let server = TestServer::start().await;
    let (alice_token, mut alice) = server.user("alice").await;
    let (_, mut bob) = server.user("bob").await;
    alice.request(json!({"type": "join", "room": "#ops"})).await;

    let rooms = bob.request(json!({"type": "rooms"})).await;
    assert_eq!(rooms["type"], "rooms");
    assert_eq!(
        rooms["rooms"],
        json!([
            {"name": "#general", "members": 2, "joined": true},
            {"name": "#ops", "members": 1, "joined": false}
        ])
    );
    let members = bob
        .request(json!({"type": "members", "room": "#general"}))
        .await;
    assert_eq!(
        members["members"],
        json!([{"username": "alice", "online": true}, {"username": "bob", "online": true}])
    );
    let missing = bob
        .request(json!({"type": "members", "room": "#nope"}))
        .await;
    assert_eq!(missing["code"], "not_found");

    let (status, rest) = server.get("/api/v1/rooms", Some(&alice_token)).await;
    assert_eq!(status, 200);
    assert_eq!(
        rest["rooms"][1],
        json!({"name": "#ops", "members": 1, "joined": true})
    );
    let (status, rest) = server
        .get("/api/v1/rooms/ops/members", Some(&alice_token))
        .await;
    assert_eq!(status, 200, "{rest}");
    assert_eq!(
        rest["members"],
        json!([{"username": "alice", "online": true, "role": "owner"}])
    );
    let (status, _) = server.get("/api/v1/rooms", None).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn direct_messages_reach_both_users_sessions() {
    let server = TestServer::start().await;
    let (alice_token, mut alice) = server.user("alice").await;
    let mut alice_phone = server.connect(&alice_token).await;
    let (_, mut bob) = server.user("bob").await;
    let (_, mut carol) = server.user("carol").await;

    let ack = alice
        .request(json!({"type": "message", "sender": "alice", "receiver": "Bob", "content": "psst", "timestamp": "1999-01-01T00:00:00Z"}))
        .await;
    assert_eq!(ack["type"], "ack", "{ack}");
    assert_eq!(ack["seq"], 1);
    assert_ne!(ack["timestamp"], "1999-01-01T00:00:00Z");

    let got = bob.recv_type("message").await;
    assert_eq!(
        (got["sender"].as_str(), got["receiver"].as_str()),
        (Some("alice"), Some("bob"))
    );
    let mirrored = alice_phone.recv_type("message").await;
    assert_eq!(
        mirrored["id"], ack["id"],
        "the sender's other sessions get it too"
    );
    alice.expect_quiet(Duration::from_millis(300), EVENTS).await;
    carol.expect_quiet(Duration::from_millis(100), EVENTS).await;

    let reply = bob.say("alice", "what?").await;
    assert_eq!(reply["seq"], 2, "one conversation, one sequence");
    assert_eq!(alice.recv_type("message").await["receiver"], "alice");

    let ready = server.connect(&alice_token).await.ready;
    assert_eq!(ready["direct"], json!([{"receiver": "bob", "last_seq": 2}]));

    let unknown = alice.say("nobody", "hello?").await;
    assert_eq!(unknown["code"], "not_found");
    let to_self = alice.say("alice", "note to self").await;
    assert_eq!(to_self["type"], "ack");
}

#[tokio::test]
async fn typing_and_presence_reach_contacts() {
    let server = TestServer::start().await;
    let (_, mut alice) = server.user("alice").await;
    let (bob_token, bob) = server.user("bob").await;
    let online = alice.recv_type("presence").await;
    assert_eq!(
        online,
        json!({"type": "presence", "user": "bob", "status": "online"})
    );

    let mut bob_second = server.connect(&bob_token).await;
    bob_second
        .send(json!({"type": "typing", "receiver": "#general"}))
        .await;
    let typing = alice.recv_type("typing").await;
    assert_eq!(
        typing,
        json!({"type": "typing", "sender": "bob", "receiver": "#general"})
    );
    bob_second
        .send(json!({"type": "typing", "receiver": "alice"}))
        .await;
    assert_eq!(alice.recv_type("typing").await["receiver"], "alice");

    // Presence changes only with the first and last session.
    drop(bob_second);
    alice
        .expect_quiet(Duration::from_millis(400), &["membership", "receipt"])
        .await;
    drop(bob);
    let offline = alice.recv_type("presence").await;
    assert_eq!(
        offline,
        json!({"type": "presence", "user": "bob", "status": "offline"})
    );
}

#[tokio::test]
async fn presence_skips_rooms_over_the_configured_size_but_not_direct_contacts() {
    let server = TestServer::start_with(|c| c.session.presence_max_room = 2).await;
    let (_, mut alice) = server.user("alice").await;
    let (_, mut bob) = server.user("bob").await;
    assert_eq!(
        alice.recv_type("presence").await["user"],
        "bob",
        "#general has 2 members"
    );
    let carol_token = server.register("carol").await;
    // #general now has 3 members, over the limit: nobody hears carol come online...
    let carol = server.connect(&carol_token).await;
    alice
        .expect_quiet(Duration::from_millis(300), &["membership", "receipt"])
        .await;
    drop(carol);
    // ...unless they share a direct conversation.
    bob.say("carol", "hi carol").await;
    let _carol = server.connect(&carol_token).await;
    assert_eq!(bob.recv_type("presence").await["user"], "carol");
    alice
        .expect_quiet(Duration::from_millis(300), &["membership", "receipt"])
        .await;
}
