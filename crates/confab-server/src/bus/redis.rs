//! The bus between nodes, on Redis pub/sub. Every node publishes its events on one channel,
//! `<namespace>:events`, and hears everyone's; it hands its own events to its dispatcher at
//! once and skips them when Redis echoes them back.
//!
//! Redis is never the only copy of anything that matters: an event published while Redis is
//! away is dropped, and the node fills the gap from the store once it is back on the bus.
//! "Back on the bus" is proved, not assumed: every node publishes a heartbeat each second and
//! knows it is on the bus while it hears its own. When it has not for [`OFF_BUS_AFTER`] (Redis
//! killed, paused, or the network gone) it counts itself off; the first heartbeat it hears
//! after that makes its dispatcher resync ([`Event::Resync`]).
//!
//! Presence across nodes uses expiring keys: each node keeps `<ns>:node:<id>` alive (expiring
//! after [`NODE_TTL`]) and the set of its online users in `<ns>:users:<id>`, and lists itself in
//! `<ns>:nodes`. Every [`KEEPALIVE`] each node reads which nodes are still alive; the users of a
//! node whose key expired show as offline (within `NODE_TTL + KEEPALIVE`, 20 s).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::MultiplexedConnection;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::wire::{Body, Envelope};
use super::{Bus, Event, Remote};
use crate::metrics::Metrics;
use crate::store::UserId;

/// How often a node publishes its heartbeat.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// A node that has not heard its own heartbeat for this long counts itself off the bus.
pub const OFF_BUS_AFTER: Duration = Duration::from_secs(3);
/// A node key lives this long unless refreshed.
pub const NODE_TTL: Duration = Duration::from_secs(15);
/// How often a node refreshes its key and reads which nodes are alive.
pub const KEEPALIVE: Duration = Duration::from_secs(5);
/// Events waiting for Redis beyond this are dropped (and later filled from the store).
const OUT_QUEUE: usize = 65_536;
/// Longest wait for any one Redis command or connection.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(3);
/// After this long off the bus, the subscription is dropped and made again.
const RESUBSCRIBE_AFTER: Duration = Duration::from_secs(10);

/// Why the bus could not start.
#[derive(Debug, thiserror::Error)]
#[error("bus: {0}")]
pub struct BusError(String);

/// Keys and channel of one deployment.
#[derive(Debug, Clone)]
struct Names {
    channel: String,
    nodes: String,
    prefix: String,
}

impl Names {
    fn new(namespace: &str) -> Self {
        Self {
            channel: format!("{namespace}:events"),
            nodes: format!("{namespace}:nodes"),
            prefix: namespace.to_owned(),
        }
    }

    fn alive(&self, node: &str) -> String {
        format!("{}:node:{node}", self.prefix)
    }

    fn users(&self, node: &str) -> String {
        format!("{}:users:{node}", self.prefix)
    }
}

enum Outgoing {
    Event(Event),
    Heartbeat,
}

/// A [`Bus`] shared by every node on one Redis.
pub struct RedisBus {
    node: String,
    local: mpsc::UnboundedSender<Event>,
    out: mpsc::Sender<Outgoing>,
    online: Arc<Mutex<HashSet<UserId>>>,
    metrics: Arc<Metrics>,
}

impl RedisBus {
    /// A bus on the Redis at `url` (`redis://host:port[/db]`), and the receiving end for the
    /// dispatcher. Connects in the background (and reconnects for as long as it runs): a node
    /// starts while Redis is away, and delivers its own events meanwhile. Stops at `stop`.
    pub fn start(
        url: &str,
        namespace: &str,
        metrics: Arc<Metrics>,
        stop: CancellationToken,
    ) -> Result<(Self, mpsc::UnboundedReceiver<Event>), BusError> {
        let client = redis::Client::open(url).map_err(|e| BusError(e.to_string()))?;
        let node = node_id();
        let names = Names::new(namespace);
        let (local, events) = mpsc::unbounded_channel();
        let (out, out_rx) = mpsc::channel(OUT_QUEUE);
        let online = Arc::new(Mutex::new(HashSet::new()));
        tracing::info!(node = %node, namespace, "joining the bus");
        let publisher = Publisher {
            client: client.clone(),
            node: node.clone(),
            names: names.clone(),
            online: online.clone(),
            local: local.clone(),
            metrics: metrics.clone(),
        };
        tokio::spawn(publisher.run(out_rx, stop.clone()));
        let heartbeat = out.clone();
        let beat_stop = stop.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(HEARTBEAT);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    () = beat_stop.cancelled() => return,
                }
                let _ = heartbeat.try_send(Outgoing::Heartbeat);
            }
        });
        let subscriber = Subscriber {
            client,
            node: node.clone(),
            names,
            local: local.clone(),
            metrics: metrics.clone(),
        };
        tokio::spawn(subscriber.run(stop));
        Ok((
            Self {
                node,
                local,
                out,
                online,
                metrics,
            },
            events,
        ))
    }

    /// This node's id on the bus.
    pub fn node(&self) -> &str {
        &self.node
    }
}

impl Bus for RedisBus {
    fn publish(&self, event: Event) {
        if let Event::Presence { user, online } = &event {
            let mut set = self.online.lock().unwrap_or_else(|e| e.into_inner());
            if *online {
                set.insert(*user);
            } else {
                set.remove(user);
            }
        }
        if !matches!(event, Event::Sync(_)) {
            let _ = self.local.send(event.clone());
        }
        if self.out.try_send(Outgoing::Event(event)).is_err() {
            self.metrics.bus_events("dropped", 1);
            tracing::debug!("bus queue full: event dropped (the store fills the gap)");
        }
    }
}

/// A random node id, new at every start.
fn node_id() -> String {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        bytes = (nanos ^ u64::from(std::process::id())).to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn connect(client: &redis::Client) -> redis::RedisResult<MultiplexedConnection> {
    match tokio::time::timeout(COMMAND_TIMEOUT, client.get_multiplexed_async_connection()).await {
        Ok(result) => result,
        Err(_) => Err(redis::RedisError::from(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "connect timed out",
        ))),
    }
}

async fn timed<T>(
    fut: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> redis::RedisResult<T> {
    match tokio::time::timeout(COMMAND_TIMEOUT, fut).await {
        Ok(result) => result,
        Err(_) => Err(redis::RedisError::from(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "redis did not answer",
        ))),
    }
}

/// Waits before the next connection attempt, doubling up to 2 s; false at shutdown.
async fn backoff(delay: &mut Duration, stop: &CancellationToken) -> bool {
    tokio::select! {
        () = tokio::time::sleep(*delay) => {}
        () = stop.cancelled() => return false,
    }
    *delay = (*delay * 2).min(Duration::from_secs(2));
    true
}

/// Publishes this node's events and heartbeats, and keeps its presence keys.
struct Publisher {
    client: redis::Client,
    node: String,
    names: Names,
    online: Arc<Mutex<HashSet<UserId>>>,
    local: mpsc::UnboundedSender<Event>,
    metrics: Arc<Metrics>,
}

impl Publisher {
    async fn run(self, mut rx: mpsc::Receiver<Outgoing>, stop: CancellationToken) {
        let mut delay = Duration::from_millis(100);
        let mut warned = false;
        loop {
            let mut conn = match connect(&self.client).await {
                Ok(conn) => conn,
                Err(err) => {
                    if !warned {
                        tracing::warn!(%err, "cannot reach redis; retrying");
                        warned = true;
                    }
                    // Events meanwhile are dropped: the store has them.
                    let mut dropped = 0;
                    while rx.try_recv().is_ok() {
                        dropped += 1;
                    }
                    self.metrics.bus_events("dropped", dropped);
                    if !backoff(&mut delay, &stop).await {
                        return;
                    }
                    continue;
                }
            };
            if std::mem::take(&mut warned) {
                tracing::info!("redis reachable again");
            }
            delay = Duration::from_millis(100);
            if let Err(err) = self.serve(&mut conn, &mut rx, &stop).await {
                tracing::warn!(%err, "lost redis; reconnecting");
                warned = true;
            } else {
                // Stopping: leave the cluster at once rather than by expiry.
                let mut pipe = redis::pipe();
                pipe.del(self.names.alive(&self.node))
                    .ignore()
                    .del(self.names.users(&self.node))
                    .ignore()
                    .srem(&self.names.nodes, &self.node)
                    .ignore();
                let _ = timed(pipe.query_async::<()>(&mut conn)).await;
                return;
            }
        }
    }

    /// Publishes until Redis fails (`Err`) or the node stops (`Ok`).
    async fn serve(
        &self,
        conn: &mut MultiplexedConnection,
        rx: &mut mpsc::Receiver<Outgoing>,
        stop: &CancellationToken,
    ) -> redis::RedisResult<()> {
        self.keepalive(conn).await?;
        let mut keepalive = tokio::time::interval_at(Instant::now() + KEEPALIVE, KEEPALIVE);
        loop {
            // Queued events first: at shutdown the last presence changes still go out.
            let first = tokio::select! {
                biased;
                item = rx.recv() => item,
                _ = keepalive.tick() => {
                    self.keepalive(conn).await?;
                    continue;
                }
                () = stop.cancelled() => None,
            };
            let Some(first) = first else { return Ok(()) };
            let mut pipe = redis::pipe();
            let mut next = Some(first);
            let mut count = 0;
            while let Some(item) = next.take() {
                self.add(&mut pipe, item);
                count += 1;
                if count < 256 {
                    next = rx.try_recv().ok();
                }
            }
            timed(pipe.query_async::<()>(conn)).await?;
            self.metrics.bus_events("published", count);
        }
    }

    fn add(&self, pipe: &mut redis::Pipeline, item: Outgoing) {
        let body = match item {
            Outgoing::Heartbeat => Body::Ping,
            Outgoing::Event(event) => {
                if let Event::Presence { user, online } = &event {
                    let key = self.names.users(&self.node);
                    if *online {
                        pipe.sadd(key, user).ignore();
                    } else {
                        pipe.srem(key, user).ignore();
                    }
                }
                match Body::from_event(&event) {
                    Some(body) => body,
                    None => return,
                }
            }
        };
        let envelope = Envelope {
            node: self.node.clone(),
            body,
        };
        if let Ok(json) = serde_json::to_string(&envelope) {
            pipe.publish(&self.names.channel, json).ignore();
        }
    }

    /// Refreshes this node's keys, then tells the dispatcher which other nodes are alive
    /// (and forgets the dead ones).
    async fn keepalive(&self, conn: &mut MultiplexedConnection) -> redis::RedisResult<()> {
        let users: Vec<UserId> = self
            .online
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .copied()
            .collect();
        let key = self.names.users(&self.node);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .set_ex(self.names.alive(&self.node), 1, NODE_TTL.as_secs())
            .ignore()
            .sadd(&self.names.nodes, &self.node)
            .ignore()
            .del(&key)
            .ignore();
        if !users.is_empty() {
            pipe.sadd(&key, users).ignore();
        }
        timed(pipe.query_async::<()>(conn)).await?;
        let live = live_nodes(conn, &self.names).await?;
        let others = live.into_iter().filter(|n| *n != self.node).collect();
        let _ = self.local.send(Event::Remote(Remote::LiveNodes(others)));
        Ok(())
    }
}

/// The nodes whose keys have not expired; removes the others from the node list.
async fn live_nodes(
    conn: &mut MultiplexedConnection,
    names: &Names,
) -> redis::RedisResult<Vec<String>> {
    let nodes: Vec<String> =
        timed(redis::cmd("SMEMBERS").arg(&names.nodes).query_async(conn)).await?;
    if nodes.is_empty() {
        return Ok(nodes);
    }
    let keys: Vec<String> = nodes.iter().map(|n| names.alive(n)).collect();
    let alive: Vec<Option<String>> = timed(redis::cmd("MGET").arg(keys).query_async(conn)).await?;
    let mut live = Vec::new();
    let mut dead = Vec::new();
    for (node, alive) in nodes.into_iter().zip(alive) {
        if alive.is_some() {
            live.push(node);
        } else {
            dead.push(node);
        }
    }
    if !dead.is_empty() {
        let mut pipe = redis::pipe();
        for node in &dead {
            pipe.srem(&names.nodes, node)
                .ignore()
                .del(names.users(node))
                .ignore();
        }
        timed(pipe.query_async::<()>(conn)).await?;
    }
    Ok(live)
}

/// Who is online on each live node but `me`.
async fn presence_snapshot(
    conn: &mut MultiplexedConnection,
    names: &Names,
    me: &str,
) -> redis::RedisResult<Vec<(String, Vec<UserId>)>> {
    let mut snapshot = Vec::new();
    for node in live_nodes(conn, names).await? {
        if node == me {
            continue;
        }
        let users: Vec<UserId> = timed(
            redis::cmd("SMEMBERS")
                .arg(names.users(&node))
                .query_async(conn),
        )
        .await?;
        snapshot.push((node, users));
    }
    Ok(snapshot)
}

/// Hears every node's events and hands the others' to the dispatcher.
struct Subscriber {
    client: redis::Client,
    node: String,
    names: Names,
    local: mpsc::UnboundedSender<Event>,
    metrics: Arc<Metrics>,
}

impl Subscriber {
    async fn run(self, stop: CancellationToken) {
        let mut delay = Duration::from_millis(100);
        loop {
            match self.listen(&stop).await {
                Ok(()) => return,
                Err(err) => tracing::debug!(%err, "bus subscription lost"),
            }
            if !backoff(&mut delay, &stop).await {
                return;
            }
        }
    }

    /// Listens until the subscription fails (`Err`) or the node stops (`Ok`).
    async fn listen(&self, stop: &CancellationToken) -> redis::RedisResult<()> {
        let mut conn = connect(&self.client).await?;
        let mut pubsub = timed(self.client.get_async_pubsub()).await?;
        timed(pubsub.subscribe(&self.names.channel)).await?;
        let mut messages = pubsub.on_message();
        let mut on_bus = false;
        let mut heard = Instant::now();
        let mut tick = tokio::time::interval(HEARTBEAT);
        loop {
            let message = tokio::select! {
                message = messages.next() => message,
                _ = tick.tick() => {
                    if on_bus && heard.elapsed() > OFF_BUS_AFTER {
                        tracing::warn!("off the bus: not hearing our own heartbeat");
                        on_bus = false;
                        self.metrics.bus_on(false);
                    }
                    if heard.elapsed() > RESUBSCRIBE_AFTER {
                        return Err(redis::RedisError::from(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            "no heartbeat heard",
                        )));
                    }
                    continue;
                }
                () = stop.cancelled() => return Ok(()),
            };
            let Some(message) = message else {
                return Err(redis::RedisError::from(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "subscription closed",
                )));
            };
            let Ok(envelope) = serde_json::from_slice::<Envelope>(message.get_payload_bytes())
            else {
                tracing::debug!("undecodable bus event skipped");
                continue;
            };
            if envelope.node == self.node {
                if envelope.body == Body::Ping {
                    heard = Instant::now();
                    if !on_bus {
                        let presence =
                            presence_snapshot(&mut conn, &self.names, &self.node).await?;
                        tracing::info!(nodes = presence.len() + 1, "on the bus");
                        on_bus = true;
                        self.metrics.bus_on(true);
                        let _ = self.local.send(Event::Resync { presence });
                    }
                }
                continue;
            }
            if let Some(event) = envelope.body.into_event(envelope.node) {
                self.metrics.bus_events("received", 1);
                let _ = self.local.send(event);
            }
        }
    }
}
