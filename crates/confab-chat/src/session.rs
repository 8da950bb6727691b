//! The chat session: one task owns the connection and its state. It reconnects with backoff
//! (to the next server when it was given several; see [`crate::failover`]), resumes with the
//! cursors it holds (so catch-up has no gap and no duplicate), resends
//! messages that were never acknowledged with their original ids (the server answers a resend
//! with the first ack), and drops any message or update it already has. It also runs uploads:
//! the file goes up over HTTP with the session's token while the connection carries on, then
//! the message that posts it goes out like any other (resent after a reconnect). Other frames
//! are not resent (an edit or a join might apply twice): one that was sent with an id and lost
//! its answer to a dropped connection, or was asked for while there was none, is answered here
//! with an `internal` error saying so, so nothing waits for ever. The interface hands it
//! [`Command`]s and renders the [`Update`]s it sends back.
//!
//! Over Server-Sent Events ([`TransportChoice::Sse`]) a reconnection first asks for the same
//! stream back (`Last-Event-ID`), which brings everything it missed in order; the cursors make a
//! fresh stream exact just the same.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use confab_client::protocol::{
    close, AttachmentInfo, ChatMessage, ClientFrame, ErrorCode, Login, Ready, Receiver, ServerFrame,
};
use confab_client::sse::ResumePoint;
use confab_client::{ClientError, Connection, Endpoint};
use tokio::sync::mpsc;

use crate::failover::Servers;
use crate::{format, outgoing, TransportChoice};

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
    /// The connection dropped (or a connect failed); retrying `server` (`host:port`) after the
    /// delay.
    Reconnecting {
        reason: String,
        delay: Duration,
        server: String,
    },
    /// Stopped for good (logged out elsewhere, credentials refused).
    Stopped(String),
    /// An upload moved on.
    Upload(UploadEvent),
}

const FIRST_DELAY: Duration = Duration::from_millis(500);
const MAX_DELAY: Duration = Duration::from_secs(30);

/// Starts the session task.
pub fn spawn(
    servers: Servers,
    token: String,
    transport: TransportChoice,
) -> (mpsc::Sender<Command>, mpsc::Receiver<Update>) {
    let (commands, command_rx) = mpsc::channel(256);
    let (update_tx, updates) = mpsc::channel(1024);
    tokio::spawn(run(servers, token, transport, command_rx, update_tx));
    (commands, updates)
}

/// Connects over the chosen transport, resuming from what `state` holds.
async fn connect(
    endpoint: &Endpoint,
    token: &str,
    transport: TransportChoice,
    state: &State,
) -> Result<(Connection, Ready), ClientError> {
    let over_ws = || {
        let login = Login {
            token: Some(token.to_owned()),
            cursors: state.cursors.clone(),
            ..Login::default()
        };
        Connection::connect_login(endpoint, login)
    };
    let over_sse =
        || Connection::connect_sse(endpoint, token, &state.cursors, state.stream.clone());
    match transport {
        TransportChoice::Ws => over_ws().await,
        TransportChoice::Sse => over_sse().await,
        TransportChoice::Auto => match over_ws().await {
            Err(err @ ClientError::Refused { .. }) => Err(err),
            Err(_) => over_sse().await,
            connected => connected,
        },
    }
}

#[derive(Default)]
struct State {
    me: String,
    cursors: BTreeMap<Receiver, u64>,
    pending: Vec<(String, ClientFrame)>,
    /// Ids of the other frames sent on this connection and not answered yet.
    unanswered: Vec<String>,
    /// Where the last event stream stood, to ask for it back.
    stream: ResumePoint,
}

async fn run(
    mut servers: Servers,
    token: String,
    transport: TransportChoice,
    mut commands: mpsc::Receiver<Command>,
    updates: mpsc::Sender<Update>,
) {
    let mut state = State::default();
    let mut delay = FIRST_DELAY;
    let (upload_tx, mut uploads) = mpsc::unbounded_channel();
    let mut uploader = Uploader {
        endpoint: servers.current().clone(),
        token: token.clone(),
        events: upload_tx,
    };
    loop {
        let outcome = match connect(servers.current(), &token, transport, &state).await {
            Ok((connection, ready)) => {
                delay = FIRST_DELAY;
                servers.connected();
                // Uploads go to the server the session is on.
                uploader.endpoint = servers.current().clone();
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
                for lost in std::mem::take(&mut state.unanswered) {
                    let answer = lost_answer(lost, "the connection dropped before the answer");
                    if updates.send(answer).await.is_err() {
                        return;
                    }
                }
                let round_failed = servers.failed();
                let wait = jitter(delay);
                if updates
                    .send(Update::Reconnecting {
                        reason,
                        delay: wait,
                        server: servers.current().authority.clone(),
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
                            Some(Command::Send(frame)) => {
                                if let Some(lost) = state.queue(frame) {
                                    let answer = lost_answer(lost, "not connected");
                                    if updates.send(answer).await.is_err() {
                                        return;
                                    }
                                }
                            }
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
                if round_failed {
                    delay = (delay * 2).min(MAX_DELAY);
                }
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

/// The answer to a frame whose answer cannot come: an `internal` error.
fn lost_answer(id: String, why: &str) -> Update {
    Update::Frame(ServerFrame::error(
        ErrorCode::Internal,
        format!("{why}; it may or may not have been applied"),
        Some(id),
    ))
}

/// The id of the client frame a server frame answers, if it answers one.
fn reply_to(frame: &ServerFrame) -> Option<&str> {
    match frame {
        ServerFrame::Ack(ack) => Some(&ack.reply_to),
        ServerFrame::Error(f) => f.reply_to.as_deref(),
        ServerFrame::Ready(f) => f.reply_to.as_deref(),
        ServerFrame::History(f) => f.reply_to.as_deref(),
        ServerFrame::Rooms(f) => f.reply_to.as_deref(),
        ServerFrame::Members(f) => f.reply_to.as_deref(),
        ServerFrame::Receipts(f) => f.reply_to.as_deref(),
        ServerFrame::Chats(f) => f.reply_to.as_deref(),
        ServerFrame::SearchResults(f) => f.reply_to.as_deref(),
        ServerFrame::Pong { reply_to } => reply_to.as_deref(),
        ServerFrame::Profile(f) => f.reply_to.as_deref(),
        ServerFrame::Contacts(f) => f.reply_to.as_deref(),
        ServerFrame::Invitations(f) => f.reply_to.as_deref(),
        ServerFrame::InviteLink(f) => f.reply_to.as_deref(),
        ServerFrame::InviteLinks(f) => f.reply_to.as_deref(),
        ServerFrame::InviteInfo(f) => f.reply_to.as_deref(),
        _ => None,
    }
}

impl State {
    /// Keeps a message frame with an id for resending until it is answered. Returns the id
    /// of another frame that expects an answer (it is not kept).
    fn queue(&mut self, frame: ClientFrame) -> Option<String> {
        let id = frame.id()?.to_owned();
        if let ClientFrame::Message(message) = frame {
            if !self.pending.iter().any(|(p, _)| *p == id) {
                self.pending.push((id, ClientFrame::Message(message)));
            }
            return None;
        }
        Some(id)
    }

    fn answered(&mut self, reply_to: &str) {
        self.pending.retain(|(id, _)| id != reply_to);
        self.unanswered.retain(|id| id != reply_to);
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
                    let awaited = state.queue(frame.clone());
                    state.unanswered.extend(awaited);
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
                    ServerFrame::Close { code, reason } => {
                        return match code {
                            close::NORMAL => Outcome::Stop,
                            close::REVOKED => Outcome::Fatal(format!("session ended: {reason}")),
                            _ => Outcome::Dropped(format!("closed with {code}: {reason}")),
                        };
                    }
                    other => {
                        if let Some(reply_to) = reply_to(&other) {
                            state.answered(reply_to);
                        }
                        Update::Frame(other)
                    }
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

#[cfg(test)]
mod tests {
    use confab_client::protocol::{Ack, History, JoinRequest, RoomName};

    use super::*;

    #[test]
    fn messages_are_kept_for_resending_and_other_frames_are_awaited() {
        let mut state = State::default();
        let general = Receiver::parse("#general").unwrap();
        let message = outgoing::message("m1".into(), general.clone(), "hi".into());
        assert_eq!(state.queue(message.clone()), None);
        assert_eq!(state.queue(message), None, "kept once");
        assert_eq!(state.pending.len(), 1);
        let join = ClientFrame::Join(JoinRequest {
            id: Some("j1".into()),
            room: RoomName::parse("#ops").unwrap(),
            password: None,
        });
        assert_eq!(state.queue(join), Some("j1".into()));
        let anonymous = ClientFrame::Join(JoinRequest {
            id: None,
            room: RoomName::parse("#ops").unwrap(),
            password: None,
        });
        assert_eq!(state.queue(anonymous), None, "nothing to answer");
        state.unanswered.push("h1".into());

        let page = ServerFrame::History(History {
            reply_to: Some("h1".into()),
            receiver: "#general".into(),
            messages: vec![],
            has_more: false,
        });
        state.answered(reply_to(&page).unwrap());
        assert!(state.unanswered.is_empty());
        let ack = ServerFrame::Ack(Ack {
            reply_to: "m1".into(),
            ..Ack::default()
        });
        state.answered(reply_to(&ack).unwrap());
        assert!(state.pending.is_empty());
        assert_eq!(reply_to(&ServerFrame::Pong { reply_to: None }), None);

        let Update::Frame(ServerFrame::Error(lost)) = lost_answer("e1".into(), "not connected")
        else {
            panic!("an error frame")
        };
        assert_eq!(lost.reply_to.as_deref(), Some("e1"));
        assert_eq!(lost.code, ErrorCode::Internal);
        assert!(lost.message.starts_with("not connected"));
    }

    #[test]
    fn updates_move_the_cursor_like_messages() {
        let mut state = State::default();
        assert!(state.fresh("#ops", 3));
        assert!(!state.fresh("#ops", 3), "a replayed update is dropped");
        assert!(!state.fresh("#ops", 2));
        assert!(state.fresh("#ops", 4));
        assert!(state.fresh("bob", 1), "conversations are apart");
    }
}
