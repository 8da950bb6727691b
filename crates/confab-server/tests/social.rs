//! Profiles, contacts, invitations and invite links, over the WebSocket and REST, against the
//! real server.

mod common;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::{Client, TestServer, PASSWORD};
use serde_json::{json, Value};

/// Events a test may see at any time without caring.
const NOISE: &[&str] = &["presence", "membership", "typing", "room_event"];

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A WebSocket client that keeps the events it reads while waiting for an answer, so a test
/// can ask for them afterwards whatever order they came in.
struct Peer {
    client: Client,
    events: VecDeque<Value>,
}

impl Peer {
    fn new(client: Client) -> Self {
        Self {
            client,
            events: VecDeque::new(),
        }
    }

    /// Sends a frame with a fresh id; returns the frame answering it.
    async fn request(&mut self, mut frame: Value) -> Value {
        let id = format!("s{}", NEXT_ID.fetch_add(1, Ordering::Relaxed));
        frame["id"] = json!(id);
        self.client.send(frame).await;
        loop {
            let got = self.client.recv().await;
            if got["reply_to"] == json!(id) {
                return got;
            }
            assert!(got.get("reply_to").is_none(), "stray answer {got}");
            self.events.push_back(got);
        }
    }

    /// Sends a frame and asserts it is acked.
    async fn ok(&mut self, frame: Value) -> Value {
        let reply = self.request(frame.clone()).await;
        assert_eq!(reply["type"], "ack", "{frame} -> {reply}");
        reply
    }

    /// Sends a frame and returns the error code it got.
    async fn refused(&mut self, frame: Value) -> String {
        let reply = self.request(frame.clone()).await;
        assert_eq!(reply["type"], "error", "{frame} -> {reply}");
        reply["code"].as_str().unwrap().to_owned()
    }

    /// The next event of `kind` (from those kept, else from the socket).
    async fn event(&mut self, kind: &str) -> Value {
        if let Some(at) = self.events.iter().position(|e| e["type"] == kind) {
            return self.events.remove(at).unwrap();
        }
        loop {
            let got = self.client.recv().await;
            if got["type"] == kind {
                return got;
            }
            self.events.push_back(got);
        }
    }

    /// The next event of `kind` for which `pick` holds; others are kept.
    async fn event_where(&mut self, kind: &str, pick: impl Fn(&Value) -> bool) -> Value {
        if let Some(at) = self
            .events
            .iter()
            .position(|e| e["type"] == kind && pick(e))
        {
            return self.events.remove(at).unwrap();
        }
        loop {
            let got = self.client.recv().await;
            if got["type"] == kind && pick(&got) {
                return got;
            }
            self.events.push_back(got);
        }
    }

    /// Asserts that nothing but noise arrived or arrives within `wait`.
    async fn quiet(&mut self, wait: Duration) {
        for event in &self.events {
            assert!(
                NOISE.contains(&event["type"].as_str().unwrap_or("")),
                "unexpected {event}"
            );
        }
        self.client.expect_quiet(wait, NOISE).await;
    }
}

async fn peer(server: &TestServer, name: &str) -> (String, Peer) {
    let (token, client) = server.user(name).await;
    (token, Peer::new(client))
}

/// A user with a session who then leaves `#general`, so they share no room with anyone.
async fn loner(server: &TestServer, name: &str) -> (String, Peer) {
    let (token, mut peer) = peer(server, name).await;
    peer.ok(json!({"type": "leave", "room": "#general"})).await;
    (token, peer)
}

async fn call(
    server: &TestServer,
    method: &str,
    path: &str,
    body: Option<Value>,
    token: Option<&str>,
) -> (u16, Value) {
    let body = body.map(|b| b.to_string());
    common::http(server.addr, method, path, body.as_deref(), token).await
}

fn members_of(frame: &Value) -> Vec<String> {
    frame["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["username"].as_str().unwrap().to_owned())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Profiles

#[tokio::test]
async fn profiles_are_set_read_and_broadcast() {
    let server = TestServer::start().await;
    let (alice_token, mut alice) = peer(&server, "alice").await;
    // Bob shares #general with Alice; Dave shares nothing with her.
    let (_, mut bob) = peer(&server, "bob").await;
    let (_, mut dave) = loner(&server, "dave").await;

    let before = bob
        .request(json!({"type": "profile", "user": "Alice"}))
        .await;
    assert_eq!(
        before,
        json!({"type": "profile", "reply_to": before["reply_to"], "username": "alice",
               "display_name": "", "status_text": "", "online": true})
    );

    alice
        .ok(
            json!({"type": "set_profile", "display_name": "  Alice Liddell ",
                   "status_text": "down the rabbit hole"}),
        )
        .await;
    let expected = json!({"type": "profile", "username": "alice", "display_name": "Alice Liddell",
                          "status_text": "down the rabbit hole", "online": true});
    assert_eq!(bob.event("profile").await, expected);
    // The user's own sessions hear of it too.
    assert_eq!(alice.event("profile").await, expected);
    dave.quiet(Duration::from_millis(300)).await;

    // Fields left out stay as they are; "" and null clear.
    alice
        .ok(json!({"type": "set_profile", "status_text": null}))
        .await;
    let changed = bob.event("profile").await;
    assert_eq!(
        (&changed["display_name"], &changed["status_text"]),
        (&json!("Alice Liddell"), &json!(""))
    );
    let exact = "é".repeat(64);
    alice
        .ok(json!({"type": "set_profile", "display_name": exact}))
        .await;
    assert_eq!(bob.event("profile").await["display_name"], json!(exact));

    // Refused changes change nothing, not even the valid fields beside the bad one.
    for (frame, code) in [
        (json!({"display_name": "x".repeat(65)}), "too_large"),
        (json!({"status_text": "s".repeat(141)}), "too_large"),
        (json!({"display_name": "bell\u{7}"}), "bad_request"),
        (json!({"status_text": "two\nlines"}), "bad_request"),
        (json!({}), "bad_request"),
        (json!({"display_name": 5}), "bad_request"),
        (json!({"avatar": "../../etc/passwd"}), "bad_request"),
        (json!({"avatar": 7}), "bad_request"),
        (json!({"avatar": "01NOSUCHUPLOAD"}), "not_found"),
        (
            json!({"display_name": "Mallory", "avatar": "01NOSUCHUPLOAD"}),
            "not_found",
        ),
    ] {
        let mut frame = frame;
        frame["type"] = json!("set_profile");
        assert_eq!(alice.refused(frame.clone()).await, code, "{frame}");
    }
    let now = bob
        .request(json!({"type": "profile", "user": "alice"}))
        .await;
    assert_eq!(now["display_name"], json!(exact));
    bob.quiet(Duration::from_millis(200)).await;

    assert_eq!(
        bob.refused(json!({"type": "profile", "user": "nobody"}))
            .await,
        "not_found"
    );
    assert_eq!(
        bob.refused(json!({"type": "profile", "user": "no body"}))
            .await,
        "bad_request"
    );

    // REST: the same rules through the same hub methods.
    let (status, own) = call(&server, "GET", "/api/v1/profile", None, Some(&alice_token)).await;
    assert_eq!(status, 200, "{own}");
    assert_eq!(
        (&own["type"], &own["username"], &own["display_name"]),
        (&json!("profile"), &json!("alice"), &json!(exact))
    );
    let (status, patched) = call(
        &server,
        "PATCH",
        "/api/v1/profile",
        Some(json!({"display_name": "Al", "status_text": "late"})),
        Some(&alice_token),
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(
        (&patched["display_name"], &patched["status_text"]),
        (&json!("Al"), &json!("late"))
    );
    assert_eq!(bob.event("profile").await["display_name"], "Al");
    for (body, status) in [
        (json!({}), 400),
        (json!({"status_text": "s".repeat(141)}), 413),
        (json!({"display_name": "\u{0}"}), 400),
        (json!("not an object"), 400),
    ] {
        let (got, reply) = call(
            &server,
            "PATCH",
            "/api/v1/profile",
            Some(body.clone()),
            Some(&alice_token),
        )
        .await;
        assert_eq!(got, status, "{body}: {reply}");
    }
    let (status, other) = call(
        &server,
        "GET",
        "/api/v1/users/ALICE",
        None,
        Some(&alice_token),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        (&other["display_name"], &other["status_text"]),
        (&json!("Al"), &json!("late"))
    );
    let erin = server.register("erin").await;
    let (_, offline) = call(&server, "GET", "/api/v1/users/erin", None, Some(&erin)).await;
    assert_eq!(offline["online"], false);
    let (status, missing) = call(&server, "GET", "/api/v1/users/nobody", None, Some(&erin)).await;
    assert_eq!((status, missing["code"].as_str()), (404, Some("not_found")));
    assert_eq!(
        call(&server, "GET", "/api/v1/users/a%20b", None, Some(&erin))
            .await
            .0,
        400
    );
    assert_eq!(
        call(&server, "GET", "/api/v1/profile", None, None).await.0,
        401
    );
    assert_eq!(
        call(
            &server,
            "PATCH",
            "/api/v1/profile",
            Some(json!({"display_name": "x"})),
            None
        )
        .await
        .0,
        401
    );
}

/// A 2x2 RGB PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x08, 0x02, 0x00, 0x00, 0x00, 0xfd, 0xd4, 0x9a,
    0x73, 0x00, 0x00, 0x00, 0x11, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0x00,
    0x44, 0x60, 0xe2, 0x3f, 0x03, 0x00, 0x1d, 0xf0, 0x03, 0xfd, 0xa0, 0x33, 0x09, 0x89, 0x00, 0x00,
    0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// Uploads raw bytes as `POST /api/v1/attachments?name=...`; returns the status and body.
async fn upload(server: &TestServer, token: &str, name: &str, bytes: &[u8]) -> (u16, Value) {
    let reply = common::upload(server.addr, token, name, bytes).await;
    (
        reply.status,
        serde_json::from_slice(&reply.body).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn avatars_are_image_uploads_of_ones_own() {
    let server = TestServer::start().await;
    let (alice_token, mut alice) = peer(&server, "alice").await;
    let (bob_token, mut bob) = peer(&server, "bob").await;
    bob.ok(json!({"type": "add_contact", "user": "alice"}))
        .await;

    let (status, image) = upload(&server, &alice_token, "me.png", PNG).await;
    assert_eq!(status, 201, "{image}");
    assert_eq!(image["kind"], "image");
    let id = image["id"].as_str().unwrap().to_owned();
    alice.ok(json!({"type": "set_profile", "avatar": id})).await;
    let event = bob.event("profile").await;
    assert_eq!(event["avatar"], image);
    let profile = bob
        .request(json!({"type": "profile", "user": "alice"}))
        .await;
    assert_eq!(profile["avatar"], image);
    let contacts = bob.request(json!({"type": "contacts"})).await;
    assert_eq!(contacts["contacts"][0]["avatar"], image);

    // Not an image: bad_request. Someone else's upload: not_found.
    let (_, text) = upload(&server, &alice_token, "notes.txt", b"just some text").await;
    assert_eq!(text["kind"], "file");
    let refused = alice
        .refused(json!({"type": "set_profile", "avatar": text["id"]}))
        .await;
    assert_eq!(refused, "bad_request");
    let (_, bobs) = upload(&server, &bob_token, "bob.png", PNG).await;
    let refused = alice
        .refused(json!({"type": "set_profile", "avatar": bobs["id"]}))
        .await;
    assert_eq!(refused, "not_found");
    let kept = bob
        .request(json!({"type": "profile", "user": "alice"}))
        .await;
    assert_eq!(kept["avatar"], image);

    // null removes it.
    alice
        .ok(json!({"type": "set_profile", "avatar": null}))
        .await;
    let cleared = bob
        .event_where("profile", |p| p.get("avatar").is_none())
        .await;
    assert_eq!(cleared["username"], "alice");
}

// ---------------------------------------------------------------------------------------------
// Contacts

/// Waits until the server sees `user` offline (a dropped socket takes a moment to notice).
async fn wait_offline(peer: &mut Peer, user: &str) {
    let deadline = tokio::time::Instant::now() + common::WAIT;
    loop {
        let profile = peer.request(json!({"type": "profile", "user": user})).await;
        if profile["online"] == false {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{user} stays online"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn contacts_are_listed_with_presence() {
    let server = TestServer::start().await;
    let (alice_token, mut alice) = loner(&server, "alice").await;
    // Bob and Carol share no room with Alice, and are offline.
    let (bob_token, bob) = loner(&server, "bob").await;
    let (carol_token, carol) = loner(&server, "carol").await;
    drop((bob, carol));
    wait_offline(&mut alice, "bob").await;
    wait_offline(&mut alice, "carol").await;

    // Not a contact yet: Bob coming online is no news to Alice.
    let bob = server.connect(&bob_token).await;
    alice.quiet(Duration::from_millis(300)).await;
    drop(bob);
    wait_offline(&mut alice, "bob").await;

    assert_eq!(
        alice.request(json!({"type": "contacts"})).await["contacts"],
        json!([])
    );
    alice
        .ok(json!({"type": "add_contact", "user": "Carol"}))
        .await;
    alice
        .ok(json!({"type": "add_contact", "user": "bob"}))
        .await;
    alice
        .ok(json!({"type": "add_contact", "user": "bob"}))
        .await;
    let listed = alice.request(json!({"type": "contacts"})).await;
    assert_eq!(listed["type"], "contacts");
    assert_eq!(
        listed["contacts"],
        json!([
            {"username": "bob", "display_name": "", "status_text": "", "online": false},
            {"username": "carol", "display_name": "", "status_text": "", "online": false}
        ])
    );

    // Now Bob's presence and profile reach Alice, though they share no room.
    let mut bob = Peer::new(server.connect(&bob_token).await);
    let online = alice.event_where("presence", |p| p["user"] == "bob").await;
    assert_eq!(online["status"], "online");
    let listed = alice.request(json!({"type": "contacts"})).await;
    assert_eq!(listed["contacts"][0]["online"], true);
    assert_eq!(listed["contacts"][1]["online"], false);
    bob.ok(json!({"type": "set_profile", "display_name": "Bobby", "status_text": "around"}))
        .await;
    assert_eq!(alice.event("profile").await["display_name"], "Bobby");
    let listed = alice.request(json!({"type": "contacts"})).await;
    assert_eq!(
        listed["contacts"][0],
        json!({"username": "bob", "display_name": "Bobby", "status_text": "around", "online": true})
    );
    drop(bob);
    let offline = alice.event_where("presence", |p| p["user"] == "bob").await;
    assert_eq!(offline["status"], "offline");

    // Bad input.
    assert_eq!(
        alice
            .refused(json!({"type": "add_contact", "user": "alice"}))
            .await,
        "bad_request"
    );
    assert_eq!(
        alice
            .refused(json!({"type": "add_contact", "user": "nobody"}))
            .await,
        "not_found"
    );
    assert_eq!(
        alice
            .refused(json!({"type": "add_contact", "user": "#room"}))
            .await,
        "bad_request"
    );
    assert_eq!(
        alice
            .refused(json!({"type": "remove_contact", "user": "nobody"}))
            .await,
        "not_found"
    );

    alice
        .ok(json!({"type": "remove_contact", "user": "carol"}))
        .await;
    alice
        .ok(json!({"type": "remove_contact", "user": "carol"}))
        .await;
    let listed = alice.request(json!({"type": "contacts"})).await;
    assert_eq!(listed["contacts"].as_array().unwrap().len(), 1);
    // No longer a contact: Carol's presence is no news to Alice.
    let carol = server.connect(&carol_token).await;
    alice.quiet(Duration::from_millis(300)).await;
    drop(carol);

    // REST.
    let (status, rest) = call(&server, "GET", "/api/v1/contacts", None, Some(&alice_token)).await;
    assert_eq!(status, 200);
    assert_eq!(rest["type"], "contacts");
    assert_eq!(rest["contacts"][0]["username"], "bob");
    let path = |user: &str| format!("/api/v1/contacts/{user}");
    assert_eq!(
        call(&server, "PUT", &path("Carol"), None, Some(&alice_token))
            .await
            .0,
        204
    );
    assert_eq!(
        call(&server, "PUT", &path("carol"), None, Some(&alice_token))
            .await
            .0,
        204
    );
    let (_, rest) = call(&server, "GET", "/api/v1/contacts", None, Some(&alice_token)).await;
    assert_eq!(rest["contacts"][1]["username"], "carol");
    assert_eq!(
        call(&server, "DELETE", &path("carol"), None, Some(&alice_token))
            .await
            .0,
        204
    );
    assert_eq!(
        call(&server, "DELETE", &path("carol"), None, Some(&alice_token))
            .await
            .0,
        204
    );
    let (status, body) = call(&server, "PUT", &path("alice"), None, Some(&alice_token)).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("bad_request")));
    assert_eq!(
        call(&server, "PUT", &path("nobody"), None, Some(&alice_token))
            .await
            .0,
        404
    );
    assert_eq!(
        call(&server, "DELETE", &path("nobody"), None, Some(&alice_token))
            .await
            .0,
        404
    );
    assert_eq!(
        call(&server, "PUT", &path("a%20b"), None, Some(&alice_token))
            .await
            .0,
        400
    );
    assert_eq!(
        call(&server, "GET", "/api/v1/contacts", None, None).await.0,
        401
    );
    let (_, rest) = call(&server, "GET", "/api/v1/contacts", None, Some(&alice_token)).await;
    assert_eq!(rest["contacts"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn contact_lists_are_bounded() {
    let server = TestServer::start_with(|config| config.social.max_contacts = 2).await;
    let (token, mut alice) = peer(&server, "alice").await;
    for name in ["b1", "b2", "b3"] {
        server.register(name).await;
    }
    alice.ok(json!({"type": "add_contact", "user": "b1"})).await;
    alice.ok(json!({"type": "add_contact", "user": "b2"})).await;
    assert_eq!(
        alice
            .refused(json!({"type": "add_contact", "user": "b3"}))
            .await,
        "too_large"
    );
    // At the bound, an existing contact is still fine to add again.
    alice.ok(json!({"type": "add_contact", "user": "b2"})).await;
    assert_eq!(
        call(&server, "PUT", "/api/v1/contacts/b3", None, Some(&token))
            .await
            .0,
        413
    );
    let listed = alice.request(json!({"type": "contacts"})).await;
    assert_eq!(listed["contacts"].as_array().unwrap().len(), 2);
}

// ---------------------------------------------------------------------------------------------
// Invitations

#[tokio::test]
async fn invitations_are_live_and_answered() {
    let server = TestServer::start().await;
    let (alice_token, mut alice) = peer(&server, "alice").await;
    let (bob_token, mut bob) = peer(&server, "bob").await;
    let (carol_token, mut carol) = peer(&server, "carol").await;
    alice.ok(json!({"type": "join", "room": "#club"})).await;

    alice
        .ok(json!({"type": "invite", "room": "#Club", "user": "Bob"}))
        .await;
    let invitation = bob.event("invitation").await;
    let id = invitation["id"].as_str().unwrap().to_owned();
    assert_eq!(
        invitation,
        json!({"type": "invitation", "id": id, "room": "#club", "from": "alice",
               "created": invitation["created"]})
    );
    assert!(invitation["created"].as_str().unwrap().ends_with('Z'));
    let listed = bob.request(json!({"type": "invitations"})).await;
    assert_eq!(listed["type"], "invitations");
    assert_eq!(
        listed["invitations"],
        json!([{"id": id, "room": "#club", "from": "alice", "created": invitation["created"]}])
    );
    // Repeating is fine and sends nothing new.
    alice
        .ok(json!({"type": "invite", "room": "#club", "user": "bob"}))
        .await;
    bob.quiet(Duration::from_millis(300)).await;

    // Who may invite whom.
    let invite = |room: &str, user: &str| json!({"type": "invite", "room": room, "user": user});
    assert_eq!(carol.refused(invite("#club", "bob")).await, "forbidden");
    assert_eq!(alice.refused(invite("#club", "nobody")).await, "not_found");
    assert_eq!(alice.refused(invite("#nowhere", "bob")).await, "not_found");
    assert_eq!(alice.refused(invite("#club", "alice")).await, "conflict");
    assert_eq!(alice.refused(invite("club", "bob")).await, "bad_request");
    // Carol cannot answer Bob's invitation, nor one that does not exist.
    let reply = |id: &str, accept: bool| json!({"type": "invite_reply", "invitation": id, "accept": accept});
    assert_eq!(carol.refused(reply(&id, true)).await, "not_found");
    assert_eq!(
        bob.refused(reply("01NOSUCHINVITATION", true)).await,
        "not_found"
    );
    assert_eq!(bob.refused(reply("not an id", true)).await, "bad_request");

    // Accepting: Bob is a member, everyone hears the existing membership event, Alice hears
    // the answer.
    bob.ok(reply(&id, true)).await;
    let joined = alice
        .event_where("membership", |m| m["room"] == "#club" && m["user"] == "bob")
        .await;
    assert_eq!(joined["change"], "joined");
    bob.event_where("membership", |m| m["room"] == "#club" && m["user"] == "bob")
        .await;
    let answered = json!({"type": "invitation_answered", "id": id, "room": "#club",
                          "user": "bob", "accepted": true});
    assert_eq!(alice.event("invitation_answered").await, answered);
    assert_eq!(bob.event("invitation_answered").await, answered);
    let members = bob
        .request(json!({"type": "members", "room": "#club"}))
        .await;
    assert_eq!(members_of(&members), ["alice", "bob"]);
    assert_eq!(bob.say_ok("#club").await, "ack");
    assert_eq!(alice.event("message").await["sender"], "bob");
    assert_eq!(
        bob.request(json!({"type": "invitations"})).await["invitations"],
        json!([])
    );
    // Answered already; a member now.
    assert_eq!(bob.refused(reply(&id, true)).await, "not_found");
    assert_eq!(alice.refused(invite("#club", "bob")).await, "conflict");

    // Declining: no membership, the invitation is gone, Bob (the inviter) hears it.
    bob.ok(json!({"type": "invite", "room": "#club", "user": "carol"}))
        .await;
    let to_carol = carol.event("invitation").await;
    assert_eq!(to_carol["from"], "bob");
    let carol_id = to_carol["id"].as_str().unwrap().to_owned();
    carol.ok(reply(&carol_id, false)).await;
    let declined = bob.event("invitation_answered").await;
    assert_eq!(
        (&declined["user"], &declined["accepted"]),
        (&json!("carol"), &json!(false))
    );
    assert_eq!(carol.refused(reply(&carol_id, false)).await, "not_found");
    let members = alice
        .request(json!({"type": "members", "room": "#club"}))
        .await;
    assert_eq!(members_of(&members), ["alice", "bob"]);
    alice.quiet(Duration::from_millis(200)).await;

    // REST: invite, list, accept, decline.
    let dave = server.register("dave").await;
    let (status, body) = call(
        &server,
        "POST",
        "/api/v1/rooms/club/invitations",
        Some(json!({"user": "dave"})),
        Some(&alice_token),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let (status, listed) = call(&server, "GET", "/api/v1/invitations", None, Some(&dave)).await;
    assert_eq!(status, 200);
    assert_eq!(listed["type"], "invitations");
    let dave_id = listed["invitations"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(listed["invitations"][0]["room"], "#club");
    let accept = format!("/api/v1/invitations/{dave_id}/accept");
    assert_eq!(
        call(&server, "POST", &accept, None, Some(&carol_token))
            .await
            .0,
        404
    );
    assert_eq!(
        call(&server, "POST", &accept, None, Some(&dave)).await.0,
        204
    );
    assert_eq!(alice.event("invitation_answered").await["user"], "dave");
    let (_, members) = call(
        &server,
        "GET",
        "/api/v1/rooms/club/members",
        None,
        Some(&dave),
    )
    .await;
    assert_eq!(members_of(&members), ["alice", "bob", "dave"]);
    assert_eq!(
        call(&server, "POST", &accept, None, Some(&dave)).await.0,
        404
    );

    let invite_carol = call(
        &server,
        "POST",
        "/api/v1/rooms/%23club/invitations",
        Some(json!({"user": "carol"})),
        Some(&bob_token),
    )
    .await;
    assert_eq!(invite_carol.0, 204);
    let again = carol.event("invitation").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let decline = format!("/api/v1/invitations/{again}/decline");
    assert_eq!(
        call(&server, "POST", &decline, None, Some(&carol_token))
            .await
            .0,
        204
    );
    assert_eq!(
        call(&server, "POST", &decline, None, Some(&carol_token))
            .await
            .0,
        404
    );
    for (body, token, status) in [
        (json!({"user": "bob"}), &carol_token, 403),
        (json!({"user": "nobody"}), &alice_token, 404),
        (json!({"user": "bob"}), &alice_token, 409),
        (json!({"nobody": 1}), &alice_token, 400),
    ] {
        let (got, reply) = call(
            &server,
            "POST",
            "/api/v1/rooms/club/invitations",
            Some(body.clone()),
            Some(token),
        )
        .await;
        assert_eq!(got, status, "{body}: {reply}");
    }
    assert_eq!(
        call(&server, "GET", "/api/v1/invitations", None, None)
            .await
            .0,
        401
    );
}

impl Peer {
    /// Posts a message; returns the answer's type.
    async fn say_ok(&mut self, receiver: &str) -> String {
        let reply = self
            .request(json!({"type": "message", "receiver": receiver, "content": "hello"}))
            .await;
        reply["type"].as_str().unwrap().to_owned()
    }
}

#[tokio::test]
async fn pending_invitations_are_bounded() {
    let server = TestServer::start_with(|config| config.social.max_pending_invitations = 1).await;
    let (_, mut alice) = peer(&server, "alice").await;
    server.register("bob").await;
    alice.ok(json!({"type": "join", "room": "#one"})).await;
    alice.ok(json!({"type": "join", "room": "#two"})).await;
    alice
        .ok(json!({"type": "invite", "room": "#one", "user": "bob"}))
        .await;
    let refused = alice
        .refused(json!({"type": "invite", "room": "#two", "user": "bob"}))
        .await;
    assert_eq!(refused, "too_large");
    // The one already pending is still fine to repeat.
    alice
        .ok(json!({"type": "invite", "room": "#one", "user": "bob"}))
        .await;
}

#[tokio::test]
async fn invitations_and_contacts_survive_a_restart() {
    let server = TestServer::start().await;
    let (alice_token, mut alice) = loner(&server, "alice").await;
    let (bob_token, bob) = loner(&server, "bob").await;
    drop(bob);
    alice.ok(json!({"type": "join", "room": "#club"})).await;
    alice
        .ok(json!({"type": "invite", "room": "#club", "user": "bob"}))
        .await;
    alice
        .ok(json!({"type": "add_contact", "user": "bob"}))
        .await;
    alice
        .ok(json!({"type": "set_profile", "display_name": "Alice"}))
        .await;
    drop(alice);
    let dir = server.dir.clone();
    let temp = server.stop().await;

    let server = TestServer::start_in(dir, |_| {}).await;
    let mut alice = Peer::new(server.connect(&alice_token).await);
    // Bob was offline when invited: he sees it by listing.
    let mut bob = Peer::new(server.connect(&bob_token).await);
    let listed = bob.request(json!({"type": "invitations"})).await;
    let invitations = listed["invitations"].as_array().unwrap();
    assert_eq!(invitations.len(), 1, "{listed}");
    assert_eq!(
        (&invitations[0]["room"], &invitations[0]["from"]),
        (&json!("#club"), &json!("alice"))
    );
    // The contact survived too: Bob's presence still reaches Alice, who shares no room with him.
    let online = alice.event_where("presence", |p| p["user"] == "bob").await;
    assert_eq!(online["status"], "online");
    assert_eq!(
        alice.request(json!({"type": "contacts"})).await["contacts"][0]["username"],
        "bob"
    );
    let profile = bob
        .request(json!({"type": "profile", "user": "alice"}))
        .await;
    assert_eq!(profile["display_name"], "Alice");

    let id = invitations[0]["id"].clone();
    bob.ok(json!({"type": "invite_reply", "invitation": id, "accept": true}))
        .await;
    assert_eq!(alice.event("invitation_answered").await["accepted"], true);
    drop((alice, bob));
    server.stop().await;
    drop(temp);
}

// ---------------------------------------------------------------------------------------------
// Invite links

#[tokio::test]
async fn invite_links_are_bounded_in_uses_time_and_revocable() {
    let server = TestServer::start().await;
    let (alice_token, mut alice) = peer(&server, "alice").await;
    let (_, mut bob) = peer(&server, "bob").await;
    let (carol_token, mut carol) = peer(&server, "carol").await;
    alice.ok(json!({"type": "join", "room": "#club"})).await;

    // One use.
    let link = alice
        .request(json!({"type": "create_invite", "room": "#club", "max_uses": 1}))
        .await;
    assert_eq!(link["type"], "invite_link", "{link}");
    let code = link["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 22);
    assert!(code
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    assert_eq!(link["url_path"], format!("/invite/{code}"));
    assert_eq!(
        (
            &link["room"],
            &link["max_uses"],
            &link["uses"],
            &link["creator"]
        ),
        (&json!("#club"), &json!(1), &json!(0), &json!("alice"))
    );
    assert!(link["expires"].as_str().unwrap().ends_with('Z'));

    let info = bob
        .request(json!({"type": "invite_info", "code": code}))
        .await;
    assert_eq!(
        (
            &info["type"],
            &info["room"],
            &info["valid"],
            &info["member"]
        ),
        (
            &json!("invite_info"),
            &json!("#club"),
            &json!(true),
            &json!(false)
        )
    );
    let redeemed = bob.ok(json!({"type": "redeem_invite", "code": code})).await;
    assert_eq!(redeemed["receiver"], "#club");
    let joined = alice
        .event_where("membership", |m| m["room"] == "#club" && m["user"] == "bob")
        .await;
    assert_eq!(joined["change"], "joined");
    assert_eq!(bob.say_ok("#club").await, "ack");
    // Used up: gone for the next one, and it is no longer listed.
    assert_eq!(
        carol
            .refused(json!({"type": "redeem_invite", "code": code}))
            .await,
        "gone"
    );
    let info = carol
        .request(json!({"type": "invite_info", "code": code}))
        .await;
    assert_eq!(
        (&info["valid"], &info["reason"], &info["uses"]),
        (&json!(false), &json!("used_up"), &json!(1))
    );
    let links = alice
        .request(json!({"type": "invite_links", "room": "#club"}))
        .await;
    assert_eq!(links["links"], json!([]));

    // Two uses; a member redeeming counts none.
    let link = alice
        .request(json!({"type": "create_invite", "room": "#club", "max_uses": 2}))
        .await;
    let code2 = link["code"].as_str().unwrap().to_owned();
    alice
        .ok(json!({"type": "redeem_invite", "code": code2}))
        .await;
    let info = alice
        .request(json!({"type": "invite_info", "code": code2}))
        .await;
    assert_eq!((&info["uses"], &info["member"]), (&json!(0), &json!(true)));
    let links = bob
        .request(json!({"type": "invite_links", "room": "#club"}))
        .await;
    assert_eq!(links["type"], "invite_links");
    assert_eq!(links["room"], "#club");
    assert_eq!(links["links"].as_array().unwrap().len(), 1);
    assert_eq!(links["links"][0]["code"], json!(code2));
    // Only members list a room's links.
    assert_eq!(
        carol
            .refused(json!({"type": "invite_links", "room": "#club"}))
            .await,
        "forbidden"
    );

    // Revoking: by a non-creator who is no moderator, refused; by the creator, gone.
    assert_eq!(
        bob.refused(json!({"type": "revoke_invite", "code": code2}))
            .await,
        "forbidden"
    );
    alice
        .ok(json!({"type": "revoke_invite", "code": code2}))
        .await;
    alice
        .ok(json!({"type": "revoke_invite", "code": code2}))
        .await;
    assert_eq!(
        carol
            .refused(json!({"type": "redeem_invite", "code": code2}))
            .await,
        "gone"
    );
    let info = carol
        .request(json!({"type": "invite_info", "code": code2}))
        .await;
    assert_eq!(info["reason"], "revoked");

    // Expiry.
    let link = alice
        .request(json!({"type": "create_invite", "room": "#club", "expires_in_secs": 1}))
        .await;
    let code3 = link["code"].as_str().unwrap().to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let info = carol
            .request(json!({"type": "invite_info", "code": code3}))
            .await;
        if info["reason"] == "expired" {
            assert_eq!(info["valid"], false);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never expired: {info}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        carol
            .refused(json!({"type": "redeem_invite", "code": code3}))
            .await,
        "gone"
    );

    // Unknown and malformed codes; bounds; non-members.
    let code_frame = |kind: &str, code: &str| json!({"type": kind, "code": code});
    for kind in ["redeem_invite", "revoke_invite", "invite_info"] {
        assert_eq!(
            carol.refused(code_frame(kind, "NoSuchCode")).await,
            "not_found"
        );
        assert_eq!(
            carol.refused(code_frame(kind, "bad/code")).await,
            "bad_request"
        );
    }
    let create = |extra: Value| {
        let mut frame = json!({"type": "create_invite", "room": "#club"});
        for (k, v) in extra.as_object().unwrap() {
            frame[k] = v.clone();
        }
        frame
    };
    for (extra, code) in [
        (json!({"max_uses": 0}), "bad_request"),
        (json!({"max_uses": 1001}), "bad_request"),
        (json!({"expires_in_secs": 0}), "bad_request"),
        (json!({"expires_in_secs": 2_592_001}), "bad_request"),
        (json!({"expires_in_secs": -5}), "bad_request"),
    ] {
        assert_eq!(alice.refused(create(extra.clone())).await, code, "{extra}");
    }
    assert_eq!(carol.refused(create(json!({}))).await, "forbidden");
    let nowhere = json!({"type": "create_invite", "room": "#nowhere"});
    assert_eq!(carol.refused(nowhere).await, "not_found");
    // Defaults: the configured use limit and a week.
    let default = alice.request(create(json!({}))).await;
    assert_eq!(default["max_uses"], 1000);
    let maxed = alice
        .request(create(
            json!({"expires_in_secs": 2_592_000, "max_uses": 1000}),
        ))
        .await;
    assert_eq!(maxed["type"], "invite_link");

    // REST.
    let (status, link) = call(
        &server,
        "POST",
        "/api/v1/rooms/club/invites",
        Some(json!({"max_uses": 1, "expires_in_secs": 60})),
        Some(&alice_token),
    )
    .await;
    assert_eq!(status, 201, "{link}");
    assert_eq!(link["type"], "invite_link");
    let rest_code = link["code"].as_str().unwrap().to_owned();
    let (status, _) = call(
        &server,
        "POST",
        "/api/v1/rooms/club/invites",
        None,
        Some(&alice_token),
    )
    .await;
    assert_eq!(status, 201, "an empty body takes the defaults");
    let (status, links) = call(
        &server,
        "GET",
        "/api/v1/rooms/%23club/invites",
        None,
        Some(&alice_token),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(links["type"], "invite_links");
    assert!(links["links"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["code"] == json!(rest_code)));
    assert_eq!(
        call(
            &server,
            "GET",
            "/api/v1/rooms/club/invites",
            None,
            Some(&carol_token)
        )
        .await
        .0,
        403
    );
    let info_path = format!("/api/v1/invites/{rest_code}");
    let (status, info) = call(&server, "GET", &info_path, None, Some(&carol_token)).await;
    assert_eq!(status, 200);
    assert_eq!(
        (&info["type"], &info["room"], &info["valid"]),
        (&json!("invite_info"), &json!("#club"), &json!(true))
    );
    assert_eq!(call(&server, "GET", &info_path, None, None).await.0, 401);
    let redeem = format!("/api/v1/invites/{rest_code}/redeem");
    let (status, body) = call(&server, "POST", &redeem, None, Some(&carol_token)).await;
    assert_eq!((status, body), (200, json!({"room": "#club"})));
    let dave = server.register("dave").await;
    let (status, body) = call(&server, "POST", &redeem, None, Some(&dave)).await;
    assert_eq!((status, body["code"].as_str()), (410, Some("gone")));
    assert_eq!(
        call(&server, "DELETE", &info_path, None, Some(&dave))
            .await
            .0,
        403
    );
    assert_eq!(
        call(&server, "DELETE", &info_path, None, Some(&alice_token))
            .await
            .0,
        204
    );
    let (_, info) = call(&server, "GET", &info_path, None, Some(&dave)).await;
    assert_eq!(info["reason"], "revoked");
    assert_eq!(
        call(
            &server,
            "POST",
            "/api/v1/invites/NoSuchCode/redeem",
            None,
            Some(&dave)
        )
        .await
        .0,
        404
    );
    assert_eq!(
        call(
            &server,
            "GET",
            "/api/v1/invites/NoSuchCode",
            None,
            Some(&dave)
        )
        .await
        .0,
        404
    );
    let (status, _) = call(
        &server,
        "POST",
        "/api/v1/rooms/club/invites",
        Some(json!({"max_uses": 0})),
        Some(&alice_token),
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn live_invite_links_per_room_are_bounded() {
    let server = TestServer::start_with(|config| config.social.max_invite_links = 2).await;
    let (_, mut alice) = peer(&server, "alice").await;
    let create = json!({"type": "create_invite", "room": "#general", "max_uses": 1});
    let first = alice.request(create.clone()).await;
    alice.request(create.clone()).await;
    assert_eq!(alice.refused(create.clone()).await, "too_large");
    // A used-up link no longer counts.
    let (_, mut bob) = loner(&server, "bob").await;
    bob.ok(json!({"type": "redeem_invite", "code": first["code"]}))
        .await;
    assert_eq!(alice.request(create).await["type"], "invite_link");
}

#[tokio::test]
async fn concurrent_redeems_take_exactly_the_uses_there_are() {
    let server = TestServer::start().await;
    let (alice_token, mut alice) = peer(&server, "alice").await;
    alice.ok(json!({"type": "join", "room": "#vip"})).await;
    let mut tokens = Vec::new();
    for i in 0..6 {
        tokens.push(server.register(&format!("guest{i}")).await);
    }
    for uses in [1, 3] {
        let link = alice
            .request(json!({"type": "create_invite", "room": "#vip", "max_uses": uses}))
            .await;
        let path = format!("/api/v1/invites/{}/redeem", link["code"].as_str().unwrap());
        let redeems = tokens
            .iter()
            .map(|token| call(&server, "POST", &path, None, Some(token)));
        let results = futures_util::future::join_all(redeems).await;
        let won = results.iter().filter(|(status, _)| *status == 200).count();
        let gone = results.iter().filter(|(status, _)| *status == 410).count();
        assert_eq!((won, gone), (uses, tokens.len() - uses), "{results:?}");
        let (_, info) = call(
            &server,
            "GET",
            &path.replace("/redeem", ""),
            None,
            Some(&alice_token),
        )
        .await;
        assert_eq!(info["uses"], uses as u64);
        // Start the next round with nobody in the room but Alice.
        for token in &tokens {
            let mut guest = Peer::new(server.connect(token).await);
            let _ = guest
                .request(json!({"type": "leave", "room": "#vip"}))
                .await;
        }
    }
}

#[tokio::test]
async fn registration_with_an_invite_code_joins_the_room() {
    let server = TestServer::start().await;
    let (alice_token, mut alice) = peer(&server, "alice").await;
    alice.ok(json!({"type": "join", "room": "#club"})).await;
    let link = alice
        .request(json!({"type": "create_invite", "room": "#club", "max_uses": 1}))
        .await;
    let code = link["code"].as_str().unwrap().to_owned();
    let register = |name: &str, invite: Value| {
        json!({"username": name, "password": PASSWORD, "invite": invite}).to_string()
    };

    // Bad codes fail the registration and create no user.
    for (name, invite, status, code_name) in [
        ("nina", json!("NoSuchCode"), 404, "not_found"),
        ("nina", json!("bad/code"), 400, "bad_request"),
        ("nina", json!(7), 400, "bad_request"),
    ] {
        let (got, body) = server
            .post("/api/v1/register", &register(name, invite.clone()), None)
            .await;
        assert_eq!(
            (got, body["code"].as_str()),
            (status, Some(code_name)),
            "{invite}"
        );
    }
    // A taken name fails before the code is used.
    let (status, _) = server
        .post("/api/v1/register", &register("alice", json!(code)), None)
        .await;
    assert_eq!(status, 409);
    let (_, info) = call(
        &server,
        "GET",
        &format!("/api/v1/invites/{code}"),
        None,
        Some(&alice_token),
    )
    .await;
    assert_eq!(info["uses"], 0);

    let (status, body) = server
        .post("/api/v1/register", &register("Nina", json!(code)), None)
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        (&body["user"]["username"], &body["room"]),
        (&json!("nina"), &json!("#club"))
    );
    let joined = alice
        .event_where("membership", |m| {
            m["room"] == "#club" && m["user"] == "nina"
        })
        .await;
    assert_eq!(joined["change"], "joined");
    let nina = body["token"].as_str().unwrap().to_owned();
    let client = server.connect(&nina).await;
    let rooms: Vec<&str> = client.ready["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["receiver"].as_str().unwrap())
        .collect();
    assert_eq!(rooms, ["#club", "#general"]);

    // Used up now: the next registration with it fails, and no user is created.
    let (status, body) = server
        .post("/api/v1/register", &register("oscar", json!(code)), None)
        .await;
    assert_eq!((status, body["code"].as_str()), (410, Some("gone")));
    let login = json!({"username": "oscar", "password": PASSWORD}).to_string();
    assert_eq!(server.post("/api/v1/login", &login, None).await.0, 401);
    let (status, _) = call(&server, "GET", "/api/v1/users/oscar", None, Some(&nina)).await;
    assert_eq!(status, 404);
    // The name is still free, and registering without a code works as before.
    let (status, body) = server
        .post("/api/v1/register", &register("oscar", Value::Null), None)
        .await;
    assert_eq!(status, 201);
    assert!(body.get("room").is_none(), "{body}");
    let (status, body) = server
        .post(
            "/api/v1/register",
            &register("nina2", json!("NoSuchCode")),
            None,
        )
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(
        server
            .post(
                "/api/v1/login",
                &json!({"username": "nina2", "password": PASSWORD}).to_string(),
                None
            )
            .await
            .0,
        401
    );
}
