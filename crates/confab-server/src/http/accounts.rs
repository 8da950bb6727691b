//! `POST /api/v1/register`, `/login` and `/logout`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use confab_protocol::ErrorCode;
use serde::Deserialize;
use serde_json::json;

use super::{client_ip, user_agent, AppState, AuthUser};
use crate::error::AppError;
use crate::hub::ClientInfo;
use crate::store::User;

#[derive(Deserialize)]
struct Account {
    username: String,
    password: String,
    /// At registration: an invite code whose room the new account joins.
    #[serde(default)]
    invite: Option<String>,
    /// The client's name for this device, for the session list (else its User-Agent).
    #[serde(default)]
    device: Option<String>,
}

fn parse_account(body: Result<Bytes, BytesRejection>) -> Result<Account, AppError> {
    let body = body.map_err(|err| AppError::new(ErrorCode::TooLarge, err.body_text()))?;
    serde_json::from_slice(&body).map_err(|err| {
        AppError::bad_request(format!(
            "expected {{\"username\": ..., \"password\": ...}}: {err}"
        ))
    })
}

fn client_info(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    account: &Account,
) -> ClientInfo {
    let ip = client_ip(peer, headers, &state.hub.config().trusted_proxies);
    let agent = user_agent(headers);
    ClientInfo::new(ip, account.device.as_deref().or(agent.as_deref()))
}

fn token_body(user: &User, token: &crate::auth::Token) -> Json<serde_json::Value> {
    Json(json!({ "token": token.reveal(), "user": { "username": user.username } }))
}

pub async fn register(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, AppError> {
    let account = parse_account(body)?;
    let client = client_info(&state, peer, &headers, &account);
    let (user, token, room) = state
        .hub
        .register(
            &account.username,
            &account.password,
            account.invite.as_deref(),
            &client,
        )
        .await?;
    let Json(mut body) = token_body(&user, &token);
    if let Some(room) = room {
        body["room"] = json!(room);
    }
    Ok((StatusCode::CREATED, Json(body)))
}

pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, AppError> {
    let account = parse_account(body)?;
    let client = client_info(&state, peer, &headers, &account);
    let (user, token) = state
        .hub
        .login(&account.username, &account.password, &client)
        .await?;
    Ok(token_body(&user, &token))
}

pub async fn logout(State(state): State<AppState>, auth: AuthUser) -> Result<StatusCode, AppError> {
    state.hub.revoke(&auth.token).await?;
    Ok(StatusCode::NO_CONTENT)
}
