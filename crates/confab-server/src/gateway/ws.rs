//! The WebSocket gateway on `/ws`. A connection authenticates at the upgrade (bearer header or
//! `?token=`) or in-band with a `login` frame, then runs two loops: the reader decodes frames
//! and hands them to the hub; the writer drains the session's outbox, writing every frame that
//! is ready in one flush, and pings the peer when idle.

use std::net::SocketAddr;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use confab_protocol::{close, decode_client_frame, ErrorCode, ServerFrame};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::login::{error_frame, LoginPhase, Step};
use super::writer::{self, FrameSink};
use crate::config::Config;
use crate::error::AppError;
use crate::http::{bearer_token, client_ip, user_agent, AllowedOrigin, AppState};
use crate::hub::sessions::SessionControl;
use crate::hub::{Authed, Credentials, Hub, Resume, Session};

type Sink = SplitSink<WebSocket, Message>;
type Stream = SplitStream<WebSocket>;

/// Bytes read from the socket at a time. The library's default (128 KiB) would cost that much
/// memory per idle connection; a chat frame is small and a larger one is read in several goes.
const READ_BUFFER: usize = 4096;
/// Frames are buffered up to this size before a write; every batch is flushed at once anyway.
const WRITE_BUFFER: usize = 16 * 1024;

#[derive(Deserialize)]
pub struct WsQuery {
    token: Option<String>,
}

/// `GET /ws`: checks the origin (extracting [`AllowedOrigin`], before anything else) and any
/// token given at the upgrade, then upgrades.
pub async fn upgrade(
    _origin: AllowedOrigin,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(query): Query<WsQuery>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let from = client_ip(peer, &headers, &state.hub.config().trusted_proxies);
    let agent = user_agent(&headers);
    if let Err(err) = state.hub.admit_handshake(from) {
        return err.into_response();
    }
    let slot = match state.per_ip.admit(peer.ip()) {
        Ok(slot) => slot,
        Err(err) => return err.into_response(),
    };
    let authed = match bearer_token(&headers).or(query.token) {
        Some(token) => match state.hub.authenticate(Credentials::Token(token)).await {
            Ok(authed) => Some(authed),
            Err(err) => return err.into_response(),
        },
        None => None,
    };
    let ws = match configure(ws, state.hub.config()) {
        Ok(ws) => ws,
        Err(err) => return err.into_response(),
    };
    tracing::info!(%peer, authenticated = authed.is_some(), "websocket connection");
    let tracker = state.tasks.clone();
    ws.on_upgrade(move |socket| {
        tracker.track_future(async move {
            let _slot = slot;
            serve(socket, state.hub, (from, agent), authed, state.shutdown).await
        })
    })
}

/// The socket settings of every WebSocket route (`/ws` and the conformance echo), so they
/// cannot drift apart: refuses a request that is not an upgrade, then applies the frame and
/// message limit (`limits.max_frame_bytes`) and the buffer sizes. The origin check
/// ([`AllowedOrigin`]) comes before it on both routes.
pub(super) fn configure(
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    config: &Config,
) -> Result<WebSocketUpgrade, AppError> {
    let ws = ws.map_err(|rejection| {
        AppError::bad_request(format!("not a WebSocket upgrade: {rejection}"))
    })?;
    let max = config.limits.max_frame_bytes;
    Ok(ws
        .max_message_size(max)
        .max_frame_size(max)
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER))
}

/// The close code and reason a failed read calls for (RFC 6455 section 7.4.1), or `None` when
/// the connection is gone and there is no one to tell (an I/O error, a reset).
pub(super) fn failure_close(err: axum::Error) -> Option<(u16, &'static str)> {
    let err = err.into_inner().downcast::<tungstenite::Error>().ok()?;
    match *err {
        tungstenite::Error::Capacity(_) => Some((close::TOO_BIG, "frame too large")),
        tungstenite::Error::Utf8(_) => Some((close::INVALID_DATA, "text is not valid UTF-8")),
        tungstenite::Error::Protocol(_) => Some((close::PROTOCOL_ERROR, "protocol error")),
        _ => None,
    }
}

async fn serve(
    socket: WebSocket,
    hub: Hub,
    (from, agent): (std::net::IpAddr, Option<String>),
    authed: Option<Authed>,
    shutdown: CancellationToken,
) {
    let _counted = hub.metrics().connection("ws");
    let (mut sink, mut stream) = socket.split();
    let (authed, resume) = match authed {
        Some(authed) => (authed, Resume::default()),
        None => match login(&hub, from, agent, &mut sink, &mut stream, &shutdown).await {
            Some(found) => found,
            None => return,
        },
    };
    let reply_to = resume.reply_to.clone();
    let (mut session, outbox) = match hub.open_session(authed, resume).await {
        Ok(opened) => opened,
        Err(err) => {
            let (code, reason) = super::login::open_failure_close(&err);
            let _ = send_frame(&mut sink, &error_frame(err, reply_to)).await;
            let _ = close_with(&mut sink, code, reason).await;
            return;
        }
    };
    let control = session.handle.control.clone();
    let ping = hub.config().session.ping_interval();
    let writer = tokio::spawn(writer::run(
        WsSink(sink),
        outbox,
        control.clone(),
        shutdown,
        Some(ping),
    ));
    read_loop(&hub, &mut session, stream, &control).await;
    control.close(close::NORMAL, "connection closed");
    let _ = writer.await;
    hub.close_session(session);
}

/// Reads frames until the peer leaves, the session is closed, or the idle timeout passes.
async fn read_loop(hub: &Hub, session: &mut Session, mut stream: Stream, control: &SessionControl) {
    let limits = hub.config().limits;
    let idle = hub.config().session.idle_timeout();
    loop {
        let read = tokio::select! {
            () = control.closed() => return,
            read = tokio::time::timeout(idle, stream.next()) => read,
        };
        let message = match read {
            Err(_) => {
                tracing::info!(session = session.handle.id, "idle timeout");
                control.close(close::IDLE_TIMEOUT, "idle timeout");
                return;
            }
            Ok(None) => return,
            Ok(Some(Err(err))) => {
                read_failed(err, control);
                return;
            }
            Ok(Some(Ok(message))) => message,
        };
        match message {
            Message::Text(text) => {
                hub.handle(session, decode_client_frame(text.as_str(), &limits))
                    .await
            }
            Message::Binary(_) => hub.handle(session, Err(binary_refused())).await,
            Message::Close(_) => return,
            Message::Ping(_) | Message::Pong(_) => {}
        }
    }
}

fn binary_refused() -> confab_protocol::FrameError {
    confab_protocol::FrameError {
        code: ErrorCode::BadRequest,
        message: "binary frames are not supported; send JSON text frames".into(),
        reply_to: None,
    }
}

fn read_failed(err: axum::Error, control: &SessionControl) {
    if let Some((code, reason)) = failure_close(err) {
        control.close(code, reason);
    }
}

/// The WebSocket side of the shared writer: text frames, pings, and a close frame to end.
struct WsSink(Sink);

impl FrameSink for WsSink {
    async fn feed(&mut self, frame: bytes::Bytes) -> Result<(), ()> {
        let text = Utf8Bytes::try_from(frame).map_err(|_| ())?;
        self.0.feed(Message::Text(text)).await.map_err(|_| ())
    }

    async fn flush(&mut self) -> Result<(), ()> {
        self.0.flush().await.map_err(|_| ())
    }

    async fn keepalive(&mut self) -> Result<(), ()> {
        self.0
            .send(Message::Ping(Default::default()))
            .await
            .map_err(|_| ())
    }

    async fn goodbye(&mut self, code: u16, reason: &'static str) {
        if close_with(&mut self.0, code, reason).await.is_err() {
            // The peer closed first: our close frame is the library's queued echo of theirs,
            // which only a flush writes.
            let _ = self.0.close().await;
        }
    }
}

/// The in-band login phase: waits for a `login` frame, refusing everything else.
async fn login(
    hub: &Hub,
    from: std::net::IpAddr,
    agent: Option<String>,
    sink: &mut Sink,
    stream: &mut Stream,
    shutdown: &CancellationToken,
) -> Option<(Authed, Resume)> {
    let limits = hub.config().limits;
    let deadline = Instant::now() + hub.config().session.login_timeout();
    let mut phase = LoginPhase::new(from, agent);
    loop {
        let read = tokio::select! {
            () = shutdown.cancelled() => {
                let _ = close_with(sink, close::GOING_AWAY, "server shutting down").await;
                return None;
            }
            read = tokio::time::timeout_at(deadline, stream.next()) => read,
        };
        let frame = match read {
            Err(_) => {
                let _ = close_with(sink, close::POLICY_VIOLATION, "login timeout").await;
                return None;
            }
            Ok(None) | Ok(Some(Ok(Message::Close(_)))) => return None,
            Ok(Some(Err(err))) => {
                let control = SessionControl::default();
                read_failed(err, &control);
                if let Some((code, reason)) = control.requested() {
                    let _ = close_with(sink, code, reason).await;
                }
                return None;
            }
            Ok(Some(Ok(Message::Text(text)))) => decode_client_frame(text.as_str(), &limits),
            Ok(Some(Ok(Message::Binary(_)))) => Err(binary_refused()),
            Ok(Some(Ok(_))) => continue,
        };
        match phase.step(hub, frame).await {
            Step::Authenticated(authed, resume) => return Some((authed, resume)),
            Step::Refused(reply, then_close) => {
                if send_frame(sink, &reply).await.is_err() {
                    return None;
                }
                if let Some((code, reason)) = then_close {
                    let _ = close_with(sink, code, reason).await;
                    return None;
                }
            }
        }
    }
}

async fn send_frame(sink: &mut Sink, frame: &ServerFrame) -> Result<(), axum::Error> {
    sink.send(Message::Text(frame.to_json().into())).await
}

async fn close_with(sink: &mut Sink, code: u16, reason: &'static str) -> Result<(), axum::Error> {
    sink.send(Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    })))
    .await
}
