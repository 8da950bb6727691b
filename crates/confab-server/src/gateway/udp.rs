//! The UDP gateway (`--udp-listen`): JSON datagrams of at most [`MAX_DATAGRAM`] bytes, into and
//! out of rooms and direct messages. Every datagram carries `"token"`. A `login` datagram binds
//! the token to the address it came from and opens a session there; after that, frames from
//! that address with that token go to the hub, and everything the session receives is sent
//! to that address only. A token bound elsewhere, a missing or bad token, or an oversized
//! datagram get an error, and only when the error is no larger than what was received (no
//! amplification). UDP loses and reorders datagrams: clients detect that by `seq` and fill
//! gaps with `history`. A binding with no datagram for the idle timeout is closed.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use confab_protocol::{close, decode_client_frame, ClientFrame, ErrorCode, Limits, ServerFrame};
use serde::Deserialize;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::{Token, TokenHash};
use crate::hub::sessions::SessionControl;
use crate::hub::{Credentials, Hub, Next, Outbox, Resume, Session};

/// The largest datagram accepted or sent.
pub const MAX_DATAGRAM: usize = 4096;

/// A frame from a bound address, for its session's task.
type Inbound = Result<ClientFrame, confab_protocol::FrameError>;

struct Binding {
    token: TokenHash,
    frames: mpsc::Sender<Inbound>,
    control: Arc<SessionControl>,
}

type Bindings = Arc<Mutex<HashMap<SocketAddr, Binding>>>;

#[derive(Deserialize)]
struct TokenOnly {
    token: Option<String>,
}

/// Serves datagrams until `shutdown`.
pub async fn serve(socket: UdpSocket, hub: Hub, shutdown: CancellationToken, tasks: TaskTracker) {
    if let Ok(addr) = socket.local_addr() {
        tracing::info!(%addr, "udp gateway listening");
    }
    let socket = Arc::new(socket);
    let bindings: Bindings = Arc::default();
    let mut buf = vec![0u8; 65536];
    loop {
        let received = tokio::select! {
            () = shutdown.cancelled() => break,
            received = socket.recv_from(&mut buf) => received,
        };
        let Ok((len, from)) = received else { continue };
        let datagram = &buf[..len];
        if len > MAX_DATAGRAM {
            let error = error(ErrorCode::TooLarge, "datagram over 4096 bytes");
            reply_bounded(&socket, from, &error, len).await;
            continue;
        }
        let Datagram { token, frame } = read_datagram(datagram, &hub.config().limits);
        let Some(token) = token.map(|raw| Token::from_client(&raw)) else {
            let error = error(ErrorCode::Unauthorized, "every datagram needs \"token\"");
            reply_bounded(&socket, from, &error, len).await;
            continue;
        };
        let bound = {
            let map = bindings.lock().expect("bindings lock");
            map.get(&from)
                .filter(|b| !b.control.is_closed())
                .map(|b| (b.token, b.frames.clone()))
        };
        match (bound, &frame) {
            (Some((hash, frames)), _) if hash == token.hash() => {
                // Full queue: the datagram is dropped, as the network might have.
                let _ = frames.try_send(frame);
            }
            (Some(_), _) => {
                let error = error(
                    ErrorCode::Forbidden,
                    "another token is bound to this address",
                );
                reply_bounded(&socket, from, &error, len).await;
            }
            (None, Ok(ClientFrame::Login(login))) => {
                let authed = hub
                    .authenticate(Credentials::Token(token.reveal().to_owned()))
                    .await;
                match authed {
                    Ok(authed) => {
                        let resume = Resume {
                            reply_to: login.id.clone(),
                            cursors: login.cursors.clone(),
                        };
                        match hub.open_session(authed, resume).await {
                            Ok((session, outbox)) => {
                                let (tx, rx) = mpsc::channel(64);
                                let control = session.handle.control.clone();
                                bindings.lock().expect("bindings lock").insert(
                                    from,
                                    Binding {
                                        token: token.hash(),
                                        frames: tx,
                                        control,
                                    },
                                );
                                tracing::info!(peer = %from, "udp session bound");
                                tasks.spawn(run_session(
                                    hub.clone(),
                                    session,
                                    outbox,
                                    rx,
                                    socket.clone(),
                                    from,
                                    bindings.clone(),
                                    shutdown.clone(),
                                ));
                            }
                            Err(err) => {
                                let error = error(err.code, &err.message);
                                reply_bounded(&socket, from, &error, len).await;
                            }
                        }
                    }
                    Err(err) => {
                        let error = error(err.code, &err.message);
                        reply_bounded(&socket, from, &error, len).await;
                    }
                }
            }
            (None, _) => {
                let error = error(
                    ErrorCode::Unauthorized,
                    "send a login datagram from this address first",
                );
                reply_bounded(&socket, from, &error, len).await;
            }
        }
    }
}

/// One datagram as read: the token it carries and the frame it holds.
pub struct Datagram {
    /// `"token"`, when the datagram is a JSON object with a string there.
    pub token: Option<String>,
    pub frame: Result<ClientFrame, confab_protocol::FrameError>,
}

/// Reads one datagram (at most [`MAX_DATAGRAM`] bytes; bigger ones are refused before this).
/// Bytes that are not UTF-8 read as no text at all: no token, and `bad_request`.
pub fn read_datagram(datagram: &[u8], limits: &Limits) -> Datagram {
    let text = std::str::from_utf8(datagram).unwrap_or("");
    let token = serde_json::from_str::<TokenOnly>(text)
        .ok()
        .and_then(|t| t.token);
    Datagram {
        token,
        frame: decode_client_frame(text, limits),
    }
}

fn error(code: ErrorCode, message: &str) -> Vec<u8> {
    ServerFrame::error(code, message, None)
        .to_json()
        .into_bytes()
}

/// Sends `reply` to a source that is not (or not yet) bound only if it is no larger than what
/// that source sent; otherwise sends the bare code if that fits, or nothing.
async fn reply_bounded(socket: &UdpSocket, to: SocketAddr, reply: &[u8], received: usize) {
    if let Some(reply) = bounded_reply(reply, received) {
        let _ = socket.send_to(&reply, to).await;
    }
}

/// What may be sent to a source that is not (or not yet) bound, in answer to a datagram of
/// `received` bytes: `reply` if it is no larger, else the bare error code if that is no
/// larger, else nothing.
pub fn bounded_reply(reply: &[u8], received: usize) -> Option<Vec<u8>> {
    if reply.len() <= received {
        return Some(reply.to_vec());
    }
    let value = serde_json::from_slice::<serde_json::Value>(reply).ok()?;
    let bare = serde_json::json!({ "type": "error", "code": value["code"] }).to_string();
    (bare.len() <= received).then(|| bare.into_bytes())
}

#[allow(clippy::too_many_arguments)]
async fn run_session(
    hub: Hub,
    mut session: Session,
    mut outbox: Outbox,
    mut frames: mpsc::Receiver<Inbound>,
    socket: Arc<UdpSocket>,
    to: SocketAddr,
    bindings: Bindings,
    shutdown: CancellationToken,
) {
    let _counted = hub.metrics().connection("udp");
    let idle = hub.config().session.idle_timeout();
    let control = session.handle.control.clone();
    let mut deadline = tokio::time::Instant::now() + idle;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => {
                send(&socket, to, &close_frame(close::GOING_AWAY, "server shutting down")).await;
                break;
            }
            () = tokio::time::sleep_until(deadline) => {
                send(&socket, to, &close_frame(close::IDLE_TIMEOUT, "idle timeout")).await;
                break;
            }
            frame = frames.recv() => {
                let Some(frame) = frame else { break };
                deadline = tokio::time::Instant::now() + idle;
                hub.handle(&mut session, frame).await;
            }
            next = outbox.next() => match next {
                Next::Send(frame, mark) => {
                    send(&socket, to, &frame).await;
                    if let Some((conv, seq)) = mark {
                        outbox.written(conv, seq);
                    }
                }
                Next::Close(code, reason) => {
                    send(&socket, to, &close_frame(code, reason)).await;
                    break;
                }
            },
        }
    }
    control.close(close::NORMAL, "udp session ended");
    {
        let mut map = bindings.lock().expect("bindings lock");
        if map
            .get(&to)
            .is_some_and(|b| Arc::ptr_eq(&b.control, &control))
        {
            map.remove(&to);
        }
    }
    tracing::info!(peer = %to, "udp session unbound");
    hub.close_session(session);
}

fn close_frame(code: u16, reason: &str) -> Bytes {
    Bytes::from(
        ServerFrame::Close {
            code,
            reason: reason.to_owned(),
        }
        .to_json(),
    )
}

/// Sends one frame as one datagram; a frame over the limit becomes a `too_large` error.
async fn send(socket: &UdpSocket, to: SocketAddr, frame: &[u8]) {
    if frame.len() <= MAX_DATAGRAM {
        let _ = socket.send_to(frame, to).await;
    } else {
        let error = error(
            ErrorCode::TooLarge,
            "reply over 4096 bytes: ask for less (a smaller history limit) or use TCP or WebSocket",
        );
        let _ = socket.send_to(&error, to).await;
    }
}
