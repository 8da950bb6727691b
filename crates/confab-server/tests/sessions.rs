//! Session control: the list of a user's login sessions, revoking one, the others or all (live
//! connections close with 4001 within a second), and a password change revoking every other.

mod common;

use std::time::Duration;

use common::{Client, Ended, TestServer, PASSWORD};
use serde_json::{json, Value};

async fn login(server: &TestServer, device: &str, password: &str) -> (u16, Value) {
    let body = json!({"username": "alice", "password": password, "device": device}).to_string();
    server.post("/api/v1/login", &body, None).await
}

async fn token_on(server: &TestServer, device: &str) -> String {
    let (status, body) = login(server, device, PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

async fn sessions(server: &TestServer, token: &str) -> Vec<Value> {
    let (status, body) = server.get("/api/v1/sessions", Some(token)).await;
    assert_eq!(status, 200, "{body}");
    body["sessions"].as_array().unwrap().clone()
}

fn id_of(list: &[Value], device: &str) -> String {
    list.iter()
        .find(|s| s["device"] == device)
        .unwrap_or_else(|| panic!("no {device} in {list:?}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Asserts the connection is closed with 4001 within a second.
async fn closes_revoked(client: &mut Client) {
    let (ended, _) = tokio::time::timeout(Duration::from_secs(1), client.until_end())
        .await
        .expect("closed within a second");
    assert_eq!(ended, Ended::Closed(4001));
}

#[tokio::test]
async fn sessions_are_listed_and_revoked_one_the_others_or_all() {
    let server = TestServer::start().await;
    let first = server.register("alice").await;
    let phone = token_on(&server, "Phone").await;
    let laptop = token_on(&server, "Laptop").await;
    let mut on_phone = server.connect(&phone).await;
    let mut on_phone_too = server.connect(&phone).await;
    let _on_laptop = server.connect(&laptop).await;
    let mut on_first = server.connect(&first).await;

    let list = sessions(&server, &laptop).await;
    assert_eq!(list.len(), 3, "{list:?}");
    let phone_entry = list.iter().find(|s| s["device"] == "Phone").unwrap();
    assert_eq!(phone_entry["connections"], 2);
    assert_eq!(phone_entry["ip"], "127.0.0.1");
    assert_eq!(phone_entry["current"], false);
    assert!(phone_entry["id"].as_str().unwrap().len() == 16);
    assert!(
        !list.iter().any(|s| s.to_string().contains(&phone)),
        "no token shown"
    );
    let current: Vec<_> = list.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["device"], "Laptop");

    // One: both of the phone's connections close; the token is dead.
    let path = format!("/api/v1/sessions/{}", id_of(&list, "Phone"));
    let (status, _) = common::http(server.addr, "DELETE", &path, None, Some(&laptop)).await;
    assert_eq!(status, 204);
    closes_revoked(&mut on_phone).await;
    closes_revoked(&mut on_phone_too).await;
    assert_eq!(server.get("/api/v1/rooms", Some(&phone)).await.0, 401);
    // Someone else's session id is not found.
    let (_, bob) = server.user("bob").await;
    let _ = bob;
    let bob_token = server.register("bobby").await;
    let (status, _) = common::http(
        server.addr,
        "DELETE",
        &format!(
            "/api/v1/sessions/{}",
            id_of(&sessions(&server, &laptop).await, "Laptop")
        ),
        None,
        Some(&bob_token),
    )
    .await;
    assert_eq!(status, 404);

    // The others: the first token goes, the laptop stays.
    let (status, _) = common::http(
        server.addr,
        "DELETE",
        "/api/v1/sessions",
        None,
        Some(&laptop),
    )
    .await;
    assert_eq!(status, 204);
    closes_revoked(&mut on_first).await;
    let list = sessions(&server, &laptop).await;
    assert_eq!(list.len(), 1);

    // All: the laptop too.
    let mut on_laptop = server.connect(&laptop).await;
    let (status, _) = common::http(
        server.addr,
        "DELETE",
        "/api/v1/sessions?scope=all",
        None,
        Some(&laptop),
    )
    .await;
    assert_eq!(status, 204);
    closes_revoked(&mut on_laptop).await;
    assert_eq!(server.get("/api/v1/sessions", Some(&laptop)).await.0, 401);
}

#[tokio::test]
async fn changing_the_password_revokes_every_other_session() {
    let server = TestServer::start().await;
    let first = server.register("alice").await;
    let other = token_on(&server, "Tablet").await;
    let mut on_other = server.connect(&other).await;
    let mut on_first = server.connect(&first).await;
    let change = json!({"current": PASSWORD, "new": "an entirely new battery"}).to_string();
    let (status, body) = server.post("/api/v1/password", &change, Some(&first)).await;
    assert_eq!(status, 204, "{body}");
    closes_revoked(&mut on_other).await;
    // The calling session lives on.
    assert_eq!(
        on_first.request(json!({"type": "ping"})).await["type"],
        "pong"
    );
    assert_eq!(login(&server, "x", PASSWORD).await.0, 401);
    assert_eq!(login(&server, "x", "an entirely new battery").await.0, 200);
}

#[tokio::test]
async fn an_in_band_login_names_its_device_and_logout_closes_every_connection_of_its_token() {
    let server = TestServer::start().await;
    server.register("alice").await;
    let mut socket = Client::open(&server.ws_url()).await;
    socket
        .send(json!({"type": "login", "username": "alice", "password": PASSWORD, "device": "Terminal"}))
        .await;
    let ready = socket.recv().await;
    let token = ready["token"].as_str().unwrap().to_owned();
    let list = sessions(&server, &token).await;
    assert!(
        list.iter()
            .any(|s| s["device"] == "Terminal" && s["current"] == true),
        "{list:?}"
    );
    let mut twin = server.connect(&token).await;
    assert_eq!(
        socket.request(json!({"type": "logout"})).await["type"],
        "ack"
    );
    closes_revoked(&mut twin).await;
}
