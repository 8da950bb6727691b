//! One session, over a WebSocket or (where WebSockets are blocked) Server-Sent Events with
//! POSTs ([`crate::sse`]): open (optionally from a given local address), log in, then send
//! client frames and receive server frames. [`Connection::split`] gives a sending and a
//! receiving half for use from two tasks.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use confab_protocol::{ClientFrame, Login, Ready, Receiver as Conversation, ServerFrame};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::sse::{self, ResumePoint, SseReceiver, SseSender};
use crate::{ClientError, Endpoint};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How a session reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transport {
    /// A WebSocket on `/ws`.
    #[default]
    Ws,
    /// Server-Sent Events on `/api/v1/events`, frames up with `POST /api/v1/frames`.
    Sse,
}

impl std::str::FromStr for Transport {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "ws" | "websocket" => Ok(Self::Ws),
            "sse" => Ok(Self::Sse),
            other => Err(format!("unknown transport {other}: ws or sse")),
        }
    }
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Ws => "ws",
            Self::Sse => "sse",
        })
    }
}

/// An open session with a confab server.
pub struct Connection {
    inner: Inner,
}

enum Inner {
    Ws(Box<Ws>),
    Sse(SseSender, SseReceiver),
}

/// The sending half of a split connection.
pub struct Sender {
    inner: SenderInner,
}

enum SenderInner {
    Ws(SplitSink<Ws, Message>),
    Sse(SseSender),
}

/// The receiving half of a split connection.
pub struct Receiver {
    inner: ReceiverInner,
}

enum ReceiverInner {
    Ws(SplitStream<Ws>),
    Sse(SseReceiver),
}

impl Connection {
    /// Connects with the token at the upgrade and waits for `ready`.
    pub async fn connect(endpoint: &Endpoint, token: &str) -> Result<(Self, Ready), ClientError> {
        let ws = open(endpoint, Some(token)).await?;
        let mut connection = Self {
            inner: Inner::Ws(Box::new(ws)),
        };
        let ready = connection.ready().await?;
        Ok((connection, ready))
    }

    /// Connects with the token over `transport` and waits for `ready`.
    pub async fn connect_via(
        endpoint: &Endpoint,
        token: &str,
        transport: Transport,
    ) -> Result<(Self, Ready), ClientError> {
        match transport {
            Transport::Ws => Self::connect(endpoint, token).await,
            Transport::Sse => {
                Self::connect_sse(endpoint, token, &BTreeMap::new(), ResumePoint::default()).await
            }
        }
    }

    /// Opens a Server-Sent Events stream: the one `resume` names if the server still has it
    /// (what came after its last event follows `ready`), else a fresh one caught up from
    /// `cursors`.
    pub async fn connect_sse(
        endpoint: &Endpoint,
        token: &str,
        cursors: &BTreeMap<Conversation, u64>,
        resume: ResumePoint,
    ) -> Result<(Self, Ready), ClientError> {
        let (tx, rx, ready) = sse::open(endpoint, token, cursors, resume).await?;
        Ok((
            Self {
                inner: Inner::Sse(tx, rx),
            },
            ready,
        ))
    }

    /// Connects without a token and authenticates in-band with `login` (which may carry the
    /// client's cursors for an exact resume).
    pub async fn connect_login(
        endpoint: &Endpoint,
        login: Login,
    ) -> Result<(Self, Ready), ClientError> {
        let ws = open(endpoint, None).await?;
        let mut connection = Self {
            inner: Inner::Ws(Box::new(ws)),
        };
        connection.send(&ClientFrame::Login(login)).await?;
        let ready = connection.ready().await?;
        Ok((connection, ready))
    }

    /// Connects from `local` (any port), for spreading many sessions over source addresses;
    /// authenticates in-band with `login`.
    pub async fn connect_from(
        endpoint: &Endpoint,
        server: SocketAddr,
        local: IpAddr,
        login: Login,
    ) -> Result<(Self, Ready), ClientError> {
        let stream = connect_tcp_from(server, local).await?;
        let (ws, _) = tokio_tungstenite::client_async_tls_with_config(
            endpoint.ws_url(None),
            stream,
            None,
            connector(endpoint),
        )
        .await?;
        let mut connection = Self {
            inner: Inner::Ws(Box::new(ws)),
        };
        connection.send(&ClientFrame::Login(login)).await?;
        let ready = connection.ready().await?;
        Ok((connection, ready))
    }

    async fn ready(&mut self) -> Result<Ready, ClientError> {
        match self.recv().await? {
            Some(ServerFrame::Ready(ready)) => Ok(ready),
            Some(other) => Err(ClientError::from_frame(other)),
            None => Err(ClientError::Closed),
        }
    }

    pub async fn send(&mut self, frame: &ClientFrame) -> Result<(), ClientError> {
        match &mut self.inner {
            Inner::Ws(ws) => send(ws.as_mut(), frame).await,
            Inner::Sse(tx, _) => tx.send(frame).await,
        }
    }

    /// The next server frame; `None` once the connection closed.
    pub async fn recv(&mut self) -> Result<Option<ServerFrame>, ClientError> {
        match &mut self.inner {
            Inner::Ws(ws) => recv(ws.as_mut()).await,
            Inner::Sse(_, rx) => rx.recv().await,
        }
    }

    pub fn split(self) -> (Sender, Receiver) {
        match self.inner {
            Inner::Ws(ws) => {
                let (sink, stream) = (*ws).split();
                (
                    Sender {
                        inner: SenderInner::Ws(sink),
                    },
                    Receiver {
                        inner: ReceiverInner::Ws(stream),
                    },
                )
            }
            Inner::Sse(tx, rx) => (
                Sender {
                    inner: SenderInner::Sse(tx),
                },
                Receiver {
                    inner: ReceiverInner::Sse(rx),
                },
            ),
        }
    }
}

impl Sender {
    pub async fn send(&mut self, frame: &ClientFrame) -> Result<(), ClientError> {
        match &mut self.inner {
            SenderInner::Ws(sink) => send(sink, frame).await,
            SenderInner::Sse(tx) => tx.send(frame).await,
        }
    }

    /// Queues a frame without flushing: call [`Sender::flush`] after a batch. (The event
    /// stream's frames are batched by themselves: one POST takes whatever waits.)
    pub async fn feed(&mut self, frame: &ClientFrame) -> Result<(), ClientError> {
        match &mut self.inner {
            SenderInner::Ws(sink) => {
                let text = serde_json::to_string(frame).expect("client frames serialize");
                Ok(sink.feed(Message::Text(text.into())).await?)
            }
            SenderInner::Sse(tx) => tx.send(frame).await,
        }
    }

    pub async fn flush(&mut self) -> Result<(), ClientError> {
        match &mut self.inner {
            SenderInner::Ws(sink) => Ok(sink.flush().await?),
            SenderInner::Sse(_) => Ok(()),
        }
    }

    /// Closes the connection: a normal close on a WebSocket; on the event stream, the stream
    /// stops being read (the server ends the session after its grace period).
    pub async fn close(&mut self) -> Result<(), ClientError> {
        match &mut self.inner {
            SenderInner::Ws(sink) => Ok(sink.close().await?),
            SenderInner::Sse(tx) => {
                tx.close();
                Ok(())
            }
        }
    }
}

impl Receiver {
    pub async fn recv(&mut self) -> Result<Option<ServerFrame>, ClientError> {
        match &mut self.inner {
            ReceiverInner::Ws(stream) => recv(stream).await,
            ReceiverInner::Sse(rx) => rx.recv().await,
        }
    }

    /// Where an event stream stands (to resume it); `None` on a WebSocket.
    pub fn resume_point(&self) -> Option<ResumePoint> {
        match &self.inner {
            ReceiverInner::Ws(_) => None,
            ReceiverInner::Sse(rx) => Some(rx.resume_point()),
        }
    }
}

/// A TCP stream to `server` from `local` (any port), with Nagle off. Spreading many client
/// sockets over several source addresses keeps clear of the ephemeral-port limit.
pub async fn connect_tcp_from(server: SocketAddr, local: IpAddr) -> std::io::Result<TcpStream> {
    let socket = match local {
        IpAddr::V4(_) => TcpSocket::new_v4()?,
        IpAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.bind(SocketAddr::new(local, 0))?;
    let stream = socket.connect(server).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Opens the WebSocket, over TLS for secure endpoints (with the endpoint's roots, never the
/// library's defaults).
async fn open(endpoint: &Endpoint, token: Option<&str>) -> Result<Ws, ClientError> {
    let url = endpoint.ws_url(token);
    let (ws, _) =
        tokio_tungstenite::connect_async_tls_with_config(url, None, false, connector(endpoint))
            .await?;
    Ok(ws)
}

/// The TLS connector for a secure endpoint; for a plain one, plain TCP (`Connector::Plain`,
/// so a stray `wss://` URL can never pick the library's own TLS settings).
fn connector(endpoint: &Endpoint) -> Option<tokio_tungstenite::Connector> {
    Some(match &endpoint.tls {
        Some(config) => tokio_tungstenite::Connector::Rustls(config.clone()),
        None => tokio_tungstenite::Connector::Plain,
    })
}

async fn send<S>(sink: &mut S, frame: &ClientFrame) -> Result<(), ClientError>
where
    S: futures_util::Sink<Message, Error = tokio_tungstenite::tungstenite::Error> + Unpin,
{
    let text = serde_json::to_string(frame).expect("client frames serialize");
    Ok(sink.send(Message::Text(text.into())).await?)
}

async fn recv<S>(stream: &mut S) -> Result<Option<ServerFrame>, ClientError>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    while let Some(message) = stream.next().await {
        match message? {
            Message::Text(text) => {
                return serde_json::from_str(text.as_str())
                    .map(Some)
                    .map_err(|e| ClientError::Unexpected(format!("{e}: {}", text.as_str())));
            }
            // Surfaced as the `close` frame line transports send, so callers see the code.
            Message::Close(Some(frame)) => {
                return Ok(Some(ServerFrame::Close {
                    code: frame.code.into(),
                    reason: frame.reason.to_string(),
                }))
            }
            Message::Close(None) => return Ok(None),
            _ => continue,
        }
    }
    Ok(None)
}
