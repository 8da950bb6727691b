//! The Server-Sent Events + POST transport (docs/protocol.md section 13), for networks that
//! block WebSockets. `GET /api/v1/events` is read on one HTTP/1.1 connection by a task that
//! parses its events into server frames; client frames wait in a queue from which another task
//! sends them with `POST /api/v1/frames`, one request at a time (so they keep their order),
//! everything that waits in one batch, on a second kept-alive connection. The replies in a
//! POST's answer join the stream's frames on the receiving side, so a caller sees one stream
//! of frames, as over a WebSocket.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use confab_protocol::{ErrorCode, Ready, Receiver as Conversation, ServerFrame};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::{ClientError, Endpoint};

/// Frames one POST carries at most (the server's limit).
const MAX_POST_FRAMES: usize = 100;
/// Frames waiting to be posted before `send` waits.
const QUEUE: usize = 1024;
/// How long a refused (busy) batch waits before it is sent again.
const BUSY_WAIT: Duration = Duration::from_secs(1);

/// What the receiving side gets: a frame, the end (`None`), or a failure.
type Item = Result<Option<ServerFrame>, ClientError>;

/// Where a stream stands: the id of its last event, for resuming it (`Last-Event-ID`).
#[derive(Debug, Clone, Default)]
pub struct ResumePoint(Arc<Mutex<Option<String>>>);

impl ResumePoint {
    /// The id of the last event read, if any.
    pub fn last_event_id(&self) -> Option<String> {
        self.0.lock().expect("resume point").clone()
    }

    fn set(&self, id: String) {
        *self.0.lock().expect("resume point") = Some(id);
    }
}

/// The sending half: queues frames for the POST task.
pub struct SseSender {
    queue: mpsc::Sender<String>,
    reader: tokio::task::AbortHandle,
}

/// The receiving half: the stream's frames and the POSTs' replies.
pub struct SseReceiver {
    rx: mpsc::Receiver<Item>,
    done: bool,
    resume: ResumePoint,
}

/// Opens a stream as `token`'s user: a fresh one with `cursors` (as in `login.cursors`), or
/// the one `resume` names if the server still has it. Returns the halves and `ready`.
pub async fn open(
    endpoint: &Endpoint,
    token: &str,
    cursors: &BTreeMap<Conversation, u64>,
    resume: ResumePoint,
) -> Result<(SseSender, SseReceiver, Ready), ClientError> {
    let mut http = connect(endpoint).await?;
    let mut path = "/api/v1/events".to_owned();
    if !cursors.is_empty() {
        let json = serde_json::to_string(cursors).expect("cursors serialize");
        path.push_str("?cursors=");
        path.push_str(&crate::accounts::query_escape(&json));
    }
    let mut request = Request::get(path)
        .header("host", &endpoint.authority)
        .header("authorization", format!("Bearer {token}"))
        .header("accept", "text/event-stream");
    if let Some(id) = resume.last_event_id() {
        request = request.header("last-event-id", id);
    }
    let request = request.body(Full::new(Bytes::new())).map_err(http_error)?;
    let response = http.send_request(request).await.map_err(http_error)?;
    let status = response.status().as_u16();
    if status != 200 {
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(http_error)?
            .to_bytes();
        return Err(refusal(status, &body));
    }
    let (tx, rx) = mpsc::channel(QUEUE);
    let reader = tokio::spawn(read_events(
        response.into_body(),
        tx.clone(),
        resume.clone(),
    ));
    let mut receiver = SseReceiver {
        rx,
        done: false,
        resume,
    };
    let ready = match receiver.recv().await? {
        Some(ServerFrame::Ready(ready)) => ready,
        Some(other) => return Err(ClientError::from_frame(other)),
        None => return Err(ClientError::Closed),
    };
    let stream = ready
        .stream
        .clone()
        .ok_or_else(|| ClientError::Unexpected("ready without a stream id".into()))?;
    let (queue, waiting) = mpsc::channel(QUEUE);
    let poster = Poster {
        endpoint: endpoint.clone(),
        token: token.to_owned(),
        path: format!("/api/v1/frames?stream={stream}"),
        max_bytes: ready.limits.max_frame_bytes,
        out: tx,
    };
    tokio::spawn(poster.run(waiting));
    let sender = SseSender {
        queue,
        reader: reader.abort_handle(),
    };
    Ok((sender, receiver, ready))
}

impl SseSender {
    /// Queues a frame; it goes out with the next POST.
    pub async fn send(&mut self, frame: &confab_protocol::ClientFrame) -> Result<(), ClientError> {
        let text = serde_json::to_string(frame).expect("client frames serialize");
        self.queue.send(text).await.map_err(|_| ClientError::Closed)
    }

    /// Stops reading the stream (the server keeps the session for its grace period).
    pub fn close(&mut self) {
        self.reader.abort();
    }
}

impl Drop for SseSender {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl SseReceiver {
    /// The next frame; `None` once the stream ended.
    pub async fn recv(&mut self) -> Result<Option<ServerFrame>, ClientError> {
        if self.done {
            return Ok(None);
        }
        match self.rx.recv().await {
            Some(Ok(Some(frame))) => Ok(Some(frame)),
            Some(Err(err)) => {
                self.done = true;
                Err(err)
            }
            Some(Ok(None)) | None => {
                self.done = true;
                Ok(None)
            }
        }
    }

    /// Where the stream stands, to resume it on the next connection.
    pub fn resume_point(&self) -> ResumePoint {
        self.resume.clone()
    }
}

/// Reads the stream's events until it ends.
async fn read_events(mut body: Incoming, tx: mpsc::Sender<Item>, resume: ResumePoint) {
    let mut parser = EventParser::default();
    loop {
        let data = match body.frame().await {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => data,
                Err(_) => continue,
            },
            Some(Err(err)) => {
                let _ = tx.send(Err(http_error(err))).await;
                return;
            }
            None => {
                let _ = tx.send(Ok(None)).await;
                return;
            }
        };
        for event in parser.push(&data) {
            let item = match serde_json::from_str::<ServerFrame>(&event.data) {
                Ok(frame) => {
                    if let Some(id) = event.id {
                        resume.set(id);
                    }
                    Ok(Some(frame))
                }
                Err(err) => Err(ClientError::Unexpected(format!("{err}: {}", event.data))),
            };
            let end = matches!(item, Ok(Some(ServerFrame::Close { .. })));
            if tx.send(item).await.is_err() {
                return;
            }
            if end {
                let _ = tx.send(Ok(None)).await;
                return;
            }
        }
    }
}

/// Sends the queued frames, a batch per POST, and hands the replies on.
struct Poster {
    endpoint: Endpoint,
    token: String,
    path: String,
    max_bytes: usize,
    out: mpsc::Sender<Item>,
}

impl Poster {
    async fn run(self, mut waiting: mpsc::Receiver<String>) {
        let mut http: Option<SendRequest<Full<Bytes>>> = None;
        let mut carry = None;
        loop {
            let first = match carry.take() {
                Some(first) => first,
                None => match waiting.recv().await {
                    Some(first) => first,
                    None => return,
                },
            };
            let mut size = first.len() + 2;
            let mut batch = vec![first];
            while batch.len() < MAX_POST_FRAMES {
                let Ok(next) = waiting.try_recv() else { break };
                if size + next.len() + 1 > self.max_bytes {
                    carry = Some(next);
                    break;
                }
                size += next.len() + 1;
                batch.push(next);
            }
            let body = Bytes::from(format!("[{}]", batch.join(",")));
            let outcome = loop {
                match self.post(&mut http, body.clone()).await {
                    Ok((429, _)) => tokio::time::sleep(BUSY_WAIT).await,
                    other => break other,
                }
            };
            let items = match outcome {
                Ok((200, answer)) => match serde_json::from_slice::<Vec<ServerFrame>>(&answer) {
                    Ok(replies) => replies.into_iter().map(|r| Ok(Some(r))).collect(),
                    Err(err) => vec![Err(ClientError::Unexpected(err.to_string()))],
                },
                // The frames themselves were refused: each that waits for an answer gets it.
                Ok((400 | 413, answer)) => refused_frames(&batch, &answer),
                Ok((status, answer)) => vec![Err(refusal(status, &answer))],
                Err(err) => vec![Err(err)],
            };
            for item in items {
                let fatal = item.is_err();
                if self.out.send(item).await.is_err() || fatal {
                    return;
                }
            }
        }
    }

    /// One POST, on the kept-alive connection. A connection that turns out closed before the
    /// request went out is opened again once; a request that may have been sent is never sent
    /// again (a repeated `react` would undo itself).
    async fn post(
        &self,
        http: &mut Option<SendRequest<Full<Bytes>>>,
        body: Bytes,
    ) -> Result<(u16, Bytes), ClientError> {
        for attempt in 0..2 {
            if http.as_ref().is_none_or(|h| h.is_closed()) {
                *http = Some(connect(&self.endpoint).await?);
            }
            let sender = http.as_mut().expect("a connection");
            let request = Request::post(&self.path)
                .header("host", &self.endpoint.authority)
                .header("authorization", format!("Bearer {}", self.token))
                .header("content-type", "application/json")
                .body(Full::new(body.clone()))
                .map_err(http_error)?;
            if sender.ready().await.is_err() {
                *http = None;
                continue;
            }
            match sender.send_request(request).await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let bytes = response
                        .into_body()
                        .collect()
                        .await
                        .map_err(http_error)?
                        .to_bytes();
                    return Ok((status, bytes));
                }
                Err(err) if attempt == 0 && err.is_canceled() => *http = None,
                Err(err) => return Err(http_error(err)),
            }
        }
        Err(ClientError::Closed)
    }
}

/// The error frames for a batch the server refused as a whole.
fn refused_frames(batch: &[String], answer: &[u8]) -> Vec<Item> {
    let reply: Value = serde_json::from_slice(answer).unwrap_or(Value::Null);
    let code = serde_json::from_value(reply["code"].clone()).unwrap_or(ErrorCode::BadRequest);
    let message = reply["message"].as_str().unwrap_or("refused").to_owned();
    batch
        .iter()
        .filter_map(|text| {
            let frame: Value = serde_json::from_str(text).ok()?;
            let id = frame["id"].as_str()?.to_owned();
            Some(Ok(Some(ServerFrame::error(
                code,
                message.clone(),
                Some(id),
            ))))
        })
        .collect()
}

/// An HTTP/1.1 connection to the server, over TLS when the endpoint says so.
async fn connect(endpoint: &Endpoint) -> Result<SendRequest<Full<Bytes>>, ClientError> {
    let stream = TcpStream::connect(&endpoint.authority).await?;
    stream.set_nodelay(true)?;
    match &endpoint.tls {
        None => handshake(TokioIo::new(stream)).await,
        Some(config) => {
            let name = rustls_pki_types::ServerName::try_from(endpoint.host().to_owned())
                .map_err(|e| ClientError::Tls(e.to_string()))?;
            let stream = tokio_rustls::TlsConnector::from(config.clone())
                .connect(name, stream)
                .await
                .map_err(|e| ClientError::Tls(e.to_string()))?;
            handshake(TokioIo::new(stream)).await
        }
    }
}

async fn handshake<T>(io: TokioIo<T>) -> Result<SendRequest<Full<Bytes>>, ClientError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(http_error)?;
    tokio::spawn(connection);
    Ok(sender)
}

fn http_error(err: impl std::fmt::Display) -> ClientError {
    ClientError::Http(err.to_string())
}

fn refusal(status: u16, body: &[u8]) -> ClientError {
    let reply: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    match serde_json::from_value::<ErrorCode>(reply["code"].clone()) {
        Ok(code) => ClientError::Refused {
            code,
            message: reply["message"].as_str().unwrap_or_default().to_owned(),
        },
        Err(_) => ClientError::Http(format!("status {status}")),
    }
}

/// One parsed event.
#[derive(Debug, PartialEq, Eq)]
struct Event {
    id: Option<String>,
    data: String,
}

/// The `text/event-stream` format, fed in pieces as they arrive: read line by line (a line
/// ends with LF, an optional CR before it dropped), an empty line ending an event. Linear in
/// the input: each byte is looked at once, and what was consumed is dropped once per piece.
#[derive(Default)]
struct EventParser {
    buffer: Vec<u8>,
    /// The event being read.
    id: Option<String>,
    data: String,
    has_data: bool,
}

impl EventParser {
    /// The events complete after `data`; comments and events without data are skipped.
    fn push(&mut self, data: &[u8]) -> Vec<Event> {
        self.buffer.extend_from_slice(data);
        let mut events = Vec::new();
        let mut start = 0;
        while let Some(len) = self.buffer[start..].iter().position(|&b| b == b'\n') {
            let mut line = &self.buffer[start..start + len];
            start += len + 1;
            if let Some(stripped) = line.strip_suffix(b"\r") {
                line = stripped;
            }
            if line.is_empty() {
                if self.has_data {
                    events.push(Event {
                        id: self.id.take(),
                        data: std::mem::take(&mut self.data),
                    });
                }
                self.id = None;
                self.has_data = false;
                continue;
            }
            if line.starts_with(b":") {
                continue;
            }
            let line = String::from_utf8_lossy(line);
            let (field, value) = line.split_once(':').unwrap_or((&line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "id" => self.id = Some(value.to_owned()),
                "data" => {
                    if self.has_data {
                        self.data.push('\n');
                    }
                    self.data.push_str(value);
                    self.has_data = true;
                }
                _ => {}
            }
        }
        self.buffer.drain(..start);
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_parsed_across_pieces_and_comments_are_skipped() {
        let mut parser = EventParser::default();
        assert!(parser
            .push(b"retry: 2000\nevent: ready\nid: s.0\nda")
            .is_empty());
        let events =
            parser.push(b"ta: {\"a\":1}\n\n: ping\n\nevent: message\ndata: x\ndata: y\n\n");
        assert_eq!(
            events,
            vec![
                Event {
                    id: Some("s.0".into()),
                    data: "{\"a\":1}".into()
                },
                Event {
                    id: None,
                    data: "x\ny".into()
                },
            ]
        );
        let crlf = parser.push(b"id: s.2\r\ndata: z\r\n\r\n");
        assert_eq!(crlf[0].id.as_deref(), Some("s.2"));
        assert_eq!(crlf[0].data, "z");
        assert!(parser.push(b": only a comment\n\n").is_empty());
    }

    #[test]
    fn a_refused_batch_answers_each_frame_with_an_id() {
        let batch = vec![
            r#"{"type":"ping","id":"p1"}"#.to_owned(),
            r#"{"type":"ping"}"#.to_owned(),
        ];
        let items = refused_frames(&batch, br#"{"code":"too_large","message":"big"}"#);
        assert_eq!(items.len(), 1);
        let Ok(Some(ServerFrame::Error(error))) = &items[0] else {
            panic!("an error frame")
        };
        assert_eq!(error.code, ErrorCode::TooLarge);
        assert_eq!(error.reply_to.as_deref(), Some("p1"));
    }
}
