//! HTTP: the REST API under `/api/v1` ([`accounts`], [`conversations`], [`rooms`]), `/healthz`, and the
//! WebSocket upgrade on `/ws`. Errors are JSON bodies `{"code": ..., "message": ...}` with the
//! status that goes with the code.

mod accounts;
mod attachments;
mod conversations;
mod messages;
mod rooms;
mod social;

use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::routing::{delete, get, post, put};
use axum::Router;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::error::AppError;
use crate::gateway;
use crate::hub::{Credentials, Hub};
use crate::store::User;

/// Largest REST request body accepted.
const MAX_BODY_BYTES: usize = 16 * 1024;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub hub: Hub,
    /// Cancelled when the server shuts down.
    pub shutdown: CancellationToken,
    /// Tracks socket tasks, so shutdown can wait for them.
    pub tasks: TaskTracker,
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    // Uploads stream to disk under their own limit (`attachments.max_bytes`), not the small
    // one for JSON bodies.
    let max_upload =
        usize::try_from(state.hub.config().attachments.max_bytes).unwrap_or(usize::MAX);
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .route("/ws", get(gateway::ws::upgrade))
        .route("/api/v1/register", post(accounts::register))
        .route("/api/v1/login", post(accounts::login))
        .route("/api/v1/logout", post(accounts::logout))
        .route(
            "/api/v1/rooms",
            get(conversations::rooms).post(rooms::create),
        )
        .route(
            "/api/v1/rooms/{room}",
            get(rooms::info).patch(rooms::change).delete(rooms::delete),
        )
        .route("/api/v1/rooms/{room}/members", get(conversations::members))
        .route(
            "/api/v1/rooms/{room}/members/{user}/role",
            put(rooms::set_role),
        )
        .route("/api/v1/rooms/{room}/join", post(rooms::join))
        .route("/api/v1/rooms/{room}/leave", post(rooms::leave))
        .route("/api/v1/rooms/{room}/kick", post(rooms::kick))
        .route("/api/v1/rooms/{room}/ban", post(rooms::ban))
        .route("/api/v1/rooms/{room}/unban", post(rooms::unban))
        .route("/api/v1/rooms/{room}/mute", post(rooms::mute))
        .route("/api/v1/rooms/{room}/unmute", post(rooms::unmute))
        .route("/api/v1/rooms/{room}/transfer", post(rooms::transfer))
        .route("/api/v1/history", get(conversations::history))
        .route("/api/v1/chats", get(messages::chats))
        .route("/api/v1/chats/{receiver}", delete(messages::delete_chat))
        .route("/api/v1/search", get(messages::search))
        .route("/api/v1/receipts", get(messages::receipts))
        .route(
            "/api/v1/attachments",
            post(attachments::upload).layer(DefaultBodyLimit::max(max_upload)),
        )
        .route("/api/v1/attachments/{id}", get(attachments::download))
        .route(
            "/api/v1/attachments/{id}/thumbnail",
            get(attachments::thumbnail),
        )
        .route("/api/v1/attachments/{id}/info", get(attachments::info))
        .route(
            "/api/v1/profile",
            get(social::own_profile).patch(social::set_profile),
        )
        .route("/api/v1/users/{user}", get(social::profile))
        .route("/api/v1/contacts", get(social::contacts))
        .route(
            "/api/v1/contacts/{user}",
            put(social::add_contact).delete(social::remove_contact),
        )
        .route("/api/v1/invitations", get(social::invitations))
        .route("/api/v1/rooms/{room}/invitations", post(social::invite))
        .route("/api/v1/invitations/{id}/accept", post(social::accept))
        .route("/api/v1/invitations/{id}/decline", post(social::decline))
        .route(
            "/api/v1/rooms/{room}/invites",
            get(social::invite_links).post(social::create_invite),
        )
        .route(
            "/api/v1/invites/{code}",
            get(social::invite_info).delete(social::revoke_invite),
        )
        .route("/api/v1/invites/{code}/redeem", post(social::redeem_invite))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// `GET /metrics`: the server's counters in the Prometheus text format.
async fn metrics(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> impl axum::response::IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.hub.metrics().render(),
    )
}

/// The token in `Authorization: Bearer ...`, if any.
pub fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
        .filter(|t| !t.is_empty())
}

/// Browsers send `Origin`; it must be this server (same host) or an allowed origin. Requests
/// without one (non-browser clients) pass.
pub fn check_origin(headers: &HeaderMap, allowed: &[String]) -> Result<(), AppError> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or_default();
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)) {
        return Ok(());
    }
    let authority = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    match (authority, host) {
        (Some(authority), Some(host)) if authority.eq_ignore_ascii_case(host) => Ok(()),
        _ => Err(AppError::forbidden(format!(
            "origin {origin} is not allowed"
        ))),
    }
}

/// The user behind the request's token (bearer header or `?token=`).
pub struct AuthUser {
    pub user: User,
    pub token: String,
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let token = bearer_token(&parts.headers)
            .or_else(|| query_token(parts.uri.query()))
            .ok_or_else(|| AppError::unauthorized("a bearer token is required"))?;
        let authed = state
            .hub
            .authenticate(Credentials::Token(token.clone()))
            .await?;
        Ok(Self {
            user: authed.user,
            token,
        })
    }
}

fn query_token(query: Option<&str>) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct TokenQuery {
        token: Option<String>,
    }
    serde_urlencoded::from_str::<TokenQuery>(query?).ok()?.token
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn origin_must_match_host_or_allow_list() {
        let allowed = vec!["https://chat.example.com".to_owned()];
        assert!(check_origin(&headers(&[]), &allowed).is_ok());
        let same = headers(&[
            (header::ORIGIN, "http://127.0.0.1:8080"),
            (header::HOST, "127.0.0.1:8080"),
        ]);
        assert!(check_origin(&same, &allowed).is_ok());
        let listed = headers(&[
            (header::ORIGIN, "https://chat.example.com"),
            (header::HOST, "127.0.0.1:8080"),
        ]);
        assert!(check_origin(&listed, &allowed).is_ok());
        let foreign = headers(&[
            (header::ORIGIN, "https://evil.example"),
            (header::HOST, "127.0.0.1:8080"),
        ]);
        assert!(check_origin(&foreign, &allowed).is_err());
    }

    #[test]
    fn bearer_is_parsed_case_insensitively() {
        let h = headers(&[(header::AUTHORIZATION, "bearer abc")]);
        assert_eq!(bearer_token(&h).as_deref(), Some("abc"));
        let h = headers(&[(header::AUTHORIZATION, "Basic abc")]);
        assert_eq!(bearer_token(&h), None);
    }
}
