//! Rooms with host powers against a real server: every role on every action over the
//! WebSocket and over REST, the effects of kicks, bans and mutes, password and private rooms,
//! topics, roles and ownership, deleting a room, and all of it surviving a restart.

mod common;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::{http, Client, LineClient, TestServer};
use serde_json::{json, Value};

const PW: &str = "open sesame 1";
const NEW_PW: &str = "another secret 2";

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A user with a token and one WebSocket session. Every frame it reads is kept in `seen`;
/// frames that arrive while it waits for an answer are queued for later reads, not lost.
struct Person {
    name: String,
    token: String,
    ws: Client,
    pending: VecDeque<Value>,
    seen: Vec<String>,
}

/// Presence, typing and membership notices come and go as users connect, join and leave:
/// a test waiting for a frame of another `kind` steps over them (and over `joined` always).
fn noise(frame: &Value, kind: &str) -> bool {
    matches!(frame["type"].as_str(), Some("presence" | "typing"))
        || (frame["type"] == "membership" && (frame["change"] == "joined" || kind != "membership"))
}

impl Person {
    async fn new(server: &TestServer, name: &str) -> Self {
        let (token, ws) = server.user(name).await;
        Self::with(name, token, ws)
    }

    fn with(name: &str, token: String, ws: Client) -> Self {
        let seen = vec![ws.ready.to_string()];
        Self {
            name: name.into(),
            token,
            ws,
            pending: VecDeque::new(),
            seen,
        }
    }

    async fn read(&mut self) -> Value {
        let frame = self.ws.recv().await;
        self.seen.push(frame.to_string());
        frame
    }

    /// Sends a frame with a fresh id and returns the frame answering it.
    async fn request(&mut self, mut frame: Value) -> Value {
        let id = format!("t{}", NEXT_ID.fetch_add(1, Ordering::Relaxed));
        frame["id"] = json!(id);
        self.ws.send(frame).await;
        loop {
            let reply = self.read().await;
            if reply["reply_to"] == json!(id) {
                return reply;
            }
            self.pending.push_back(reply);
        }
    }

    /// Sends a frame that must be acknowledged.
    async fn ok(&mut self, frame: Value) {
        let reply = self.request(frame.clone()).await;
        assert_eq!(reply["type"], "ack", "{}: {frame} got {reply}", self.name);
    }

    /// Sends a frame that must be refused with `code`; returns the error.
    async fn refused(&mut self, frame: Value, code: &str) -> Value {
        let reply = self.request(frame.clone()).await;
        assert_eq!(reply["code"], code, "{}: {frame} got {reply}", self.name);
        reply
    }

    /// The next frame of `kind`, stepping over noise only.
    async fn next(&mut self, kind: &str) -> Value {
        loop {
            let frame = match self.pending.pop_front() {
                Some(frame) => frame,
                None => self.read().await,
            };
            if frame["type"] == kind {
                return frame;
            }
            assert!(
                noise(&frame, kind),
                "{} waited for {kind}, got {frame}",
                self.name
            );
        }
    }

    /// Reads frames, whatever they are, until the `room_event` reporting `action`.
    async fn until_event(&mut self, action: &str) -> Value {
        loop {
            let frame = match self.pending.pop_front() {
                Some(frame) => frame,
                None => self.read().await,
            };
            if frame["type"] == "room_event" && frame["action"] == action {
                return frame;
            }
        }
    }

    /// Reads whatever else arrives for a while (into `seen`).
    async fn drain(&mut self) {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
        while let Ok(frame) = tokio::time::timeout_at(deadline, self.ws.recv()).await {
            self.seen.push(frame.to_string());
        }
    }

    /// The next `room_event`, which must report `action`.
    async fn event(&mut self, action: &str) -> Value {
        let event = self.next("room_event").await;
        assert_eq!(event["action"], action, "{}: {event}", self.name);
        event
    }

    /// Asserts nothing but noise arrives for a while.
    async fn quiet(&mut self) {
        while let Some(frame) = self.pending.pop_front() {
            assert!(noise(&frame, ""), "{} got {frame}", self.name);
        }
        let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
        while let Ok(frame) = tokio::time::timeout_at(deadline, self.ws.recv()).await {
            self.seen.push(frame.to_string());
            assert!(noise(&frame, ""), "{} got {frame}", self.name);
        }
    }

    /// Creates a room and reads its `created` event.
    async fn create(&mut self, frame: Value) {
        self.ok(frame).await;
        self.event("created").await;
    }

    async fn info(&mut self, room: &str) -> Value {
        let info = self
            .request(json!({"type": "room_info", "room": room}))
            .await;
        assert_eq!(info["type"], "room_info", "{info}");
        info
    }

    async fn members(&mut self, room: &str) -> Value {
        let members = self.request(json!({"type": "members", "room": room})).await;
        assert_eq!(members["type"], "members", "{members}");
        members["members"].clone()
    }

    async fn say(&mut self, room: &str, content: &str) -> Value {
        self.request(json!({"type": "message", "receiver": room, "content": content}))
            .await
    }
}

/// The way a request travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    Ws,
    Rest,
}

/// The REST request that does what a frame does: method, path and body.
fn rest_call(frame: &Value) -> (&'static str, String, Option<Value>) {
    let room = frame["room"].as_str().unwrap().trim_start_matches('#');
    let base = format!("/api/v1/rooms/{room}");
    let user = frame["user"].clone();
    match frame["type"].as_str().unwrap() {
        kind @ ("kick" | "ban" | "unban" | "unmute" | "transfer") => (
            "POST",
            format!("{base}/{kind}"),
            Some(json!({ "user": user })),
        ),
        "mute" => (
            "POST",
            format!("{base}/mute"),
            Some(json!({"user": user, "seconds": frame["seconds"]})),
        ),
        "set_topic" => ("PATCH", base, Some(json!({"topic": frame["topic"]}))),
        "set_password" => ("PATCH", base, Some(json!({"password": frame["password"]}))),
        "set_role" => (
            "PUT",
            format!("{base}/members/{}/role", user.as_str().unwrap()),
            Some(json!({"role": frame["role"]})),
        ),
        "delete_room" => ("DELETE", base, None),
        "join" => (
            "POST",
            format!("{base}/join"),
            frame.get("password").map(|pw| json!({ "password": pw })),
        ),
        "leave" => ("POST", format!("{base}/leave"), None),
        "room_info" => ("GET", base, None),
        other => panic!("no REST call for {other}"),
    }
}

fn status_of(code: &str) -> u16 {
    match code {
        "bad_request" => 400,
        "unauthorized" => 401,
        "forbidden" | "banned" | "muted" | "wrong_password" => 403,
        "not_found" => 404,
        "conflict" => 409,
        "too_large" => 413,
        "rate_limited" => 429,
        other => panic!("unexpected code {other}"),
    }
}

/// Does what `frame` says as `person`, over `via`; returns "ok" or the error code (and checks
/// that REST answered with the status that goes with it).
async fn act(server: &TestServer, via: Via, person: &mut Person, frame: Value) -> String {
    match via {
        Via::Ws => {
            let reply = person.request(frame).await;
            match reply["type"].as_str() {
                Some("error") => reply["code"].as_str().unwrap().to_owned(),
                _ => "ok".into(),
            }
        }
        Via::Rest => {
            let (method, path, body) = rest_call(&frame);
            let body = body.map(|b| b.to_string());
            let (status, reply) = http(
                server.addr,
                method,
                &path,
                body.as_deref(),
                Some(&person.token),
            )
            .await;
            person.seen.push(reply.to_string());
            if (200..300).contains(&status) {
                return "ok".into();
            }
            let code = reply["code"].as_str().unwrap_or("").to_owned();
            assert_eq!(status, status_of(&code), "{method} {path}: {reply}");
            code
        }
    }
}

async fn expect(server: &TestServer, via: Via, person: &mut Person, frame: Value, outcome: &str) {
    let got = act(server, via, person, frame.clone()).await;
    assert_eq!(got, outcome, "{} via {via:?}: {frame}", person.name);
}

/// Everyone a permission test needs, in `#den`: the owner olga, moderators mona and mike,
/// members mem and max, the outsider out (never joined) and bad (banned).
struct Cast {
    olga: Person,
    mona: Person,
    mike: Person,
    mem: Person,
    max: Person,
    out: Person,
    bad: Person,
}

async fn cast(server: &TestServer) -> Cast {
    let mut olga = Person::new(server, "olga").await;
    olga.create(json!({"type": "create_room", "room": "#den"}))
        .await;
    let mut people = Vec::new();
    for name in ["mona", "mike", "mem", "max", "bad"] {
        let mut person = Person::new(server, name).await;
        person.ok(json!({"type": "join", "room": "#den"})).await;
        people.push(person);
    }
    let out = Person::new(server, "out").await;
    for moderator in ["mona", "mike"] {
        olga.ok(
            json!({"type": "set_role", "room": "#den", "user": moderator, "role": "moderator"}),
        )
        .await;
    }
    olga.ok(json!({"type": "ban", "room": "#den", "user": "bad"}))
        .await;
    let bad = people.pop().unwrap();
    let max = people.pop().unwrap();
    let mem = people.pop().unwrap();
    let mike = people.pop().unwrap();
    let mona = people.pop().unwrap();
    Cast {
        olga,
        mona,
        mike,
        mem,
        max,
        out,
        bad,
    }
}

/// Every action an owner or moderator may take, done to `target` in `#den`.
fn host_actions(target: &str) -> Vec<Value> {
    vec![
        json!({"type": "kick", "room": "#den", "user": target}),
        json!({"type": "ban", "room": "#den", "user": target}),
        json!({"type": "unban", "room": "#den", "user": target}),
        json!({"type": "mute", "room": "#den", "user": target, "seconds": 60}),
        json!({"type": "unmute", "room": "#den", "user": target}),
        json!({"type": "set_topic", "room": "#den", "topic": "hijacked"}),
        json!({"type": "set_password", "room": "#den", "password": "hijacked pw"}),
        json!({"type": "set_password", "room": "#den", "password": null}),
    ]
}

/// Every action only the owner may take.
fn owner_actions(target: &str) -> Vec<Value> {
    vec![
        json!({"type": "set_role", "room": "#den", "user": target, "role": "moderator"}),
        json!({"type": "set_role", "room": "#den", "user": target, "role": "member"}),
        json!({"type": "transfer", "room": "#den", "user": target}),
        json!({"type": "delete_room", "room": "#den"}),
    ]
}

/// The actions that act on a user, done by `actor`'s kind of host to `target`.
fn acts_on(target: &str) -> Vec<Value> {
    vec![
        json!({"type": "kick", "room": "#den", "user": target}),
        json!({"type": "ban", "room": "#den", "user": target}),
        json!({"type": "mute", "room": "#den", "user": target, "seconds": 60}),
        json!({"type": "unmute", "room": "#den", "user": target}),
    ]
}

async fn permission_matrix(via: Via) {
    let server = TestServer::start().await;
    let mut c = cast(&server).await;
    let s = &server;

    // Members, outsiders and the banned hold no powers.
    for frame in host_actions("max").into_iter().chain(owner_actions("max")) {
        expect(s, via, &mut c.mem, frame.clone(), "forbidden").await;
        expect(s, via, &mut c.out, frame.clone(), "forbidden").await;
        expect(s, via, &mut c.bad, frame, "banned").await;
    }
    // Moderators: no owner-only actions, nothing done to the owner or another moderator.
    for frame in owner_actions("max") {
        expect(s, via, &mut c.mona, frame, "forbidden").await;
    }
    for target in ["olga", "mike"] {
        for frame in acts_on(target) {
            expect(s, via, &mut c.mona, frame, "forbidden").await;
        }
    }
    for frame in acts_on("mona") {
        expect(s, via, &mut c.mike, frame, "forbidden").await;
    }
    // Nobody acts on themselves.
    for frame in acts_on("olga") {
        expect(s, via, &mut c.olga, frame, "forbidden").await;
    }
    for frame in acts_on("mona") {
        expect(s, via, &mut c.mona, frame, "forbidden").await;
    }
    for frame in &owner_actions("olga")[..3] {
        expect(s, via, &mut c.olga, frame.clone(), "forbidden").await;
    }
    // Users and rooms that do not exist; users who are not members.
    for frame in acts_on("ghost").into_iter().chain(owner_actions("ghost")) {
        if frame["type"] != "delete_room" {
            expect(s, via, &mut c.olga, frame, "not_found").await;
        }
    }
    for frame in [
        json!({"type": "kick", "room": "#den", "user": "out"}),
        json!({"type": "mute", "room": "#den", "user": "out", "seconds": 5}),
        json!({"type": "set_role", "room": "#den", "user": "out", "role": "moderator"}),
        json!({"type": "transfer", "room": "#den", "user": "out"}),
    ] {
        expect(s, via, &mut c.olga, frame, "not_found").await;
    }
    for mut frame in host_actions("max").into_iter().chain(owner_actions("max")) {
        frame["room"] = json!("#nowhere");
        expect(s, via, &mut c.olga, frame, "not_found").await;
    }
    // Bad input.
    for (frame, code) in [
        (
            json!({"type": "mute", "room": "#den", "user": "max", "seconds": 0}),
            "bad_request",
        ),
        (
            json!({"type": "mute", "room": "#den", "user": "max", "seconds": 2_592_001}),
            "bad_request",
        ),
        (
            json!({"type": "set_role", "room": "#den", "user": "max", "role": "owner"}),
            "bad_request",
        ),
        (
            json!({"type": "set_topic", "room": "#den", "topic": "t".repeat(513)}),
            "too_large",
        ),
        (
            json!({"type": "set_password", "room": "#den", "password": "short"}),
            "bad_request",
        ),
    ] {
        expect(s, via, &mut c.olga, frame, code).await;
    }
    // Nobody holds powers in #general; the owner cannot walk away.
    expect(
        s,
        via,
        &mut c.olga,
        json!({"type": "kick", "room": "#general", "user": "mem"}),
        "forbidden",
    )
    .await;
    expect(
        s,
        via,
        &mut c.olga,
        json!({"type": "leave", "room": "#den"}),
        "conflict",
    )
    .await;
    // A public room can be looked at by anyone.
    expect(
        s,
        via,
        &mut c.out,
        json!({"type": "room_info", "room": "#den"}),
        "ok",
    )
    .await;

    // None of that changed anything.
    let info = c.olga.info("#den").await;
    assert_eq!(info["topic"], "");
    assert_eq!(info["has_password"], false);
    assert_eq!(info["owner"], "olga");
    assert_eq!(info["role"], "owner");
    assert_eq!(info["members"], 5);
    assert_eq!(info["banned"], json!(["bad"]));
    assert_eq!(
        c.olga.members("#den").await,
        json!([
            {"username": "max", "online": true},
            {"username": "mem", "online": true},
            {"username": "mike", "online": true, "role": "moderator"},
            {"username": "mona", "online": true, "role": "moderator"},
            {"username": "olga", "online": true, "role": "owner"},
        ])
    );

    // What moderators may do, they can do.
    for frame in [
        json!({"type": "mute", "room": "#den", "user": "max", "seconds": 60}),
        json!({"type": "unmute", "room": "#den", "user": "max"}),
        json!({"type": "set_topic", "room": "#den", "topic": "by mona"}),
        json!({"type": "set_password", "room": "#den", "password": PW}),
        json!({"type": "set_password", "room": "#den", "password": null}),
        json!({"type": "kick", "room": "#den", "user": "max"}),
    ] {
        expect(s, via, &mut c.mona, frame, "ok").await;
    }
    let join = json!({"type": "join", "room": "#den"});
    expect(s, via, &mut c.max, join.clone(), "ok").await;
    expect(
        s,
        via,
        &mut c.mona,
        json!({"type": "ban", "room": "#den", "user": "max"}),
        "ok",
    )
    .await;
    expect(s, via, &mut c.max, join.clone(), "banned").await;
    expect(
        s,
        via,
        &mut c.mona,
        json!({"type": "unban", "room": "#den", "user": "max"}),
        "ok",
    )
    .await;
    expect(s, via, &mut c.max, join.clone(), "ok").await;
    expect(
        s,
        via,
        &mut c.mona,
        json!({"type": "unban", "room": "#den", "user": "bad"}),
        "ok",
    )
    .await;
    expect(s, via, &mut c.bad, join.clone(), "ok").await;

    // What only the owner may do, the owner can do: also to moderators.
    expect(
        s,
        via,
        &mut c.olga,
        json!({"type": "kick", "room": "#den", "user": "mike"}),
        "ok",
    )
    .await;
    expect(
        s,
        via,
        &mut c.olga,
        json!({"type": "set_role", "room": "#den", "user": "mem", "role": "moderator"}),
        "ok",
    )
    .await;
    expect(
        s,
        via,
        &mut c.mem,
        json!({"type": "mute", "room": "#den", "user": "max", "seconds": 30}),
        "ok",
    )
    .await;
    expect(
        s,
        via,
        &mut c.olga,
        json!({"type": "set_role", "room": "#den", "user": "mem", "role": "member"}),
        "ok",
    )
    .await;
    expect(
        s,
        via,
        &mut c.mem,
        json!({"type": "unmute", "room": "#den", "user": "max"}),
        "forbidden",
    )
    .await;
    expect(
        s,
        via,
        &mut c.olga,
        json!({"type": "transfer", "room": "#den", "user": "mona"}),
        "ok",
    )
    .await;
    expect(
        s,
        via,
        &mut c.olga,
        json!({"type": "delete_room", "room": "#den"}),
        "forbidden",
    )
    .await;
    expect(
        s,
        via,
        &mut c.mona,
        json!({"type": "delete_room", "room": "#den"}),
        "ok",
    )
    .await;
    expect(
        s,
        via,
        &mut c.mona,
        json!({"type": "room_info", "room": "#den"}),
        "not_found",
    )
    .await;
    server.stop().await;
}

#[tokio::test]
async fn every_role_on_every_action_over_the_websocket() {
    permission_matrix(Via::Ws).await;
}

#[tokio::test]
async fn every_role_on_every_action_over_rest() {
    permission_matrix(Via::Rest).await;
}

#[tokio::test]
async fn creating_a_room_makes_its_owner() {
    let server = TestServer::start().await;
    let mut alice = Person::new(&server, "alice").await;
    let mut bob = Person::new(&server, "bob").await;

    alice
        .ok(json!({"type": "create_room", "room": "#Den", "topic": "our den"}))
        .await;
    let created = alice.event("created").await;
    assert_eq!(
        created,
        json!({"type": "room_event", "room": "#den", "action": "created", "actor": "alice",
               "topic": "our den", "has_password": false, "visibility": "public"})
    );
    bob.refused(json!({"type": "create_room", "room": "#den"}), "conflict")
        .await;
    bob.refused(
        json!({"type": "create_room", "room": "#general"}),
        "conflict",
    )
    .await;
    let info = bob.info("#den").await;
    assert_eq!(info["owner"], "alice");
    assert_eq!(info["topic"], "our den");
    assert_eq!(info["members"], 1);
    assert!(info.get("role").is_none(), "bob is not a member: {info}");
    assert!(info.get("banned").is_none(), "bob is no host: {info}");

    // A join that creates the room makes the joiner its owner too.
    bob.ok(json!({"type": "join", "room": "#bobs"})).await;
    bob.event("created").await;
    assert_eq!(bob.info("#bobs").await["role"], "owner");

    // #general has no owner: nobody holds powers there.
    let general = alice.info("#general").await;
    assert_eq!(general["owner"], Value::Null);
    assert_eq!(general["role"], "member");

    // Over REST: 201 with the room's info.
    let body = json!({"room": "cave", "visibility": "private", "password": PW}).to_string();
    let (status, info) = server
        .post("/api/v1/rooms", &body, Some(&alice.token))
        .await;
    assert_eq!(status, 201, "{info}");
    assert_eq!(info["type"], "room_info");
    assert_eq!(info["room"], "#cave");
    assert_eq!(info["visibility"], "private");
    assert_eq!(info["has_password"], true);
    assert_eq!(info["role"], "owner");
    let (status, refused) = server
        .post("/api/v1/rooms", r#"{"room": "cave"}"#, Some(&bob.token))
        .await;
    assert_eq!((status, refused["code"].as_str()), (409, Some("conflict")));
    let (status, refused) = server
        .post("/api/v1/rooms", r#"{"room": "bad name"}"#, Some(&bob.token))
        .await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (400, Some("bad_request"))
    );
    let (status, _) = server.post("/api/v1/rooms", r#"{"room": "x"}"#, None).await;
    assert_eq!(status, 401);
    assert!(alice.seen.iter().all(|frame| !frame.contains(PW)));
    server.stop().await;
}

#[tokio::test]
async fn kicked_users_may_rejoin_and_banned_ones_may_not() {
    let server = TestServer::start().await;
    let mut olga = Person::new(&server, "olga").await;
    let mut max = Person::new(&server, "max").await;
    let mut mem = Person::new(&server, "mem").await;
    olga.create(json!({"type": "create_room", "room": "#den"}))
        .await;
    max.ok(json!({"type": "join", "room": "#den"})).await;
    mem.ok(json!({"type": "join", "room": "#den"})).await;

    olga.ok(json!({"type": "kick", "room": "#den", "user": "max"}))
        .await;
    let kicked = json!({"type": "room_event", "room": "#den", "action": "kicked", "actor": "olga", "user": "max"});
    let left = json!({"type": "membership", "room": "#den", "user": "max", "change": "left"});
    for person in [&mut max, &mut mem, &mut olga] {
        assert_eq!(person.next("room_event").await, kicked, "{}", person.name);
        assert_eq!(person.next("membership").await, left, "{}", person.name);
    }
    max.refused(
        json!({"type": "message", "receiver": "#den", "content": "hey"}),
        "forbidden",
    )
    .await;
    max.ok(json!({"type": "join", "room": "#den"})).await;
    assert_eq!(max.say("#den", "back").await["type"], "ack");
    assert_eq!(mem.next("message").await["content"], "back");

    // A ban removes and keeps out, on every way in.
    olga.ok(json!({"type": "ban", "room": "#den", "user": "max"}))
        .await;
    let banned = json!({"type": "room_event", "room": "#den", "action": "banned", "actor": "olga", "user": "max"});
    for person in [&mut max, &mut mem] {
        assert_eq!(person.next("room_event").await, banned, "{}", person.name);
        assert_eq!(person.next("membership").await, left, "{}", person.name);
    }
    let refused = max
        .refused(json!({"type": "join", "room": "#den"}), "banned")
        .await;
    assert_eq!(refused["message"], "you are banned from #den");
    let (status, refused) = server
        .post("/api/v1/rooms/den/join", "", Some(&max.token))
        .await;
    assert_eq!((status, refused["code"].as_str()), (403, Some("banned")));
    max.refused(
        json!({"type": "message", "receiver": "#den", "content": "let me in"}),
        "forbidden",
    )
    .await;
    max.refused(
        json!({"type": "kick", "room": "#den", "user": "mem"}),
        "banned",
    )
    .await;
    let rooms = max.request(json!({"type": "rooms"})).await;
    assert!(rooms["rooms"]
        .as_array()
        .unwrap()
        .contains(&json!({"name": "#den", "members": 2, "joined": false})));
    assert_eq!(olga.info("#den").await["banned"], json!(["max"]));
    // A second ban changes nothing and says nothing.
    olga.ok(json!({"type": "ban", "room": "#den", "user": "max"}))
        .await;

    // Unbanned, they hear of it although they are not a member, and may join again.
    olga.ok(json!({"type": "unban", "room": "#den", "user": "max"}))
        .await;
    let unbanned = json!({"type": "room_event", "room": "#den", "action": "unbanned", "actor": "olga", "user": "max"});
    assert_eq!(max.next("room_event").await, unbanned);
    assert_eq!(mem.next("room_event").await, unbanned);
    max.ok(json!({"type": "join", "room": "#den"})).await;

    // Someone who never joined can be banned ahead.
    let mut out = Person::new(&server, "out").await;
    olga.ok(json!({"type": "ban", "room": "#den", "user": "out"}))
        .await;
    assert_eq!(out.event("banned").await["user"], "out");
    out.refused(json!({"type": "join", "room": "#den"}), "banned")
        .await;
    assert_eq!(max.event("banned").await["user"], "out");
    assert_eq!(mem.event("banned").await["user"], "out");
    max.quiet().await;
    mem.quiet().await;
    server.stop().await;
}

#[tokio::test]
async fn muted_members_cannot_post_until_the_mute_ends() {
    let server = TestServer::start().await;
    let mut olga = Person::new(&server, "olga").await;
    let mut max = Person::new(&server, "max").await;
    let mut mem = Person::new(&server, "mem").await;
    olga.create(json!({"type": "create_room", "room": "#den"}))
        .await;
    max.ok(json!({"type": "join", "room": "#den"})).await;
    mem.ok(json!({"type": "join", "room": "#den"})).await;

    olga.ok(json!({"type": "mute", "room": "#den", "user": "max", "seconds": 600}))
        .await;
    let muted = max.event("muted").await;
    assert_eq!(muted["actor"], "olga");
    assert_eq!(muted["user"], "max");
    let until = muted["until"].as_str().unwrap().to_owned();
    assert!(until.ends_with('Z') && until.len() == 24, "{until}");
    assert_eq!(mem.event("muted").await, muted);
    let members = olga.members("#den").await;
    assert_eq!(
        members[0],
        json!({"username": "max", "online": true, "muted_until": until})
    );
    assert_eq!(max.info("#den").await["muted_until"], json!(until));

    let refused = max
        .refused(
            json!({"type": "message", "receiver": "#den", "content": "can I speak?"}),
            "muted",
        )
        .await;
    assert_eq!(
        refused["message"],
        format!("you are muted in #den until {until}")
    );
    // Leaving and joining again does not end a mute.
    max.ok(json!({"type": "leave", "room": "#den"})).await;
    max.ok(json!({"type": "join", "room": "#den"})).await;
    max.refused(
        json!({"type": "message", "receiver": "#den", "content": "now?"}),
        "muted",
    )
    .await;
    // Elsewhere they may talk.
    assert_eq!(max.say("#general", "hi").await["type"], "ack");
    assert_eq!(mem.next("message").await["content"], "hi");
    let history = mem
        .request(json!({"type": "history", "receiver": "#den"}))
        .await;
    assert_eq!(history["messages"], json!([]), "nothing was stored");

    olga.ok(json!({"type": "unmute", "room": "#den", "user": "max"}))
        .await;
    assert_eq!(
        mem.event("unmuted").await,
        json!({"type": "room_event", "room": "#den", "action": "unmuted", "actor": "olga", "user": "max"})
    );
    max.event("unmuted").await;
    assert_eq!(max.say("#den", "thanks").await["type"], "ack");
    assert_eq!(mem.next("message").await["content"], "thanks");
    // Unmuting someone not muted is fine and says nothing.
    olga.ok(json!({"type": "unmute", "room": "#den", "user": "max"}))
        .await;

    // A short mute over REST runs out by itself.
    let (status, body) = server
        .post(
            "/api/v1/rooms/den/mute",
            r#"{"user": "max", "seconds": 1}"#,
            Some(&olga.token),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    max.event("muted").await;
    mem.event("muted").await;
    max.refused(
        json!({"type": "message", "receiver": "#den", "content": "muted"}),
        "muted",
    )
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let reply = max.say("#den", "free again").await;
        if reply["type"] == "ack" {
            break;
        }
        assert_eq!(reply["code"], "muted", "{reply}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "the mute never ended"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let message = mem.next("message").await;
    assert_eq!(message["content"], "free again");
    server.stop().await;
}

#[tokio::test]
async fn password_rooms_need_the_password_which_never_shows() {
    let server = TestServer::start().await;
    let mut olga = Person::new(&server, "olga").await;
    let mut max = Person::new(&server, "max").await;
    let mut mem = Person::new(&server, "mem").await;
    let mut out = Person::new(&server, "out").await;
    olga.ok(json!({"type": "create_room", "room": "#vault", "password": PW}))
        .await;
    assert_eq!(olga.event("created").await["has_password"], true);

    let refused = max
        .refused(json!({"type": "join", "room": "#vault"}), "wrong_password")
        .await;
    assert_eq!(refused["message"], "#vault needs a password");
    let refused = max
        .refused(
            json!({"type": "join", "room": "#vault", "password": "not it at all"}),
            "wrong_password",
        )
        .await;
    assert_eq!(refused["message"], "wrong password for #vault");
    max.ok(json!({"type": "join", "room": "#vault", "password": PW}))
        .await;
    // Over REST the same.
    for (body, status) in [("", 403), (r#"{"password": "not it at all"}"#, 403)] {
        let (got, reply) = server
            .post("/api/v1/rooms/vault/join", body, Some(&mem.token))
            .await;
        assert_eq!(
            (got, reply["code"].as_str()),
            (status, Some("wrong_password"))
        );
    }
    let body = json!({ "password": PW }).to_string();
    let (status, _) = server
        .post("/api/v1/rooms/vault/join", &body, Some(&mem.token))
        .await;
    assert_eq!(status, 204);
    let rooms = out.request(json!({"type": "rooms"})).await;
    assert!(rooms["rooms"]
        .as_array()
        .unwrap()
        .contains(&json!({"name": "#vault", "members": 3, "joined": false, "has_password": true})));

    // A new password is announced, never shown; the old one stops working.
    olga.ok(json!({"type": "set_password", "room": "#vault", "password": NEW_PW}))
        .await;
    let changed = json!({"type": "room_event", "room": "#vault", "action": "password_changed", "actor": "olga", "has_password": true});
    assert_eq!(max.next("room_event").await, changed);
    assert_eq!(mem.next("room_event").await, changed);
    out.refused(
        json!({"type": "join", "room": "#vault", "password": PW}),
        "wrong_password",
    )
    .await;
    out.ok(json!({"type": "join", "room": "#vault", "password": NEW_PW}))
        .await;
    out.ok(json!({"type": "leave", "room": "#vault"})).await;
    // Cleared over REST: anyone may join without one.
    let (status, info) = http(
        server.addr,
        "PATCH",
        "/api/v1/rooms/vault",
        Some(r#"{"password": null}"#),
        Some(&olga.token),
    )
    .await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["has_password"], false);
    let cleared = max.event("password_changed").await;
    assert_eq!(cleared["has_password"], false);
    out.ok(json!({"type": "join", "room": "#vault"})).await;

    for person in [&mut olga, &mut max, &mut mem, &mut out] {
        person.drain().await;
        for frame in &person.seen {
            assert!(
                !frame.contains(PW) && !frame.contains(NEW_PW),
                "{} saw a password: {frame}",
                person.name
            );
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn room_password_attempts_are_rate_limited() {
    let server = TestServer::start_with(|c| {
        c.rooms.password_attempts_burst = 3.0;
        c.rooms.password_attempts_per_sec = 0.001;
    })
    .await;
    let mut olga = Person::new(&server, "olga").await;
    let mut max = Person::new(&server, "max").await;
    olga.ok(json!({"type": "create_room", "room": "#vault", "password": PW}))
        .await;
    // Without a password nothing is tried, so nothing is spent.
    max.refused(json!({"type": "join", "room": "#vault"}), "wrong_password")
        .await;
    for _ in 0..2 {
        max.refused(
            json!({"type": "join", "room": "#vault", "password": "guess guess"}),
            "wrong_password",
        )
        .await;
    }
    let body = r#"{"password": "guess again"}"#;
    let (status, reply) = server
        .post("/api/v1/rooms/vault/join", body, Some(&max.token))
        .await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (403, Some("wrong_password"))
    );
    // The budget is spent, for the right password too, on every path.
    max.refused(
        json!({"type": "join", "room": "#vault", "password": PW}),
        "rate_limited",
    )
    .await;
    let body = json!({ "password": PW }).to_string();
    let (status, _) = server
        .post("/api/v1/rooms/vault/join", &body, Some(&max.token))
        .await;
    assert_eq!(status, 429);
    assert_eq!(olga.info("#vault").await["members"], 1);
    server.stop().await;
}

#[tokio::test]
async fn private_rooms_are_hidden_and_closed_to_outsiders() {
    let server = TestServer::start().await;
    let mut olga = Person::new(&server, "olga").await;
    let mut max = Person::new(&server, "max").await;
    olga.ok(
        json!({"type": "create_room", "room": "#hush", "visibility": "private", "topic": "shh"}),
    )
    .await;
    assert_eq!(olga.event("created").await["visibility"], "private");

    let rooms = max.request(json!({"type": "rooms"})).await;
    assert_eq!(
        rooms["rooms"],
        json!([{"name": "#general", "members": 2, "joined": true}])
    );
    let (status, rooms) = server.get("/api/v1/rooms", Some(&max.token)).await;
    assert_eq!(status, 200);
    assert_eq!(rooms["rooms"].as_array().unwrap().len(), 1, "{rooms}");
    let mine = olga.request(json!({"type": "rooms"})).await;
    assert_eq!(
        mine["rooms"][1],
        json!({"name": "#hush", "members": 1, "joined": true, "topic": "shh", "visibility": "private"})
    );

    let refused = max
        .refused(json!({"type": "join", "room": "#hush"}), "forbidden")
        .await;
    assert_eq!(refused["message"], "private room: you need an invitation");
    let (status, refused) = server
        .post("/api/v1/rooms/hush/join", "", Some(&max.token))
        .await;
    assert_eq!((status, refused["code"].as_str()), (403, Some("forbidden")));
    max.refused(json!({"type": "room_info", "room": "#hush"}), "forbidden")
        .await;
    max.refused(json!({"type": "members", "room": "#hush"}), "forbidden")
        .await;
    for path in ["/api/v1/rooms/hush", "/api/v1/rooms/hush/members"] {
        let (status, _) = server.get(path, Some(&max.token)).await;
        assert_eq!(status, 403, "{path}");
    }
    max.refused(
        json!({"type": "message", "receiver": "#hush", "content": "hello?"}),
        "forbidden",
    )
    .await;
    assert_eq!(olga.info("#hush").await["members"], 1);
    server.stop().await;
}

#[tokio::test]
async fn topic_changes_are_broadcast() {
    let server = TestServer::start().await;
    let mut olga = Person::new(&server, "olga").await;
    let mut max = Person::new(&server, "max").await;
    olga.create(json!({"type": "create_room", "room": "#den"}))
        .await;
    max.ok(json!({"type": "join", "room": "#den"})).await;

    olga.ok(json!({"type": "set_topic", "room": "#den", "topic": "<b>deploys</b> today"}))
        .await;
    let changed = json!({"type": "room_event", "room": "#den", "action": "topic_changed", "actor": "olga", "topic": "<b>deploys</b> today"});
    assert_eq!(max.next("room_event").await, changed);
    assert_eq!(olga.next("room_event").await, changed);
    assert_eq!(max.info("#den").await["topic"], "<b>deploys</b> today");
    let rooms = max.request(json!({"type": "rooms"})).await;
    assert_eq!(rooms["rooms"][0]["topic"], "<b>deploys</b> today");

    olga.refused(
        json!({"type": "set_topic", "room": "#den", "topic": "é".repeat(513)}),
        "too_large",
    )
    .await;
    // 512 characters is fine, however many bytes.
    olga.ok(json!({"type": "set_topic", "room": "#den", "topic": "é".repeat(512)}))
        .await;
    assert_eq!(max.event("topic_changed").await["topic"], "é".repeat(512));

    let (status, info) = http(
        server.addr,
        "PATCH",
        "/api/v1/rooms/%23den",
        Some(r#"{"topic": ""}"#),
        Some(&olga.token),
    )
    .await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["topic"], "");
    assert_eq!(max.event("topic_changed").await["topic"], "");
    let rooms = max.request(json!({"type": "rooms"})).await;
    assert_eq!(
        rooms["rooms"][0],
        json!({"name": "#den", "members": 2, "joined": true})
    );
    let (status, refused) = http(
        server.addr,
        "PATCH",
        "/api/v1/rooms/den",
        Some("{}"),
        Some(&olga.token),
    )
    .await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (400, Some("bad_request"))
    );
    max.quiet().await;
    server.stop().await;
}

#[tokio::test]
async fn roles_change_and_ownership_moves() {
    let server = TestServer::start().await;
    let mut olga = Person::new(&server, "olga").await;
    let mut max = Person::new(&server, "max").await;
    let mut mem = Person::new(&server, "mem").await;
    olga.create(json!({"type": "create_room", "room": "#den"}))
        .await;
    max.ok(json!({"type": "join", "room": "#den"})).await;
    mem.ok(json!({"type": "join", "room": "#den"})).await;

    olga.ok(json!({"type": "set_role", "room": "#den", "user": "max", "role": "moderator"}))
        .await;
    let promoted = json!({"type": "room_event", "room": "#den", "action": "role_changed", "actor": "olga", "user": "max", "role": "moderator"});
    assert_eq!(max.next("room_event").await, promoted);
    assert_eq!(mem.next("room_event").await, promoted);
    assert_eq!(max.info("#den").await["role"], "moderator");
    // Setting the role someone has changes nothing and says nothing.
    olga.ok(json!({"type": "set_role", "room": "#den", "user": "max", "role": "moderator"}))
        .await;
    max.ok(json!({"type": "mute", "room": "#den", "user": "mem", "seconds": 60}))
        .await;
    mem.event("muted").await;
    max.event("muted").await;

    // Over REST, back to member: the powers go with the role.
    let (status, body) = http(
        server.addr,
        "PUT",
        "/api/v1/rooms/den/members/max/role",
        Some(r#"{"role": "member"}"#),
        Some(&olga.token),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(mem.event("role_changed").await["role"], "member");
    max.event("role_changed").await;
    max.refused(
        json!({"type": "unmute", "room": "#den", "user": "mem"}),
        "forbidden",
    )
    .await;

    // Ownership moves; the old owner stays as a moderator.
    olga.ok(json!({"type": "transfer", "room": "#den", "user": "max"}))
        .await;
    let transferred = json!({"type": "room_event", "room": "#den", "action": "ownership_transferred", "actor": "olga", "user": "max"});
    assert_eq!(mem.next("room_event").await, transferred);
    assert_eq!(max.next("room_event").await, transferred);
    let info = mem.info("#den").await;
    assert_eq!(info["owner"], "max");
    assert_eq!(olga.info("#den").await["role"], "moderator");
    olga.refused(json!({"type": "delete_room", "room": "#den"}), "forbidden")
        .await;
    olga.refused(
        json!({"type": "set_role", "room": "#den", "user": "mem", "role": "moderator"}),
        "forbidden",
    )
    .await;
    // The old owner, now a moderator, may leave; the new owner may not.
    max.refused(json!({"type": "leave", "room": "#den"}), "conflict")
        .await;
    olga.ok(json!({"type": "leave", "room": "#den"})).await;
    let until = mem.info("#den").await["muted_until"].clone();
    assert!(until.is_string(), "mem is still muted");
    assert_eq!(
        mem.members("#den").await,
        json!([
            {"username": "max", "online": true, "role": "owner"},
            {"username": "mem", "online": true, "muted_until": until},
        ])
    );
    // Coming back, olga is a plain member.
    olga.ok(json!({"type": "join", "room": "#den"})).await;
    assert_eq!(olga.info("#den").await["role"], "member");
    server.stop().await;
}

#[tokio::test]
async fn deleting_a_room_erases_it_and_removes_everyone() {
    let server = TestServer::start().await;
    let mut olga = Person::new(&server, "olga").await;
    let mut max = Person::new(&server, "max").await;
    let mut mem = Person::new(&server, "mem").await;
    let mut out = Person::new(&server, "out").await;
    olga.create(
        json!({"type": "create_room", "room": "#tmp", "topic": "soon gone", "password": PW}),
    )
    .await;
    max.ok(json!({"type": "join", "room": "#tmp", "password": PW}))
        .await;
    mem.ok(json!({"type": "join", "room": "#tmp", "password": PW}))
        .await;
    olga.ok(json!({"type": "mute", "room": "#tmp", "user": "mem", "seconds": 600}))
        .await;
    olga.ok(json!({"type": "ban", "room": "#tmp", "user": "out"}))
        .await;
    assert_eq!(olga.say("#tmp", "one").await["type"], "ack");
    assert_eq!(max.say("#tmp", "two").await["type"], "ack");

    olga.ok(json!({"type": "delete_room", "room": "#tmp"}))
        .await;
    let deleted =
        json!({"type": "room_event", "room": "#tmp", "action": "room_deleted", "actor": "olga"});
    for person in [&mut olga, &mut max, &mut mem] {
        let name = person.name.clone();
        assert_eq!(person.until_event("room_deleted").await, deleted, "{name}");
        assert_eq!(
            person.next("membership").await,
            json!({"type": "membership", "room": "#tmp", "user": name, "change": "left"})
        );
    }
    let rooms = max.request(json!({"type": "rooms"})).await;
    assert_eq!(rooms["rooms"].as_array().unwrap().len(), 1, "{rooms}");
    max.refused(json!({"type": "history", "receiver": "#tmp"}), "not_found")
        .await;
    max.refused(
        json!({"type": "message", "receiver": "#tmp", "content": "hello?"}),
        "not_found",
    )
    .await;
    max.refused(json!({"type": "room_info", "room": "#tmp"}), "not_found")
        .await;

    // The name is free: a new room with nothing of the old one.
    max.ok(json!({"type": "join", "room": "#tmp"})).await;
    max.event("created").await;
    let info = max.info("#tmp").await;
    assert_eq!(info["owner"], "max");
    assert_eq!(info["topic"], "");
    assert_eq!(info["has_password"], false);
    assert_eq!(info["members"], 1);
    assert_eq!(info["banned"], json!([]));
    let history = max
        .request(json!({"type": "history", "receiver": "#tmp"}))
        .await;
    assert_eq!(history["messages"], json!([]));
    assert_eq!(max.say("#tmp", "fresh").await["seq"], 1);
    mem.ok(json!({"type": "join", "room": "#tmp"})).await;
    assert_eq!(mem.say("#tmp", "not muted here").await["type"], "ack");
    out.ok(json!({"type": "join", "room": "#tmp"})).await;

    // Over REST: only the owner, then 204.
    let (status, _) = http(
        server.addr,
        "DELETE",
        "/api/v1/rooms/tmp",
        None,
        Some(&mem.token),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = http(
        server.addr,
        "DELETE",
        "/api/v1/rooms/tmp",
        None,
        Some(&max.token),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(mem.until_event("room_deleted").await["actor"], "max");
    let (status, _) = http(
        server.addr,
        "DELETE",
        "/api/v1/rooms/tmp",
        None,
        Some(&max.token),
    )
    .await;
    assert_eq!(status, 404);
    server.stop().await;
}

#[tokio::test]
async fn rooms_and_powers_survive_a_restart() {
    let server = TestServer::start().await;
    let mut olga = Person::new(&server, "olga").await;
    let mut mona = Person::new(&server, "mona").await;
    let mut max = Person::new(&server, "max").await;
    let mut bad = Person::new(&server, "bad").await;
    let out = Person::new(&server, "out").await;
    olga.create(json!({"type": "create_room", "room": "#den", "topic": "kept", "password": PW}))
        .await;
    olga.create(json!({"type": "create_room", "room": "#hush", "visibility": "private"}))
        .await;
    olga.create(json!({"type": "create_room", "room": "#gone"}))
        .await;
    for person in [&mut mona, &mut max, &mut bad] {
        person
            .ok(json!({"type": "join", "room": "#den", "password": PW}))
            .await;
    }
    max.ok(json!({"type": "join", "room": "#gone"})).await;
    assert_eq!(max.say("#gone", "lost").await["type"], "ack");
    olga.ok(json!({"type": "set_role", "room": "#den", "user": "mona", "role": "moderator"}))
        .await;
    olga.ok(json!({"type": "mute", "room": "#den", "user": "max", "seconds": 3600}))
        .await;
    olga.ok(json!({"type": "ban", "room": "#den", "user": "bad"}))
        .await;
    olga.ok(json!({"type": "delete_room", "room": "#gone"}))
        .await;
    let before = olga.members("#den").await;
    let tokens = [&olga, &mona, &max, &bad, &out].map(|p| (p.name.clone(), p.token.clone()));
    drop((olga, mona, max, bad, out));
    let dir = server.dir.clone();
    let temp = server.stop().await;

    // Nothing of the deleted room is left in storage but its emptied, renamed row (checked in
    // the SQLite file; on PostgreSQL the store tests check the same).
    if common::pg::database().is_none() {
        let db = rusqlite::Connection::open(dir.join("confab.db")).unwrap();
        let count = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).unwrap() };
        assert_eq!(
            count("SELECT count(*) FROM messages WHERE content = 'lost'"),
            0
        );
        assert_eq!(
            count("SELECT count(*) FROM conversations WHERE name = '#gone'"),
            0
        );
        let gone = "(SELECT id FROM conversations WHERE deleted_ms IS NOT NULL)";
        for table in ["messages", "members", "cursors", "mutes", "bans"] {
            let sql = format!("SELECT count(*) FROM {table} WHERE conv_id IN {gone}");
            assert_eq!(count(&sql), 0, "{table}");
        }
        assert_eq!(
        count("SELECT count(*) FROM conversations WHERE deleted_ms IS NOT NULL AND name LIKE '~%' AND topic = ''"),
        1
    );
        drop(db);
    }

    let server = TestServer::start_in(dir, |_| {}).await;
    let mut people = Vec::new();
    for (name, token) in tokens {
        let ws = server.connect(&token).await;
        people.push(Person::with(&name, token, ws));
    }
    let [olga, mona, max, bad, out] = &mut people[..] else {
        unreachable!()
    };
    let info = olga.info("#den").await;
    assert_eq!(info["topic"], "kept");
    assert_eq!(info["has_password"], true);
    assert_eq!(info["owner"], "olga");
    assert_eq!(info["banned"], json!(["bad"]));
    let mut after = olga.members("#den").await;
    for member in after.as_array_mut().unwrap() {
        member["online"] = json!(false);
    }
    let mut before = before;
    for member in before.as_array_mut().unwrap() {
        member["online"] = json!(false);
    }
    assert_eq!(after, before, "roles and mutes");
    assert_eq!(mona.info("#den").await["role"], "moderator");
    max.refused(
        json!({"type": "message", "receiver": "#den", "content": "still muted?"}),
        "muted",
    )
    .await;
    bad.refused(
        json!({"type": "join", "room": "#den", "password": PW}),
        "banned",
    )
    .await;
    out.refused(json!({"type": "join", "room": "#den"}), "wrong_password")
        .await;
    out.ok(json!({"type": "join", "room": "#den", "password": PW}))
        .await;
    out.refused(json!({"type": "join", "room": "#hush"}), "forbidden")
        .await;
    let rooms = out.request(json!({"type": "rooms"})).await;
    let names: Vec<&str> = rooms["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|room| room["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["#den", "#general"]);
    max.refused(json!({"type": "room_info", "room": "#gone"}), "not_found")
        .await;
    assert!(
        max.ws.ready["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .all(|room| room["receiver"] != "#gone"),
        "{}",
        max.ws.ready
    );
    max.ok(json!({"type": "join", "room": "#gone"})).await;
    let history = max
        .request(json!({"type": "history", "receiver": "#gone"}))
        .await;
    assert_eq!(history["messages"], json!([]));
    mona.ok(json!({"type": "kick", "room": "#den", "user": "out"}))
        .await;
    drop(people);
    server.stop().await;
    drop(temp);
}

#[tokio::test]
async fn the_tcp_gateway_obeys_the_same_rules() {
    let server = TestServer::start().await;
    let mut olga = Person::new(&server, "olga").await;
    olga.create(json!({"type": "create_room", "room": "#den", "password": PW}))
        .await;
    let token = server.register("nc").await;
    let mut tcp = LineClient::connect(server.tcp_addr).await;
    tcp.send(json!({"type": "login", "token": token})).await;
    assert_eq!(tcp.recv().await.unwrap()["type"], "ready");

    tcp.send(json!({"type": "join", "id": "j1", "room": "#den"}))
        .await;
    let refused = tcp.recv_type("error").await;
    assert_eq!(
        (refused["reply_to"].as_str(), refused["code"].as_str()),
        (Some("j1"), Some("wrong_password"))
    );
    tcp.send(json!({"type": "join", "id": "j2", "room": "#den", "password": PW}))
        .await;
    assert_eq!(tcp.recv_type("ack").await["reply_to"], "j2");
    tcp.send(json!({"type": "kick", "id": "k", "room": "#den", "user": "olga"}))
        .await;
    assert_eq!(tcp.recv_type("error").await["code"], "forbidden");
    olga.ok(json!({"type": "mute", "room": "#den", "user": "nc", "seconds": 60}))
        .await;
    assert_eq!(tcp.recv_type("room_event").await["action"], "muted");
    tcp.send(json!({"type": "message", "id": "m", "receiver": "#den", "content": "hi"}))
        .await;
    assert_eq!(tcp.recv_type("error").await["code"], "muted");
    server.stop().await;
}
