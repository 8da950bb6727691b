//! Session control over REST: `GET /api/v1/sessions` lists the caller's login sessions,
//! `DELETE /api/v1/sessions/{id}` revokes one, `DELETE /api/v1/sessions` all others (or all,
//! with `?scope=all`), and `POST /api/v1/password` changes the password, which revokes every
//! other session. Revoked sessions' live connections close with 4001.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use confab_protocol::ErrorCode;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{AppState, AuthUser};
use crate::auth::Token;
use crate::error::AppError;

pub async fn list(State(state): State<AppState>, auth: AuthUser) -> Result<Json<Value>, AppError> {
    let current = Token::from_client(&auth.token).hash();
    let sessions = state.hub.login_sessions(&auth.user, current).await?;
    Ok(Json(json!({ "sessions": sessions })))
}

pub async fn revoke(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    state.hub.revoke_login_session(&auth.user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct Scope {
    scope: Option<String>,
}

pub async fn revoke_all(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(scope): Query<Scope>,
) -> Result<StatusCode, AppError> {
    let keep = match scope.scope.as_deref() {
        None | Some("others") => Some(Token::from_client(&auth.token).hash()),
        Some("all") => None,
        Some(other) => {
            return Err(AppError::bad_request(format!(
                "scope must be others or all, not {other}"
            )))
        }
    };
    state.hub.revoke_login_sessions(&auth.user, keep).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct PasswordChange {
    current: String,
    new: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    auth: AuthUser,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, AppError> {
    let body = body.map_err(|err| AppError::new(ErrorCode::TooLarge, err.body_text()))?;
    let change: PasswordChange = serde_json::from_slice(&body).map_err(|err| {
        AppError::bad_request(format!(
            "expected {{\"current\": ..., \"new\": ...}}: {err}"
        ))
    })?;
    let current = Token::from_client(&auth.token).hash();
    state
        .hub
        .change_password(&auth.user, current, &change.current, &change.new)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
