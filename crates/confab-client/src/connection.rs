//! One WebSocket session: open (optionally from a given local address), log in, then send
//! client frames and receive server frames. [`Connection::split`] gives a sending and a
//! receiving half for use from two tasks.

use std::net::{IpAddr, SocketAddr};

use confab_protocol::{ClientFrame, Login, Ready, ServerFrame};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::{ClientError, Endpoint};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// An open WebSocket to a confab server.
pub struct Connection {
    ws: Ws,
}

/// The sending half of a split connection.
pub struct Sender {
    sink: SplitSink<Ws, Message>,
}

/// The receiving half of a split connection.
pub struct Receiver {
    stream: SplitStream<Ws>,
}

impl Connection {
    /// Connects with the token at the upgrade and waits for `ready`.
    pub async fn connect(endpoint: &Endpoint, token: &str) -> Result<(Self, Ready), ClientError> {
        let ws = open(endpoint, Some(token)).await?;
        let mut connection = Self { ws };
        let ready = connection.ready().await?;
        Ok((connection, ready))
    }

    /// Connects without a token and authenticates in-band with `login` (which may carry the
    /// client's cursors for an exact resume).
    pub async fn connect_login(
        endpoint: &Endpoint,
        login: Login,
    ) -> Result<(Self, Ready), ClientError> {
        let ws = open(endpoint, None).await?;
        let mut connection = Self { ws };
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
        let mut connection = Self { ws };
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
        send(&mut self.ws, frame).await
    }

    /// The next server frame; `None` once the connection closed.
    pub async fn recv(&mut self) -> Result<Option<ServerFrame>, ClientError> {
        recv(&mut self.ws).await
    }

    pub fn split(self) -> (Sender, Receiver) {
        let (sink, stream) = self.ws.split();
        (Sender { sink }, Receiver { stream })
    }
}

impl Sender {
    pub async fn send(&mut self, frame: &ClientFrame) -> Result<(), ClientError> {
        send(&mut self.sink, frame).await
    }

    /// Queues a frame without flushing: call [`Sender::flush`] after a batch.
    pub async fn feed(&mut self, frame: &ClientFrame) -> Result<(), ClientError> {
        let text = serde_json::to_string(frame).expect("client frames serialize");
        Ok(self.sink.feed(Message::Text(text.into())).await?)
    }

    pub async fn flush(&mut self) -> Result<(), ClientError> {
        Ok(self.sink.flush().await?)
    }

    /// Closes the connection with a normal close.
    pub async fn close(&mut self) -> Result<(), ClientError> {
        Ok(self.sink.close().await?)
    }
}

impl Receiver {
    pub async fn recv(&mut self) -> Result<Option<ServerFrame>, ClientError> {
        recv(&mut self.stream).await
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
