//! The side-by-side peers: minimal broadcast chats under `bench/peers/` (Node `ws` and
//! uWebSockets.js), started by the bench like its own server. They speak a smaller contract
//! than confab (no accounts, no acks, nothing stored): connect to `/?room=R&user=U`, send
//! `{"type":"message","content":...}`, receive every other member's messages.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::ValueEnum;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Which peer to measure instead of confab.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Peer {
    /// Node's `ws` package (bench/peers/ws-chat.js)
    Ws,
    /// uWebSockets.js with its pub/sub (bench/peers/uws-chat.js)
    Uws,
}

impl Peer {
    pub fn script(self, dir: &std::path::Path) -> PathBuf {
        dir.join(match self {
            Self::Ws => "ws-chat.js",
            Self::Uws => "uws-chat.js",
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Ws => "node-ws",
            Self::Uws => "uwebsockets.js",
        }
    }
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
pub type PeerTx = SplitSink<Ws, Message>;
pub type PeerRx = SplitStream<Ws>;

/// Connects to a peer chat as `user` in `room`, from `local`.
pub async fn connect(
    server: SocketAddr,
    local: IpAddr,
    room: &str,
    user: &str,
) -> anyhow::Result<(PeerTx, PeerRx)> {
    let stream = confab_client::connect_tcp_from(server, local).await?;
    let room = room.replace('#', "%23");
    let url = format!("ws://{server}/?room={room}&user={user}");
    let (ws, _) = tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(stream)).await?;
    Ok(ws.split())
}

pub async fn send(tx: &mut PeerTx, content: String) -> anyhow::Result<()> {
    let frame = json!({ "type": "message", "content": content }).to_string();
    tx.send(Message::Text(frame.into())).await?;
    Ok(())
}

/// The next message: `(sender, content)`; `None` when the connection ends.
pub async fn recv(rx: &mut PeerRx) -> anyhow::Result<Option<(String, String)>> {
    while let Some(message) = rx.next().await {
        if let Message::Text(text) = message? {
            let frame: Value = serde_json::from_str(text.as_str())?;
            if frame["type"] == "message" {
                let sender = frame["sender"].as_str().unwrap_or_default().to_owned();
                let content = frame["content"].as_str().unwrap_or_default().to_owned();
                return Ok(Some((sender, content)));
            }
        }
    }
    Ok(None)
}
