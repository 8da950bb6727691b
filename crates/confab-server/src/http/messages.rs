//! `GET /api/v1/chats`, `DELETE /api/v1/chats/{receiver}`, `GET /api/v1/search` and
//! `GET /api/v1/receipts`: the same answers as the `chats`, `delete_chat`, `search` and
//! `receipts` frames.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use confab_protocol::messaging::SearchRequest;
use confab_protocol::{Receiver, ServerFrame};
use serde::Deserialize;

use super::{AppState, AuthUser};
use crate::error::AppError;

pub async fn chats(
    State(state): State<AppState>,
    auth: AuthUser,
) -> Result<Json<ServerFrame>, AppError> {
    Ok(Json(state.hub.chats_frame(auth.user.id, None).await?))
}

/// Removes a direct conversation from the caller's list (`receiver` is the other user).
pub async fn delete_chat(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(receiver): Path<String>,
) -> Result<StatusCode, AppError> {
    let receiver = Receiver::parse(&receiver).map_err(|e| AppError::bad_request(e.0))?;
    state.hub.clear_chat(auth.user.id, &receiver).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct SearchQuery {
    q: String,
    receiver: Option<String>,
    limit: Option<u32>,
    before: Option<String>,
}

pub async fn search(
    State(state): State<AppState>,
    auth: AuthUser,
    query: Result<Query<SearchQuery>, QueryRejection>,
) -> Result<Json<ServerFrame>, AppError> {
    let Query(query) = query.map_err(|e| AppError::bad_request(e.body_text()))?;
    let receiver = query
        .receiver
        .as_deref()
        .map(Receiver::parse)
        .transpose()
        .map_err(|e| AppError::bad_request(e.0))?;
    let mut request = SearchRequest {
        id: None,
        query: query.q,
        receiver,
        limit: query.limit,
        before: query.before,
    };
    request
        .check(&state.hub.config().limits)
        .map_err(|(code, message)| AppError::new(code, message))?;
    Ok(Json(state.hub.search_frame(&auth.user, request).await?))
}

#[derive(Deserialize)]
pub struct ReceiptsQuery {
    receiver: String,
}

pub async fn receipts(
    State(state): State<AppState>,
    auth: AuthUser,
    query: Result<Query<ReceiptsQuery>, QueryRejection>,
) -> Result<Json<ServerFrame>, AppError> {
    let Query(query) = query.map_err(|e| AppError::bad_request(e.body_text()))?;
    let receiver = Receiver::parse(&query.receiver).map_err(|e| AppError::bad_request(e.0))?;
    Ok(Json(
        state
            .hub
            .receipts_frame(auth.user.id, &receiver, None)
            .await?,
    ))
}
