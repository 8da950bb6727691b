//! A chat user as a well-behaved client sees it: one session at a time to one of the nodes,
//! moving to the next node when its own dies, logging in again with its cursors so that it
//! resumes exactly where it was, and resending with their ids the messages that were not
//! acknowledged. It records everything it receives per conversation, so a test can check that
//! every conversation arrived whole, in order and once.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use confab_client::protocol::{
    ClientFrame, ErrorCode, Login, Receiver, SendMessage, ServerFrame, Typing,
};
use confab_client::{Connection, Endpoint};
use tokio::task::JoinHandle;

/// Messages in flight at once, per client.
const WINDOW: usize = 16;

/// What one client saw and did.
#[derive(Debug, Default)]
pub struct Record {
    /// Per conversation (`#room` or the peer's name): the entries received (and own acks),
    /// in arrival order: (seq, message id).
    pub seqs: HashMap<String, Vec<(u64, String)>>,
    /// Sent and not yet acknowledged: client id -> (receiver, content).
    pub unacked: BTreeMap<String, (String, String)>,
    /// Acknowledged: client id -> (conversation, seq, message id).
    pub acked: HashMap<String, (String, u64, String)>,
    /// Frames besides messages worth checking: typing and presence, as (type, who, detail).
    pub signals: Vec<(String, String, String)>,
    /// Errors received for sends: code -> count.
    pub refused: HashMap<String, u64>,
    /// Sessions opened, and on which node (index).
    pub sessions: Vec<usize>,
    /// Ways the server broke a promise, as seen from here.
    pub problems: Vec<String>,
}

impl Record {
    /// The conversation a frame is about, for this user.
    fn key(me: &str, sender: &str, receiver: &str) -> String {
        if receiver.starts_with('#') || sender == me {
            receiver.to_owned()
        } else {
            sender.to_owned()
        }
    }

    fn saw(&mut self, conv: String, seq: u64, id: String) {
        let list = self.seqs.entry(conv.clone()).or_default();
        if let Some(&(last, _)) = list.last() {
            if seq <= last {
                self.problems
                    .push(format!("{conv}: seq {seq} again after {last}"));
            } else if seq != last + 1 {
                self.problems
                    .push(format!("{conv}: gap, {seq} after {last}"));
            }
        }
        list.push((seq, id));
    }

    pub fn last_seq(&self, conv: &str) -> u64 {
        self.seqs
            .get(conv)
            .and_then(|l| l.last())
            .map_or(0, |(s, _)| *s)
    }

    fn cursors(&self) -> BTreeMap<Receiver, u64> {
        self.seqs
            .iter()
            .filter_map(|(conv, list)| {
                let (seq, _) = list.last()?;
                Some((Receiver::parse(conv).ok()?, *seq))
            })
            .collect()
    }
}

pub struct Client {
    pub name: String,
    pub token: String,
    /// Where its messages go, in turn.
    pub receivers: Vec<String>,
    pub record: Mutex<Record>,
    /// The node it is on now (index into the node list).
    pub node: AtomicUsize,
    made: AtomicUsize,
}

impl Client {
    pub fn new(name: &str, token: &str, receivers: Vec<String>, node: usize) -> Arc<Self> {
        Arc::new(Self {
            name: name.to_owned(),
            token: token.to_owned(),
            receivers,
            record: Mutex::new(Record::default()),
            node: AtomicUsize::new(node),
            made: AtomicUsize::new(0),
        })
    }

    pub fn record(&self) -> std::sync::MutexGuard<'_, Record> {
        self.record.lock().unwrap()
    }
}

/// Flags every client of a run reads.
#[derive(Default)]
pub struct Controls {
    pub sending: AtomicBool,
    pub stop: AtomicBool,
    /// Nodes known dead: clients do not try them.
    pub dead: Mutex<HashSet<usize>>,
    /// Send a typing frame to the first receiver once per session.
    pub typing: AtomicBool,
}

/// Runs a client until `controls.stop`, over the nodes at `nodes`.
pub fn spawn(
    client: Arc<Client>,
    nodes: Arc<Vec<String>>,
    controls: Arc<Controls>,
    send_every: Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        while !controls.stop.load(Ordering::SeqCst) {
            let index = client.node.load(Ordering::SeqCst) % nodes.len();
            if controls.dead.lock().unwrap().contains(&index) {
                client.node.store(index + 1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            let endpoint = Endpoint::parse(&nodes[index]).unwrap();
            let login = Login {
                id: Some("login".into()),
                token: Some(client.token.clone()),
                cursors: client.record().cursors(),
                ..Login::default()
            };
            let connected = tokio::time::timeout(
                Duration::from_secs(5),
                Connection::connect_login(&endpoint, login),
            )
            .await;
            match connected {
                Ok(Ok((connection, _ready))) => {
                    client.record().sessions.push(index);
                    session(&client, connection, &controls, send_every).await;
                }
                failed => {
                    if let Ok(Err(err)) = failed {
                        eprintln!("{}: node {index}: {err}", client.name);
                    }
                    // That node is gone: on to the next.
                    client.node.store(index + 1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    })
}

pub fn message(id: &str, receiver: &str, content: &str) -> ClientFrame {
    ClientFrame::Message(SendMessage {
        id: Some(id.to_owned()),
        receiver: Receiver::parse(receiver).unwrap(),
        content: content.to_owned(),
        attachment: None,
        location: None,
        reply_to_message: None,
        sender: None,
        timestamp: None,
    })
}

async fn session(client: &Client, connection: Connection, controls: &Controls, every: Duration) {
    let (mut tx, mut rx) = connection.split();
    let mut in_flight: HashSet<String> = HashSet::new();
    let resend: Vec<(String, (String, String))> = client
        .record()
        .unacked
        .iter()
        .map(|(id, sent)| (id.clone(), sent.clone()))
        .collect();
    for (id, (receiver, content)) in resend {
        if tx.send(&message(&id, &receiver, &content)).await.is_err() {
            return;
        }
        in_flight.insert(id);
    }
    if controls.typing.load(Ordering::SeqCst) {
        let typing = ClientFrame::Typing(Typing {
            id: None,
            receiver: Receiver::parse(&client.receivers[0]).unwrap(),
        });
        if tx.send(&typing).await.is_err() {
            return;
        }
    }
    let mut retry: Vec<String> = Vec::new();
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            frame = rx.recv() => {
                let frame = match frame {
                    Ok(Some(frame)) => frame,
                    _ => return,
                };
                let mut record = client.record();
                match frame {
                    ServerFrame::Message(m) => {
                        let key = Record::key(&client.name, &m.sender, &m.receiver);
                        record.saw(key, m.seq, m.id);
                    }
                    ServerFrame::Update(u) => {
                        let key = Record::key(&client.name, &u.by, &u.receiver);
                        record.saw(key, u.seq, u.message.id);
                    }
                    ServerFrame::Ack(ack) if ack.reply_to != "login" => {
                        in_flight.remove(&ack.reply_to);
                        let (Some(id), Some(seq), Some(receiver)) = (ack.id, ack.seq, ack.receiver)
                        else {
                            continue;
                        };
                        let key = Record::key(&client.name, &client.name, &receiver);
                        if !ack.duplicate {
                            record.saw(key.clone(), seq, id.clone());
                        }
                        if record.unacked.remove(&ack.reply_to).is_some() {
                            record.acked.insert(ack.reply_to, (key, seq, id));
                        } else if !ack.duplicate {
                            record.problems.push(format!("{}: acked twice", ack.reply_to));
                        }
                    }
                    ServerFrame::Error(error) => {
                        *record.refused.entry(format!("{:?}", error.code)).or_default() += 1;
                        if let Some(id) = error.reply_to {
                            if in_flight.remove(&id) {
                                if !matches!(
                                    error.code,
                                    ErrorCode::Unavailable | ErrorCode::RateLimited | ErrorCode::Internal
                                ) {
                                    record.problems.push(format!("{id}: refused {:?}", error.code));
                                }
                                retry.push(id);
                            }
                        }
                    }
                    ServerFrame::Typing(t) => {
                        record.signals.push(("typing".into(), t.sender.clone(), t.receiver.clone()));
                    }
                    ServerFrame::Presence(p) => {
                        let status = format!("{:?}", p.status).to_lowercase();
                        record.signals.push(("presence".into(), p.user.clone(), status));
                    }
                    _ => {}
                }
            }
            _ = tick.tick() => {
                if controls.stop.load(Ordering::SeqCst) {
                    let _ = tx.close().await;
                    return;
                }
                let mut out: Vec<String> = std::mem::take(&mut retry);
                if controls.sending.load(Ordering::SeqCst) && in_flight.len() < WINDOW {
                    let n = client.made.fetch_add(1, Ordering::SeqCst) + 1;
                    let id = format!("{}-{n:06}", client.name);
                    let receiver = client.receivers[n % client.receivers.len()].clone();
                    let content = format!("{} says {n} to {receiver}", client.name);
                    client.record().unacked.insert(id.clone(), (receiver, content));
                    out.push(id);
                }
                for id in out {
                    let sent = client.record().unacked.get(&id).cloned();
                    let Some((receiver, content)) = sent else { continue };
                    if tx.send(&message(&id, &receiver, &content)).await.is_err() {
                        return;
                    }
                    in_flight.insert(id);
                }
            }
        }
    }
}
