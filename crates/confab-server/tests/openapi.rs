//! The OpenAPI document against the real server: it is served; every operation it describes is
//! routed (no `405`, no bare `404`) and asks for a token where it says so; and the answers of a
//! session that calls every operation have the statuses, headers and JSON shapes the document
//! gives them (no field missing, none undocumented).

mod common;

use std::collections::BTreeSet;
use std::io::Cursor;
use std::net::SocketAddr;

use common::{read_reply, Reply, TestServer, PASSWORD};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const DOCUMENT: &str = include_str!("../src/http/openapi.json");

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

// ---------------------------------------------------------------------------------------------
// A raw HTTP/1.1 client that keeps the headers

async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> Reply {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if method != "GET" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    read_reply(&mut stream).await
}

// ---------------------------------------------------------------------------------------------
// The document, and a strict check of JSON values against its schemas

fn document() -> Value {
    serde_json::from_str(DOCUMENT).unwrap()
}

fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str() {
        Some(reference) => {
            let target = doc
                .pointer(reference.strip_prefix('#').unwrap())
                .unwrap_or_else(|| panic!("{reference} does not resolve"));
            resolve(doc, target)
        }
        None => value,
    }
}

/// The schema with its `$ref` followed and its `allOf` merged into one.
fn flatten(doc: &Value, schema: &Value) -> Value {
    let schema = resolve(doc, schema);
    let Some(parts) = schema["allOf"].as_array() else {
        return schema.clone();
    };
    let mut merged = json!({});
    for part in parts {
        let part = flatten(doc, part);
        for (key, value) in part.as_object().unwrap() {
            match key.as_str() {
                "properties" => {
                    let props = merged["properties"]
                        .as_object()
                        .cloned()
                        .unwrap_or_default();
                    let mut props = props;
                    props.extend(value.as_object().unwrap().clone());
                    merged["properties"] = Value::Object(props);
                }
                "required" => {
                    let mut required = merged["required"].as_array().cloned().unwrap_or_default();
                    required.extend(value.as_array().unwrap().iter().cloned());
                    merged["required"] = Value::Array(required);
                }
                _ => merged[key] = value.clone(),
            }
        }
    }
    if let Some(nullable) = schema.get("nullable") {
        merged["nullable"] = nullable.clone();
    }
    merged
}

/// Checks `value` against `schema`, treating every object schema as closed: a field the
/// document does not name is an error, as is a required one that is missing.
fn validate(doc: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let schema = flatten(doc, schema);
    if value.is_null() && schema["nullable"] == true {
        return;
    }
    if let Some(options) = schema["enum"].as_array() {
        if !options.contains(value) {
            errors.push(format!("{at}: {value} is not one of {options:?}"));
        }
    }
    let kind = schema["type"].as_str().unwrap_or("");
    let right_type = match kind {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_u64() || value.is_i64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "" => true,
        other => panic!("{at}: unknown type {other}"),
    };
    if !right_type {
        errors.push(format!("{at}: {value} is not {kind}"));
        return;
    }
    if let (Some(min), Some(n)) = (schema["minimum"].as_f64(), value.as_f64()) {
        if n < min {
            errors.push(format!("{at}: {n} is below {min}"));
        }
    }
    if let Some(object) = value.as_object() {
        let props = schema["properties"].as_object();
        for required in schema["required"].as_array().into_iter().flatten() {
            let required = required.as_str().unwrap();
            if !object.contains_key(required) {
                errors.push(format!("{at}: `{required}` is missing"));
            }
        }
        if let Some(props) = props {
            for (key, field) in object {
                match props.get(key) {
                    Some(sub) => validate(doc, sub, field, &format!("{at}.{key}"), errors),
                    None => errors.push(format!("{at}: `{key}` is not documented")),
                }
            }
        }
    }
    if let (Some(items), Some(values)) = (schema.get("items"), value.as_array()) {
        for (n, item) in values.iter().enumerate() {
            validate(doc, items, item, &format!("{at}[{n}]"), errors);
        }
    }
}

fn problems(doc: &Value, schema: &str, value: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let schema = json!({ "$ref": format!("#/components/schemas/{schema}") });
    validate(doc, &schema, value, "$", &mut errors);
    errors
}

#[test]
fn the_schema_check_finds_what_does_not_match() {
    let doc = document();
    let good = json!({"code": "not_found", "message": "no room #x"});
    assert_eq!(problems(&doc, "Error", &good), Vec::<String>::new());
    let extra = json!({"code": "not_found", "message": "m", "hint": 1});
    assert_eq!(problems(&doc, "Error", &extra).len(), 1);
    assert_eq!(
        problems(&doc, "Error", &json!({"code": "nope", "message": "m"})).len(),
        1
    );
    assert_eq!(problems(&doc, "Error", &json!({"code": "gone"})).len(), 1);
    let room = json!({"type": "room_info", "room": "#den", "visibility": "public", "topic": "",
                      "has_password": false, "owner": null, "members": 2});
    assert_eq!(problems(&doc, "RoomInfo", &room), Vec::<String>::new());
    let mut wrong = room.clone();
    wrong["members"] = json!("two");
    assert_eq!(problems(&doc, "RoomInfo", &wrong).len(), 1);
    // Through allOf: the frame's `type` and the link's fields together.
    let link = json!({"type": "invite_link", "code": "c", "room": "#den", "url_path": "/invite/c",
                      "expires": "2025-06-05T19:00:00.123Z", "max_uses": 1, "uses": 0,
                      "creator": "alice"});
    assert_eq!(
        problems(&doc, "InviteLinkAnswer", &link),
        Vec::<String>::new()
    );
    let mut short = link.clone();
    short.as_object_mut().unwrap().remove("creator");
    assert_eq!(problems(&doc, "InviteLinkAnswer", &short).len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Calls checked against the document

struct Api {
    server: TestServer,
    doc: Value,
    /// `(METHOD, path template)` of every operation that answered a documented success.
    succeeded: BTreeSet<(String, String)>,
}

impl Api {
    async fn start() -> Self {
        Self {
            server: TestServer::start().await,
            doc: document(),
            succeeded: BTreeSet::new(),
        }
    }

    /// `method` on `path` (the template `route` filled in), checked against the document.
    async fn raw(
        &mut self,
        method: &str,
        route: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> Reply {
        let mut all: Vec<(&str, String)> = headers.to_vec();
        if let Some(token) = token {
            all.push(("Authorization", format!("Bearer {token}")));
        }
        let reply = send(self.server.addr, method, path, &all, body).await;
        self.check(method, route, &reply);
        reply
    }

    /// A JSON call; returns the status and body (`null` when empty).
    async fn call(
        &mut self,
        method: &str,
        route: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let headers = [("Content-Type", "application/json".to_owned())];
        let reply = self
            .raw(method, route, path, token, &headers, body.as_bytes())
            .await;
        (reply.status, reply.json())
    }

    /// Like `call`, asserting the status.
    async fn expect(
        &mut self,
        status: u16,
        method: &str,
        route: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Value {
        let (got, value) = self.call(method, route, path, token, body).await;
        assert_eq!(got, status, "{method} {path}: {value}");
        value
    }

    fn operation(&self, method: &str, route: &str) -> &Value {
        let op = &self.doc["paths"][route][method.to_ascii_lowercase()];
        assert!(op.is_object(), "{method} {route} is not in openapi.json");
        op
    }

    /// The status is documented for the operation, with the headers and body it says.
    fn check(&mut self, method: &str, route: &str, reply: &Reply) {
        let doc = &self.doc;
        let op = &doc["paths"][route][method.to_ascii_lowercase()];
        assert!(op.is_object(), "{method} {route} is not in openapi.json");
        let status = reply.status.to_string();
        let response = resolve(doc, &op["responses"][&status]);
        assert!(
            response.is_object(),
            "{method} {route} answered {status}, which openapi.json does not list: {}",
            reply.text()
        );
        for (name, _) in response["headers"].as_object().into_iter().flatten() {
            assert!(
                reply.header(name).is_some(),
                "{method} {route} {status}: no {name} header"
            );
        }
        let content = response["content"].as_object();
        match content {
            None => assert!(
                reply.body.is_empty(),
                "{method} {route} {status}: a body where none is documented: {}",
                reply.text()
            ),
            Some(content) => {
                let content_type = reply
                    .header("content-type")
                    .unwrap_or_else(|| panic!("{method} {route} {status}: no Content-Type"));
                if let Some(json) = content.get("application/json") {
                    assert!(
                        content_type.starts_with("application/json"),
                        "{method} {route} {status}: {content_type}"
                    );
                    let value: Value = serde_json::from_slice(&reply.body).unwrap_or_else(|_| {
                        panic!("{method} {route} {status}: not JSON: {}", reply.text())
                    });
                    let mut errors = Vec::new();
                    validate(doc, &json["schema"], &value, "$", &mut errors);
                    assert!(
                        errors.is_empty(),
                        "{method} {route} {status}: {errors:#?}\nin {value}"
                    );
                } else if content.contains_key("text/plain") {
                    assert!(content_type.starts_with("text/plain"), "{content_type}");
                }
            }
        }
        if reply.status < 300 {
            self.succeeded.insert((method.to_owned(), route.to_owned()));
        }
    }
}

/// Every `(METHOD, path template)` in the document.
fn operations(doc: &Value) -> Vec<(String, String)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            assert!(METHODS.contains(&method.as_str()), "{method} {path}");
            ops.push((method.to_uppercase(), path.clone()));
        }
    }
    ops
}

/// The template with every `{parameter}` filled in.
fn filled(route: &str) -> String {
    route
        .split('/')
        .map(|part| if part.starts_with('{') { "dummy" } else { part })
        .collect::<Vec<_>>()
        .join("/")
}

fn needs_token(doc: &Value, op: &Value) -> bool {
    let security = op.get("security").unwrap_or(&doc["security"]);
    let requirements = security.as_array().unwrap();
    !requirements.is_empty() && !requirements.contains(&json!({}))
}

// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_document_is_served_as_json_without_a_token() {
    let server = TestServer::start().await;
    let reply = send(server.addr, "GET", "/api/v1/openapi.json", &[], b"").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let served: Value = serde_json::from_slice(&reply.body).expect("JSON");
    assert_eq!(served, document());
    assert!(served["openapi"].as_str().unwrap().starts_with("3."));
    assert!(served["info"].is_object());
    assert!(served["paths"]["/api/v1/openapi.json"]["get"].is_object());
}

#[tokio::test]
async fn every_documented_operation_is_routed_and_asks_for_its_token() {
    let mut api = Api::start().await;
    let doc = api.doc.clone();
    let ops = operations(&doc);
    assert!(ops.len() > 40, "{} operations", ops.len());
    for (method, route) in &ops {
        let path = filled(route);
        let reply = api.raw(method, route, &path, None, &[], b"").await;
        assert_ne!(reply.status, 405, "{method} {path}: not routed");
        if reply.status == 404 {
            assert!(
                reply.json()["code"].is_string(),
                "{method} {path}: the router's bare 404"
            );
        }
        if needs_token(&doc, api.operation(method, route)) {
            assert_eq!(reply.status, 401, "{method} {path} without a token");
            assert_eq!(reply.json()["code"], "unauthorized");
        } else {
            assert_ne!(reply.status, 401, "{method} {path} needs no token");
        }
    }
    // The checks above can tell: an unknown path is the bare 404, a wrong method is 405.
    let unknown = send(api.server.addr, "GET", "/api/v1/nothing-here", &[], b"").await;
    assert_eq!(unknown.status, 404);
    assert!(unknown.json().is_null());
    let wrong = send(api.server.addr, "DELETE", "/api/v1/login", &[], b"").await;
    assert_eq!(wrong.status, 405);
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let picture = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x + y) % 239) as u8])
    });
    let mut out = Cursor::new(Vec::new());
    picture.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// Calls every operation (but the WebSocket upgrade, which the other tests use) the way a
/// client would, and checks each answer against the document.
#[tokio::test]
async fn answers_have_the_documented_statuses_headers_and_shapes() {
    let mut api = Api::start().await;

    // Meta.
    api.raw("GET", "/healthz", "/healthz", None, &[], b"").await;
    api.raw("GET", "/readyz", "/readyz", None, &[], b"").await;
    api.raw("GET", "/metrics", "/metrics", None, &[], b"").await;
    let route = "/api/v1/openapi.json";
    api.raw("GET", route, route, None, &[], b"").await;

    // Accounts.
    let account = |name: &str| json!({"username": name, "password": PASSWORD});
    let reg = "/api/v1/register";
    let alice = api
        .expect(201, "POST", reg, reg, None, Some(account("Alice")))
        .await;
    assert_eq!(alice["user"]["username"], "alice");
    let bob = api
        .expect(201, "POST", reg, reg, None, Some(account("bob")))
        .await;
    let bob = bob["token"].as_str().unwrap().to_owned();
    let (status, _) = api.call("POST", reg, reg, None, Some(account("bob"))).await;
    assert_eq!(status, 409);
    let (status, _) = api
        .call("POST", reg, reg, None, Some(json!({"x": 1})))
        .await;
    assert_eq!(status, 400);
    let login = "/api/v1/login";
    let alice = api
        .expect(200, "POST", login, login, None, Some(account("alice")))
        .await;
    let alice = alice["token"].as_str().unwrap().to_owned();
    let wrong = json!({"username": "alice", "password": "not the password"});
    assert_eq!(
        api.call("POST", login, login, None, Some(wrong)).await.0,
        401
    );
    let (a, b) = (Some(alice.as_str()), Some(bob.as_str()));

    // Rooms and host powers.
    let rooms = "/api/v1/rooms";
    let den = json!({"room": "den", "password": "open sesame 1", "topic": "our den"});
    let info = api.expect(201, "POST", rooms, rooms, a, Some(den)).await;
    assert_eq!(
        (info["role"].as_str(), info["owner"].as_str()),
        (Some("owner"), Some("alice"))
    );
    let join = "/api/v1/rooms/{room}/join";
    let (status, error) = api
        .call("POST", join, "/api/v1/rooms/den/join", b, None)
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (403, Some("wrong_password"))
    );
    let right = json!({"password": "open sesame 1"});
    api.expect(
        204,
        "POST",
        join,
        "/api/v1/rooms/%23den/join",
        b,
        Some(right),
    )
    .await;
    let listed = api.expect(200, "GET", rooms, rooms, b, None).await;
    assert!(listed["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["has_password"] == true));
    let room = "/api/v1/rooms/{room}";
    let topic = json!({"topic": "deploys on friday"});
    api.expect(200, "PATCH", room, "/api/v1/rooms/den", a, Some(topic))
        .await;
    let mute = json!({"user": "bob", "seconds": 60});
    let route = "/api/v1/rooms/{room}/mute";
    api.expect(204, "POST", route, "/api/v1/rooms/den/mute", a, Some(mute))
        .await;
    let seen_by_bob = api
        .expect(200, "GET", room, "/api/v1/rooms/den", b, None)
        .await;
    assert!(seen_by_bob["muted_until"].is_string(), "{seen_by_bob}");
    let members = "/api/v1/rooms/{room}/members";
    let listed = api
        .expect(200, "GET", members, "/api/v1/rooms/den/members", a, None)
        .await;
    assert!(listed["members"][0]["role"].is_string(), "{listed}");
    assert!(listed["members"][1]["muted_until"].is_string(), "{listed}");
    let route = "/api/v1/rooms/{room}/unmute";
    let bob_user = json!({"user": "bob"});
    api.expect(
        204,
        "POST",
        route,
        "/api/v1/rooms/den/unmute",
        a,
        Some(bob_user.clone()),
    )
    .await;
    let role = "/api/v1/rooms/{room}/members/{user}/role";
    let moderator = json!({"role": "moderator"});
    api.expect(
        204,
        "PUT",
        role,
        "/api/v1/rooms/den/members/bob/role",
        a,
        Some(moderator),
    )
    .await;
    let (status, _) = api
        .call("GET", room, "/api/v1/rooms/nowhere", a, None)
        .await;
    assert_eq!(status, 404);

    // Uploads, then messages that carry one, answer one and react to one.
    let picture = png(64, 48);
    let upload = "/api/v1/attachments";
    let octets = [("Content-Type", "application/octet-stream".to_owned())];
    let path = "/api/v1/attachments?name=plan.png";
    let reply = api.raw("POST", upload, path, a, &octets, &picture).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let image = reply.json();
    assert!(
        image["thumbnail_url"].is_string() && image["width"] == 64,
        "{image}"
    );
    let image_id = image["id"].as_str().unwrap().to_owned();
    let path = "/api/v1/attachments?name=notes.txt";
    let reply = api
        .raw("POST", upload, path, a, &octets, b"some notes")
        .await;
    assert_eq!(reply.json()["kind"], "file");

    let mut alice_ws = api.server.connect(&alice).await;
    let mut bob_ws = api.server.connect(&bob).await;
    let first = alice_ws
        .request(
            json!({"type": "message", "receiver": "#den", "content": "the plan",
                        "attachment": image_id}),
        )
        .await;
    let first_id = first["id"].as_str().expect("an ack").to_owned();
    let reply = alice_ws
        .request(
            json!({"type": "message", "receiver": "#den", "content": "deploy friday?",
                        "reply_to_message": first_id}),
        )
        .await;
    assert_eq!(reply["type"], "ack", "{reply}");
    let reacted = bob_ws
        .request(json!({"type": "react", "message": first_id, "emoji": "👍"}))
        .await;
    assert_eq!(reacted["type"], "ack", "{reacted}");
    let dm = bob_ws
        .request(json!({"type": "message", "receiver": "alice", "content": "psst"}))
        .await;
    let read = alice_ws
        .request(json!({"type": "read", "receiver": "#den", "seq": 2}))
        .await;
    assert_eq!(
        (dm["type"].as_str(), read["type"].as_str()),
        (Some("ack"), Some("ack"))
    );

    let history = "/api/v1/history";
    let page = api
        .expect(
            200,
            "GET",
            history,
            "/api/v1/history?receiver=%23den&limit=10",
            a,
            None,
        )
        .await;
    let messages = page["messages"].as_array().unwrap();
    assert!(
        messages
            .iter()
            .any(|m| m["attachment"]["id"] == json!(image_id)),
        "{page}"
    );
    assert!(
        messages.iter().any(|m| m["reply_to_message"].is_object()),
        "{page}"
    );
    assert!(messages.iter().any(|m| m["reactions"].is_array()), "{page}");
    let (status, _) = api
        .call("GET", history, "/api/v1/history?limit=3", a, None)
        .await;
    assert_eq!(status, 400);
    let chats = "/api/v1/chats";
    let list = api.expect(200, "GET", chats, chats, a, None).await;
    let direct = list["chats"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "direct");
    assert_eq!(direct.expect("the DM")["online"], true, "{list}");
    let search = "/api/v1/search";
    let found = api
        .expect(200, "GET", search, "/api/v1/search?q=plan", a, None)
        .await;
    assert!(!found["results"].as_array().unwrap().is_empty(), "{found}");
    let receipts = "/api/v1/receipts";
    api.expect(
        200,
        "GET",
        receipts,
        "/api/v1/receipts?receiver=%23den",
        a,
        None,
    )
    .await;

    // Downloads: whole, ranged, cached, out of range, by ?token=, thumbnails, info.
    let download = "/api/v1/attachments/{id}";
    let path = format!("/api/v1/attachments/{image_id}");
    let whole = api.raw("GET", download, &path, b, &[], b"").await;
    assert_eq!((whole.status, whole.body.len()), (200, picture.len()));
    let etag = whole.header("etag").unwrap().to_owned();
    let range = [("Range", "bytes=0-9".to_owned())];
    let part = api.raw("GET", download, &path, b, &range, b"").await;
    assert_eq!((part.status, part.body.len()), (206, 10));
    let cached = [("If-None-Match", etag)];
    assert_eq!(
        api.raw("GET", download, &path, b, &cached, b"")
            .await
            .status,
        304
    );
    let beyond = [("Range", format!("bytes={}-", picture.len()))];
    assert_eq!(
        api.raw("GET", download, &path, b, &beyond, b"")
            .await
            .status,
        416
    );
    let by_query = format!("{path}?token={bob}");
    assert_eq!(
        api.raw("GET", download, &by_query, None, &[], b"")
            .await
            .status,
        200
    );
    let thumbnail = "/api/v1/attachments/{id}/thumbnail";
    let thumb = api
        .raw("GET", thumbnail, &format!("{path}/thumbnail"), b, &[], b"")
        .await;
    assert_eq!(thumb.status, 200);
    let route = "/api/v1/attachments/{id}/info";
    api.expect(200, "GET", route, &format!("{path}/info"), b, None)
        .await;
    let nobody = "/api/v1/attachments/01JXB3M2X8V0T6R4P2N0K8H6F4/info";
    assert_eq!(api.call("GET", route, nobody, b, None).await.0, 404);

    // Profiles and contacts.
    let profile = "/api/v1/profile";
    api.expect(200, "GET", profile, profile, a, None).await;
    let change = json!({"display_name": " Alice ", "status_text": "around", "avatar": image_id});
    let mine = api
        .expect(200, "PATCH", profile, profile, a, Some(change))
        .await;
    assert_eq!(mine["avatar"]["id"], json!(image_id));
    let user = "/api/v1/users/{user}";
    let seen = api
        .expect(200, "GET", user, "/api/v1/users/alice", b, None)
        .await;
    assert_eq!(seen["display_name"], "Alice");
    let contact = "/api/v1/contacts/{user}";
    api.expect(204, "PUT", contact, "/api/v1/contacts/bob", a, None)
        .await;
    let contacts = "/api/v1/contacts";
    let list = api.expect(200, "GET", contacts, contacts, a, None).await;
    assert_eq!(list["contacts"][0]["username"], "bob");
    api.expect(204, "DELETE", contact, "/api/v1/contacts/bob", a, None)
        .await;

    // Invitations into a private room.
    let club = json!({"room": "club", "visibility": "private"});
    api.expect(201, "POST", rooms, rooms, a, Some(club)).await;
    let invite = "/api/v1/rooms/{room}/invitations";
    let path = "/api/v1/rooms/club/invitations";
    api.expect(204, "POST", invite, path, a, Some(bob_user.clone()))
        .await;
    let invitations = "/api/v1/invitations";
    let pending = api
        .expect(200, "GET", invitations, invitations, b, None)
        .await;
    let id = pending["invitations"][0]["id"].as_str().unwrap().to_owned();
    let decline = "/api/v1/invitations/{id}/decline";
    let path = format!("/api/v1/invitations/{id}/decline");
    api.expect(204, "POST", decline, &path, b, None).await;
    let path = "/api/v1/rooms/club/invitations";
    api.expect(204, "POST", invite, path, a, Some(bob_user.clone()))
        .await;
    let pending = api
        .expect(200, "GET", invitations, invitations, b, None)
        .await;
    let id = pending["invitations"][0]["id"].as_str().unwrap().to_owned();
    let accept = "/api/v1/invitations/{id}/accept";
    let path = format!("/api/v1/invitations/{id}/accept");
    api.expect(204, "POST", accept, &path, b, None).await;

    // Invite links.
    let links = "/api/v1/rooms/{room}/invites";
    let path = "/api/v1/rooms/club/invites";
    let link = api
        .expect(201, "POST", links, path, a, Some(json!({"max_uses": 5})))
        .await;
    let code = link["code"].as_str().unwrap().to_owned();
    let listed = api.expect(200, "GET", links, path, b, None).await;
    assert_eq!(listed["links"][0]["code"], json!(code));
    let carol = json!({"username": "carol", "password": PASSWORD, "invite": code});
    let carol = api.expect(201, "POST", reg, reg, None, Some(carol)).await;
    assert_eq!(carol["room"], "#club");
    let dave = api
        .expect(201, "POST", reg, reg, None, Some(account("dave")))
        .await;
    let dave = dave["token"].as_str().unwrap().to_owned();
    let d = Some(dave.as_str());
    let info = "/api/v1/invites/{code}";
    let path = format!("/api/v1/invites/{code}");
    let state = api.expect(200, "GET", info, &path, d, None).await;
    assert_eq!(
        (state["valid"].as_bool(), state["member"].as_bool()),
        (Some(true), Some(false))
    );
    let redeem = "/api/v1/invites/{code}/redeem";
    let redeem_path = format!("{path}/redeem");
    api.expect(200, "POST", redeem, &redeem_path, d, None).await;
    api.expect(204, "DELETE", info, &path, a, None).await;
    let state = api.expect(200, "GET", info, &path, b, None).await;
    assert_eq!(state["reason"], "revoked", "{state}");
    let erin = api
        .expect(201, "POST", reg, reg, None, Some(account("erin")))
        .await;
    let erin = erin["token"].as_str().unwrap().to_owned();
    let (status, _) = api
        .call("POST", redeem, &redeem_path, Some(&erin), None)
        .await;
    assert_eq!(status, 410);

    // Kick, ban and unban dave; transfer #den, leave it, and delete it.
    let dave_user = json!({"user": "dave"});
    for action in ["kick", "ban", "unban"] {
        let route = format!("/api/v1/rooms/{{room}}/{action}");
        let path = format!("/api/v1/rooms/club/{action}");
        api.expect(204, "POST", &route, &path, a, Some(dave_user.clone()))
            .await;
    }
    let route = "/api/v1/rooms/{room}/transfer";
    api.expect(
        204,
        "POST",
        route,
        "/api/v1/rooms/den/transfer",
        a,
        Some(bob_user),
    )
    .await;
    let leave = "/api/v1/rooms/{room}/leave";
    api.expect(204, "POST", leave, "/api/v1/rooms/den/leave", a, None)
        .await;
    let (status, _) = api.call("DELETE", room, "/api/v1/rooms/den", a, None).await;
    assert_eq!(status, 403);
    api.expect(204, "DELETE", room, "/api/v1/rooms/den", b, None)
        .await;

    // The event stream and its posts: a stream of its own user, who logs out over it, so
    // that the stream ends and its whole answer can be checked.
    let streamer = api.server.register("streamer").await;
    let mut stream = common::sse::SseClient::open(api.server.addr, &streamer).await;
    let frames = "/api/v1/frames";
    let path = format!("{frames}?stream={}", stream.stream);
    let body = json!([{"type": "ping", "id": "p"}, {"type": "logout", "id": "o"}]);
    let replies = api
        .expect(200, "POST", frames, &path, Some(&streamer), Some(body))
        .await;
    assert_eq!(replies[1]["type"], "ack", "{replies}");
    let last = stream.until_end().await.pop().unwrap();
    assert_eq!(last["code"], 1000, "{last}");
    let events = Reply {
        status: 200,
        headers: stream.headers.clone(),
        body: b"event: ready\n...".to_vec(),
    };
    api.check("GET", "/api/v1/events", &events);

    // Delete the DM from alice's list; log out.
    let chat = "/api/v1/chats/{receiver}";
    api.expect(204, "DELETE", chat, "/api/v1/chats/bob", a, None)
        .await;
    // Sessions: list, revoke one, revoke the others, change the password.
    let sessions = "/api/v1/sessions";
    let listed = api.expect(200, "GET", sessions, sessions, a, None).await;
    let mine = listed["sessions"].as_array().unwrap();
    assert!(mine.len() >= 2, "{listed}");
    let other = mine.iter().find(|s| s["current"] == false).unwrap();
    let one = "/api/v1/sessions/{id}";
    let path = format!("/api/v1/sessions/{}", other["id"].as_str().unwrap());
    api.expect(204, "DELETE", one, &path, a, None).await;
    api.expect(404, "DELETE", one, &path, a, None).await;
    api.expect(204, "DELETE", sessions, sessions, a, None).await;
    let scope = "/api/v1/sessions?scope=sometimes";
    api.expect(400, "DELETE", sessions, scope, a, None).await;
    let password = "/api/v1/password";
    let change = json!({"current": "not it at all", "new": "a better horse battery"});
    api.expect(401, "POST", password, password, a, Some(change))
        .await;
    let change = json!({"current": PASSWORD, "new": "short"});
    api.expect(400, "POST", password, password, a, Some(change))
        .await;
    let change = json!({"current": PASSWORD, "new": "a better horse battery"});
    api.expect(204, "POST", password, password, a, Some(change))
        .await;

    let logout = "/api/v1/logout";
    api.expect(204, "POST", logout, logout, a, None).await;
    let (status, body) = api.call("GET", rooms, rooms, a, None).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")));

    // Every operation but the upgrade answered a documented success at least once.
    let missed: Vec<_> = operations(&api.doc)
        .into_iter()
        .filter(|(method, route)| {
            route != "/ws" && {
                let key = (method.clone(), route.clone());
                !api.succeeded.contains(&key)
            }
        })
        .collect();
    assert!(missed.is_empty(), "never called with success: {missed:?}");
    drop((alice_ws, bob_ws));
}
