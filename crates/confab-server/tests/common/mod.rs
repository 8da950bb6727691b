//! Test helpers: a real server on an ephemeral port with a temporary data dir, a minimal HTTP
//! client for the REST API, and a WebSocket client that speaks the protocol's JSON.

#![allow(dead_code)]

pub mod pg;
pub mod sse;
pub mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use confab_server::Config;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

/// How long a test waits for an expected frame.
pub const WAIT: Duration = Duration::from_secs(10);

pub const PASSWORD: &str = "correct horse battery";

pub struct TestServer {
    pub addr: SocketAddr,
    /// The TCP gateway.
    pub tcp_addr: SocketAddr,
    /// The UDP gateway.
    pub udp_addr: SocketAddr,
    pub dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    /// On PostgreSQL: drops the schema once the data dir is gone (after `_temp`).
    _schema: Option<pg::SchemaGuard>,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), confab_server::ServeError>>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tune: impl FnOnce(&mut Config)) -> Self {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().to_owned();
        let mut server = Self::start_in(dir, tune).await;
        server._temp = Some(temp);
        server
    }

    /// Starts on an existing data dir (for restarts). The caller keeps the dir alive.
    pub async fn start_in(dir: PathBuf, tune: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config {
            data_dir: dir.clone(),
            ..Config::default()
        };
        // Tests register and connect many users from one address; the tests of the abuse
        // limits set their own.
        config.abuse.attempts_per_ip_per_min = 1e6;
        config.abuse.attempts_per_ip_burst = 1e6;
        config.abuse.handshakes_per_ip_per_sec = 1e6;
        config.abuse.handshakes_per_ip_burst = 1e6;
        let schema = pg::database().map(|base| {
            config.database = Some(pg::url_for(&base, &dir));
            pg::SchemaGuard {
                base,
                dir: dir.clone(),
            }
        });
        tune(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let tcp_addr = tcp.local_addr().unwrap();
        let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let udp_addr = udp.local_addr().unwrap();
        let listeners = confab_server::Listeners {
            http: listener,
            tcp: Some(tcp),
            udp: Some(udp),
        };
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(confab_server::run_with(config, listeners, shutdown.clone()));
        Self {
            addr,
            tcp_addr,
            udp_addr,
            dir,
            _temp: None,
            _schema: schema,
            shutdown,
            task,
        }
    }

    /// Graceful shutdown; returns the temp dir so a restart can reuse it.
    pub async fn stop(self) -> Option<tempfile::TempDir> {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("server stops in time")
            .unwrap()
            .unwrap();
        self._temp
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// `POST` JSON; returns status and parsed body (Null when empty).
    pub async fn post(&self, path: &str, body: &str, token: Option<&str>) -> (u16, Value) {
        http(self.addr, "POST", path, Some(body), token).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        http(self.addr, "GET", path, None, token).await
    }

    /// Registers a user and returns their token.
    pub async fn register(&self, username: &str) -> String {
        let body = json!({ "username": username, "password": PASSWORD }).to_string();
        let (status, reply) = self.post("/api/v1/register", &body, None).await;
        assert_eq!(status, 201, "register {username}: {reply}");
        reply["token"].as_str().unwrap().to_owned()
    }

    /// Registers a user and connects one session.
    pub async fn user(&self, username: &str) -> (String, Client) {
        let token = self.register(username).await;
        let client = self.connect(&token).await;
        (token, client)
    }

    /// Connects with `?token=` and reads `ready`.
    pub async fn connect(&self, token: &str) -> Client {
        let mut client = Client::open(&format!("{}?token={token}", self.ws_url())).await;
        let ready = client.recv().await;
        assert_eq!(ready["type"], "ready", "{ready}");
        client.ready = ready;
        client
    }
}

impl TestServer {
    /// Connects like [`TestServer::connect`] over a socket with a 4 KiB receive buffer.
    pub async fn connect_small_buffer(&self, token: &str) -> Client {
        let mut client = self
            .open_small_buffer(&format!("{}?token={token}", self.ws_url()))
            .await;
        let ready = client.recv().await;
        assert_eq!(ready["type"], "ready", "{ready}");
        client.ready = ready;
        client
    }

    /// A WebSocket to `url` over a socket with a 4 KiB receive buffer, nothing read yet.
    pub async fn open_small_buffer(&self, url: &str) -> Client {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let stream = socket.connect(self.addr).await.unwrap();
        let (ws, _) = tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(stream))
            .await
            .unwrap();
        Client {
            ws,
            ready: Value::Null,
        }
    }

    /// Connects with an in-band `login` carrying the client's cursors, and reads `ready`.
    pub async fn resume(&self, token: &str, cursors: Value) -> Client {
        let mut client = Client::open(&self.ws_url()).await;
        client
            .send(json!({"type": "login", "token": token, "cursors": cursors}))
            .await;
        let ready = client.recv().await;
        assert_eq!(ready["type"], "ready", "{ready}");
        client.ready = ready;
        client
    }
}

/// A raw TCP gateway client: one JSON frame per line.
pub struct LineClient {
    lines: tokio::io::Lines<tokio::io::BufReader<tokio::net::tcp::OwnedReadHalf>>,
    pub write: tokio::net::tcp::OwnedWriteHalf,
}

impl LineClient {
    pub async fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (read, write) = stream.into_split();
        Self {
            lines: tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(read)),
            write,
        }
    }

    pub async fn send_line(&mut self, line: &str) {
        self.write.write_all(line.as_bytes()).await.unwrap();
        self.write.write_all(b"\n").await.unwrap();
    }

    pub async fn send(&mut self, frame: Value) {
        self.send_line(&frame.to_string()).await;
    }

    /// The next line as JSON; `None` at the end of the stream.
    pub async fn recv(&mut self) -> Option<Value> {
        let line = tokio::time::timeout(WAIT, self.lines.next_line())
            .await
            .expect("a line in time")
            .ok()??;
        Some(serde_json::from_str(&line).unwrap())
    }

    /// The next frame of `kind`, skipping events.
    pub async fn recv_type(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.recv().await.expect("connection open");
            if frame["type"] == kind {
                return frame;
            }
            assert!(
                ["presence", "typing", "membership", "receipt", "room_event"]
                    .contains(&frame["type"].as_str().unwrap_or("")),
                "expected {kind}, got {frame}"
            );
        }
    }
}

/// A `GET` whose body is text.
pub async fn http_text(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.unwrap();
    raw
}

/// A one-shot HTTP/1.1 request with `Connection: close`.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
    token: Option<&str>,
) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let body = body.unwrap_or("");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut raw))
        .await
        .expect("http response in time")
        .unwrap();
    let text = String::from_utf8(raw).unwrap();
    let status: u16 = text.split(' ').nth(1).unwrap().parse().unwrap();
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    let value = serde_json::from_str(body).unwrap_or(Value::Null);
    (status, value)
}

/// An HTTP answer with its headers, read to the end (for tests that look at headers and
/// raw bodies: downloads, ranges, the OpenAPI session).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// Names in lowercase.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// `POST /api/v1/attachments?name=<name>` with `bytes` (the name is sent as given: keep it
/// URL-safe).
pub async fn upload(addr: SocketAddr, token: &str, name: &str, bytes: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /api/v1/attachments?name={name} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Authorization: Bearer {token}\r\nContent-Length: {}\r\n\r\n",
        bytes.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    read_reply(&mut stream).await
}

/// Reads an HTTP/1.1 response until the server closes, and parses it (chunked bodies are
/// joined).
pub async fn read_reply(stream: &mut (impl tokio::io::AsyncRead + Unpin)) -> Reply {
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut raw))
        .await
        .expect("http response in time")
        .expect("response readable");
    parse_reply(raw)
}

/// Parses a whole HTTP/1.1 response.
pub fn parse_reply(raw: Vec<u8>) -> Reply {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Reply {
        status: status.parse().unwrap(),
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = std::str::from_utf8(&data[..line_end]).unwrap();
        let size = usize::from_str_radix(size.split(';').next().unwrap().trim(), 16).unwrap();
        data = &data[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// Frame ids unique within the test process, so a reconnecting user never reuses one.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub ready: Value,
}

/// How a connection ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    Closed(u16),
    Dropped,
}

impl Client {
    pub async fn open(url: &str) -> Self {
        Self::open_request(url.into_client_request().unwrap()).await
    }

    pub async fn open_request(
        request: tokio_tungstenite::tungstenite::handshake::client::Request,
    ) -> Self {
        let (ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        Self {
            ws,
            ready: Value::Null,
        }
    }

    pub async fn send(&mut self, frame: Value) {
        self.ws
            .send(Message::Text(frame.to_string().into()))
            .await
            .unwrap();
    }

    pub async fn send_raw(&mut self, message: Message) {
        self.ws.send(message).await.unwrap();
    }

    /// The next frame, whatever it is.
    pub async fn recv(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a frame in time")
                .expect("connection open")
                .expect("frame readable");
            match message {
                Message::Text(text) => return serde_json::from_str(text.as_str()).unwrap(),
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("unexpected {other:?}"),
            }
        }
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

    /// Sends a frame with a fresh id and returns the frame that answers it, skipping events.
    pub async fn request(&mut self, mut frame: Value) -> Value {
        let id = format!("r{}", NEXT_ID.fetch_add(1, Ordering::Relaxed));
        frame["id"] = json!(id);
        self.send(frame).await;
        loop {
            let reply = self.recv().await;
            if reply["reply_to"] == json!(id) {
                return reply;
            }
        }
    }

    /// Sends a message with the given client id; returns the ack (or error).
    pub async fn say(&mut self, receiver: &str, content: &str) -> Value {
        self.request(json!({"type": "message", "receiver": receiver, "content": content}))
            .await
    }

    /// Asserts nothing but events of the given kinds arrives for `wait`.
    pub async fn expect_quiet(&mut self, wait: Duration, allowed: &[&str]) {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return,
                Ok(Some(Ok(Message::Text(text)))) => {
                    let frame: Value = serde_json::from_str(text.as_str()).unwrap();
                    assert!(
                        allowed.contains(&frame["type"].as_str().unwrap_or("")),
                        "unexpected frame {frame}"
                    );
                }
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
                Ok(other) => panic!("unexpected {other:?}"),
            }
        }
    }

    /// Reads until the connection ends; returns how. Frames before the end are returned too.
    pub async fn until_end(&mut self) -> (Ended, Vec<Value>) {
        let mut frames = Vec::new();
        loop {
            match tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("connection ends in time")
            {
                Some(Ok(Message::Text(text))) => {
                    frames.push(serde_json::from_str(text.as_str()).unwrap())
                }
                Some(Ok(Message::Close(frame))) => {
                    let code = frame.map_or(1005, |f| u16::from(f.code));
                    return (Ended::Closed(code), frames);
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return (Ended::Dropped, frames),
            }
        }
    }
}

pub fn close_code(code: u16) -> CloseCode {
    CloseCode::from(code)
}
