//! What both interfaces remember between frames: which messages are yours in each
//! conversation (so `/edit 2` can name one), which of your frames are unanswered and what
//! they were for, commands waiting for a page of history to find their message, and the
//! invitations waiting for you. Frames in, frames and effects out; no I/O.

use std::collections::{BTreeMap, HashMap};

use confab_client::protocol::messaging::{DeleteMessage, EditMessage, React};
use confab_client::protocol::social::{CodeRequest, Invite, InviteReply};
use confab_client::protocol::{ChatMessage, ClientFrame, Invitation, Receiver, ServerFrame};

use crate::commands::{Action, Target};
use crate::format;
use crate::outgoing::{self, Ids};

/// Messages asked for per history page while looking for one of yours.
const PAGE: u32 = 100;
/// Pages looked through before giving up (so `/edit n` looks back at most 500 messages).
const MAX_PAGES: u32 = 5;

/// A change to one of your messages, as the server accepted it (the session that makes a
/// change gets the `ack`, not the `update`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Local {
    Edited(String),
    Deleted,
    /// Your reaction with this emoji was toggled.
    Toggled(String),
}

/// What the interface should do about a frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Send this frame (a command that waited for history is ready).
    Send(ClientFrame),
    /// Tell the user (an answer worth a word: "invited bob to #club").
    Notice(String),
    /// A command failed on this side (its message is not among the last 500 here).
    Problem(String),
    /// The server accepted your change to a message: redraw it.
    Changed {
        conversation: String,
        message: String,
        change: Local,
        /// When (the ack's timestamp).
        at: Option<String>,
    },
    /// You joined a room by an invite code: switch to it.
    Joined(String),
}

#[derive(Debug)]
enum Outstanding {
    Message {
        conversation: String,
    },
    Change {
        conversation: String,
        message: String,
        change: Local,
    },
    Invite {
        user: String,
        room: String,
    },
    Reply {
        invitation: String,
        room: Option<String>,
        accept: bool,
    },
    Redeem,
}

/// A command naming one of your messages that is not known yet: waits for history.
#[derive(Debug)]
struct Deferred {
    action: Action,
    receiver: Receiver,
    pages: u32,
}

#[derive(Debug, Default)]
pub struct Tracker {
    me: String,
    /// Per conversation: your messages that are not deleted, by seq.
    mine: HashMap<String, BTreeMap<u64, String>>,
    /// Your frames awaiting their answer, by frame id.
    outstanding: HashMap<String, Outstanding>,
    /// Commands waiting for the history page with this frame id.
    deferred: HashMap<String, Deferred>,
    /// Commands waiting for the acks of your messages in their conversation (so `/edit`
    /// right after a line names that line).
    blocked: Vec<Deferred>,
    /// Pending invitations, by id.
    invitations: BTreeMap<String, Invitation>,
}

impl Tracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Who you are (from `ready`).
    pub fn set_me(&mut self, me: &str) {
        me.clone_into(&mut self.me);
    }

    /// The invitations known to be waiting, oldest id first.
    pub fn invitations(&self) -> impl Iterator<Item = &Invitation> {
        self.invitations.values()
    }

    /// The frames an action sends from conversation `current` (which `/join`, `/msg` and
    /// `/accept` move). `Help`, `Quit` and `Upload` send no frame; they are the interface's.
    pub fn frames(
        &mut self,
        action: Action,
        current: &mut Receiver,
        ids: &mut Ids,
    ) -> Result<Vec<ClientFrame>, String> {
        let accept = matches!(action, Action::Accept(_));
        match action {
            Action::Edit(..) | Action::Delete(_) | Action::React(..) => {
                Ok(self.change(action, current.clone(), ids, 0))
            }
            Action::Invite(user, room) => {
                let room = match (room, &*current) {
                    (Some(room), _) => room,
                    (None, Receiver::Room(room)) => room.clone(),
                    (None, Receiver::User(_)) => return Err("/invite needs a #room here".into()),
                };
                let id = ids.fresh();
                self.outstanding.insert(
                    id.clone(),
                    Outstanding::Invite {
                        user: user.as_str().to_owned(),
                        room: room.as_str().to_owned(),
                    },
                );
                Ok(vec![ClientFrame::Invite(Invite {
                    id: Some(id),
                    room,
                    user,
                })])
            }
            Action::Accept(invitation) | Action::Decline(invitation) => {
                let room = self.invitations.get(&invitation).map(|i| i.room.clone());
                if accept {
                    if let Some(Ok(receiver)) = room.as_deref().map(Receiver::parse) {
                        *current = receiver;
                    }
                }
                let id = ids.fresh();
                self.outstanding.insert(
                    id.clone(),
                    Outstanding::Reply {
                        invitation: invitation.clone(),
                        room,
                        accept,
                    },
                );
                Ok(vec![ClientFrame::InviteReply(InviteReply {
                    id: Some(id),
                    invitation,
                    accept,
                })])
            }
            Action::Invites => Ok(vec![ClientFrame::Invitations {
                id: Some(ids.fresh()),
            }]),
            Action::Redeem(code) => {
                let id = ids.fresh();
                self.outstanding.insert(id.clone(), Outstanding::Redeem);
                Ok(vec![ClientFrame::RedeemInvite(CodeRequest {
                    id: Some(id),
                    code,
                })])
            }
            Action::Upload(..) => Err("an upload is not a frame".into()),
            other => {
                let frames = outgoing::frames(other, current, ids)?;
                for frame in &frames {
                    if let (ClientFrame::Message(message), Some(id)) = (frame, frame.id()) {
                        self.sent_message(id, &message.receiver);
                    }
                }
                Ok(frames)
            }
        }
    }

    /// A `message` frame with this id is going out to `receiver` (an upload's message, say):
    /// its ack names one of your messages.
    pub fn sent_message(&mut self, id: &str, receiver: &Receiver) {
        self.outstanding.insert(
            id.to_owned(),
            Outstanding::Message {
                conversation: receiver.as_str().to_owned(),
            },
        );
    }

    /// A message arrived (live or in catch-up).
    pub fn on_message(&mut self, message: &ChatMessage) {
        let conversation = format::conversation(message, &self.me);
        self.learn(&conversation, message);
    }

    /// Any other frame arrived; returns what the interface should do about it.
    pub fn on_frame(&mut self, frame: &ServerFrame, ids: &mut Ids) -> Vec<Effect> {
        match frame {
            ServerFrame::Ack(ack) => {
                let Some(outstanding) = self.outstanding.remove(&ack.reply_to) else {
                    return vec![];
                };
                match outstanding {
                    Outstanding::Message { conversation } => {
                        if let (Some(id), Some(seq)) = (&ack.id, ack.seq) {
                            self.mine
                                .entry(conversation)
                                .or_default()
                                .insert(seq, id.clone());
                        }
                        self.unblock(ids)
                    }
                    Outstanding::Change {
                        conversation,
                        message,
                        change,
                    } => {
                        if change == Local::Deleted {
                            self.forget(&conversation, &message);
                        }
                        vec![Effect::Changed {
                            conversation,
                            message,
                            change,
                            at: ack.timestamp.clone(),
                        }]
                    }
                    Outstanding::Invite { user, room } => {
                        vec![Effect::Notice(format!("invited {user} to {room}"))]
                    }
                    Outstanding::Reply {
                        invitation,
                        room,
                        accept,
                    } => {
                        self.invitations.remove(&invitation);
                        let room = room.unwrap_or_else(|| "the room".into());
                        vec![Effect::Notice(if accept {
                            format!("joined {room}")
                        } else {
                            format!("declined the invitation to {room}")
                        })]
                    }
                    Outstanding::Redeem => match &ack.receiver {
                        Some(room) => vec![
                            Effect::Notice(format!("joined {room}")),
                            Effect::Joined(room.clone()),
                        ],
                        None => vec![],
                    },
                }
            }
            ServerFrame::Error(error) => {
                let Some(id) = &error.reply_to else {
                    return vec![];
                };
                self.deferred.remove(id);
                match self.outstanding.remove(id) {
                    Some(Outstanding::Message { .. }) => self.unblock(ids),
                    _ => vec![],
                }
            }
            ServerFrame::History(history) => {
                for message in &history.messages {
                    self.learn(&history.receiver, message);
                }
                let deferred = history
                    .reply_to
                    .as_ref()
                    .and_then(|id| self.deferred.remove(id));
                let Some(deferred) = deferred else {
                    return vec![];
                };
                if self.resolve(&deferred.action, &deferred.receiver).is_none()
                    && (!history.has_more || deferred.pages >= MAX_PAGES)
                {
                    let problem = not_found(&deferred.action, history.has_more);
                    return vec![Effect::Problem(problem)];
                }
                let before = history.messages.first().map(|m| m.id.clone());
                let frames = self.change_from(deferred, before, ids);
                frames.into_iter().map(Effect::Send).collect()
            }
            ServerFrame::Update(update) => {
                let conversation = format::update_conversation(update, &self.me);
                self.learn(&conversation, &update.message);
                vec![]
            }
            ServerFrame::Invitation(invitation) => {
                self.invitations
                    .insert(invitation.id.clone(), invitation.clone());
                vec![]
            }
            ServerFrame::Invitations(list) => {
                self.invitations = list
                    .invitations
                    .iter()
                    .map(|i| (i.id.clone(), i.clone()))
                    .collect();
                vec![]
            }
            ServerFrame::InvitationAnswered(answered) => {
                self.invitations.remove(&answered.id);
                vec![]
            }
            _ => vec![],
        }
    }

    fn learn(&mut self, conversation: &str, message: &ChatMessage) {
        if message.sender != self.me {
            return;
        }
        if message.deleted {
            self.forget(conversation, &message.id);
        } else {
            self.mine
                .entry(conversation.to_owned())
                .or_default()
                .insert(message.seq, message.id.clone());
        }
    }

    fn forget(&mut self, conversation: &str, id: &str) {
        if let Some(mine) = self.mine.get_mut(conversation) {
            mine.retain(|_, m| m != id);
        }
    }

    /// The message an action names, if known.
    fn resolve(&self, action: &Action, receiver: &Receiver) -> Option<String> {
        let target = match action {
            Action::Edit(target, _) | Action::Delete(target) | Action::React(target, _) => target,
            _ => return None,
        };
        match target {
            Target::Id(id) => Some(id.clone()),
            Target::Recent(n) => self
                .mine
                .get(receiver.as_str())?
                .values()
                .rev()
                .nth(n.saturating_sub(1) as usize)
                .cloned(),
        }
    }

    /// The frame for an edit, delete or react; or, while its message is unknown, a history
    /// request (the newest page first) whose answer brings it closer.
    fn change(
        &mut self,
        action: Action,
        receiver: Receiver,
        ids: &mut Ids,
        pages: u32,
    ) -> Vec<ClientFrame> {
        let deferred = Deferred {
            action,
            receiver,
            pages,
        };
        self.change_from(deferred, None, ids)
    }

    /// Whether a message of yours to this conversation awaits its ack.
    fn sending(&self, conversation: &str) -> bool {
        self.outstanding
            .values()
            .any(|o| matches!(o, Outstanding::Message { conversation: c } if c == conversation))
    }

    /// Runs the blocked commands whose conversation has no message in flight any more.
    fn unblock(&mut self, ids: &mut Ids) -> Vec<Effect> {
        let blocked = std::mem::take(&mut self.blocked);
        let mut out = Vec::new();
        for deferred in blocked {
            if self.sending(deferred.receiver.as_str()) {
                self.blocked.push(deferred);
            } else {
                out.extend(
                    self.change_from(deferred, None, ids)
                        .into_iter()
                        .map(Effect::Send),
                );
            }
        }
        out
    }

    fn change_from(
        &mut self,
        deferred: Deferred,
        before: Option<String>,
        ids: &mut Ids,
    ) -> Vec<ClientFrame> {
        let by_count = matches!(
            deferred.action,
            Action::Edit(Target::Recent(_), _)
                | Action::Delete(Target::Recent(_))
                | Action::React(Target::Recent(_), _)
        );
        if by_count && deferred.pages == 0 && self.sending(deferred.receiver.as_str()) {
            self.blocked.push(deferred);
            return vec![];
        }
        let Some(message) = self.resolve(&deferred.action, &deferred.receiver) else {
            let id = ids.fresh();
            let frame = outgoing::history(id.clone(), deferred.receiver.clone(), PAGE, before);
            self.deferred.insert(
                id,
                Deferred {
                    pages: deferred.pages + 1,
                    ..deferred
                },
            );
            return vec![frame];
        };
        let id = ids.fresh();
        let conversation = deferred.receiver.as_str().to_owned();
        let (frame, change) = match deferred.action {
            Action::Edit(_, content) => (
                ClientFrame::Edit(EditMessage {
                    id: Some(id.clone()),
                    message: message.clone(),
                    content: content.clone(),
                }),
                Local::Edited(content),
            ),
            Action::Delete(_) => (
                ClientFrame::Delete(DeleteMessage {
                    id: Some(id.clone()),
                    message: message.clone(),
                }),
                Local::Deleted,
            ),
            Action::React(_, emoji) => (
                ClientFrame::React(React {
                    id: Some(id.clone()),
                    message: message.clone(),
                    emoji: emoji.clone(),
                }),
                Local::Toggled(emoji),
            ),
            _ => return vec![],
        };
        self.outstanding.insert(
            id,
            Outstanding::Change {
                conversation,
                message,
                change,
            },
        );
        vec![frame]
    }
}

fn not_found(action: &Action, looked_far: bool) -> String {
    let n = match action {
        Action::Edit(Target::Recent(n), _)
        | Action::Delete(Target::Recent(n))
        | Action::React(Target::Recent(n), _) => *n,
        _ => 1,
    };
    let which = match n {
        1 => "no message of yours".to_owned(),
        n => format!("fewer than {n} messages of yours"),
    };
    if looked_far {
        format!("{which} among the last {} here", PAGE * MAX_PAGES)
    } else {
        format!("{which} here")
    }
}
