//! The chat session: one task owns the connection and its state. It reconnects with backoff,
//! resumes with the cursors it holds (so catch-up has no gap and no duplicate), resends
//! messages that were never acknowledged with their original ids (the server answers a resend
//! with the first ack), and drops any message it already has. The interface hands it
//! [`Command`]s and renders the [`Update`]s it sends back.

use std::collections::BTreeMap;
use std::time::Duration;

use confab_client::protocol::{
    close, ChatMessage, ClientFrame, ErrorCode, Login, Ready, Receiver, ServerFrame,
};
use confab_client::{ClientError, Connection, Endpoint};
use tokio::sync::mpsc;

use crate::format;

/// What the interface asks for.
#[derive(Debug)]
pub enum Command {
    /// Send a frame. A `message` with an id is kept until acknowledged and resent after a
    /// reconnect.
    Send(ClientFrame),
    /// Close the connection and stop.
    Close,
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
                connected(connection, &mut state, &mut commands, &updates).await
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
                            Some(Command::Close) | None => return,
                        },
                    }
                }
                delay = (delay * 2).min(MAX_DELAY);
            }
        }
    }
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
    commands: &mut mpsc::Receiver<Command>,
    updates: &mpsc::Sender<Update>,
) -> Outcome {
    let (mut tx, mut rx) = connection.split();
    for (_, frame) in state.pending.clone() {
        if let Err(err) = tx.send(&frame).await {
            return Outcome::Dropped(err.to_string());
        }
    }
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                Some(Command::Send(frame)) => {
                    state.queue(frame.clone());
                    if let Err(err) = tx.send(&frame).await {
                        return Outcome::Dropped(err.to_string());
                    }
                }
                Some(Command::Close) | None => {
                    let _ = tx.close().await;
                    return Outcome::Stop;
                }
            },
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
