//! HTTP: the REST API under `/api/v1` ([`accounts`], [`conversations`], [`rooms`], ...),
//! described by the OpenAPI document at `/api/v1/openapi.json` ([`openapi`]), `/healthz`,
//! `/metrics`, the WebSocket upgrade on `/ws` and its fallback, the event stream on
//! `/api/v1/events` with `/api/v1/frames`. Every route is added through
//! [`routes::Routes`], which records it, so the document can be checked against the router.
//! Errors are JSON bodies `{"code": ..., "message": ...}` with the status that goes with the
//! code. Every response passes [`headers`] (nosniff, a default CSP, HSTS over TLS); WebSocket
//! routes check the origin first ([`origin`]).

mod accounts;
mod attachments;
mod conversations;
mod headers;
mod messages;
mod openapi;
mod origin;
mod rooms;
mod routes;
mod sessions;
mod social;
pub mod web;

/// The `If-None-Match` / `If-Range` matcher, for the fuzz targets.
#[doc(hidden)]
pub use attachments::names_etag;

use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::error::AppError;
use crate::gateway;
use crate::hub::{Credentials, Hub};
use crate::store::User;
pub use origin::{check_origin, AllowedOrigin};
use routes::Routes;

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
    /// The open Server-Sent Events streams.
    pub streams: gateway::sse::Streams,
    /// Connections per client address (WebSocket connections and event streams).
    pub per_ip: gateway::admission::PerIp,
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    // Uploads stream to disk under their own limit (`attachments.max_bytes`), not the small
    // one for JSON bodies.
    let max_upload =
        usize::try_from(state.hub.config().attachments.max_bytes).unwrap_or(usize::MAX);
    let max_frame = state.hub.config().limits.max_frame_bytes;
    let (mut routes, _) = all_routes(max_upload, max_frame).finish();
    // The conformance echo is a test-only route, not part of the public API: it is merged
    // here, outside the recorded routes (so the OpenAPI document neither lists it nor is
    // checked against it), and only when asked for; otherwise the path is a bare 404.
    if state.hub.config().conformance_echo {
        routes = routes.merge(gateway::conformance::router());
    }
    let baseline = headers::Baseline::new(&state.hub.config().tls);
    routes
        .fallback(web::serve)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(baseline, headers::add))
        .with_state(state)
}

/// Every route, recorded (see [`routes::Routes`]); `max_upload` is the upload route's own body
/// limit and `max_frame` that of posted frames. Needs no hub, so tests can read the list.
fn all_routes(max_upload: usize, max_frame: usize) -> Routes {
    Routes::new()
        .get("/healthz", healthz)
        .get("/readyz", readyz)
        .get("/metrics", metrics)
        .get("/ws", gateway::ws::upgrade)
        .get("/api/v1/events", gateway::sse::events)
        .route_with_body_limit(
            Method::POST,
            "/api/v1/frames",
            gateway::sse::frames,
            max_frame,
        )
        .get("/api/v1/openapi.json", openapi::document)
        .post("/api/v1/register", accounts::register)
        .post("/api/v1/login", accounts::login)
        .post("/api/v1/logout", accounts::logout)
        .post("/api/v1/password", sessions::change_password)
        .get("/api/v1/sessions", sessions::list)
        .delete("/api/v1/sessions", sessions::revoke_all)
        .delete("/api/v1/sessions/{id}", sessions::revoke)
        .get("/api/v1/rooms", conversations::rooms)
        .post("/api/v1/rooms", rooms::create)
        .get("/api/v1/rooms/{room}", rooms::info)
        .patch("/api/v1/rooms/{room}", rooms::change)
        .delete("/api/v1/rooms/{room}", rooms::delete)
        .get("/api/v1/rooms/{room}/members", conversations::members)
        .put("/api/v1/rooms/{room}/members/{user}/role", rooms::set_role)
        .post("/api/v1/rooms/{room}/join", rooms::join)
        .post("/api/v1/rooms/{room}/leave", rooms::leave)
        .post("/api/v1/rooms/{room}/kick", rooms::kick)
        .post("/api/v1/rooms/{room}/ban", rooms::ban)
        .post("/api/v1/rooms/{room}/unban", rooms::unban)
        .post("/api/v1/rooms/{room}/mute", rooms::mute)
        .post("/api/v1/rooms/{room}/unmute", rooms::unmute)
        .post("/api/v1/rooms/{room}/transfer", rooms::transfer)
        .get("/api/v1/history", conversations::history)
        .get("/api/v1/chats", messages::chats)
        .delete("/api/v1/chats/{receiver}", messages::delete_chat)
        .get("/api/v1/search", messages::search)
        .get("/api/v1/receipts", messages::receipts)
        .route_with_body_limit(
            Method::POST,
            "/api/v1/attachments",
            attachments::upload,
            max_upload,
        )
        .get("/api/v1/attachments/{id}", attachments::download)
        .get("/api/v1/attachments/{id}/thumbnail", attachments::thumbnail)
        .get("/api/v1/attachments/{id}/info", attachments::info)
        .get("/api/v1/profile", social::own_profile)
        .patch("/api/v1/profile", social::set_profile)
        .get("/api/v1/users/{user}", social::profile)
        .get("/api/v1/contacts", social::contacts)
        .put("/api/v1/contacts/{user}", social::add_contact)
        .delete("/api/v1/contacts/{user}", social::remove_contact)
        .get("/api/v1/invitations", social::invitations)
        .post("/api/v1/rooms/{room}/invitations", social::invite)
        .post("/api/v1/invitations/{id}/accept", social::accept)
        .post("/api/v1/invitations/{id}/decline", social::decline)
        .get("/api/v1/rooms/{room}/invites", social::invite_links)
        .post("/api/v1/rooms/{room}/invites", social::create_invite)
        .get("/api/v1/invites/{code}", social::invite_info)
        .delete("/api/v1/invites/{code}", social::revoke_invite)
        .post("/api/v1/invites/{code}/redeem", social::redeem_invite)
}

/// `GET /healthz`: the process is up (it says nothing about storage; see `/readyz`).
async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /readyz`: 200 when the store and the upload directory can be written, else 503 with
/// what cannot (`"status":"degraded"`).
async fn readyz(State(state): State<AppState>) -> Response {
    let readiness = state.hub.readiness().await;
    let part = |r: &Result<(), String>| match r {
        Ok(()) => serde_json::json!("ok"),
        Err(why) => serde_json::json!(why),
    };
    let body = serde_json::json!({
        "status": if readiness.is_ready() { "ready" } else { "degraded" },
        "store": part(&readiness.store),
        "uploads": part(&readiness.uploads),
    });
    let status = if readiness.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

/// `GET /metrics`: the server's metrics in the OpenMetrics text format, for peers on a
/// loopback address, or for anyone with `Authorization: Bearer <metrics_token>` when one is
/// configured (then the token is required from every peer).
async fn metrics(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    metrics_access(
        state.hub.config().metrics_token.as_deref(),
        peer.ip(),
        &headers,
    )?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.hub.metrics().render(),
    )
        .into_response())
}

/// Who may read `/metrics`: with a token configured, whoever sends it; without, loopback peers.
fn metrics_access(
    token: Option<&str>,
    peer: std::net::IpAddr,
    headers: &HeaderMap,
) -> Result<(), AppError> {
    match token {
        Some(expected) => {
            let given = bearer_token(headers).unwrap_or_default();
            if !same_secret(&given, expected) {
                return Err(AppError::unauthorized(
                    "metrics need Authorization: Bearer <metrics_token>",
                ));
            }
        }
        None if !peer.is_loopback() => {
            return Err(AppError::forbidden(
                "metrics are served to loopback peers only; set metrics_token to scrape from elsewhere",
            ));
        }
        None => {}
    }
    Ok(())
}

/// Compares two secrets in time independent of where they differ (by their digests).
fn same_secret(given: &str, expected: &str) -> bool {
    use sha2::{Digest, Sha256};
    Sha256::digest(given.as_bytes()) == Sha256::digest(expected.as_bytes())
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

/// The client's address: the peer's, unless the peer is a trusted proxy; then the nearest
/// address in `X-Forwarded-For` (read from the right) that is not a trusted proxy itself. A
/// header that does not parse is ignored (the peer's address is used).
pub fn client_ip(
    peer: std::net::SocketAddr,
    headers: &HeaderMap,
    trusted: &[ipnet::IpNet],
) -> std::net::IpAddr {
    let is_trusted = |ip: &std::net::IpAddr| trusted.iter().any(|net| net.contains(ip));
    let peer = peer.ip();
    if !is_trusted(&peer) {
        return peer;
    }
    let chain: Option<Vec<std::net::IpAddr>> = headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|value| value.to_str().ok())
        .collect::<Option<Vec<_>>>()
        .and_then(|values| {
            values
                .iter()
                .flat_map(|v| v.split(','))
                .map(|hop| hop.trim().parse().ok())
                .collect()
        });
    chain
        .and_then(|hops| hops.into_iter().rev().find(|ip| !is_trusted(ip)))
        .unwrap_or(peer)
}

/// The request's `User-Agent`, if it is text.
pub fn user_agent(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
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

/// The token in the query string (`?token=`), if any.
pub fn query_token(query: Option<&str>) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct TokenQuery {
        token: Option<String>,
    }
    serde_urlencoded::from_str::<TokenQuery>(query?).ok()?.token
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use confab_protocol::ErrorCode;

    /// A header map of these pairs.
    pub(crate) fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn forwarded_for_is_believed_from_trusted_proxies_only() {
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let proxy: std::net::SocketAddr = "10.1.2.3:4000".parse().unwrap();
        let stranger: std::net::SocketAddr = "198.51.100.9:4000".parse().unwrap();
        let forwarded = headers(&[(
            header::HeaderName::from_static("x-forwarded-for"),
            "203.0.113.1, 198.51.100.77, 10.9.9.9",
        )]);
        // The nearest untrusted hop, not the left-most (which the client can forge).
        assert_eq!(
            client_ip(proxy, &forwarded, &trusted).to_string(),
            "198.51.100.77"
        );
        assert_eq!(
            client_ip(stranger, &forwarded, &trusted),
            stranger.ip(),
            "not from a trusted proxy"
        );
        assert_eq!(
            client_ip(proxy, &forwarded, &[]),
            proxy.ip(),
            "none trusted by default"
        );
        let junk = headers(&[(
            header::HeaderName::from_static("x-forwarded-for"),
            "nonsense",
        )]);
        assert_eq!(client_ip(proxy, &junk, &trusted), proxy.ip());
        assert_eq!(client_ip(proxy, &headers(&[]), &trusted), proxy.ip());
    }

    #[test]
    fn metrics_go_to_loopback_peers_or_to_the_token() {
        let none = headers(&[]);
        let loopback = "127.0.0.1".parse().unwrap();
        let remote = "203.0.113.7".parse().unwrap();
        assert!(metrics_access(None, loopback, &none).is_ok());
        assert!(metrics_access(None, "::1".parse().unwrap(), &none).is_ok());
        let refused = metrics_access(None, remote, &none).unwrap_err();
        assert_eq!(refused.code, ErrorCode::Forbidden);
        let secret = Some("sixteen-chars-secret");
        let with = headers(&[(header::AUTHORIZATION, "Bearer sixteen-chars-secret")]);
        assert!(metrics_access(secret, remote, &with).is_ok());
        // With a token, loopback peers need it too.
        let refused = metrics_access(secret, loopback, &none).unwrap_err();
        assert_eq!(refused.code, ErrorCode::Unauthorized);
    }

    #[test]
    fn bearer_is_parsed_case_insensitively() {
        let h = headers(&[(header::AUTHORIZATION, "bearer abc")]);
        assert_eq!(bearer_token(&h).as_deref(), Some("abc"));
        let h = headers(&[(header::AUTHORIZATION, "Basic abc")]);
        assert_eq!(bearer_token(&h), None);
    }
}
