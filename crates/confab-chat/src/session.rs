//! The chat session: one task owns the connection and its state. It reconnects with backoff,
//! resumes with the cursors it holds (so catch-up has no gap and no duplicate), resends
//! messages that were never acknowledged with their original ids (the server answers a resend
//! with the first ack), and drops any message or update it already has. It also runs uploads:
//! the file goes up over HTTP with the session's token while the connection carries on, then
//! the message that posts it goes out like any other (resent after a reconnect). The
//! interface hands it [`Command`]s and renders the [`Update`]s it sends back.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use confab_client::protocol::{
    close, AttachmentInfo, ChatMessage, ClientFrame, ErrorCode, Login, Ready, Receiver, ServerFrame,
};
use confab_client::{ClientError, Connection, Endpoint};
use tokio::sync::mpsc;

use crate::{format, outgoing};

/// What the interface asks for.
#[derive(Debug)]
pub enum Command {
    /// Send a frame. A `message` with an id is kept until acknowledged and resent after a
    /// reconnect.
    Send(ClientFrame),
    /// Upload a file, then post it.
    Upload(UploadRequest),
    /// Close the connection and stop.
    Close,
}

/// An upload: the file goes to `POST /api/v1/attachments`, then a `message` with frame id
/// `id`, the upload as its attachment and `caption` as its content, goes to `receiver`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRequest {
    pub id: String,
    pub path: PathBuf,
    pub caption: String,
    pub receiver: Receiver,
}

/// How an upload is going; `id` is its message's frame id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadEvent {
    /// `sent` of `total` bytes are out: first with 0, then about every tenth.
    Progress { id: String, sent: u64, total: u64 },
    /// The server has it; the message posting it is on its way (its ack follows).
    Done {
        id: String,
        attachment: AttachmentInfo,
    },
    /// Nothing was posted.
    Failed { id: String, error: String },
}

/// What happened.
#[derive(Debug)]
pub enum Update {
    /// (Re)connected: the `ready` frame.
    Ready(Ready),
    /// A message not seen before, in order within its conversation.
    Message(ChatMessage),
    /// Any other frame (replies, typing, presence, membership).
    Frame(ServerFrame),
    /// The connection dropped; retrying after the delay.
    Reconnecting { reason: String, delay: Duration },
    /// Stopped for good (logged out elsewhere, credentials refused).
    Stopped(String),
    /// An upload moved on.
    Upload(UploadEvent),
}

const FIRST_DELAY: Duration = Duration::from_millis(500);
const MAX_DELAY: Duration = Duration::from_secs(30);

/// Starts the session task.
pub fn spawn(endpoint: Endpoint, token: String) -> (mpsc::Sender<Command>, mpsc::Receiver<Update>) {
    let (commands, command_rx) = mpsc::channel(256);
    let (update_tx, updates) = mpsc::channel(1024);
    tokio::spawn(run(endpoint, token, command_rx, update_tx));
    (commands, updates)
}

#[derive(Default)]
struct State {
    me: String,
    cursors: BTreeMap<Receiver, u64>,
    pending: Vec<(String, ClientFrame)>,
}

async fn run(
    endpoint: Endpoint,
    token: String,
    mut commands: mpsc::Receiver<Command>,
    updates: mpsc::Sender<Update>,
) {
    let mut state = State::default();
    let mut delay = FIRST_DELAY;
    let (upload_tx, mut uploads) = mpsc::unbounded_channel();
    let uploader = Uploader {
        endpoint: endpoint.clone(),
        token: token.clone(),
        events: upload_tx,
    };
    loop {
        let login = Login {
            token: Some(token.clone()),
            cursors: state.cursors.clone(),
            ..Login::default()
        };
        let outcome = match Connection::connect_login(&endpoint, login).await {
            Ok((connection, ready)) => {
                delay = FIRST_DELAY;
                state.me = ready.user.username.clone();
                if updates.send(Update::Ready(ready)).await.is_err() {
                    return;
                }
                let mut channels = Channels {
                    commands: &mut commands,
                    uploads: &mut uploads,
                    uploader: &uploader,
                    updates: &updates,
                };
                connected(connection, &mut state, &mut channels).await
            }
            Err(ClientError::Refused {
                code: ErrorCode::Unauthorized,
                message,
            }) => {
                let _ = updates
                    .send(Update::Stopped(format!("login refused: {message}")))
                    .await;
                return;
            }
            Err(err) => Outcome::Dropped(err.to_string()),
        };
        match outcome {
            Outcome::Stop => return,
            Outcome::Fatal(reason) => {
                let _ = updates.send(Update::Stopped(reason)).await;
                return;
            }
            Outcome::Dropped(reason) => {
                let wait = jitter(delay);
                if updates
                    .send(Update::Reconnecting {
                        reason,
                        delay: wait,
                    })
                    .await
                    .is_err()
                {
                    return;
                }
                // Commands that arrive meanwhile are queued for the next connection.
                let mut sleep = std::pin::pin!(tokio::time::sleep(wait));
                loop {
                    tokio::select! {
                        () = &mut sleep => break,
                        command = commands.recv() => match command {
                            Some(Command::Send(frame)) => state.queue(frame),
                            Some(Command::Upload(request)) => uploader.start(request),
                            Some(Command::Close) | None => return,
                        },
                        Some((event, frame)) = uploads.recv() => {
                            if let Some(frame) = frame {
                                state.queue(frame);
                            }
                            if updates.send(Update::Upload(event)).await.is_err() {
                                return;
                            }
                        }
                    }
                }
                delay = (delay * 2).min(MAX_DELAY);
            }
        }
    }
}

/// A finished or moving upload, with the message to send when it is done.
type UploadNews = (UploadEvent, Option<ClientFrame>);

/// Starts uploads, each in its own task, reporting to the session.
struct Uploader {
    endpoint: Endpoint,
    token: String,
    events: mpsc::UnboundedSender<UploadNews>,
}

impl Uploader {
    fn start(&self, request: UploadRequest) {
        let (endpoint, token, events) = (
            self.endpoint.clone(),
            self.token.clone(),
            self.events.clone(),
        );
        tokio::spawn(async move {
            let progress = {
                let (events, id) = (events.clone(), request.id.clone());
                let mut shown: Option<u64> = None;
                move |sent: u64, total: u64| {
                    let tenth = (sent * 10).checked_div(total).unwrap_or(10);
                    if shown.is_none_or(|last| tenth > last) {
                        shown = Some(tenth);
                        let id = id.clone();
                        let _ = events.send((UploadEvent::Progress { id, sent, total }, None));
                    }
                }
            };
            let result =
                confab_client::accounts::upload(&endpoint, &token, &request.path, progress).await;
            let id = request.id;
            let news = match result {
                Ok(attachment) => {
                    let frame = outgoing::attachment_message(
                        id.clone(),
                        request.receiver,
                        request.caption,
                        attachment.id.clone(),
                    );
                    (UploadEvent::Done { id, attachment }, Some(frame))
                }
                Err(err) => {
                    let error = match err {
                        ClientError::Refused { code, message } => format!("{code}: {message}"),
                        other => other.to_string(),
                    };
                    (UploadEvent::Failed { id, error }, None)
                }
            };
            let _ = events.send(news);
        });
    }
}

/// What a connected session listens to and talks to.
struct Channels<'a> {
    commands: &'a mut mpsc::Receiver<Command>,
    uploads: &'a mut mpsc::UnboundedReceiver<UploadNews>,
    uploader: &'a Uploader,
    updates: &'a mpsc::Sender<Update>,
}

enum Outcome {
    Stop,
    Fatal(String),
    Dropped(String),
}

impl State {
    /// Keeps a message frame with an id for resending until it is answered.
    fn queue(&mut self, frame: ClientFrame) {
        if let (ClientFrame::Message(message), Some(id)) = (&frame, frame.id()) {
            let id = id.to_owned();
            if !self.pending.iter().any(|(p, _)| *p == id) {
                self.pending
                    .push((id, ClientFrame::Message(message.clone())));
            }
        }
    }

    fn answered(&mut self, reply_to: &str) {
        self.pending.retain(|(id, _)| id != reply_to);
    }

    /// Whether the message is new; moves the conversation's cursor if so.
    fn fresh(&mut self, conversation: &str, seq: u64) -> bool {
        let Ok(key) = Receiver::parse(conversation) else {
            return true;
        };
        let cursor = self.cursors.entry(key).or_insert(0);
        if seq <= *cursor {
            return false;
        }
        *cursor = seq;
        true
    }
}

async fn connected(
    connection: Connection,
    state: &mut State,
    channels: &mut Channels<'_>,
) -> Outcome {
    let updates = channels.updates;
    let (mut tx, mut rx) = connection.split();
    for (_, frame) in state.pending.clone() {
        if let Err(err) = tx.send(&frame).await {
            return Outcome::Dropped(err.to_string());
        }
    }
    loop {
        tokio::select! {
            command = channels.commands.recv() => match command {
                Some(Command::Send(frame)) => {
                    state.queue(frame.clone());
                    if let Err(err) = tx.send(&frame).await {
                        return Outcome::Dropped(err.to_string());
                    }
                }
                Some(Command::Upload(request)) => channels.uploader.start(request),
                Some(Command::Close) | None => {
                    let _ = tx.close().await;
                    return Outcome::Stop;
                }
            },
            Some((event, frame)) = channels.uploads.recv() => {
                if let Some(frame) = frame {
                    state.queue(frame.clone());
                    if let Err(err) = tx.send(&frame).await {
                        return Outcome::Dropped(err.to_string());
                    }
                }
                if updates.send(Update::Upload(event)).await.is_err() {
                    return Outcome::Stop;
                }
            }
            frame = rx.recv() => {
                let frame = match frame {
                    Ok(Some(frame)) => frame,
                    Ok(None) => return Outcome::Dropped("connection closed".into()),
                    Err(err) => return Outcome::Dropped(err.to_string()),
                };
                let update = match frame {
                    ServerFrame::Message(message) => {
                        let conversation = format::conversation(&message, &state.me);
                        if !state.fresh(&conversation, message.seq) {
                            continue;
                        }
                        Update::Message(message)
                    }
                    // Updates take seqs of their own in the conversation: the same rule.
                    ServerFrame::Update(update) => {
                        let conversation = format::update_conversation(&update, &state.me);
                        if !state.fresh(&conversation, update.seq) {
                            continue;
                        }
                        Update::Frame(ServerFrame::Update(update))
                    }
                    ServerFrame::Ack(ack) => {
                        state.answered(&ack.reply_to);
                        if let (Some(receiver), Some(seq)) = (&ack.receiver, ack.seq) {
                            state.fresh(receiver, seq);
                        }
                        Update::Frame(ServerFrame::Ack(ack))
                    }
                    ServerFrame::Error(error) => {
                        if let Some(reply_to) = &error.reply_to {
                            state.answered(reply_to);
                        }
                        Update::Frame(ServerFrame::Error(error))
                    }
                    ServerFrame::Close { code, reason } => {
                        return match code {
                            close::NORMAL => Outcome::Stop,
                            close::REVOKED => Outcome::Fatal(format!("session ended: {reason}")),
                            _ => Outcome::Dropped(format!("closed with {code}: {reason}")),
                        };
                    }
                    other => Update::Frame(other),
                };
                if updates.send(update).await.is_err() {
                    return Outcome::Stop;
                }
            }
        }
    }
}

/// The delay, give or take a fifth, so many clients do not come back in step.
fn jitter(delay: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let factor = 0.8 + f64::from(nanos % 1000) / 2500.0;
    delay.mul_f64(factor)
}
