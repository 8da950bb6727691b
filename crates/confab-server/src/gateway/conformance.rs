//! `GET /conformance/echo`: a test-only WebSocket route that echoes every text and binary
//! message back, so a WebSocket conformance suite (Autobahn|Testsuite, see
//! `conformance/autobahn.sh`) can exercise the server's real WebSocket stack. It exists only
//! when `conformance_echo` is set (`confab serve --conformance-echo`); otherwise the path is a
//! bare 404.
//!
//! It shares with `/ws` everything below the chat protocol: the origin check, the upgrade
//! settings and limits ([`ws::configure`]: frame and message size from
//! `limits.max_frame_bytes`, buffer sizes), the close codes for a failed read
//! ([`ws::failure_close`]), the server ping every `session.ping_interval_secs` and the idle
//! timeout `session.idle_timeout_secs` (close 4002). It skips login and the hub.

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use confab_protocol::close;
use futures_util::SinkExt;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::ws;
use crate::config::SessionLimits;
use crate::http::{AllowedOrigin, AppState};

/// The path of the echo route.
pub const PATH: &str = "/conformance/echo";

/// The echo route alone, to be merged into the server's router when `conformance_echo` is on.
pub fn router() -> Router<AppState> {
    Router::new().route(PATH, get(upgrade))
}

/// `GET /conformance/echo`: the same checks and socket settings as `/ws`, then [`echo`].
async fn upgrade(
    _origin: AllowedOrigin,
    State(state): State<AppState>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let config = state.hub.config();
    let upgrade = match ws::configure(upgrade, config) {
        Ok(upgrade) => upgrade,
        Err(err) => return err.into_response(),
    };
    let session = config.session;
    let tracker = state.tasks.clone();
    upgrade.on_upgrade(move |socket| tracker.track_future(echo(socket, session, state.shutdown)))
}

/// Echoes each text and binary message until the peer closes, a read fails (answered with the
/// close code the failure calls for), the idle timeout passes, or the server shuts down.
async fn echo(mut socket: WebSocket, session: SessionLimits, shutdown: CancellationToken) {
    let idle = session.idle_timeout();
    let every = session.ping_interval();
    let mut ping = tokio::time::interval_at(Instant::now() + every, every);
    let mut deadline = Instant::now() + idle;
    loop {
        let read = tokio::select! {
            biased;
            () = shutdown.cancelled() => {
                let _ = close_with(&mut socket, close::GOING_AWAY, "server shutting down").await;
                return;
            }
            _ = ping.tick() => {
                if socket.send(Message::Ping(Default::default())).await.is_err() {
                    return;
                }
                continue;
            }
            read = tokio::time::timeout_at(deadline, socket.recv()) => read,
        };
        let message = match read {
            Err(_) => {
                let _ = close_with(&mut socket, close::IDLE_TIMEOUT, "idle timeout").await;
                return;
            }
            Ok(None) => return,
            Ok(Some(Err(err))) => {
                if let Some((code, reason)) = ws::failure_close(err) {
                    let _ = close_with(&mut socket, code, reason).await;
                }
                return;
            }
            Ok(Some(Ok(message))) => message,
        };
        deadline = Instant::now() + idle;
        match message {
            Message::Text(_) | Message::Binary(_) => {
                if socket.send(message).await.is_err() {
                    return;
                }
            }
            Message::Close(_) => {
                // The library queued the answer to the peer's close; closing writes it. The
                // server then drops the TCP connection first, as RFC 6455 asks.
                let _ = socket.close().await;
                return;
            }
            Message::Ping(_) | Message::Pong(_) => {}
        }
    }
}

async fn close_with(
    socket: &mut WebSocket,
    code: u16,
    reason: &'static str,
) -> Result<(), axum::Error> {
    socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        })))
        .await
}
