//! The full-screen client's state and its rules, with no terminal in sight: keys and session
//! updates go in, frames to send come out, and [`super::view`] draws whatever is here. This
//! split is what the tests drive.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use confab_client::protocol::messaging::Reaction;
use confab_client::protocol::{
    AttachmentInfo, ChatMessage, ClientFrame, Ready, Receiver, ServerFrame, Typing,
};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::commands::{self, Action};
use crate::format;
use crate::outgoing::{self, Ids};
use crate::session::{Update, UploadEvent, UploadRequest};
use crate::tracker::{Effect, Local, Tracker};

/// Messages fetched per history page.
const PAGE: u32 = 50;
/// How long a typing notice shows, and how often ours is sent.
const TYPING_FOR: Duration = Duration::from_secs(4);

/// One conversation in the sidebar.
#[derive(Debug, Default)]
pub struct Conversation {
    /// `#room`, or the other user's name.
    pub name: String,
    /// Loaded messages, by sequence number.
    pub messages: Vec<ChatMessage>,
    pub unread: u32,
    /// Whether older messages exist on the server beyond the loaded ones.
    pub more_before: bool,
    /// A history request is under way.
    pub loading: bool,
}

impl Conversation {
    fn insert(&mut self, message: ChatMessage) {
        match self.messages.binary_search_by_key(&message.seq, |m| m.seq) {
            Ok(_) => {}
            Err(at) => self.messages.insert(at, message),
        }
    }

    fn message_mut(&mut self, id: &str) -> Option<&mut ChatMessage> {
        self.messages.iter_mut().rev().find(|m| m.id == id)
    }
}

/// Applies a change of yours that the server accepted to a message as shown.
fn apply(message: &mut ChatMessage, change: Local, at: Option<String>, me: &str) {
    match change {
        Local::Edited(content) => {
            message.content = content;
            message.edited = Some(at.unwrap_or_else(format::now));
        }
        Local::Deleted => {
            message.deleted = true;
            message.content.clear();
            message.attachment = None;
            message.location = None;
            message.reactions.clear();
        }
        Local::Toggled(emoji) => match message.reactions.iter().position(|r| r.emoji == emoji) {
            Some(at) => {
                let reaction = &mut message.reactions[at];
                if let Some(mine) = reaction.users.iter().position(|u| u == me) {
                    reaction.users.remove(mine);
                } else {
                    reaction.users.push(me.to_owned());
                }
                reaction.count = reaction.users.len() as u32;
                if reaction.count == 0 {
                    message.reactions.remove(at);
                }
            }
            None => message.reactions.push(Reaction {
                emoji,
                count: 1,
                users: vec![me.to_owned()],
            }),
        },
    }
}

/// The connection as the status line shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    Connecting,
    Online,
    Reconnecting(String),
    Offline(String),
}

#[derive(Debug)]
pub struct App {
    pub me: String,
    pub conversations: Vec<Conversation>,
    pub current: usize,
    pub connection: Connection,
    /// Whether the session runs over Server-Sent Events (its `ready` names a stream).
    pub over_sse: bool,
    pub online: HashSet<String>,
    /// Who is typing where, until when.
    pub typing: HashMap<String, (String, Instant)>,
    /// The last notice (replies to commands, errors).
    pub notice: String,
    /// Shown first on the status line for the whole run (`--insecure`).
    pub warning: Option<String>,
    pub input: String,
    /// Cursor position in `input`, in characters.
    pub cursor: usize,
    pub history: Vec<String>,
    history_at: Option<usize>,
    /// Lines scrolled up from the bottom of the conversation.
    pub scroll: usize,
    pub quit: bool,
    ids: Ids,
    last_typing_sent: Option<Instant>,
    /// Our messages awaiting their ack, by id: shown once stored (content and upload).
    sent: HashMap<String, (String, Option<AttachmentInfo>)>,
    /// Your messages, unanswered frames and invitations.
    tracker: Tracker,
    /// Uploads asked for, for the loop to hand to the session.
    pub uploads: Vec<UploadRequest>,
    /// The file name of each upload under way, by its message's frame id.
    uploading: HashMap<String, String>,
}

impl Default for App {
    fn default() -> Self {
        Self {
            me: String::new(),
            conversations: Vec::new(),
            current: 0,
            connection: Connection::Connecting,
            over_sse: false,
            online: HashSet::new(),
            typing: HashMap::new(),
            notice: "type /help for commands".into(),
            warning: None,
            input: String::new(),
            cursor: 0,
            history: Vec::new(),
            history_at: None,
            scroll: 0,
            quit: false,
            ids: Ids::new(),
            last_typing_sent: None,
            sent: HashMap::new(),
            tracker: Tracker::new(),
            uploads: Vec::new(),
            uploading: HashMap::new(),
        }
    }
}

impl App {
    pub fn current(&self) -> Option<&Conversation> {
        self.conversations.get(self.current)
    }

    fn receiver(&self) -> Option<Receiver> {
        self.current().and_then(|c| Receiver::parse(&c.name).ok())
    }

    fn index_of(&mut self, name: &str) -> usize {
        if let Some(at) = self.conversations.iter().position(|c| c.name == name) {
            return at;
        }
        self.conversations.push(Conversation {
            name: name.to_owned(),
            more_before: true,
            ..Conversation::default()
        });
        let current = self.current().map(|c| c.name.clone());
        self.conversations
            .sort_by_key(|c| (!c.name.starts_with('#'), c.name.clone()));
        if let Some(current) = current {
            self.current = self
                .conversations
                .iter()
                .position(|c| c.name == current)
                .unwrap_or(0);
        }
        self.conversations
            .iter()
            .position(|c| c.name == name)
            .unwrap_or(0)
    }

    /// Switches to a conversation; loads its newest page the first time.
    fn switch_to(&mut self, at: usize) -> Vec<ClientFrame> {
        self.current = at.min(self.conversations.len().saturating_sub(1));
        self.scroll = 0;
        let Some(conversation) = self.conversations.get_mut(self.current) else {
            return vec![];
        };
        conversation.unread = 0;
        if conversation.messages.is_empty() && conversation.more_before && !conversation.loading {
            conversation.loading = true;
            if let Ok(receiver) = Receiver::parse(&conversation.name) {
                return vec![outgoing::history(self.ids.fresh(), receiver, PAGE, None)];
            }
        }
        vec![]
    }

    /// Applies a session update; returns frames to send.
    pub fn on_update(&mut self, update: Update) -> Vec<ClientFrame> {
        match update {
            Update::Ready(ready) => self.ready(ready),
            Update::Message(message) => {
                self.tracker.on_message(&message);
                let name = format::conversation(&message, &self.me);
                let at = self.index_of(&name);
                self.typing.remove(&name);
                let conversation = &mut self.conversations[at];
                conversation.insert(message);
                if at != self.current {
                    conversation.unread += 1;
                }
                vec![]
            }
            Update::Frame(frame) => {
                let effects = self.tracker.on_frame(&frame, &mut self.ids);
                self.frame(frame);
                self.effects(effects)
            }
            Update::Upload(event) => {
                self.upload(event);
                vec![]
            }
            Update::Reconnecting {
                reason,
                delay,
                server,
            } => {
                self.connection = Connection::Reconnecting(format!(
                    "{reason}; retrying {server} in {:.0}s",
                    delay.as_secs_f64().ceil()
                ));
                vec![]
            }
            Update::Stopped(reason) => {
                self.connection = Connection::Offline(reason);
                vec![]
            }
        }
    }

    fn effects(&mut self, effects: Vec<Effect>) -> Vec<ClientFrame> {
        let mut out = Vec::new();
        for effect in effects {
            match effect {
                Effect::Send(frame) => out.push(frame),
                Effect::Notice(notice) | Effect::Problem(notice) => self.notice = notice,
                Effect::Changed {
                    conversation,
                    message,
                    change,
                    at,
                } => {
                    let me = self.me.clone();
                    let at_index = self.index_of(&conversation);
                    if let Some(shown) = self.conversations[at_index].message_mut(&message) {
                        apply(shown, change, at, &me);
                    }
                }
                Effect::Joined(room) => {
                    let at = self.index_of(&room);
                    out.extend(self.switch_to(at));
                }
            }
        }
        out
    }

    fn upload(&mut self, event: UploadEvent) {
        match event {
            UploadEvent::Progress { id, sent, total } => {
                let name = self.uploading.get(&id).cloned().unwrap_or_default();
                let percent = (sent * 100).checked_div(total).unwrap_or(100);
                self.notice = format!("uploading {name} ({}): {percent}%", format::size(total));
            }
            UploadEvent::Done { id, attachment } => {
                let name = self.uploading.remove(&id).unwrap_or_default();
                self.notice = format!(
                    "uploaded {name}: {}",
                    format::attachment_label(&attachment, false)
                );
                if let Some((_, shown)) = self.sent.get_mut(&id) {
                    *shown = Some(attachment);
                }
            }
            UploadEvent::Failed { id, error } => {
                let name = self.uploading.remove(&id).unwrap_or_default();
                self.notice = format!("upload of {name} failed: {error}");
                self.sent.remove(&id);
            }
        }
    }

    fn ready(&mut self, ready: Ready) -> Vec<ClientFrame> {
        self.me = ready.user.username.clone();
        self.tracker.set_me(&self.me);
        self.connection = Connection::Online;
        self.over_sse = ready.stream.is_some();
        for conversation in ready.rooms.iter().chain(&ready.direct) {
            self.index_of(&conversation.receiver);
        }
        let at = self.current;
        self.switch_to(at)
    }

    fn frame(&mut self, frame: ServerFrame) {
        match frame {
            ServerFrame::History(history) => {
                let at = self.index_of(&history.receiver);
                let conversation = &mut self.conversations[at];
                conversation.loading = false;
                conversation.more_before = history.has_more;
                for message in history.messages {
                    conversation.insert(message);
                }
            }
            ServerFrame::Ack(ack) => {
                // Our own message: shown once the server stored it.
                if let (Some(id), Some(seq), Some(receiver), Some(timestamp)) =
                    (ack.id, ack.seq, ack.receiver, ack.timestamp)
                {
                    if let Some((content, attachment)) = self.sent.remove(&ack.reply_to) {
                        let at = self.index_of(&receiver);
                        let kind = attachment.as_ref().map_or(Default::default(), |a| {
                            confab_client::protocol::messaging::MessageKind::parse(a.kind.as_str())
                                .unwrap_or_default()
                        });
                        self.conversations[at].insert(ChatMessage {
                            id,
                            seq,
                            sender: self.me.clone(),
                            receiver,
                            content,
                            timestamp,
                            kind,
                            attachment,
                            ..ChatMessage::default()
                        });
                    }
                }
            }
            ServerFrame::Error(error) => {
                if let Some(id) = &error.reply_to {
                    self.sent.remove(id);
                }
                self.notice = format!("{}: {}", error.code, error.message);
            }
            ServerFrame::Update(update) => {
                let name = format::update_conversation(&update, &self.me);
                let at = self.index_of(&name);
                if let Some(shown) = self.conversations[at].message_mut(&update.message.id) {
                    *shown = update.message;
                }
            }
            ServerFrame::Invitation(invitation) => {
                self.notice = format!(
                    "{} invites you to {}: /accept {} or /decline {}",
                    invitation.from, invitation.room, invitation.id, invitation.id
                );
            }
            ServerFrame::Invitations(list) => {
                let list: Vec<String> = list
                    .invitations
                    .iter()
                    .map(|i| format!("{} from {} (/accept {})", i.room, i.from, i.id))
                    .collect();
                self.notice = if list.is_empty() {
                    "no invitations".into()
                } else {
                    format!("invitations: {}", list.join(", "))
                };
            }
            ServerFrame::InvitationAnswered(answered) if answered.user != self.me => {
                let verb = if answered.accepted {
                    "accepted"
                } else {
                    "declined"
                };
                self.notice = format!(
                    "{} {verb} your invitation to {}",
                    answered.user, answered.room
                );
            }
            ServerFrame::Typing(typing) => {
                let name = if typing.receiver.starts_with('#') {
                    typing.receiver
                } else {
                    typing.sender.clone()
                };
                self.typing
                    .insert(name, (typing.sender, Instant::now() + TYPING_FOR));
            }
            ServerFrame::Presence(presence) => {
                if presence.status == confab_client::protocol::PresenceStatus::Online {
                    self.online.insert(presence.user);
                } else {
                    self.online.remove(&presence.user);
                }
            }
            ServerFrame::Membership(membership) => {
                let verb = match membership.change {
                    confab_client::protocol::MembershipChange::Joined => "joined",
                    confab_client::protocol::MembershipChange::Left => "left",
                };
                if membership.user == self.me && verb == "left" {
                    self.conversations.retain(|c| c.name != membership.room);
                    self.current = self.current.min(self.conversations.len().saturating_sub(1));
                } else {
                    self.index_of(&membership.room);
                }
                self.notice = format!("{} {verb} {}", membership.user, membership.room);
            }
            ServerFrame::Rooms(rooms) => {
                let list: Vec<String> = rooms
                    .rooms
                    .iter()
                    .map(|r| format!("{} ({})", r.name, r.members))
                    .collect();
                self.notice = format!("rooms: {}", list.join(", "));
            }
            ServerFrame::Members(members) => {
                for member in &members.members {
                    if member.online {
                        self.online.insert(member.username.clone());
                    }
                }
                let list: Vec<String> = members
                    .members
                    .iter()
                    .map(|m| format!("{}{}", m.username, if m.online { "*" } else { "" }))
                    .collect();
                self.notice = format!("{}: {} (* online)", members.room, list.join(" "));
            }
            _ => {}
        }
    }

    /// Who is typing in the current conversation, if anyone (and not for too long).
    pub fn typing_here(&self, now: Instant) -> Option<&str> {
        let name = &self.current()?.name;
        self.typing
            .get(name)
            .filter(|(_, until)| *until > now)
            .map(|(who, _)| who.as_str())
    }

    /// Applies a key; returns frames to send.
    pub fn on_key(&mut self, key: KeyEvent) -> Vec<ClientFrame> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        match key.code {
            KeyCode::Char('c') | KeyCode::Char('d') if ctrl => {
                self.quit = true;
                vec![]
            }
            KeyCode::Char('n') if ctrl => {
                self.switch_to((self.current + 1) % self.conversations.len().max(1))
            }
            KeyCode::Char('p') if ctrl => {
                let len = self.conversations.len().max(1);
                self.switch_to((self.current + len - 1) % len)
            }
            KeyCode::Down if alt => {
                self.switch_to((self.current + 1) % self.conversations.len().max(1))
            }
            KeyCode::Up if alt => {
                let len = self.conversations.len().max(1);
                self.switch_to((self.current + len - 1) % len)
            }
            KeyCode::Enter => self.submit(),
            KeyCode::Tab => {
                let names: Vec<String> =
                    self.conversations.iter().map(|c| c.name.clone()).collect();
                if let Some(completed) = commands::complete(&self.input, &names) {
                    self.input = completed;
                    self.cursor = self.input.chars().count();
                }
                vec![]
            }
            KeyCode::Up => {
                self.recall(-1);
                vec![]
            }
            KeyCode::Down => {
                self.recall(1);
                vec![]
            }
            KeyCode::PageUp => self.scroll_up(),
            KeyCode::PageDown => {
                self.scroll = self.scroll.saturating_sub(10);
                vec![]
            }
            KeyCode::Left => {
                self.cursor = self.cursor.saturating_sub(1);
                vec![]
            }
            KeyCode::Right => {
                self.cursor = (self.cursor + 1).min(self.input.chars().count());
                vec![]
            }
            KeyCode::Home => {
                self.cursor = 0;
                vec![]
            }
            KeyCode::End => {
                self.cursor = self.input.chars().count();
                vec![]
            }
            KeyCode::Backspace => {
                if self.cursor > 0 {
                    self.cursor -= 1;
                    self.remove_at(self.cursor);
                }
                vec![]
            }
            KeyCode::Delete => {
                self.remove_at(self.cursor);
                vec![]
            }
            KeyCode::Char(c) if !ctrl => {
                let at = self.byte_at(self.cursor);
                self.input.insert(at, c);
                self.cursor += 1;
                self.typing_notice()
            }
            _ => vec![],
        }
    }

    fn byte_at(&self, chars: usize) -> usize {
        self.input
            .char_indices()
            .nth(chars)
            .map_or(self.input.len(), |(i, _)| i)
    }

    fn remove_at(&mut self, chars: usize) {
        let at = self.byte_at(chars);
        if at < self.input.len() {
            self.input.remove(at);
        }
    }

    fn recall(&mut self, step: isize) {
        if self.history.is_empty() {
            return;
        }
        let last = self.history.len() as isize - 1;
        let at = match self.history_at {
            None if step < 0 => last,
            None => return,
            Some(at) => at as isize + step,
        };
        if at > last {
            self.history_at = None;
            self.input.clear();
        } else {
            let at = at.clamp(0, last) as usize;
            self.history_at = Some(at);
            self.input = self.history[at].clone();
        }
        self.cursor = self.input.chars().count();
    }

    fn typing_notice(&mut self) -> Vec<ClientFrame> {
        if self.input.starts_with('/') {
            return vec![];
        }
        let now = Instant::now();
        if self
            .last_typing_sent
            .is_some_and(|at| now.duration_since(at) < TYPING_FOR / 2)
        {
            return vec![];
        }
        let Some(receiver) = self.receiver() else {
            return vec![];
        };
        self.last_typing_sent = Some(now);
        vec![ClientFrame::Typing(Typing { id: None, receiver })]
    }

    fn scroll_up(&mut self) -> Vec<ClientFrame> {
        self.scroll += 10;
        let Some(conversation) = self.conversations.get_mut(self.current) else {
            return vec![];
        };
        if self.scroll + 10 < conversation.messages.len()
            || !conversation.more_before
            || conversation.loading
        {
            return vec![];
        }
        conversation.loading = true;
        let before = conversation.messages.first().map(|m| m.id.clone());
        match Receiver::parse(&conversation.name) {
            Ok(receiver) => vec![outgoing::history(self.ids.fresh(), receiver, PAGE, before)],
            Err(_) => vec![],
        }
    }

    fn submit(&mut self) -> Vec<ClientFrame> {
        let line = std::mem::take(&mut self.input);
        self.cursor = 0;
        self.history_at = None;
        if line.trim().is_empty() {
            return vec![];
        }
        self.history.push(line.clone());
        let action = match commands::parse(&line) {
            Ok(action) => action,
            Err(problem) => {
                self.notice = problem;
                return vec![];
            }
        };
        match action {
            Action::Quit => {
                self.quit = true;
                return vec![];
            }
            Action::Help => {
                let names: Vec<&str> = commands::COMMANDS.iter().map(|(c, _)| *c).collect();
                self.notice = format!(
                    "{}; Ctrl-N/Ctrl-P switch, PgUp scrolls back, Tab completes",
                    names.join(" ")
                );
                return vec![];
            }
            _ => {}
        }
        let mut current = self
            .receiver()
            .unwrap_or_else(|| Receiver::parse("#general").expect("valid"));
        if let Action::Upload(path, caption) = action {
            let id = self.ids.fresh();
            self.tracker.sent_message(&id, &current);
            let name = path.display().to_string();
            self.notice = format!("uploading {name}...");
            self.uploading.insert(id.clone(), name);
            self.sent.insert(id.clone(), (caption.clone(), None));
            self.uploads.push(UploadRequest {
                id,
                path,
                caption,
                receiver: current,
            });
            self.scroll = 0;
            return vec![];
        }
        let said = match &action {
            Action::Say(text) | Action::Msg(_, text) => Some(text.clone()),
            _ => None,
        };
        let frames = match self.tracker.frames(action, &mut current, &mut self.ids) {
            Ok(frames) => frames,
            Err(problem) => {
                self.notice = problem;
                return vec![];
            }
        };
        if let (Some(text), Some(id)) = (said, frames.first().and_then(ClientFrame::id)) {
            self.sent.insert(id.to_owned(), (text, None));
        }
        let at = self.index_of(current.as_str());
        let mut out = frames;
        if at != self.current {
            out.extend(self.switch_to(at));
        }
        self.scroll = 0;
        out
    }
}
