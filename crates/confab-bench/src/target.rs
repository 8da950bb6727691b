//! The server under test: one given with `--server`, or `confab serve` started by the bench on
//! a temporary data directory with a config that raises the rate limits (configuration, not a
//! weakened build). Several `--server`s are nodes of one deployment: member `i` of a scenario
//! connects to node `i % n` ([`Target::node`]), and the report counts the connections each
//! node got.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{bail, Context};
use confab_client::Endpoint;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::Common;

/// Rate limits, queues and connections per address for bench users (all on loopback): high
/// enough that the bench measures the server, not its abuse limits.
const BENCH_CONFIG: &str = r#"
[rate]
frames_per_sec = 1000000.0
frames_burst = 1000000.0
messages_per_sec = 1000000.0
messages_burst = 1000000.0

[session]
outbound_queue = 4096
max_connections_per_ip = 1000000

[abuse]
attempts_per_ip_per_min = 1000000.0
attempts_per_ip_burst = 1000000.0
handshakes_per_ip_per_sec = 1000000.0
handshakes_per_ip_burst = 1000000.0
max_sessions_per_user = 100000

[transport]
max_connections_per_ip = 1000000
"#;

/// One server of the target.
pub struct Node {
    pub endpoint: Endpoint,
    pub addr: SocketAddr,
    /// Connections [`Target::node`] handed out for it.
    connections: AtomicU64,
}

impl Node {
    fn new(endpoint: Endpoint, addr: SocketAddr) -> Self {
        Self {
            endpoint,
            addr,
            connections: AtomicU64::new(0),
        }
    }
}

pub struct Target {
    /// Set when the target is a peer chat rather than confab.
    pub peer: Option<crate::peer::Peer>,
    /// The first node: where users are registered, and where scenarios that do not spread
    /// their members connect.
    pub endpoint: Endpoint,
    pub addr: SocketAddr,
    /// Every node, the first included.
    pub nodes: Vec<Node>,
    pub pid: Option<u32>,
    child: Option<Child>,
    _dir: Option<tempfile::TempDir>,
}

impl Target {
    pub async fn open(common: &Common) -> anyhow::Result<Self> {
        let servers: Vec<&str> = common
            .server
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .collect();
        if !servers.is_empty() {
            let mut nodes = Vec::new();
            for server in servers {
                let endpoint = Endpoint::parse_with_ca(server, common.ca_file.as_deref())?;
                let addr = tokio::net::lookup_host(&endpoint.authority)
                    .await?
                    .next()
                    .with_context(|| format!("{server} does not resolve"))?;
                nodes.push(Node::new(endpoint, addr));
            }
            return Ok(Self {
                peer: common.peer,
                endpoint: nodes[0].endpoint.clone(),
                addr: nodes[0].addr,
                nodes,
                pid: common.server_pid,
                child: None,
                _dir: None,
            });
        }
        if let Some(peer) = common.peer {
            return Self::start_peer(peer, &common.peers_dir).await;
        }
        let dir = tempfile::tempdir()?;
        let config = dir.path().join("bench.toml");
        std::fs::write(&config, BENCH_CONFIG)?;
        let mut child = Command::new(std::env::current_exe()?)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path().join("data"))
            .arg("--config")
            .arg(&config)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start confab serve")?;
        let mut lines = BufReader::new(child.stdout.take().context("no stdout")?).lines();
        let addr = tokio::time::timeout(Duration::from_secs(20), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(rest) = line.split("addr=").nth(1) {
                    let addr = rest.split_whitespace().next().unwrap_or_default();
                    return Ok::<_, anyhow::Error>(Some(addr.parse::<SocketAddr>()?));
                }
            }
            Ok(None)
        })
        .await
        .context("server did not start in time")??;
        let Some(addr) = addr else {
            bail!("server exited before listening");
        };
        // Keep draining its log so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let endpoint = Endpoint::parse(&addr.to_string())?;
        Ok(Self {
            peer: None,
            nodes: vec![Node::new(endpoint.clone(), addr)],
            endpoint,
            addr,
            pid: child.id(),
            child: Some(child),
            _dir: Some(dir),
        })
    }

    /// Starts a peer chat with node; it prints `listening PORT`.
    async fn start_peer(peer: crate::peer::Peer, dir: &std::path::Path) -> anyhow::Result<Self> {
        anyhow::ensure!(
            dir.join("node_modules").exists(),
            "no {}/node_modules: run `npm ci` there first",
            dir.display()
        );
        let mut child = Command::new("node")
            .arg(peer.script(dir))
            .arg("0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start node")?;
        let mut lines = BufReader::new(child.stdout.take().context("no stdout")?).lines();
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .context("peer did not start in time")??
            .context("peer exited before listening")?;
        let port: u16 = line
            .strip_prefix("listening ")
            .context("peer printed no port")?
            .trim()
            .parse()?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let endpoint = Endpoint::parse(&addr.to_string())?;
        Ok(Self {
            peer: Some(peer),
            nodes: vec![Node::new(endpoint.clone(), addr)],
            endpoint,
            addr,
            pid: child.id(),
            child: Some(child),
            _dir: None,
        })
    }

    /// The node member `i` connects to (`i % n`), counted as one connection to it.
    pub fn node(&self, i: usize) -> &Node {
        let node = &self.nodes[i % self.nodes.len()];
        node.connections.fetch_add(1, Ordering::Relaxed);
        node
    }

    /// Each node's `host:port` and the connections handed out for it.
    pub fn connections_per_node(&self) -> Vec<crate::report::NodeConnections> {
        self.nodes
            .iter()
            .map(|node| crate::report::NodeConnections {
                server: node.endpoint.authority.clone(),
                connections: node.connections.load(Ordering::Relaxed),
            })
            .collect()
    }

    /// The server's resident memory in bytes, when its pid is known.
    pub fn rss_bytes(&self) -> Option<u64> {
        rss_of(self.pid?)
    }

    /// Stops a server the bench started (SIGTERM, then a kill if it lingers).
    pub async fn close(mut self) {
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = child.id() {
                let _ = Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status()
                    .await;
            }
            if tokio::time::timeout(Duration::from_secs(10), child.wait())
                .await
                .is_err()
            {
                let _ = child.kill().await;
            }
        }
    }
}

/// The resident memory of process `pid`, from `/proc`.
pub fn rss_of(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
