//! `GET /api/v1/rooms`, `/rooms/{room}/members` and `/history`: the same answers as the
//! `rooms`, `members` and `history` frames, as JSON bodies.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::Json;
use confab_protocol::{HistoryRequest, Receiver, RoomName, ServerFrame};
use serde::Deserialize;

use super::{AppState, AuthUser};
use crate::error::AppError;

pub async fn rooms(State(state): State<AppState>, auth: AuthUser) -> Json<ServerFrame> {
    Json(state.hub.rooms_frame(auth.user.id, None))
}

/// The room in the path may be given with or without its `#` (`%23general` or `general`).
pub async fn members(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(room): Path<String>,
) -> Result<Json<ServerFrame>, AppError> {
    let name = if room.starts_with('#') {
        room
    } else {
        format!("#{room}")
    };
    let room = RoomName::parse(&name).map_err(|e| AppError::bad_request(e.0))?;
    Ok(Json(state.hub.members_frame(auth.user.id, &room, None)?))
}

#[derive(Deserialize)]
pub struct HistoryQuery {
    receiver: String,
    limit: Option<u32>,
    before: Option<String>,
    after: Option<String>,
}

pub async fn history(
    State(state): State<AppState>,
    auth: AuthUser,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Json<ServerFrame>, AppError> {
    let Query(query) = query.map_err(|e| AppError::bad_request(e.body_text()))?;
    let receiver = Receiver::parse(&query.receiver).map_err(|e| AppError::bad_request(e.0))?;
    if query.before.is_some() && query.after.is_some() {
        return Err(AppError::bad_request(
            "history takes before or after, not both",
        ));
    }
    if query.limit == Some(0) {
        return Err(AppError::bad_request("limit must be at least 1"));
    }
    let request = HistoryRequest {
        id: None,
        receiver,
        limit: query.limit,
        before: query.before,
        after: query.after,
    };
    Ok(Json(state.hub.history_frame(&auth.user, request).await?))
}
