//! Accounts over REST and authentication on the WebSocket.

mod common;

use common::{Client, Ended, TestServer, PASSWORD};
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[tokio::test]
async fn register_login_and_conflicts() {
    let server = TestServer::start().await;
    let (status, body) = server.get("/healthz", None).await;
    assert_eq!(status, 200, "{body}");

    let account = json!({"username": "Alice", "password": PASSWORD}).to_string();
    let (status, body) = server.post("/api/v1/register", &account, None).await;
    assert_eq!(status, 201);
    assert_eq!(body["user"]["username"], "alice");
    assert_eq!(body["token"].as_str().unwrap().len(), 64);

    let (status, body) = server.post("/api/v1/register", &account, None).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("conflict")));

    let (status, body) = server.post("/api/v1/login", &account, None).await;
    assert_eq!(status, 200);
    assert_eq!(body["token"].as_str().unwrap().len(), 64);

    let wrong = json!({"username": "alice", "password": "not the password"}).to_string();
    let (status, body) = server.post("/api/v1/login", &wrong, None).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")));
    let nobody = json!({"username": "nobody", "password": PASSWORD}).to_string();
    assert_eq!(server.post("/api/v1/login", &nobody, None).await.0, 401);
}

#[tokio::test]
async fn register_rejects_bad_input() {
    let server = TestServer::start().await;
    for body in [
        "not json",
        r#"{"username":"bob"}"#,
        r#"{"username":"b b","password":"long enough"}"#,
        r#"{"username":"bob","password":"short"}"#,
        r#"{"username":"","password":"long enough"}"#,
    ] {
        let (status, reply) = server.post("/api/v1/register", body, None).await;
        assert_eq!(status, 400, "{body}: {reply}");
        assert_eq!(reply["code"], "bad_request");
    }
}

#[tokio::test]
async fn websocket_authenticates_by_header_query_and_in_band() {
    let server = TestServer::start().await;
    let token = server.register("carol").await;

    let mut request = server.ws_url().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Authorization", format!("Bearer {token}").parse().unwrap());
    let mut by_header = Client::open_request(request).await;
    let ready = by_header.recv().await;
    assert_eq!(ready["type"], "ready");
    assert_eq!(ready["protocol"], 1);
    assert_eq!(ready["user"]["username"], "carol");
    assert_eq!(ready["rooms"][0]["receiver"], "#general");
    assert!(ready.get("token").is_none());

    let by_query = server.connect(&token).await;
    assert_eq!(by_query.ready["user"]["username"], "carol");

    let mut in_band = Client::open(&server.ws_url()).await;
    in_band
        .send(json!({"type": "login", "token": token, "id": "l1"}))
        .await;
    let ready = in_band.recv().await;
    assert_eq!(
        (ready["type"].as_str(), ready["reply_to"].as_str()),
        (Some("ready"), Some("l1"))
    );

    let mut by_password = Client::open(&server.ws_url()).await;
    by_password
        .send(json!({"type": "login", "username": "Carol", "password": PASSWORD}))
        .await;
    let ready = by_password.recv().await;
    assert_eq!(ready["type"], "ready");
    let minted = ready["token"].as_str().unwrap().to_owned();
    assert_ne!(minted, token);
    server.connect(&minted).await;
}

#[tokio::test]
async fn unauthenticated_frames_are_refused() {
    let server = TestServer::start_with(|c| c.session.login_timeout_secs = 1).await;
    let token = server.register("dave").await;

    let (status, body) = server.get("/ws?token=nope", None).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")));

    let mut client = Client::open(&server.ws_url()).await;
    let reply = client
        .request(json!({"type": "message", "receiver": "#general", "content": "hi"}))
        .await;
    assert_eq!(reply["code"], "unauthorized", "{reply}");
    let reply = client
        .request(json!({"type": "login", "username": "dave", "password": "wrong password"}))
        .await;
    assert_eq!(reply["code"], "unauthorized");
    let reply = client
        .request(json!({"type": "login", "token": "bogus"}))
        .await;
    assert_eq!(reply["code"], "unauthorized");
    // Still usable: a good login works on the same connection.
    let ready = client
        .request(json!({"type": "login", "token": token}))
        .await;
    assert_eq!(ready["type"], "ready");

    let mut noisy = Client::open(&server.ws_url()).await;
    for _ in 0..5 {
        noisy.send(json!({"type": "ping"})).await;
    }
    let (ended, frames) = noisy.until_end().await;
    assert_eq!(ended, Ended::Closed(1008), "too many refused frames");
    assert!(frames.iter().all(|f| f["code"] == "unauthorized"));

    let mut idle = Client::open(&server.ws_url()).await;
    let (ended, _) = idle.until_end().await;
    assert_eq!(ended, Ended::Closed(1008), "login timeout closes with 1008");
}

#[tokio::test]
async fn foreign_origins_cannot_open_a_socket() {
    let server = TestServer::start().await;
    let token = server.register("erin").await;
    let mut request = format!("{}?token={token}", server.ws_url())
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("Origin", "https://evil.example".parse().unwrap());
    let refused = tokio_tungstenite::connect_async(request).await;
    assert!(refused.is_err(), "foreign origin must be refused");

    let mut request = format!("{}?token={token}", server.ws_url())
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("Origin", format!("http://{}", server.addr).parse().unwrap());
    assert!(tokio_tungstenite::connect_async(request).await.is_ok());
}

#[tokio::test]
async fn logout_revokes_the_token_and_closes_its_sessions() {
    let server = TestServer::start().await;
    let (token, mut first) = server.user("frank").await;
    let mut second = server.connect(&token).await;
    let other_token = server.register("frank2").await;
    let mut unrelated = server.connect(&other_token).await;

    let ack = first.request(json!({"type": "logout"})).await;
    assert_eq!(ack["type"], "ack");
    let (ended, _) = first.until_end().await;
    assert_eq!(ended, Ended::Closed(1000));
    let (ended, _) = second.until_end().await;
    assert_eq!(
        ended,
        Ended::Closed(4001),
        "other sessions on the token close"
    );
    assert_eq!(server.get(&format!("/ws?token={token}"), None).await.0, 401);
    assert_eq!(
        unrelated.request(json!({"type": "ping"})).await["type"],
        "pong"
    );

    // REST logout too.
    let (status, _) = server.post("/api/v1/logout", "", Some(&other_token)).await;
    assert_eq!(status, 204);
    let (ended, _) = unrelated.until_end().await;
    assert_eq!(ended, Ended::Closed(4001));
    assert_eq!(
        server
            .post("/api/v1/logout", "", Some(&other_token))
            .await
            .0,
        401
    );
}
