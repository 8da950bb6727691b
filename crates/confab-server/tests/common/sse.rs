//! A Server-Sent Events client for the tests, over a raw socket: the request by hand, the
//! chunked body decoded as it comes, events parsed from it (`event:`, `id:`, `data:`,
//! comments), and POSTs of frames to the stream.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{parse_reply, Reply, WAIT};

/// One event of a stream.
#[derive(Debug, Clone)]
pub struct Event {
    pub name: String,
    pub id: Option<String>,
    pub data: Value,
}

/// Ids unique within the test process.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

pub struct SseClient {
    addr: SocketAddr,
    token: String,
    socket: TcpStream,
    /// Bytes read and not yet de-chunked.
    raw: Vec<u8>,
    /// De-chunked body not yet parsed into events.
    body: Vec<u8>,
    ended: bool,
    pub headers: Vec<(String, String)>,
    pub ready: Value,
    /// `ready.stream`.
    pub stream: String,
    /// The id of the last event read.
    pub last_id: Option<String>,
    /// The id of the `ready` event.
    pub ready_id: String,
    /// Heartbeat comments seen.
    pub heartbeats: u32,
    /// `retry:` fields seen.
    pub retries: Vec<u64>,
}

impl SseClient {
    /// Opens `GET /api/v1/events` with `?token=` and reads `ready`.
    pub async fn open(addr: SocketAddr, token: &str) -> Self {
        Self::open_with(addr, token, "", &[])
            .await
            .expect("stream opens")
    }

    /// Opens with extra query text (`&cursors=…`) and headers (`token` empty: none in the
    /// query); a refusal is the reply.
    pub async fn open_with(
        addr: SocketAddr,
        token: &str,
        query: &str,
        headers: &[(&str, &str)],
    ) -> Result<Self, Reply> {
        let socket = TcpStream::connect(addr).await.unwrap();
        Self::open_on(socket, addr, token, query, headers).await
    }

    /// Like [`SseClient::open`] over a socket with a 4 KiB receive buffer.
    pub async fn open_small_buffer(addr: SocketAddr, token: &str) -> Self {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let socket = socket.connect(addr).await.unwrap();
        Self::open_on(socket, addr, token, "", &[])
            .await
            .expect("stream opens")
    }

    async fn open_on(
        mut socket: TcpStream,
        addr: SocketAddr,
        token: &str,
        query: &str,
        headers: &[(&str, &str)],
    ) -> Result<Self, Reply> {
        let token_query = if token.is_empty() {
            String::new()
        } else {
            format!("token={token}")
        };
        let mut head = format!(
            "GET /api/v1/events?{token_query}{query} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAccept: text/event-stream\r\n"
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        socket.write_all(head.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        let split = loop {
            if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                break at;
            }
            let mut buf = [0u8; 4096];
            let n = tokio::time::timeout(WAIT, socket.read(&mut buf))
                .await
                .expect("response head in time")
                .unwrap();
            assert!(
                n > 0,
                "closed before the head: {:?}",
                String::from_utf8_lossy(&raw)
            );
            raw.extend_from_slice(&buf[..n]);
        };
        let head = String::from_utf8(raw[..split].to_vec()).unwrap();
        let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
        if status != 200 {
            // Read the rest as an ordinary reply.
            let mut rest = raw[split + 4..].to_vec();
            let _ = tokio::time::timeout(WAIT, socket.read_to_end(&mut rest)).await;
            let mut whole = raw[..split + 4].to_vec();
            whole.extend_from_slice(&rest);
            return Err(parse_reply(whole));
        }
        let headers = head
            .split("\r\n")
            .skip(1)
            .filter_map(|line| line.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let mut client = Self {
            addr,
            token: token.to_owned(),
            socket,
            raw: raw[split + 4..].to_vec(),
            body: Vec::new(),
            ended: false,
            headers,
            ready: Value::Null,
            stream: String::new(),
            last_id: None,
            ready_id: String::new(),
            heartbeats: 0,
            retries: Vec::new(),
        };
        let ready = client.next_event().await.expect("a first event");
        assert_eq!(ready.name, "ready", "{ready:?}");
        assert_eq!(ready.data["type"], "ready");
        client.stream = ready.data["stream"].as_str().unwrap().to_owned();
        client.ready_id = ready.id.expect("ready has an id");
        client.ready = ready.data;
        Ok(client)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The next event; `None` once the stream ended.
    pub async fn next_event(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.parse_event() {
                return Some(event);
            }
            if self.ended {
                return None;
            }
            self.read_more().await;
        }
    }

    /// The next frame, whatever it is (the stream must not end).
    pub async fn recv(&mut self) -> Value {
        let event = self.next_event().await.expect("the stream is open");
        assert_eq!(
            Some(event.name.as_str()),
            event.data["type"].as_str(),
            "an event is named by its frame's type"
        );
        event.data
    }

    /// The next frame of `kind`, skipping presence, typing, membership and room events.
    pub async fn recv_type(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.recv().await;
            if frame["type"] == kind {
                return frame;
            }
            let skippable = ["presence", "typing", "membership", "receipt", "room_event"];
            assert!(
                skippable.contains(&frame["type"].as_str().unwrap_or("")),
                "expected {kind}, got {frame}"
            );
        }
    }

    /// The next frame that `wanted` accepts, skipping any other.
    pub async fn recv_matching(&mut self, wanted: impl Fn(&Value) -> bool) -> Value {
        loop {
            let frame = self.recv().await;
            if wanted(&frame) {
                return frame;
            }
        }
    }

    /// Waits for the next heartbeat comment; events before it must be of the allowed kinds.
    pub async fn heartbeat(&mut self, allowed: &[&str]) {
        let before = self.heartbeats;
        loop {
            while let Some(event) = self.parse_event() {
                assert!(allowed.contains(&event.name.as_str()), "{event:?}");
            }
            if self.heartbeats > before {
                return;
            }
            assert!(!self.ended, "the stream ended");
            self.read_more().await;
        }
    }

    /// Reads until the stream ends; the frames that came before.
    pub async fn until_end(&mut self) -> Vec<Value> {
        let mut frames = Vec::new();
        while let Some(event) = self.next_event().await {
            frames.push(event.data);
        }
        frames
    }

    /// `POST /api/v1/frames?stream=` with a JSON body: status and body.
    pub async fn post(&self, body: &str) -> (u16, Value) {
        post_frames(self.addr, &self.token, &self.stream, body).await
    }

    /// Posts one frame with a fresh id; returns the reply the POST answered with.
    pub async fn request(&self, mut frame: Value) -> Value {
        let id = format!("s{}", NEXT_ID.fetch_add(1, Ordering::Relaxed));
        frame["id"] = json!(id);
        let (status, replies) = self.post(&frame.to_string()).await;
        assert_eq!(status, 200, "{replies}");
        let replies = replies.as_array().unwrap();
        assert_eq!(replies.len(), 1, "one reply: {replies:?}");
        assert_eq!(replies[0]["reply_to"], json!(id));
        replies[0].clone()
    }

    /// Sends a message; returns the ack (or error).
    pub async fn say(&self, receiver: &str, content: &str) -> Value {
        self.request(json!({"type": "message", "receiver": receiver, "content": content}))
            .await
    }

    fn parse_event(&mut self) -> Option<Event> {
        loop {
            let end = self.body.windows(2).position(|w| w == b"\n\n")?;
            let block: Vec<u8> = self.body.drain(..end + 2).collect();
            let block = String::from_utf8(block).expect("events are UTF-8");
            let (mut name, mut id, mut data) = (None, None, Vec::new());
            for line in block.lines().filter(|l| !l.is_empty()) {
                if line.starts_with(':') {
                    self.heartbeats += 1;
                    continue;
                }
                let (field, value) = line.split_once(": ").unwrap_or((line, ""));
                match field {
                    "event" => name = Some(value.to_owned()),
                    "id" => id = Some(value.to_owned()),
                    "data" => data.push(value.to_owned()),
                    "retry" => self.retries.push(value.parse().expect("retry is a number")),
                    other => panic!("unknown field {other} in {block:?}"),
                }
            }
            if data.is_empty() {
                continue;
            }
            assert_eq!(data.len(), 1, "one data line per event: {block:?}");
            if id.is_some() {
                self.last_id.clone_from(&id);
            }
            return Some(Event {
                name: name.unwrap_or_else(|| "message".into()),
                id,
                data: serde_json::from_str(&data[0]).expect("data is JSON"),
            });
        }
    }

    async fn read_more(&mut self) {
        loop {
            if self.dechunk() {
                return;
            }
            let mut buf = [0u8; 16384];
            let n = tokio::time::timeout(WAIT, self.socket.read(&mut buf))
                .await
                .expect("stream data in time")
                .unwrap_or(0);
            if n == 0 {
                self.ended = true;
                return;
            }
            self.raw.extend_from_slice(&buf[..n]);
        }
    }

    /// Moves the complete chunks read so far into the body; whether any moved or the body
    /// ended.
    fn dechunk(&mut self) -> bool {
        let mut moved = false;
        loop {
            let Some(line_end) = self.raw.windows(2).position(|w| w == b"\r\n") else {
                return moved;
            };
            let size = std::str::from_utf8(&self.raw[..line_end]).unwrap();
            let size = usize::from_str_radix(size.trim(), 16).expect("a chunk size");
            if size == 0 {
                self.ended = true;
                return true;
            }
            if self.raw.len() < line_end + 2 + size + 2 {
                return moved;
            }
            let chunk: Vec<u8> = self.raw.drain(..line_end + 2 + size + 2).collect();
            self.body
                .extend_from_slice(&chunk[line_end + 2..line_end + 2 + size]);
            moved = true;
        }
    }
}

/// `POST /api/v1/frames?stream=<stream>` as `token`.
pub async fn post_frames(addr: SocketAddr, token: &str, stream: &str, body: &str) -> (u16, Value) {
    super::http(
        addr,
        "POST",
        &format!("/api/v1/frames?stream={stream}"),
        Some(body),
        Some(token),
    )
    .await
}
