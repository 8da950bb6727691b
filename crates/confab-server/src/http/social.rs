//! Profiles, contacts, invitations and invite links over REST. Every handler calls the hub
//! method the matching frame calls, so the rules are the same on both paths; answers are the
//! matching server frames as JSON (`type` included, no `reply_to`).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use confab_protocol::names::Username;
use confab_protocol::{CreateInvite, ErrorCode, RoomName, ServerFrame, SetProfile};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use super::{AppState, AuthUser};
use crate::error::AppError;

/// A JSON body; an empty one reads as `{}`.
fn parse_body<T: DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
    expected: &str,
) -> Result<T, AppError> {
    let body = body.map_err(|err| AppError::new(ErrorCode::TooLarge, err.body_text()))?;
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        &body
    };
    serde_json::from_slice(body)
        .map_err(|err| AppError::bad_request(format!("expected {expected}: {err}")))
}

/// A room named in the path, with or without its `#`.
fn room_in_path(room: &str) -> Result<RoomName, AppError> {
    let name = if room.starts_with('#') {
        room.to_owned()
    } else {
        format!("#{room}")
    };
    RoomName::parse(&name).map_err(|e| AppError::bad_request(e.0))
}

fn user_in_path(user: &str) -> Result<Username, AppError> {
    Username::parse(user).map_err(|e| AppError::bad_request(e.0))
}

/// `GET /api/v1/profile`: your own profile.
pub async fn own_profile(
    State(state): State<AppState>,
    auth: AuthUser,
) -> Result<Json<ServerFrame>, AppError> {
    let me = user_in_path(&auth.user.username)?;
    Ok(Json(state.hub.profile_frame(&me, None).await?))
}

/// `PATCH /api/v1/profile`: the `set_profile` fields; answers the new profile.
pub async fn set_profile(
    State(state): State<AppState>,
    auth: AuthUser,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ServerFrame>, AppError> {
    let change: SetProfile = parse_body(
        body,
        r#"{"display_name": ..., "status_text": ..., "avatar": ...}"#,
    )?;
    Ok(Json(state.hub.set_profile(&auth.user, change).await?))
}

/// `GET /api/v1/users/{user}`: anyone's profile.
pub async fn profile(
    State(state): State<AppState>,
    _auth: AuthUser,
    Path(user): Path<String>,
) -> Result<Json<ServerFrame>, AppError> {
    let user = user_in_path(&user)?;
    Ok(Json(state.hub.profile_frame(&user, None).await?))
}

/// `GET /api/v1/contacts`.
pub async fn contacts(
    State(state): State<AppState>,
    auth: AuthUser,
) -> Result<Json<ServerFrame>, AppError> {
    Ok(Json(state.hub.contacts_frame(auth.user.id, None).await?))
}

/// `PUT /api/v1/contacts/{user}`.
pub async fn add_contact(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(user): Path<String>,
) -> Result<StatusCode, AppError> {
    let user = user_in_path(&user)?;
    state.hub.add_contact(&auth.user, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/contacts/{user}`.
pub async fn remove_contact(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(user): Path<String>,
) -> Result<StatusCode, AppError> {
    let user = user_in_path(&user)?;
    state.hub.remove_contact(&auth.user, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/invitations`: your pending invitations.
pub async fn invitations(
    State(state): State<AppState>,
    auth: AuthUser,
) -> Result<Json<ServerFrame>, AppError> {
    Ok(Json(state.hub.invitations_frame(auth.user.id, None).await?))
}

#[derive(Deserialize)]
pub struct InviteBody {
    user: Username,
}

/// `POST /api/v1/rooms/{room}/invitations` `{"user": ...}`.
pub async fn invite(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(room): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, AppError> {
    let room = room_in_path(&room)?;
    let body: InviteBody = parse_body(body, r#"{"user": ...}"#)?;
    state.hub.invite(&auth.user, &room, &body.user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/invitations/{id}/accept`.
pub async fn accept(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    state.hub.answer_invitation(&auth.user, &id, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/invitations/{id}/decline`.
pub async fn decline(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    state.hub.answer_invitation(&auth.user, &id, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct LinkBody {
    expires_in_secs: Option<u64>,
    max_uses: Option<u32>,
}

/// `POST /api/v1/rooms/{room}/invites` `{"expires_in_secs"?: ..., "max_uses"?: ...}`.
pub async fn create_invite(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(room): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, AppError> {
    let room = room_in_path(&room)?;
    let body: LinkBody = parse_body(body, r#"{"expires_in_secs"?: ..., "max_uses"?: ...}"#)?;
    let request = CreateInvite {
        id: None,
        room,
        expires_in_secs: body.expires_in_secs,
        max_uses: body.max_uses,
    };
    let link = state.hub.create_invite(&auth.user, &request, None).await?;
    Ok((StatusCode::CREATED, Json(link)))
}

/// `GET /api/v1/rooms/{room}/invites`: the room's live links, for members.
pub async fn invite_links(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(room): Path<String>,
) -> Result<Json<ServerFrame>, AppError> {
    let room = room_in_path(&room)?;
    Ok(Json(
        state
            .hub
            .invite_links_frame(auth.user.id, &room, None)
            .await?,
    ))
}

/// `GET /api/v1/invites/{code}`: the room a code leads to and whether it still works.
pub async fn invite_info(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(code): Path<String>,
) -> Result<Json<ServerFrame>, AppError> {
    Ok(Json(
        state.hub.invite_info(auth.user.id, &code, None).await?,
    ))
}

/// `DELETE /api/v1/invites/{code}`.
pub async fn revoke_invite(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(code): Path<String>,
) -> Result<StatusCode, AppError> {
    state.hub.revoke_invite(&auth.user, &code).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/invites/{code}/redeem`: answers `{"room": "#name"}`.
pub async fn redeem_invite(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(code): Path<String>,
) -> Result<Json<serde_json::Value>, AppError> {
    let room = state.hub.redeem_invite(&auth.user, &code).await?;
    Ok(Json(json!({ "room": room })))
}
