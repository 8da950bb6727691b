//! The fallback transport for networks that block WebSockets: Server-Sent Events down
//! (`GET /api/v1/events`, one event per server frame) and HTTP POSTs up (`POST
//! /api/v1/frames`, whose answer holds the replies to its frames). Each stream is one hub
//! session, like one WebSocket; the hub does not know the difference.
//!
//! A stream outlives its connection for `sse.resume_grace_secs`: an EventSource that comes
//! back with `Last-Event-ID` gets a new `ready`, then every event after the one it names (even
//! those the old connection wrote that never arrived), then the rest ([`stream`], [`replay`]).
//! A `Last-Event-ID` that names no stream of the user's, or one whose replay no longer reaches
//! back that far, gets a fresh stream with the usual catch-up by delivery cursors. [`event`]
//! is the wire format, [`frames`] the POST side.

pub mod event;
pub mod frames;
pub mod replay;
pub mod stream;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use confab_protocol::{close, ErrorCode, Limits, Receiver, ServerFrame};
use serde::Deserialize;

use crate::error::AppError;
use crate::http::{bearer_token, AppState};
use crate::hub::{Credentials, Next, Resume};
use event::EventId;
pub use frames::frames;
pub use stream::Streams;
use stream::{Context, Stream};

#[derive(Deserialize)]
pub struct EventsQuery {
    token: Option<String>,
    /// For a client that cannot set the `Last-Event-ID` header (a new EventSource).
    last_event_id: Option<String>,
    /// A JSON object, receiver to the last seq held, as in `login.cursors`.
    cursors: Option<String>,
}

/// `GET /api/v1/events`: opens a stream, or resumes one named by `Last-Event-ID`.
pub async fn events(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    headers: HeaderMap,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> Response {
    match open(state, peer, method, headers, query).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

async fn open(
    state: AppState,
    peer: SocketAddr,
    method: Method,
    headers: HeaderMap,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> Result<Response, AppError> {
    let Query(query) = query.map_err(|err| AppError::bad_request(err.body_text()))?;
    let token = bearer_token(&headers)
        .or(query.token)
        .ok_or_else(|| AppError::unauthorized("a bearer token is required"))?;
    let authed = state.hub.authenticate(Credentials::Token(token)).await?;
    let cursors = parse_cursors(query.cursors.as_deref())?;
    if method == Method::HEAD {
        return Ok(respond(Body::empty()));
    }
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or(query.last_event_id);
    let mut abandoned = None;
    if let Some(last) = last.as_deref().and_then(EventId::parse) {
        let own = state
            .streams
            .get(&last.stream)
            .filter(|s| s.user.id == authed.user.id);
        if let Some(stream) = own {
            if let Some(feed) = stream.resume(&state.hub, last.n) {
                tracing::info!(stream = %stream.id, after = last.n, "stream resumed");
                return Ok(respond(feed.into_body()));
            }
            abandoned = Some(stream);
        }
    }
    // A fresh stream: a new connection for the per-address limit (the session checks the
    // per-user one).
    let slot = state.per_ip.admit(peer.ip())?;
    let context = Context {
        hub: state.hub.clone(),
        streams: state.streams.clone(),
        tasks: state.tasks.clone(),
        shutdown: state.shutdown.clone(),
    };
    // In a task of its own, so a client that leaves half-way cannot cut the opening short
    // (its stream then simply waits out the grace period).
    let opened = state.tasks.spawn(async move {
        let resume = Resume {
            reply_to: None,
            cursors,
        };
        let (session, mut outbox) = context.hub.open_session(authed, resume).await?;
        let ready = match outbox.next().await {
            Next::Send(frame, _) => serde_json::from_slice::<ServerFrame>(&frame).ok(),
            Next::Close(..) => None,
        };
        let Some(ready) = ready else {
            context.hub.close_session(session);
            return Err(AppError::internal());
        };
        Ok(Stream::start(&context, session, outbox, &ready, slot))
    });
    let (stream, feed) = opened.await.map_err(|_| AppError::internal())??;
    tracing::info!(stream = %stream.id, user = %stream.user.username, "stream open");
    if let Some(old) = abandoned {
        old.control.close(close::NORMAL, "replaced by a new stream");
    }
    Ok(respond(feed.into_body()))
}

/// The answer of a stream: never cached, never buffered by a proxy.
fn respond(body: Body) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store"),
    );
    // nginx's switch for unbuffered responses.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// `?cursors=`: a JSON object like `login.cursors`.
fn parse_cursors(raw: Option<&str>) -> Result<BTreeMap<Receiver, u64>, AppError> {
    let Some(raw) = raw else {
        return Ok(BTreeMap::new());
    };
    let cursors: BTreeMap<Receiver, u64> = serde_json::from_str(raw).map_err(|err| {
        AppError::bad_request(format!(
            "cursors must be a JSON object of receiver to seq: {err}"
        ))
    })?;
    if cursors.len() > Limits::MAX_LOGIN_CURSORS {
        return Err(AppError::new(
            ErrorCode::TooLarge,
            format!("at most {} cursors", Limits::MAX_LOGIN_CURSORS),
        ));
    }
    Ok(cursors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_read_like_a_login_s() {
        assert!(parse_cursors(None).unwrap().is_empty());
        let cursors = parse_cursors(Some(r##"{"#General":4,"Bob":2}"##)).unwrap();
        assert_eq!(cursors.len(), 2);
        assert_eq!(
            cursors[&Receiver::parse("#general").unwrap()],
            4,
            "names are lowercased"
        );
        for bad in [
            "[1]",
            "{\"#general\":-1}",
            "{\"# x\":1}",
            "{",
            "{\"a\":\"1\"}",
        ] {
            let err = parse_cursors(Some(bad)).unwrap_err();
            assert_eq!(err.code, ErrorCode::BadRequest, "{bad}");
        }
        let many: BTreeMap<String, u64> = (0..=Limits::MAX_LOGIN_CURSORS)
            .map(|i| (format!("user{i}"), 1))
            .collect();
        let many = serde_json::to_string(&many).unwrap();
        assert_eq!(
            parse_cursors(Some(&many)).unwrap_err().code,
            ErrorCode::TooLarge
        );
    }
}
