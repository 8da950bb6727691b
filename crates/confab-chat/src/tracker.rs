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

#[cfg(test)]
mod tests {
    use confab_client::protocol::messaging::Change;
    use confab_client::protocol::{Ack, ErrorCode, History, Invitations, RoomName, Username};

    use super::*;

    fn room(name: &str) -> Receiver {
        Receiver::parse(name).unwrap()
    }

    fn ack(reply_to: &str, id: &str, seq: u64, receiver: &str) -> ServerFrame {
        ServerFrame::Ack(Ack {
            reply_to: reply_to.into(),
            id: Some(id.into()),
            seq: Some(seq),
            receiver: Some(receiver.into()),
            timestamp: Some("2026-12-01T19:00:00.000Z".into()),
            duplicate: false,
        })
    }

    fn message(seq: u64, sender: &str) -> ChatMessage {
        ChatMessage {
            id: format!("M{seq}"),
            seq,
            sender: sender.into(),
            receiver: "#ops".into(),
            content: format!("message {seq}"),
            timestamp: "2026-12-01T19:00:00.000Z".into(),
            ..ChatMessage::default()
        }
    }

    fn tracker() -> (Tracker, Ids, Receiver) {
        let mut tracker = Tracker::new();
        tracker.set_me("alice");
        (tracker, Ids::new(), room("#ops"))
    }

    /// Says `text` and acks it as message `id` at `seq`.
    fn say(tracker: &mut Tracker, ids: &mut Ids, current: &mut Receiver, id: &str, seq: u64) {
        let frames = tracker
            .frames(Action::Say("hi".into()), current, ids)
            .unwrap();
        let reply_to = frames[0].id().unwrap().to_owned();
        assert!(tracker
            .on_frame(&ack(&reply_to, id, seq, "#ops"), ids)
            .is_empty());
    }

    #[test]
    fn edits_name_your_messages_by_count_or_id() {
        let (mut tracker, mut ids, mut current) = tracker();
        say(&mut tracker, &mut ids, &mut current, "A", 1);
        tracker.on_message(&message(2, "bob"));
        say(&mut tracker, &mut ids, &mut current, "B", 3);
        let edit = Action::Edit(Target::Recent(2), "fixed".into());
        let frames = tracker.frames(edit, &mut current, &mut ids).unwrap();
        let [ClientFrame::Edit(edit)] = &frames[..] else {
            panic!("{frames:?}")
        };
        assert_eq!(
            (edit.message.as_str(), edit.content.as_str()),
            ("A", "fixed")
        );
        let effects = tracker.on_frame(&ack(edit.id.as_ref().unwrap(), "U", 4, "#ops"), &mut ids);
        assert_eq!(
            effects,
            [Effect::Changed {
                conversation: "#ops".into(),
                message: "A".into(),
                change: Local::Edited("fixed".into()),
                at: Some("2026-12-01T19:00:00.000Z".into()),
            }]
        );

        // Deleting the last one makes the other the last one.
        let frames = tracker
            .frames(Action::Delete(Target::Recent(1)), &mut current, &mut ids)
            .unwrap();
        let [ClientFrame::Delete(delete)] = &frames[..] else {
            panic!("{frames:?}")
        };
        assert_eq!(delete.message, "B");
        tracker.on_frame(&ack(delete.id.as_ref().unwrap(), "U2", 5, "#ops"), &mut ids);
        let frames = tracker
            .frames(
                Action::React(Target::Recent(1), "👍".into()),
                &mut current,
                &mut ids,
            )
            .unwrap();
        assert!(
            matches!(&frames[..], [ClientFrame::React(r)] if r.message == "A" && r.emoji == "👍")
        );

        // An id is used as given, and left to the server to judge.
        let by_id = Action::Delete(Target::Id("01JXB3K9A0W2H4J6K8M0P2R4ST".into()));
        let frames = tracker.frames(by_id, &mut current, &mut ids).unwrap();
        assert!(
            matches!(&frames[..], [ClientFrame::Delete(d)] if d.message == "01JXB3K9A0W2H4J6K8M0P2R4ST")
        );
    }

    #[test]
    fn a_command_right_after_a_line_waits_for_its_ack() {
        let (mut tracker, mut ids, mut current) = tracker();
        say(&mut tracker, &mut ids, &mut current, "A", 1);
        let frames = tracker
            .frames(Action::Say("typo".into()), &mut current, &mut ids)
            .unwrap();
        let line = frames[0].id().unwrap().to_owned();
        let edit = Action::Edit(Target::Recent(1), "no typo".into());
        assert!(tracker
            .frames(edit, &mut current, &mut ids)
            .unwrap()
            .is_empty());
        let effects = tracker.on_frame(&ack(&line, "B", 2, "#ops"), &mut ids);
        let [Effect::Send(ClientFrame::Edit(edit))] = &effects[..] else {
            panic!("{effects:?}")
        };
        assert_eq!(edit.message, "B", "the line just sent");

        // A refused line unblocks too: the command then names the last stored one.
        let frames = tracker
            .frames(Action::Say("refused".into()), &mut current, &mut ids)
            .unwrap();
        let line = frames[0].id().unwrap().to_owned();
        assert!(tracker
            .frames(Action::Delete(Target::Recent(1)), &mut current, &mut ids)
            .unwrap()
            .is_empty());
        let refused = ServerFrame::error(ErrorCode::RateLimited, "slow down", Some(line));
        let effects = tracker.on_frame(&refused, &mut ids);
        assert!(matches!(&effects[..], [Effect::Send(ClientFrame::Delete(d))] if d.message == "B"));
    }

    #[test]
    fn unknown_messages_are_looked_for_in_history() {
        let (mut tracker, mut ids, mut current) = tracker();
        let frames = tracker
            .frames(Action::Delete(Target::Recent(2)), &mut current, &mut ids)
            .unwrap();
        let [ClientFrame::History(first)] = &frames[..] else {
            panic!("{frames:?}")
        };
        assert_eq!((first.limit, first.before.as_deref()), (Some(100), None));
        let page = |reply_to: &Option<String>, messages, has_more| {
            ServerFrame::History(History {
                reply_to: reply_to.clone(),
                receiver: "#ops".into(),
                messages,
                has_more,
            })
        };
        // The newest page holds one of alice's (and one deleted, which does not count).
        let deleted = ChatMessage {
            deleted: true,
            ..message(9, "alice")
        };
        let newest = vec![message(8, "bob"), deleted, message(10, "alice")];
        let effects = tracker.on_frame(&page(&first.id, newest, true), &mut ids);
        let [Effect::Send(ClientFrame::History(second))] = &effects[..] else {
            panic!("{effects:?}")
        };
        assert_eq!(second.before.as_deref(), Some("M8"), "the page before");
        let older = vec![message(3, "alice"), message(4, "bob")];
        let effects = tracker.on_frame(&page(&second.id, older, true), &mut ids);
        assert!(
            matches!(&effects[..], [Effect::Send(ClientFrame::Delete(d))] if d.message == "M3"),
            "{effects:?}"
        );

        // Not there at all: said so, once the history runs out.
        let mut dm = room("carol");
        let frames = tracker
            .frames(
                Action::Edit(Target::Recent(1), "x".into()),
                &mut dm,
                &mut ids,
            )
            .unwrap();
        let effects = tracker.on_frame(
            &ServerFrame::History(History {
                reply_to: frames[0].id().map(str::to_owned),
                receiver: "carol".into(),
                messages: vec![],
                has_more: false,
            }),
            &mut ids,
        );
        assert_eq!(
            effects,
            [Effect::Problem("no message of yours here".into())]
        );
    }

    #[test]
    fn deletes_elsewhere_are_forgotten() {
        let (mut tracker, mut ids, mut current) = tracker();
        say(&mut tracker, &mut ids, &mut current, "A", 1);
        say(&mut tracker, &mut ids, &mut current, "B", 2);
        // A moderator (or alice's other session) deletes B.
        let gone = ChatMessage {
            id: "B".into(),
            deleted: true,
            ..message(2, "alice")
        };
        let update = ServerFrame::Update(confab_client::protocol::messaging::Update {
            seq: 3,
            receiver: "#ops".into(),
            change: Change::Deleted,
            by: "carol".into(),
            message: gone,
        });
        tracker.on_frame(&update, &mut ids);
        let frames = tracker
            .frames(
                Action::Edit(Target::Recent(1), "x".into()),
                &mut current,
                &mut ids,
            )
            .unwrap();
        assert!(matches!(&frames[..], [ClientFrame::Edit(e)] if e.message == "A"));
    }

    #[test]
    fn invitations_are_remembered_and_answered() {
        let (mut tracker, mut ids, mut current) = tracker();
        let invitation = Invitation {
            id: "I1".into(),
            room: "#club".into(),
            from: "bob".into(),
            created: "2026-12-01T19:00:00.000Z".into(),
        };
        tracker.on_frame(&ServerFrame::Invitation(invitation.clone()), &mut ids);
        assert_eq!(tracker.invitations().count(), 1);
        let frames = tracker
            .frames(Action::Accept("I1".into()), &mut current, &mut ids)
            .unwrap();
        assert_eq!(current, room("#club"), "accepting switches to the room");
        let [ClientFrame::InviteReply(reply)] = &frames[..] else {
            panic!("{frames:?}")
        };
        assert!(reply.accept);
        let ok = ServerFrame::Ack(Ack {
            reply_to: reply.id.clone().unwrap(),
            ..Ack::default()
        });
        assert_eq!(
            tracker.on_frame(&ok, &mut ids),
            [Effect::Notice("joined #club".into())]
        );
        assert_eq!(tracker.invitations().count(), 0);

        // The list replaces what is known; declining does not move.
        let list = ServerFrame::Invitations(Invitations {
            reply_to: None,
            invitations: vec![invitation],
        });
        tracker.on_frame(&list, &mut ids);
        let mut here = room("#ops");
        tracker
            .frames(Action::Decline("I1".into()), &mut here, &mut ids)
            .unwrap();
        assert_eq!(here, room("#ops"));

        // Invites go to the current room, or the one named; a DM has none.
        let bob = Username::parse("bob").unwrap();
        let frames = tracker
            .frames(Action::Invite(bob.clone(), None), &mut here, &mut ids)
            .unwrap();
        assert!(matches!(&frames[..], [ClientFrame::Invite(i)] if i.room.as_str() == "#ops"));
        let ok = ServerFrame::Ack(Ack {
            reply_to: frames[0].id().unwrap().into(),
            ..Ack::default()
        });
        assert_eq!(
            tracker.on_frame(&ok, &mut ids),
            [Effect::Notice("invited bob to #ops".into())]
        );
        let club = Some(RoomName::parse("#club").unwrap());
        let mut dm = room("carol");
        assert!(tracker
            .frames(Action::Invite(bob.clone(), None), &mut dm, &mut ids)
            .is_err());
        let frames = tracker
            .frames(Action::Invite(bob, club), &mut dm, &mut ids)
            .unwrap();
        assert!(matches!(&frames[..], [ClientFrame::Invite(i)] if i.room.as_str() == "#club"));

        // A redeemed code names its room in the ack.
        let frames = tracker
            .frames(
                Action::Redeem("q3Zt0bW9xX2u7VfJm1k8Aw".into()),
                &mut here,
                &mut ids,
            )
            .unwrap();
        let joined = ServerFrame::Ack(Ack {
            reply_to: frames[0].id().unwrap().into(),
            receiver: Some("#club".into()),
            ..Ack::default()
        });
        assert_eq!(
            tracker.on_frame(&joined, &mut ids),
            [
                Effect::Notice("joined #club".into()),
                Effect::Joined("#club".into())
            ]
        );
    }
}
