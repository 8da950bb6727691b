//! Rooms and host powers over REST, under `/api/v1/rooms`: create, info, change (topic and
//! password), delete, join, leave, kick, ban, unban, mute, unmute, transfer and roles. Each
//! handler calls the same hub method as the matching frame, so every rule holds on both.
//! A room in the path may be given with or without its `#`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use confab_protocol::{CreateRoom, ErrorCode, Role, RoomName, ServerFrame, Username, Visibility};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use super::{AppState, AuthUser};
use crate::error::AppError;

/// A room name from a path or body, with or without its `#`.
pub fn room_name(raw: &str) -> Result<RoomName, AppError> {
    let name = if raw.starts_with('#') {
        raw.to_owned()
    } else {
        format!("#{raw}")
    };
    RoomName::parse(&name).map_err(|e| AppError::bad_request(e.0))
}

/// A JSON body; an empty one reads as `{}` where `empty_ok`.
fn parse<T: DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
    empty_ok: bool,
) -> Result<T, AppError> {
    let body = body.map_err(|err| AppError::new(ErrorCode::TooLarge, err.body_text()))?;
    let text: &[u8] = if empty_ok && body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        &body
    };
    serde_json::from_slice(text)
        .map_err(|err| AppError::bad_request(format!("invalid body: {err}")))
}

#[derive(Deserialize)]
struct CreateBody {
    room: String,
    #[serde(default)]
    visibility: Visibility,
    password: Option<String>,
    topic: Option<String>,
}

/// `POST /api/v1/rooms`: `201` with the new room's `room_info`.
pub async fn create(
    State(state): State<AppState>,
    auth: AuthUser,
    body: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, AppError> {
    let body: CreateBody = parse(body, false)?;
    let room = room_name(&body.room)?;
    let request = CreateRoom {
        id: None,
        room: room.clone(),
        visibility: body.visibility,
        password: body.password,
        topic: body.topic,
    };
    state.hub.create_room(&auth.user, request).await?;
    let info = state.hub.room_info_frame(auth.user.id, &room, None)?;
    Ok((StatusCode::CREATED, Json(info)))
}

/// `GET /api/v1/rooms/{room}`: `room_info`.
pub async fn info(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(room): Path<String>,
) -> Result<Json<ServerFrame>, AppError> {
    let room = room_name(&room)?;
    Ok(Json(state.hub.room_info_frame(
        auth.user.id,
        &room,
        None,
    )?))
}

#[derive(Deserialize)]
struct PatchBody {
    topic: Option<String>,
    /// Absent: unchanged; `null`: cleared.
    #[serde(default, deserialize_with = "present")]
    password: Option<Option<String>>,
}

fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// `PATCH /api/v1/rooms/{room}` with `topic` and/or `password` (`null` clears it): `200`
/// with the room's `room_info`.
pub async fn change(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(room): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ServerFrame>, AppError> {
    let room = room_name(&room)?;
    let body: PatchBody = parse(body, false)?;
    state
        .hub
        .change_room(&auth.user, &room, body.topic, body.password)
        .await?;
    Ok(Json(state.hub.room_info_frame(
        auth.user.id,
        &room,
        None,
    )?))
}

/// `DELETE /api/v1/rooms/{room}`: `204`.
pub async fn delete(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(room): Path<String>,
) -> Result<StatusCode, AppError> {
    let room = room_name(&room)?;
    state.hub.delete_room(&auth.user, &room).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct JoinBody {
    password: Option<String>,
}

/// `POST /api/v1/rooms/{room}/join` with an optional `{"password": ...}`: `204`.
pub async fn join(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(room): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, AppError> {
    let room = room_name(&room)?;
    let body: JoinBody = parse(body, true)?;
    state
        .hub
        .join_room(&auth.user, &room, body.password.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/rooms/{room}/leave`: `204`.
pub async fn leave(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(room): Path<String>,
) -> Result<StatusCode, AppError> {
    let room = room_name(&room)?;
    state.hub.leave_room(&auth.user, &room).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct UserBody {
    user: Username,
}

#[derive(Clone, Copy)]
enum UserAction {
    Kick,
    Ban,
    Unban,
    Unmute,
    Transfer,
}

async fn on_user(
    state: AppState,
    auth: AuthUser,
    room: String,
    body: Result<Bytes, BytesRejection>,
    action: UserAction,
) -> Result<StatusCode, AppError> {
    let room = room_name(&room)?;
    let UserBody { user } = parse(body, false)?;
    let (hub, actor) = (&state.hub, &auth.user);
    match action {
        UserAction::Kick => hub.kick(actor, &room, &user).await?,
        UserAction::Ban => hub.ban(actor, &room, &user).await?,
        UserAction::Unban => hub.unban(actor, &room, &user).await?,
        UserAction::Unmute => hub.unmute(actor, &room, &user).await?,
        UserAction::Transfer => hub.transfer(actor, &room, &user).await?,
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/rooms/{room}/kick` with `{"user": ...}`: `204`.
pub async fn kick(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(room): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, AppError> {
    on_user(state, auth, room, body, UserAction::Kick).await
}

/// `POST /api/v1/rooms/{room}/ban` with `{"user": ...}`: `204`.
pub async fn ban(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(room): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, AppError> {
    on_user(state, auth, room, body, UserAction::Ban).await
}

/// `POST /api/v1/rooms/{room}/unban` with `{"user": ...}`: `204`.
pub async fn unban(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(room): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, AppError> {
    on_user(state, auth, room, body, UserAction::Unban).await
}

/// `POST /api/v1/rooms/{room}/unmute` with `{"user": ...}`: `204`.
pub async fn unmute(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(room): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, AppError> {
    on_user(state, auth, room, body, UserAction::Unmute).await
}

/// `POST /api/v1/rooms/{room}/transfer` with `{"user": ...}`: `204`.
pub async fn transfer(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(room): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, AppError> {
    on_user(state, auth, room, body, UserAction::Transfer).await
}

#[derive(Deserialize)]
struct MuteBody {
    user: Username,
    seconds: u64,
}

/// `POST /api/v1/rooms/{room}/mute` with `{"user": ..., "seconds": ...}`: `204`.
pub async fn mute(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(room): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, AppError> {
    let room = room_name(&room)?;
    let body: MuteBody = parse(body, false)?;
    state
        .hub
        .mute(&auth.user, &room, &body.user, body.seconds)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct RoleBody {
    role: Role,
}

/// `PUT /api/v1/rooms/{room}/members/{user}/role` with `{"role": "moderator"|"member"}`:
/// `204`.
pub async fn set_role(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((room, user)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, AppError> {
    let room = room_name(&room)?;
    let user = Username::parse(&user).map_err(|e| AppError::bad_request(e.0))?;
    let body: RoleBody = parse(body, false)?;
    state
        .hub
        .set_role(&auth.user, &room, &user, body.role)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_names_come_with_or_without_hash() {
        assert_eq!(room_name("Ops").unwrap().as_str(), "#ops");
        assert_eq!(room_name("#ops").unwrap().as_str(), "#ops");
        assert_eq!(room_name("a b").unwrap_err().code, ErrorCode::BadRequest);
    }

    #[test]
    fn patch_tells_null_from_absent() {
        let body: PatchBody = serde_json::from_str(r#"{"password":null}"#).unwrap();
        assert_eq!(body.password, Some(None));
        let body: PatchBody = serde_json::from_str(r#"{"topic":"t"}"#).unwrap();
        assert_eq!(body.password, None);
        assert_eq!(body.topic.as_deref(), Some("t"));
    }
}
