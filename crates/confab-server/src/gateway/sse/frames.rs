//! `POST /api/v1/frames?stream=<id>`: client frames for a stream, one JSON frame or an array
//! of them, handled in order as if they had come over the stream's own socket. The answer is
//! the JSON array of the replies to the frames that have an `id` (acks, errors, history…), in
//! the order of the frames; those replies do not appear on the stream. A reply not ready within
//! `sse.post_timeout_secs` goes on the stream instead. Frames without an `id` are answered as on
//! a WebSocket: what they get (an error without `reply_to`, most often nothing) is on the stream.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::BytesMut;
use confab_protocol::{decode_client_frame, ClientFrame, ErrorCode, FrameError, Limits};
use serde::Deserialize;
use serde_json::Value;
use tokio::time::Instant;

use crate::auth::Token;
use crate::error::AppError;
use crate::http::{bearer_token, AppState};
use crate::hub::Credentials;

/// Frames one POST may carry, at most (more: `413 too_large`).
pub const MAX_POST_FRAMES: usize = 100;

#[derive(Deserialize)]
pub struct FramesQuery {
    stream: Option<String>,
    token: Option<String>,
}

/// `POST /api/v1/frames`.
pub async fn frames(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<FramesQuery>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, AppError> {
    let Query(query) = query.map_err(|err| AppError::bad_request(err.body_text()))?;
    let token = bearer_token(&headers)
        .or(query.token)
        .ok_or_else(|| AppError::unauthorized("a bearer token is required"))?;
    // The stream's own token needs no lookup while the stream is open: revoking a token
    // closes its sessions. Any other token is checked as for any REST call, first.
    let stream = query.stream.as_deref().and_then(|id| state.streams.get(id));
    let hash = Token::from_client(&token).hash();
    let own = stream
        .as_ref()
        .is_some_and(|s| s.token == hash && !s.control.is_closed());
    let stream = if own {
        stream
    } else {
        let authed = state.hub.authenticate(Credentials::Token(token)).await?;
        stream.filter(|s| s.user.id == authed.user.id)
    };
    let body = body.map_err(|err| {
        if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::new(ErrorCode::TooLarge, err.body_text())
        } else {
            AppError::bad_request(err.body_text())
        }
    })?;
    if query.stream.is_none() {
        return Err(AppError::bad_request(
            "name the stream: ?stream=<ready.stream>",
        ));
    }
    let ended = || AppError::not_found("no such stream of yours (it ended, or never was)");
    let stream = stream.ok_or_else(ended)?;
    let config = state.hub.config();
    let frames = parse(&body, &config.limits)?;
    let ids: Vec<Option<String>> = frames
        .iter()
        .map(|frame| match frame {
            Ok(frame) => frame.id().map(str::to_owned),
            Err(err) => err.reply_to.clone(),
        })
        .collect();
    // Routed before the frames go in, so no reply can slip onto the stream.
    let replies = stream.expect_replies(&ids);
    let deadline = Instant::now() + config.sse.post_timeout();
    let handled =
        match tokio::time::timeout_at(deadline, stream.submit(frames)).await {
            Ok(Ok(handled)) => handled,
            Ok(Err(())) => return Err(ended()),
            Err(_) => return Err(AppError::new(
                ErrorCode::RateLimited,
                "the stream is busy with earlier frames; none of these was taken, send them again",
            )),
        };
    // A batch is handled whole or not at all: a stream that ends drops the batches it did
    // not take.
    if let Ok(Err(_)) = tokio::time::timeout_at(deadline, handled).await {
        // The stream ended before the reader took them: none was handled.
        return Err(ended());
    }
    let replies = replies.collect(deadline).await;
    Ok(respond(&replies))
}

/// The body as frames: one JSON object, or a non-empty array of at most [`MAX_POST_FRAMES`].
/// Each element is decoded like a WebSocket text frame, so a bad one gets its error frame.
fn parse(body: &[u8], limits: &Limits) -> Result<Vec<Result<ClientFrame, FrameError>>, AppError> {
    let text =
        std::str::from_utf8(body).map_err(|_| AppError::bad_request("the body is not UTF-8"))?;
    let value: Value = serde_json::from_str(text)
        .map_err(|err| AppError::bad_request(format!("invalid JSON: {err}")))?;
    match value {
        Value::Object(_) => Ok(vec![decode_client_frame(text, limits)]),
        Value::Array(items) if items.is_empty() => Err(AppError::bad_request("no frames")),
        Value::Array(items) if items.len() > MAX_POST_FRAMES => Err(AppError::new(
            ErrorCode::TooLarge,
            format!("at most {MAX_POST_FRAMES} frames per post"),
        )),
        Value::Array(items) => Ok(items
            .iter()
            .map(|item| decode_client_frame(&item.to_string(), limits))
            .collect()),
        _ => Err(AppError::bad_request(
            "expected a frame (a JSON object) or an array of frames",
        )),
    }
}

/// The replies, as a JSON array.
fn respond(replies: &[Bytes]) -> Response {
    let mut body = BytesMut::with_capacity(2 + replies.iter().map(|r| r.len() + 1).sum::<usize>());
    body.extend_from_slice(b"[");
    for (i, reply) in replies.iter().enumerate() {
        if i > 0 {
            body.extend_from_slice(b",");
        }
        body.extend_from_slice(reply);
    }
    body.extend_from_slice(b"]");
    let mut response = (StatusCode::OK, body.freeze()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(body: &str) -> Result<Vec<Result<(), ErrorCode>>, ErrorCode> {
        parse(body.as_bytes(), &Limits::default())
            .map(|frames| {
                frames
                    .into_iter()
                    .map(|f| f.map(|_| ()).map_err(|e| e.code))
                    .collect()
            })
            .map_err(|e| e.code)
    }

    #[test]
    fn a_body_is_one_frame_or_an_array_of_them() {
        assert_eq!(codes(r#"{"type":"ping"}"#), Ok(vec![Ok(())]));
        assert_eq!(
            codes(r#"[{"type":"ping"},{"type":"nope"},7,{"type":"ping","id":""}]"#),
            Ok(vec![
                Ok(()),
                Err(ErrorCode::BadRequest),
                Err(ErrorCode::BadRequest),
                Err(ErrorCode::BadRequest)
            ])
        );
        for bad in ["", "{", "[]", "42", "\"ping\"", "null"] {
            assert_eq!(codes(bad), Err(ErrorCode::BadRequest), "{bad:?}");
        }
        assert_eq!(
            parse(b"\xff", &Limits::default()).unwrap_err().code,
            ErrorCode::BadRequest
        );
        let many = format!(
            "[{}]",
            vec![r#"{"type":"ping"}"#; MAX_POST_FRAMES + 1].join(",")
        );
        assert_eq!(codes(&many), Err(ErrorCode::TooLarge));
        let full = format!(
            "[{}]",
            vec![r#"{"type":"ping"}"#; MAX_POST_FRAMES].join(",")
        );
        assert_eq!(codes(&full).unwrap().len(), MAX_POST_FRAMES);
    }

    #[test]
    fn an_error_keeps_the_id_it_answers() {
        let frames = parse(
            br##"[{"type":"message","id":"m1","receiver":"#general","content":""}]"##,
            &Limits::default(),
        )
        .unwrap();
        let err = frames[0].as_ref().unwrap_err();
        assert_eq!(err.reply_to.as_deref(), Some("m1"));
    }

    #[test]
    fn replies_make_a_json_array() {
        let reply = respond(&[Bytes::from_static(b"{\"a\":1}"), Bytes::from_static(b"{}")]);
        assert_eq!(reply.headers()[header::CACHE_CONTROL], "no-store");
        let none = respond(&[]);
        assert_eq!(none.status(), StatusCode::OK);
    }
}
