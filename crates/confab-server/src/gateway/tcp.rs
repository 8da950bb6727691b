//! The TCP gateway (`--tcp-listen`): the WebSocket protocol's JSON frames, one per line
//! (newline-delimited JSON), for `nc`, `telnet` and scripts. A connection must log in in-band
//! first. Lines are read with a hard length limit (the frame limit): a longer line is answered
//! with `too_large` and the connection closed, never buffered. There is no close frame on a
//! bare socket, so the server's last line is `{"type":"close","code":...,"reason":...}` with
//! the code a WebSocket would have closed with. The peer must send something (a `ping` will
//! do) at least every idle timeout. Connections are accepted through the same
//! [`Transport`] as HTTP: the same per-address limit and, with TLS on, the same certificate
//! (TLS without ALPN: `openssl s_client -quiet -connect host:port` is a client).

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use confab_protocol::{
    close, decode_client_frame, ClientFrame, ErrorCode, FrameError, Limits, ServerFrame,
};
use futures_util::StreamExt;
use tokio::io::{AsyncWriteExt, BufWriter, ReadHalf, WriteHalf};
use tokio::net::TcpListener;
use tokio::time::Instant;
use tokio_util::codec::{AnyDelimiterCodec, AnyDelimiterCodecError, FramedRead};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::admission::PerIp;
use super::login::{LoginPhase, Step};
use super::writer::{self, FrameSink};
use crate::hub::sessions::{Outbound, SessionControl};
use crate::hub::{Authed, Hub, Resume, Session};
use crate::transport::{Conn, Door, Transport};

type Lines = FramedRead<ReadHalf<Conn>, AnyDelimiterCodec>;
type Writer = BufWriter<WriteHalf<Conn>>;

/// Accepts connections until `shutdown`; each runs as a task on `tasks`, within the
/// per-address limit of `per_ip`.
pub async fn serve(
    listener: TcpListener,
    transport: Arc<Transport>,
    hub: Hub,
    shutdown: CancellationToken,
    tasks: TaskTracker,
    per_ip: PerIp,
) {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "tcp gateway listening");
    }
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                let Some(slot) = transport.admit(peer) else {
                    continue;
                };
                let (transport, hub, shutdown) = (transport.clone(), hub.clone(), shutdown.clone());
                let per_ip = per_ip.clone();
                tasks.spawn(async move {
                    let established = tokio::select! {
                        () = shutdown.cancelled() => return,
                        conn = transport.establish(stream, peer, slot, Door::Tcp) => conn,
                    };
                    let Some(conn) = established else { return };
                    match per_ip.admit(peer.ip()) {
                        Ok(session_slot) => {
                            let _session_slot = session_slot;
                            connection(conn, peer, hub, shutdown).await;
                        }
                        Err(err) => refuse(conn, err).await,
                    }
                });
            }
            Err(err) => {
                // Out of file descriptors and the like: back off a little and go on.
                tracing::warn!(%err, "tcp accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

/// Tells a connection over the limit why, then closes it.
async fn refuse(stream: Conn, err: crate::error::AppError) {
    let (_, write) = tokio::io::split(stream);
    let mut out = BufWriter::new(write);
    let _ = write_line(&mut out, &super::login::error_frame(err, None)).await;
    let _ = goodbye(&mut out, close::POLICY_VIOLATION, "too many connections").await;
}

async fn connection(stream: Conn, peer: SocketAddr, hub: Hub, shutdown: CancellationToken) {
    tracing::info!(%peer, tls = stream.is_tls(), "tcp connection");
    let _counted = hub.metrics().connection("tcp");
    let (read, write) = tokio::io::split(stream);
    let codec = line_codec(hub.config().limits.max_frame_bytes);
    let mut lines = FramedRead::new(read, codec);
    let mut out = BufWriter::new(write);
    let Some((authed, resume)) = login(&hub, peer, &mut lines, &mut out, &shutdown).await else {
        return;
    };
    let reply_to = resume.reply_to.clone();
    let (mut session, outbox) = match hub.open_session(authed, resume).await {
        Ok(opened) => opened,
        Err(err) => {
            let (code, reason) = super::login::open_failure_close(&err);
            let _ = write_line(&mut out, &super::login::error_frame(err, reply_to)).await;
            let _ = goodbye(&mut out, code, reason).await;
            return;
        }
    };
    let control = session.handle.control.clone();
    let sink = LineSink(out);
    let mut writer = tokio::spawn(writer::run(sink, outbox, control.clone(), shutdown, None));
    if read_loop(&hub, &mut session, lines, &control).await == Ended::Queued {
        // The writer ends by itself after the queued reply and close line; give it a moment.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), &mut writer).await;
    }
    control.close(close::NORMAL, "connection closed");
    let _ = writer.await;
    hub.close_session(session);
}

/// The line splitter: `\n`-terminated lines of at most `max_frame_bytes` bytes (the `\n` not
/// counted). Bytes, not `LinesCodec`: a line that is not UTF-8 must be refused, not end the
/// stream.
pub fn line_codec(max_frame_bytes: usize) -> AnyDelimiterCodec {
    AnyDelimiterCodec::new_with_max_length(b"\n".to_vec(), Vec::new(), max_frame_bytes)
}

/// The frame one line holds (without its `\n`; a trailing `\r` is dropped), or the error to
/// answer it with.
pub fn decode_line(line: &[u8], limits: &Limits) -> Result<ClientFrame, FrameError> {
    match std::str::from_utf8(line) {
        Ok(text) => decode_client_frame(text.trim_end_matches('\r'), limits),
        Err(_) => Err(FrameError {
            code: ErrorCode::BadRequest,
            message: "lines must be UTF-8 JSON".into(),
            reply_to: None,
        }),
    }
}

/// What a line read produced.
enum Read {
    Frame(Result<ClientFrame, FrameError>),
    /// Over the length limit: answered, then the connection closes (1009).
    TooLong,
    /// The peer went away or sent bytes that are not UTF-8 lines.
    Gone,
}

fn read_line(read: Option<Result<Bytes, AnyDelimiterCodecError>>, hub: &Hub) -> Read {
    match read {
        None | Some(Err(AnyDelimiterCodecError::Io(_))) => Read::Gone,
        Some(Err(AnyDelimiterCodecError::MaxChunkLengthExceeded)) => Read::TooLong,
        Some(Ok(line)) => Read::Frame(decode_line(&line, &hub.config().limits)),
    }
}

fn too_long(hub: &Hub) -> ServerFrame {
    ServerFrame::error(
        ErrorCode::TooLarge,
        format!("line is over {} bytes", hub.config().limits.max_frame_bytes),
        None,
    )
}

async fn login(
    hub: &Hub,
    peer: SocketAddr,
    lines: &mut Lines,
    out: &mut Writer,
    shutdown: &CancellationToken,
) -> Option<(Authed, Resume)> {
    let deadline = Instant::now() + hub.config().session.login_timeout();
    let mut phase = LoginPhase::new(peer.ip(), Some("tcp".to_owned()));
    loop {
        let read = tokio::select! {
            () = shutdown.cancelled() => {
                let _ = goodbye(out, close::GOING_AWAY, "server shutting down").await;
                return None;
            }
            read = tokio::time::timeout_at(deadline, lines.next()) => read,
        };
        let Ok(read) = read else {
            let _ = goodbye(out, close::POLICY_VIOLATION, "login timeout").await;
            return None;
        };
        let frame = match read_line(read, hub) {
            Read::Frame(frame) => frame,
            Read::TooLong => {
                let _ = write_line(out, &too_long(hub)).await;
                let _ = goodbye(out, close::TOO_BIG, "line too long").await;
                return None;
            }
            Read::Gone => return None,
        };
        match phase.step(hub, frame).await {
            Step::Authenticated(authed, resume) => return Some((authed, resume)),
            Step::Refused(reply, then_close) => {
                if write_line(out, &reply).await.is_err() {
                    return None;
                }
                if let Some((code, reason)) = then_close {
                    let _ = goodbye(out, code, reason).await;
                    return None;
                }
            }
        }
    }
}

/// How the read loop ended.
#[derive(PartialEq, Eq)]
enum Ended {
    /// The peer left, or the session was closed from elsewhere.
    Gone,
    /// A reply and a close were queued for the writer.
    Queued,
}

async fn read_loop(
    hub: &Hub,
    session: &mut Session,
    mut lines: Lines,
    control: &SessionControl,
) -> Ended {
    let idle = hub.config().session.idle_timeout();
    loop {
        let read = tokio::select! {
            () = control.closed() => return Ended::Gone,
            read = tokio::time::timeout(idle, lines.next()) => read,
        };
        let Ok(read) = read else {
            control.close(close::IDLE_TIMEOUT, "idle timeout");
            return Ended::Gone;
        };
        match read_line(read, hub) {
            Read::Frame(frame) => hub.handle(session, frame).await,
            Read::TooLong => {
                session.send(&too_long(hub));
                session.handle.push(Outbound::Close {
                    code: close::TOO_BIG,
                    reason: "line too long",
                });
                return Ended::Queued;
            }
            Read::Gone => return Ended::Gone,
        }
    }
}

/// The TCP side of the shared writer: one frame per line, a close line to end.
struct LineSink(Writer);

impl FrameSink for LineSink {
    async fn feed(&mut self, frame: Bytes) -> Result<(), ()> {
        self.0.write_all(&frame).await.map_err(|_| ())?;
        self.0.write_all(b"\n").await.map_err(|_| ())
    }

    async fn flush(&mut self) -> Result<(), ()> {
        self.0.flush().await.map_err(|_| ())
    }

    async fn keepalive(&mut self) -> Result<(), ()> {
        Ok(())
    }

    async fn goodbye(&mut self, code: u16, reason: &'static str) {
        let _ = goodbye(&mut self.0, code, reason).await;
    }
}

async fn write_line(out: &mut Writer, frame: &ServerFrame) -> std::io::Result<()> {
    out.write_all(frame.to_json().as_bytes()).await?;
    out.write_all(b"\n").await?;
    out.flush().await
}

/// The last line, then the end of the stream.
async fn goodbye(out: &mut Writer, code: u16, reason: &str) -> std::io::Result<()> {
    let frame = ServerFrame::Close {
        code,
        reason: reason.to_owned(),
    };
    write_line(out, &frame).await?;
    out.shutdown().await
}
