//! Scale-out (issue 10, item 5): three real `confab serve` nodes on one PostgreSQL and one
//! Redis, clients spread over them, and the failures a deployment meets:
//! - `three_nodes_exchange_messages_typing_presence_and_revocations`: room and direct
//!   messages, typing and presence between users on different nodes; a token revoked on one
//!   node closes its session on another within a second; a SIGKILLed node's users show as
//!   offline elsewhere within 30 s.
//! - `a_killed_node_loses_and_doubles_nothing`: SIGKILL one node in the middle of traffic: its
//!   clients move to another node and catch up; every acknowledged message reaches every
//!   member exactly once, in order.
//! - `sends_go_on_while_redis_is_paused_or_killed`: Redis SIGSTOPped for 10 s, then killed for
//!   10 s: sends keep being acknowledged, and afterwards every client has every message, in
//!   order, once.
//! - `a_postgres_restart_gives_errors_never_false_acks`: the database stopped and started
//!   again: senders get `unavailable`, never an ack for something not stored, and the nodes
//!   recover by themselves.
//!
//! - `a_users_message_budget_holds_across_nodes`: a user's sessions on two nodes share one
//!   message budget.
//!
//! Redis is always the test's own redis-server on a spare port. PostgreSQL is a fresh schema
//! on the machine's server, except in the restart test, which runs an instance of its own.

mod client;
mod node;
mod services;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use client::{Client, Controls};
use confab_client::protocol::{ClientFrame, ErrorCode, Login, ServerFrame};
use confab_client::{accounts, Connection, Endpoint};
use node::Node;
use services::{Postgres, Redis, Schema};

/// The tests share the machine's two cores: one cluster at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const PASSWORD: &str = "correct horse battery";
const NODES: usize = 3;

struct Cluster {
    temp: tempfile::TempDir,
    redis: Redis,
    database: String,
    namespace: String,
    nodes: Vec<Option<Node>>,
    urls: Arc<Vec<String>>,
}

impl Cluster {
    fn start(database: String) -> Self {
        Self::start_with(database, node::CONFIG)
    }

    /// A cluster whose nodes run with this configuration (TOML).
    fn start_with(database: String, config: &str) -> Self {
        let temp = tempfile::tempdir().unwrap();
        let redis = Redis::start();
        let namespace = format!("test{}", std::process::id());
        let mut nodes = Vec::new();
        for i in 0..NODES {
            let dir = temp.path().join(format!("node{i}"));
            nodes.push(Some(Node::start(
                &dir,
                &database,
                &redis.url(),
                &namespace,
                config,
            )));
        }
        let urls = Arc::new(nodes.iter().map(|n| n.as_ref().unwrap().url()).collect());
        Self {
            temp,
            redis,
            database,
            namespace,
            nodes,
            urls,
        }
    }

    fn endpoint(&self, node: usize) -> Endpoint {
        Endpoint::parse(&self.urls[node]).unwrap()
    }

    fn kill(&mut self, node: usize) {
        self.nodes[node].take().expect("node running").kill9();
    }

    /// Registers `n` users, user i on node i % 3, each writing to `#general` and to the
    /// next user directly.
    async fn users(&self, prefix: &str, n: usize) -> Vec<Arc<Client>> {
        let mut tokens = Vec::new();
        for i in 0..n {
            let name = format!("{prefix}{i}");
            let token = accounts::register(&self.endpoint(i % NODES), &name, PASSWORD)
                .await
                .expect("register");
            tokens.push((name, token));
        }
        (0..n)
            .map(|i| {
                let peer = &tokens[(i + 1) % n].0;
                let receivers = vec!["#general".to_owned(), peer.clone()];
                Client::new(&tokens[i].0, &tokens[i].1, receivers, i % NODES)
            })
            .collect()
    }

    /// What every conversation's newest entry is, as a fresh session on a live node is told.
    async fn truth(&self, client: &Client) -> HashMap<String, u64> {
        let node = (0..NODES).find(|i| self.nodes[*i].is_some()).unwrap();
        let login = Login {
            token: Some(client.token.clone()),
            ..Login::default()
        };
        let (connection, ready) = Connection::connect_login(&self.endpoint(node), login)
            .await
            .expect("a live node lets the user in");
        // Closed, not logged out: a logout would revoke the token the client runs on.
        let (mut tx, _rx) = connection.split();
        let _ = tx.close().await;
        ready
            .rooms
            .iter()
            .chain(ready.direct.iter())
            .map(|c| (c.receiver.clone(), c.last_seq))
            .collect()
    }
}

/// Waits until every client has every conversation up to its newest entry, then checks that
/// each arrived in order, once, and that every acknowledged message reached every member.
async fn check_everyone_has_everything(cluster: &Cluster, clients: &[Arc<Client>]) {
    let deadline = Instant::now() + Duration::from_secs(60);
    for client in clients {
        let truth = cluster.truth(client).await;
        loop {
            let behind: Vec<String> = truth
                .iter()
                .filter(|(conv, last)| client.record().last_seq(conv) < **last)
                .map(|(conv, last)| {
                    format!("{conv} at {} of {last}", client.record().last_seq(conv))
                })
                .collect();
            if behind.is_empty() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{} never caught up: {behind:?}",
                client.name
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // Who received what, by conversation (as the members name it) and seq.
    let mut everyone: HashMap<(String, String), HashMap<u64, String>> = HashMap::new();
    for client in clients {
        let record = client.record();
        assert!(
            record.problems.is_empty(),
            "{}: {:?}",
            client.name,
            &record.problems[..record.problems.len().min(10)]
        );
        for (conv, list) in &record.seqs {
            everyone.insert(
                (client.name.clone(), conv.clone()),
                list.iter().cloned().collect(),
            );
        }
    }
    let mut acked = 0;
    for client in clients {
        let record = client.record();
        for (conv, seq, id) in record.acked.values() {
            acked += 1;
            // Every other member has it under the same seq.
            for other in clients.iter().filter(|o| o.name != client.name) {
                let key = if conv.starts_with('#') {
                    conv.clone()
                } else if *conv == other.name {
                    client.name.clone()
                } else {
                    continue;
                };
                let got = everyone
                    .get(&(other.name.clone(), key.clone()))
                    .and_then(|m| m.get(seq));
                assert_eq!(
                    got,
                    Some(id),
                    "{} acked {id} as {conv} #{seq}, but {} has {got:?}",
                    client.name,
                    other.name
                );
            }
        }
    }
    eprintln!(
        "checked {acked} acknowledged messages across {} clients",
        clients.len()
    );
}

fn acks(clients: &[Arc<Client>]) -> usize {
    clients.iter().map(|c| c.record().acked.len()).sum()
}

fn spawn_all(
    cluster: &Cluster,
    clients: &[Arc<Client>],
    controls: &Arc<Controls>,
    every: Duration,
) -> Vec<tokio::task::JoinHandle<()>> {
    clients
        .iter()
        .map(|c| client::spawn(c.clone(), cluster.urls.clone(), controls.clone(), every))
        .collect()
}

/// Starts every client, waits for all their sessions, then lets them send.
async fn start_sending(
    cluster: &Cluster,
    clients: &[Arc<Client>],
    controls: &Arc<Controls>,
    every: Duration,
) -> Vec<tokio::task::JoinHandle<()>> {
    let tasks = spawn_all(cluster, clients, controls, every);
    wait_for("every session opening", Duration::from_secs(20), || {
        clients.iter().all(|c| !c.record().sessions.is_empty())
    })
    .await;
    controls.sending.store(true, Ordering::SeqCst);
    tasks
}

async fn stop_all(controls: &Controls, tasks: Vec<tokio::task::JoinHandle<()>>) {
    controls.stop.store(true, Ordering::SeqCst);
    for task in tasks {
        tokio::time::timeout(Duration::from_secs(15), task)
            .await
            .expect("clients stop")
            .expect("client task");
    }
}

/// Stops sending and waits for every message to have its ack.
async fn drain(clients: &[Arc<Client>], controls: &Controls, within: Duration) {
    controls.sending.store(false, Ordering::SeqCst);
    let deadline = Instant::now() + within;
    loop {
        let left: usize = clients.iter().map(|c| c.record().unacked.len()).sum();
        if left == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{left} messages never acknowledged"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_for(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn has_signal(client: &Client, kind: &str, who: &str, detail: &str) -> bool {
    client
        .record()
        .signals
        .iter()
        .any(|(k, w, d)| k == kind && w == who && d == detail)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_exchange_messages_typing_presence_and_revocations() {
    let _one = ONE_AT_A_TIME.lock().await;
    let schema = Schema::create();
    let mut cluster = Cluster::start(schema.url());
    let clients = cluster.users("u", 3).await;
    let controls = Arc::new(Controls::default());
    controls.typing.store(true, Ordering::SeqCst);
    // u0 on node 0, u1 on node 1, u2 on node 2; each writes to #general and to the next.
    let tasks = start_sending(&cluster, &clients, &controls, Duration::from_millis(50)).await;
    let (u0, u1, u2) = (&clients[0], &clients[1], &clients[2]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    drain(&clients, &controls, Duration::from_secs(30)).await;
    check_everyone_has_everything(&cluster, &clients).await;
    // Typing crosses nodes: u2 (node 2) typed in #general when it connected.
    wait_for("typing from another node", Duration::from_secs(10), || {
        has_signal(u0, "typing", "u2", "#general") || has_signal(u1, "typing", "u2", "#general")
    })
    .await;

    // A token revoked on node 0 closes the session using it on node 1 within a second.
    let extra = accounts::login(&cluster.endpoint(1), "u1", PASSWORD)
        .await
        .unwrap();
    let with_extra = || Login {
        token: Some(extra.clone()),
        ..Login::default()
    };
    let (mut victim, _) = Connection::connect_login(&cluster.endpoint(1), with_extra())
        .await
        .unwrap();
    let (mut revoker, _) = Connection::connect_login(&cluster.endpoint(0), with_extra())
        .await
        .unwrap();
    revoker
        .send(&ClientFrame::Logout {
            id: Some("bye".into()),
        })
        .await
        .unwrap();
    let revoked_at = Instant::now();
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match victim.recv().await {
                Ok(Some(_)) => continue,
                Ok(None) => return "closed".to_owned(),
                Err(err) => return err.to_string(),
            }
        }
    })
    .await
    .expect("the revoked session closes");
    let took = revoked_at.elapsed();
    eprintln!("revoked on node 0, closed on node 1 after {took:?} ({closed})");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    stop_all(&controls, tasks).await;

    // Presence crosses nodes, and a dead node's users show as offline elsewhere within 30 s.
    let controls = Arc::new(Controls::default());
    let every = Duration::from_millis(200);
    let watcher = Client::new("u0", &u0.token, vec!["#general".into()], 0);
    let mut tasks = spawn_all(&cluster, std::slice::from_ref(&watcher), &controls, every);
    wait_for("the watcher's session", Duration::from_secs(20), || {
        !watcher.record().sessions.is_empty()
    })
    .await;
    // The one to die must not move to a live node: it goes with its node.
    let lone_controls = Arc::new(Controls::default());
    lone_controls.dead.lock().unwrap().extend([0, 1]);
    let lone = Client::new("u2", &u2.token, vec!["#general".into()], 2);
    let lone_task = spawn_all(&cluster, std::slice::from_ref(&lone), &lone_controls, every);
    wait_for("u2 online on node 0", Duration::from_secs(10), || {
        has_signal(&watcher, "presence", "u2", "online")
    })
    .await;
    let killed = Instant::now();
    cluster.kill(2);
    lone_controls.dead.lock().unwrap().insert(2);
    wait_for(
        "the dead node's user offline",
        Duration::from_secs(30),
        || has_signal(&watcher, "presence", "u2", "offline"),
    )
    .await;
    eprintln!(
        "u2 offline on node 0 {:?} after its node died",
        killed.elapsed()
    );
    tasks.extend(lone_task);
    lone_controls.stop.store(true, Ordering::SeqCst);
    stop_all(&controls, tasks).await;
    drop(cluster);
    drop(schema);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_loses_and_doubles_nothing() {
    let _one = ONE_AT_A_TIME.lock().await;
    let schema = Schema::create();
    let mut cluster = Cluster::start(schema.url());
    let clients = cluster.users("k", 9).await;
    let controls = Arc::new(Controls::default());
    let tasks = start_sending(&cluster, &clients, &controls, Duration::from_millis(40)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = acks(&clients);
    controls.dead.lock().unwrap().insert(0);
    cluster.kill(0);
    eprintln!("node 0 killed after {before} acks");
    tokio::time::sleep(Duration::from_secs(4)).await;
    drain(&clients, &controls, Duration::from_secs(60)).await;
    let moved: Vec<&str> = clients
        .iter()
        .filter(|c| c.record().sessions.first() == Some(&0))
        .map(|c| c.name.as_str())
        .collect();
    for client in clients
        .iter()
        .filter(|c| c.record().sessions.first() == Some(&0))
    {
        let sessions = client.record().sessions.clone();
        assert!(
            sessions.len() >= 2 && sessions[1..].iter().all(|n| *n != 0),
            "{sessions:?}"
        );
    }
    eprintln!(
        "{moved:?} moved off the dead node; {} acks in all",
        acks(&clients)
    );
    check_everyone_has_everything(&cluster, &clients).await;
    stop_all(&controls, tasks).await;
    drop(cluster);
    drop(schema);
}

/// Sends `count` messages to `#general` with ids `<prefix>-i` and returns how many were acked
/// and how many refused as `rate_limited` (anything else fails the test).
async fn send_burst(
    tx: &mut confab_client::Sender,
    rx: &mut confab_client::Receiver,
    prefix: &str,
    count: usize,
) -> (usize, usize) {
    for i in 0..count {
        let frame = client::message(&format!("{prefix}-{i}"), "#general", "spend");
        tx.send(&frame).await.unwrap();
    }
    let (mut acked, mut refused) = (0, 0);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while acked + refused < count {
        let frame = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("every send answered within 10 s")
            .unwrap()
            .expect("connection open");
        match frame {
            ServerFrame::Ack(ack) if ack.reply_to.starts_with(prefix) => acked += 1,
            ServerFrame::Error(error)
                if error
                    .reply_to
                    .as_deref()
                    .is_some_and(|r| r.starts_with(prefix)) =>
            {
                assert_eq!(error.code, ErrorCode::RateLimited, "{error:?}");
                refused += 1;
            }
            _ => {}
        }
    }
    (acked, refused)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_message_budget_holds_across_nodes() {
    let _one = ONE_AT_A_TIME.lock().await;
    let schema = Schema::create();
    // A burst of 20 messages, refilled at one every 100 s: nothing refills during the test.
    let config = node::CONFIG
        .replace("messages_per_sec = 1000.0", "messages_per_sec = 0.01")
        .replace("messages_burst = 1000.0", "messages_burst = 20.0");
    assert!(config.contains("messages_per_sec = 0.01") && config.contains("messages_burst = 20.0"));
    let cluster = Cluster::start_with(schema.url(), &config);
    let token = accounts::register(&cluster.endpoint(0), "spender", PASSWORD)
        .await
        .expect("register");
    let mut sessions = Vec::new();
    for node in [0, 1] {
        let login = Login {
            token: Some(token.clone()),
            ..Login::default()
        };
        let (connection, _ready) = Connection::connect_login(&cluster.endpoint(node), login)
            .await
            .expect("login");
        sessions.push(connection.split());
    }
    let [(tx0, rx0), (tx1, rx1)] = &mut sessions[..] else {
        unreachable!()
    };
    assert_eq!(
        send_burst(tx0, rx0, "n0", 20).await,
        (20, 0),
        "the whole burst on node 0"
    );
    // Node 1 hears of them over the bus (within milliseconds).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (acked, refused) = send_burst(tx1, rx1, "n1", 10).await;
    assert_eq!(
        (acked, refused),
        (0, 10),
        "node 1 counted what node 0 spent"
    );
    drop(sessions);
    drop(cluster);
    drop(schema);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_go_on_while_redis_is_paused_or_killed() {
    let _one = ONE_AT_A_TIME.lock().await;
    let schema = Schema::create();
    let mut cluster = Cluster::start(schema.url());
    let clients = cluster.users("r", 6).await;
    let controls = Arc::new(Controls::default());
    let tasks = start_sending(&cluster, &clients, &controls, Duration::from_millis(50)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    cluster.redis.pause();
    let paused = acks(&clients);
    tokio::time::sleep(Duration::from_secs(10)).await;
    let during = acks(&clients) - paused;
    cluster.redis.resume();
    eprintln!("{during} messages acknowledged while redis was paused");
    assert!(
        during > 50,
        "sends stalled while redis was paused: {during} acks"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;

    cluster.redis.kill();
    let killed = acks(&clients);
    tokio::time::sleep(Duration::from_secs(10)).await;
    let during = acks(&clients) - killed;
    cluster.redis.restart();
    eprintln!("{during} messages acknowledged while redis was down");
    assert!(
        during > 50,
        "sends stalled while redis was down: {during} acks"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;

    drain(&clients, &controls, Duration::from_secs(60)).await;
    check_everyone_has_everything(&cluster, &clients).await;
    stop_all(&controls, tasks).await;
    drop(cluster);
    drop(schema);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restart_gives_errors_never_false_acks() {
    let _one = ONE_AT_A_TIME.lock().await;
    let pg = Postgres::start();
    let cluster = Cluster::start(pg.url());
    let clients = cluster.users("p", 6).await;
    let controls = Arc::new(Controls::default());
    let tasks = start_sending(&cluster, &clients, &controls, Duration::from_millis(50)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    pg.stop();
    let stopped = acks(&clients);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let refused: u64 = clients
        .iter()
        .map(|c| c.record().refused.get("Unavailable").copied().unwrap_or(0))
        .sum();
    eprintln!(
        "database down: {} acks (in flight before the stop), {refused} sends refused as unavailable",
        acks(&clients) - stopped
    );
    assert!(refused > 0, "nobody was told the database is unavailable");
    pg.start_again();
    let back = Instant::now();
    let after = acks(&clients);
    wait_for("sends acknowledged again", Duration::from_secs(30), || {
        acks(&clients) > after + 20
    })
    .await;
    eprintln!(
        "acks again {:?} after the database came back",
        back.elapsed()
    );
    drain(&clients, &controls, Duration::from_secs(60)).await;
    check_everyone_has_everything(&cluster, &clients).await;
    stop_all(&controls, tasks).await;
    let _ = (&cluster.temp, &cluster.database, &cluster.namespace);
    drop(cluster);
    drop(pg);
}
