//! The load: users that each keep one WebSocket session, send messages with ids into rooms and
//! a direct conversation, and after every reconnect resend, with their original ids, whatever
//! was not acknowledged (docs/protocol.md, "Reconnect recipe"). Each user's [`Ledger`] of what
//! was sent and what was acknowledged is what the checks hold the server to.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use confab_client::protocol::{ClientFrame, ErrorCode, Login, Receiver, SendMessage, ServerFrame};
use confab_client::{Connection, Endpoint};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Messages a session may have sent and not yet seen acknowledged.
const WINDOW: usize = 32;
/// How often a session sends a new message (so about 25 a second each).
const SEND_EVERY: Duration = Duration::from_millis(40);

/// What a client sent under one id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub receiver: String,
    pub content: String,
}

/// What the server acknowledged for one id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acked {
    pub id: String,
    pub seq: u64,
    pub receiver: String,
}

/// One user's record, as a client that keeps an outbox would keep it.
#[derive(Debug, Default, Clone)]
pub struct Ledger {
    /// Everything this user sent (or is about to), by client id.
    pub sent: BTreeMap<String, Sent>,
    /// Client ids without an ack yet.
    pub unacked: BTreeSet<String>,
    pub acked: HashMap<String, Acked>,
    /// Acks that said `duplicate: true` (answers to resends of stored messages).
    pub duplicates: u64,
    /// Broken promises seen from the client's side (an id acked twice differently, ...).
    pub problems: Vec<String>,
}

pub struct User {
    pub name: String,
    pub token: String,
    /// Where this user's messages go, in turn.
    pub receivers: Vec<String>,
    pub ledger: Mutex<Ledger>,
}

impl User {
    pub fn ledger(&self) -> Ledger {
        self.ledger.lock().unwrap().clone()
    }
}

/// The running clients.
pub struct Load {
    pub users: Vec<Arc<User>>,
    server: watch::Sender<Option<String>>,
    sending: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Load {
    /// Starts one client per user against the server at `addr`.
    pub fn start(users: Vec<Arc<User>>, addr: &str) -> Self {
        let (server, watcher) = watch::channel(Some(addr.to_owned()));
        let sending = Arc::new(AtomicBool::new(true));
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = users
            .iter()
            .map(|user| {
                tokio::spawn(run_user(
                    user.clone(),
                    watcher.clone(),
                    sending.clone(),
                    stop.clone(),
                ))
            })
            .collect();
        Self {
            users,
            server,
            sending,
            stop,
            tasks,
        }
    }

    /// The server is gone (`None`) or back at a new address.
    pub fn server_at(&self, addr: Option<&str>) {
        self.server.send_replace(addr.map(str::to_owned));
    }

    /// Whether clients make new messages (resends go on regardless).
    pub fn sending(&self, on: bool) {
        self.sending.store(on, Ordering::SeqCst);
    }

    /// Waits until every message sent has its ack; false if `within` passes first.
    pub async fn all_acked(&self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left: usize = self
                .users
                .iter()
                .map(|u| u.ledger.lock().unwrap().unacked.len())
                .sum();
            if left == 0 {
                return true;
            }
            if tokio::time::Instant::now() > deadline {
                eprintln!("{left} messages still without an ack");
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        self.server.send_replace(None);
        for task in self.tasks {
            tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("clients stop")
                .expect("client task");
        }
    }
}

async fn run_user(
    user: Arc<User>,
    mut server: watch::Receiver<Option<String>>,
    sending: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) {
    let mut made = 0u64;
    while !stop.load(Ordering::SeqCst) {
        let Some(addr) = server.borrow_and_update().clone() else {
            let _ = tokio::time::timeout(Duration::from_millis(200), server.changed()).await;
            continue;
        };
        let endpoint = Endpoint::parse(&addr).unwrap();
        let login = Login {
            id: Some("login".into()),
            token: Some(user.token.clone()),
            ..Login::default()
        };
        let connected = tokio::time::timeout(
            Duration::from_secs(5),
            Connection::connect_login(&endpoint, login),
        )
        .await;
        let Ok(Ok((connection, _ready))) = connected else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        session(&user, connection, &mut server, &sending, &stop, &mut made).await;
    }
}

fn message(id: &str, sent: &Sent) -> ClientFrame {
    ClientFrame::Message(SendMessage {
        id: Some(id.to_owned()),
        receiver: Receiver::parse(&sent.receiver).unwrap(),
        content: sent.content.clone(),
        attachment: None,
        location: None,
        reply_to_message: None,
        sender: None,
        timestamp: None,
    })
}

/// One connection: resend what is unacknowledged, then send new messages until it ends.
async fn session(
    user: &User,
    connection: Connection,
    server: &mut watch::Receiver<Option<String>>,
    sending: &AtomicBool,
    stop: &AtomicBool,
    made: &mut u64,
) {
    let (mut tx, mut rx) = connection.split();
    let resend: Vec<(String, Sent)> = {
        let ledger = user.ledger.lock().unwrap();
        ledger
            .unacked
            .iter()
            .map(|id| (id.clone(), ledger.sent[id].clone()))
            .collect()
    };
    let mut in_flight: HashSet<String> = HashSet::new();
    let mut retry: Vec<String> = Vec::new();
    for (id, sent) in &resend {
        if tx.feed(&message(id, sent)).await.is_err() {
            return;
        }
        in_flight.insert(id.clone());
    }
    if tx.flush().await.is_err() {
        return;
    }
    let mut tick = tokio::time::interval(SEND_EVERY);
    loop {
        tokio::select! {
            frame = rx.recv() => match frame {
                Ok(Some(ServerFrame::Ack(ack))) => {
                    in_flight.remove(&ack.reply_to);
                    record_ack(user, ack);
                }
                Ok(Some(ServerFrame::Error(error))) => {
                    let Some(id) = error.reply_to else { continue };
                    in_flight.remove(&id);
                    // Refused means not stored: send it again. Only these may happen here.
                    if !matches!(error.code, ErrorCode::RateLimited | ErrorCode::Internal) {
                        user.ledger.lock().unwrap().problems.push(format!(
                            "{id}: unexpected {:?}: {}",
                            error.code, error.message
                        ));
                    }
                    retry.push(id);
                }
                Ok(Some(ServerFrame::Close { .. })) | Ok(None) | Err(_) => return,
                Ok(Some(_)) => {}
            },
            _ = tick.tick() => {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let mut out = std::mem::take(&mut retry);
                if sending.load(Ordering::SeqCst) && in_flight.len() < WINDOW {
                    out.push(make_message(user, made));
                }
                for id in out {
                    let sent = user.ledger.lock().unwrap().sent[&id].clone();
                    if tx.send(&message(&id, &sent)).await.is_err() {
                        return;
                    }
                    in_flight.insert(id);
                }
            }
            changed = server.changed() => {
                if changed.is_err() || server.borrow().is_none() {
                    return;
                }
            }
        }
    }
}

/// A new message, entered in the ledger before it is sent.
fn make_message(user: &User, made: &mut u64) -> String {
    *made += 1;
    let id = format!("{}-{:07}", user.name, made);
    let receiver = user.receivers[*made as usize % user.receivers.len()].clone();
    let content = format!("message {made} from {} to {receiver}", user.name);
    let mut ledger = user.ledger.lock().unwrap();
    ledger.sent.insert(id.clone(), Sent { receiver, content });
    ledger.unacked.insert(id.clone());
    id
}

fn record_ack(user: &User, ack: confab_client::protocol::Ack) {
    let mut ledger = user.ledger.lock().unwrap();
    let (Some(id), Some(seq), Some(receiver)) = (ack.id, ack.seq, ack.receiver) else {
        ledger.problems.push(format!(
            "{}: an ack without id, seq or receiver",
            ack.reply_to
        ));
        return;
    };
    let acked = Acked { id, seq, receiver };
    if ack.duplicate {
        ledger.duplicates += 1;
    }
    let Some(sent) = ledger.sent.get(&ack.reply_to) else {
        ledger
            .problems
            .push(format!("{}: an ack for an id never sent", ack.reply_to));
        return;
    };
    if sent.receiver != acked.receiver {
        let problem = format!(
            "{}: acked for {} not {}",
            ack.reply_to, acked.receiver, sent.receiver
        );
        ledger.problems.push(problem);
    }
    match ledger.acked.get(&ack.reply_to) {
        Some(first) if *first != acked => {
            let problem = format!("{}: acked as {first:?}, then as {acked:?}", ack.reply_to);
            ledger.problems.push(problem);
        }
        Some(_) if !ack.duplicate => {
            let problem = format!(
                "{}: acked twice, the second time not as a duplicate",
                ack.reply_to
            );
            ledger.problems.push(problem);
        }
        Some(_) => {}
        None => {
            ledger.unacked.remove(&ack.reply_to);
            ledger.acked.insert(ack.reply_to, acked);
        }
    }
}
