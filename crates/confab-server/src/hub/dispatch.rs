//! The dispatcher: one task taking bus events in order and handing them to local sessions.
//! A message is serialized once and the same bytes go to every recipient; the sending session
//! gets the ack instead, at the same point in the stream, so acks and messages reach every
//! session in commit order.
//!
//! With several nodes, entries of one conversation can reach this node out of order (its own
//! commits come straight from its store, the others' over the bus) or not at all (the bus
//! dropped them). Each conversation's entries are delivered strictly in sequence: an entry
//! past the next expected one first fills the gap from the store; one already delivered is
//! skipped. When the store cannot be read, the conversation's entries wait (in order) and the
//! fill is retried. A [`Event::Resync`] reloads the caches and fills every conversation.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use bytes::Bytes;
use confab_protocol::{
    close, Ack, Membership, MembershipChange, Presence, PresenceStatus, ServerFrame,
};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::sessions::Outbound;
use super::Hub;
use crate::bus::{Audience, CacheSync, Event, Remote};
use crate::store::{Committed, ConvId, ConversationKind, StoreResult, StoredMessage};

/// Entries read from the store per page when filling a gap.
const FILL_PAGE: u32 = 500;
/// How soon a fill or resync that failed (the store unreachable) is tried again.
const RETRY: Duration = Duration::from_millis(500);

/// A conversation entry to deliver: one this node committed (with its ack), or one another
/// node committed, its frame ready.
enum Entry {
    Local(Box<Committed>),
    Remote {
        conv: ConvId,
        seq: u64,
        frame: Bytes,
    },
}

impl Entry {
    fn conv_seq(&self) -> (ConvId, u64) {
        match self {
            Self::Local(c) => (c.message.conv, c.message.seq),
            Self::Remote { conv, seq, .. } => (*conv, *seq),
        }
    }
}

/// An event taken off the channel early, while filling a gap.
enum Queued {
    Event(Event),
    /// This node's own commit, kept in `pending` until delivered (by a fill or in turn).
    Local(ConvId, u64),
}

struct Dispatcher {
    hub: Hub,
    events: mpsc::UnboundedReceiver<Event>,
    /// Events read ahead of their turn, in order.
    backlog: VecDeque<Queued>,
    /// This node's commits among them, by conversation and seq: a fill that reaches one
    /// delivers it with its ack rather than as a plain message read from the store.
    pending: HashMap<(ConvId, u64), Box<Committed>>,
    /// Entries waiting, in order, for a gap before them to be filled.
    held: HashMap<ConvId, VecDeque<Entry>>,
    /// A resync that failed and is owed.
    resync: Option<Vec<(String, Vec<i64>)>>,
    retry_at: Option<Instant>,
}

pub(super) async fn run(hub: Hub, events: mpsc::UnboundedReceiver<Event>) {
    let mut dispatcher = Dispatcher {
        hub: hub.clone(),
        events,
        backlog: VecDeque::new(),
        pending: HashMap::new(),
        held: HashMap::new(),
        resync: None,
        retry_at: None,
    };
    loop {
        if let Some(queued) = dispatcher.backlog.pop_front() {
            match queued {
                Queued::Event(event) => dispatcher.handle(event).await,
                Queued::Local(conv, seq) => {
                    if let Some(committed) = dispatcher.pending.remove(&(conv, seq)) {
                        dispatcher.entry(Entry::Local(committed)).await;
                    }
                }
            }
            continue;
        }
        let retry_at = dispatcher.retry_at;
        let event = tokio::select! {
            event = dispatcher.events.recv() => event,
            () = async { tokio::time::sleep_until(retry_at.unwrap_or_else(Instant::now)).await },
                if retry_at.is_some() => {
                dispatcher.retry().await;
                continue;
            }
            () = hub.inner.stop.cancelled() => None,
        };
        let Some(event) = event else { return };
        dispatcher.handle(event).await;
    }
}

impl Dispatcher {
    async fn handle(&mut self, event: Event) {
        let hub = &self.hub;
        match event {
            Event::Message(committed) => self.entry(Entry::Local(committed)).await,
            Event::Typing {
                sender,
                audience,
                frame,
            } => hub.deliver_frame(audience, frame, Some(sender)),
            Event::Notice { audience, frame } => hub.deliver_frame(audience, frame, None),
            Event::Presence { user, online } => {
                // Online elsewhere: the cluster-wide state did not change.
                if !hub.inner.presence.is_online(user) {
                    hub.deliver_presence(user, online);
                }
            }
            Event::Membership { conv, user, joined } => hub.deliver_membership(conv, user, joined),
            Event::Revoked {
                user,
                token,
                except,
            } => hub.inner.sessions.for_sessions(user, |session| {
                if session.token == token && session.id != except {
                    session.control.close(close::REVOKED, "token revoked");
                }
            }),
            Event::Sync(_) => {}
            Event::Remote(remote) => self.remote(remote).await,
            Event::Resync { presence } => {
                self.resync = Some(presence);
                self.retry().await;
            }
        }
    }

    async fn remote(&mut self, remote: Remote) {
        let hub = self.hub.clone();
        match remote {
            Remote::Message {
                conv,
                seq,
                frame,
                sender,
            } => {
                hub.charge_message(&sender);
                self.entry(Entry::Remote { conv, seq, frame }).await
            }
            Remote::Presence { node, user, online } => {
                let flipped = hub.inner.presence.set(&node, user, online);
                if flipped && !hub.inner.sessions.is_online(user) {
                    hub.deliver_presence(user, online);
                }
            }
            Remote::LiveNodes(nodes) => {
                let live: HashSet<String> = nodes.into_iter().collect();
                for user in hub.inner.presence.retain_nodes(&live) {
                    if !hub.inner.sessions.is_online(user) {
                        hub.deliver_presence(user, false);
                    }
                }
            }
            Remote::Membership { conv, user, joined } => {
                if joined {
                    hub.directory().add_member(conv, user);
                } else {
                    hub.directory().remove_member(conv, user);
                    hub.rooms().left(conv, user);
                }
                hub.deliver_membership(conv, user, joined);
            }
            Remote::Revoked { user, token } => hub.inner.sessions.for_sessions(user, |session| {
                if session.token == token {
                    session.control.close(close::REVOKED, "token revoked");
                }
            }),
            Remote::Sync(change) => {
                if let Err(err) = hub.apply_sync(change).await {
                    tracing::warn!(%err, "cannot apply a change from another node; resyncing");
                    self.resync.get_or_insert_with(Vec::new);
                    self.retry_at = Some(Instant::now() + RETRY);
                }
            }
        }
    }

    /// Delivers an entry in its conversation's order.
    async fn entry(&mut self, entry: Entry) {
        let (conv, _) = entry.conv_seq();
        if let Some(queue) = self.held.get_mut(&conv) {
            queue.push_back(entry);
            return;
        }
        if let Err(entry) = self.in_order(entry).await {
            self.held.entry(conv).or_default().push_back(entry);
            self.retry_at.get_or_insert(Instant::now() + RETRY);
        }
    }

    /// Fills the gap before `entry` and delivers it; gives it back when the store failed.
    async fn in_order(&mut self, entry: Entry) -> Result<(), Entry> {
        let (conv, seq) = entry.conv_seq();
        let known = self.hub.directory().last_seq(conv);
        if seq > known + 1 && self.fill(conv, seq - 1).await.is_err() {
            return Err(entry);
        }
        let hub = &self.hub;
        match entry {
            Entry::Local(committed) if seq <= hub.directory().last_seq(conv) => {
                // Already delivered from the store: the sender still gets their ack, which
                // their outbox marks `duplicate` (they hold the entry as a message).
                hub.ack_only(&committed)
            }
            Entry::Local(committed) => hub.deliver_message(*committed),
            Entry::Remote { .. } if seq <= hub.directory().last_seq(conv) => {}
            Entry::Remote { conv, seq, frame } => {
                hub.deliver_entry(conv, seq, frame, None);
            }
        }
        Ok(())
    }

    /// Takes every event waiting on the channel into the backlog, this node's commits into
    /// `pending`.
    fn absorb(&mut self) {
        while let Ok(event) = self.events.try_recv() {
            match event {
                Event::Message(committed) => {
                    let key = (committed.message.conv, committed.message.seq);
                    self.pending.insert(key, committed);
                    self.backlog.push_back(Queued::Local(key.0, key.1));
                }
                other => self.backlog.push_back(Queued::Event(other)),
            }
        }
    }

    /// Delivers every entry of `conv` after the last one delivered, up to `upto`, from the
    /// store; this node's own commits among them go out with their acks.
    async fn fill(&mut self, conv: ConvId, upto: u64) -> StoreResult<()> {
        loop {
            let known = self.hub.directory().last_seq(conv);
            if known >= upto {
                return Ok(());
            }
            let page = self.hub.store().changes(conv, known, FILL_PAGE).await?;
            self.absorb();
            let Some(last) = page.last().map(|entry| entry.seq) else {
                return Ok(());
            };
            tracing::debug!(
                conv,
                from = known + 1,
                to = last,
                "filling a gap from the store"
            );
            for entry in page.into_iter().filter(|entry| entry.seq <= upto) {
                match self.pending.remove(&(conv, entry.seq)) {
                    Some(committed) => self.hub.deliver_message(*committed),
                    None => {
                        self.hub.metrics().gap_filled();
                        self.hub.deliver_stored(&entry);
                    }
                }
            }
            if last <= known {
                return Ok(());
            }
        }
    }

    /// Reloads the caches and fills every conversation up to its newest entry.
    async fn resync(&mut self, presence: &[(String, Vec<i64>)]) -> StoreResult<()> {
        for (conv, last_seq) in self.hub.reload(presence).await? {
            if !self.held.contains_key(&conv) {
                self.fill(conv, last_seq).await?;
            }
        }
        self.hub.metrics().bus_resynced();
        tracing::info!("caches and conversations resynced from the store");
        Ok(())
    }

    /// Retries held conversations and an owed resync.
    async fn retry(&mut self) {
        self.retry_at = None;
        if let Some(presence) = self.resync.take() {
            if let Err(err) = self.resync(&presence).await {
                tracing::warn!(%err, "resync failed; retrying");
                self.resync = Some(presence);
            }
        }
        let convs: Vec<ConvId> = self.held.keys().copied().collect();
        for conv in convs {
            while let Some(entry) = self.held.get_mut(&conv).and_then(VecDeque::pop_front) {
                if let Err(entry) = self.in_order(entry).await {
                    self.held.entry(conv).or_default().push_front(entry);
                    break;
                }
            }
            if self.held.get(&conv).is_some_and(VecDeque::is_empty) {
                self.held.remove(&conv);
            }
        }
        if self.resync.is_some() || !self.held.is_empty() {
            self.retry_at = Some(Instant::now() + RETRY);
        }
    }
}

impl Hub {
    fn ack_frame(committed: &Committed) -> Option<Bytes> {
        let message = &committed.message;
        committed.client_id.clone().map(|reply_to| {
            Bytes::from(
                ServerFrame::Ack(Ack {
                    reply_to,
                    id: Some(message.id.clone()),
                    seq: Some(message.seq),
                    receiver: Some(message.receiver.clone()),
                    timestamp: Some(crate::clock::rfc3339(message.created_ms)),
                    duplicate: false,
                })
                .to_json(),
            )
        })
    }

    fn deliver_message(&self, committed: Committed) {
        let message = &committed.message;
        tracing::debug!(conv = message.conv, seq = message.seq, sender = %message.sender, "message committed");
        let frame = Bytes::from(super::entry_frame(message).to_json());
        let ack = Self::ack_frame(&committed);
        let (conv, seq, origin) = (message.conv, message.seq, committed.origin);
        if !self.deliver_entry(conv, seq, frame, Some((origin, ack.clone()))) {
            if let Some(ack) = ack {
                // The sender left (or was removed from) the conversation meanwhile: the ack
                // is still theirs, and it returns the session's in-flight permit.
                self.push_ack(&message.sender, origin, conv, seq, ack);
            }
        }
    }

    /// The ack of an entry some other path delivered already.
    fn ack_only(&self, committed: &Committed) {
        let message = &committed.message;
        if let Some(ack) = Self::ack_frame(committed) {
            self.push_ack(
                &message.sender,
                committed.origin,
                message.conv,
                message.seq,
                ack,
            );
        }
    }

    /// Counts an entry `sender` made through another node toward their message budget here,
    /// so that budget holds across the nodes their sessions are on (within the bus's delay).
    fn charge_message(&self, sender: &str) {
        let bucket = self
            .directory()
            .user_id(sender)
            .and_then(|user| self.inner.sessions.message_bucket(user));
        if let Some(bucket) = bucket {
            bucket.lock().expect("bucket lock").charge();
        }
    }

    fn push_ack(&self, sender: &str, origin: u64, conv: ConvId, seq: u64, ack: Bytes) {
        if let Some(sender) = self.directory().user_id(sender) {
            self.inner.sessions.for_sessions(sender, |session| {
                if session.id == origin {
                    let frame = ack.clone();
                    session.push(Outbound::Ack { conv, seq, frame });
                }
            });
        }
    }

    /// Hands entry `seq` of `conv` to every member's sessions but the sending one, `sender.0`,
    /// which gets the ack `sender.1` instead; returns whether that ack was pushed.
    fn deliver_entry(
        &self,
        conv: ConvId,
        seq: u64,
        frame: Bytes,
        sender: Option<(u64, Option<Bytes>)>,
    ) -> bool {
        self.directory().saw_seq(conv, seq);
        let origin = sender.as_ref().map(|(origin, _)| *origin);
        let mut deliveries = 0;
        let mut acked = false;
        for member in self.directory().members(conv).iter() {
            self.inner.sessions.for_sessions(*member, |session| {
                deliveries += 1;
                if Some(session.id) != origin {
                    let frame = frame.clone();
                    session.push(Outbound::Message { conv, seq, frame });
                } else if let Some((_, Some(ack))) = &sender {
                    acked = true;
                    let frame = ack.clone();
                    session.push(Outbound::Ack { conv, seq, frame });
                } else {
                    // No id, no ack: the sender has the message all the same.
                    self.cursors().advance(session.user, conv, seq);
                }
            });
        }
        self.metrics().message_committed(deliveries);
        acked
    }

    fn deliver_stored(&self, entry: &StoredMessage) {
        let frame = Bytes::from(super::entry_frame(entry).to_json());
        self.deliver_entry(entry.conv, entry.seq, frame, None);
    }

    /// Reloads every cache from the store and takes the other nodes' presence from
    /// `presence`; returns every conversation's newest seq, to fill up to.
    async fn reload(&self, presence: &[(String, Vec<i64>)]) -> StoreResult<Vec<(ConvId, u64)>> {
        let mut snapshot = self.store().directory().await?;
        let rooms = self.store().room_snapshot().await?;
        let contacts = self.store().contact_pairs().await?;
        let deleted: HashSet<_> = rooms.deleted.iter().copied().collect();
        snapshot
            .conversations
            .retain(|conv| !deleted.contains(&conv.id));
        let newest: Vec<(ConvId, u64)> = snapshot
            .conversations
            .iter()
            .map(|conv| (conv.id, conv.last_seq))
            .collect();
        self.directory().reconcile(snapshot);
        self.directory().replace_contacts(&contacts);
        self.rooms().refresh(rooms, None);
        let (came, went) = self.inner.presence.replace(presence);
        for user in came {
            if !self.inner.sessions.is_online(user) {
                self.deliver_presence(user, true);
            }
        }
        for user in went {
            if !self.inner.sessions.is_online(user) {
                self.deliver_presence(user, false);
            }
        }
        Ok(newest)
    }

    /// Applies a cache change another node made.
    async fn apply_sync(&self, change: CacheSync) -> StoreResult<()> {
        match change {
            CacheSync::User { id, username } => self
                .directory()
                .add_user(&crate::store::User { id, username }),
            CacheSync::Conversation {
                id,
                room,
                direct,
                members,
            } => {
                let kind = match (room, direct) {
                    (Some(name), _) => ConversationKind::Room(name),
                    (None, Some((a, b))) => ConversationKind::Direct { a, b },
                    (None, None) => return Ok(()),
                };
                let is_room = matches!(kind, ConversationKind::Room(_));
                if is_room {
                    // The state first: the room must never be seen without it (as public).
                    self.rooms()
                        .refresh(self.store().room_snapshot().await?, Some(id));
                }
                self.directory()
                    .add_conversation(&crate::store::Conversation {
                        id,
                        kind,
                        last_seq: 0,
                    });
                for user in members {
                    self.directory().add_member(id, user);
                }
            }
            CacheSync::Room { conv } => self
                .rooms()
                .refresh(self.store().room_snapshot().await?, Some(conv)),
            CacheSync::Removed { conv } => {
                self.directory().remove_conversation(conv);
                self.rooms().remove(conv);
            }
            CacheSync::Hit { limit, key } => self.inner.abuse.hit(limit, &key),
            CacheSync::Contact {
                user,
                contact,
                added,
            } => {
                if added {
                    self.directory().add_contact(user, contact);
                } else {
                    self.directory().remove_contact(user, contact);
                }
            }
        }
        Ok(())
    }

    /// Pushes a ready frame to everyone in the audience but `except` (typing skips the
    /// typist's own sessions; notices go to everyone).
    fn deliver_frame(&self, audience: Audience, frame: Bytes, except: Option<i64>) {
        let push = |user: i64| {
            if Some(user) != except {
                self.inner
                    .sessions
                    .for_sessions(user, |s| s.push(Outbound::Frame(frame.clone())));
            }
        };
        match audience {
            Audience::Conversation(conv) => self
                .directory()
                .members(conv)
                .iter()
                .copied()
                .for_each(push),
            Audience::User(user) => push(user),
            Audience::Circle(user) => self.circle(user).into_iter().for_each(push),
        }
    }

    /// A user and everyone their presence goes to.
    fn circle(&self, user: i64) -> HashSet<i64> {
        let max_room = self.config().session.presence_max_room;
        let mut circle = self.directory().contacts(user, max_room);
        circle.insert(user);
        circle
    }

    fn deliver_presence(&self, user: i64, online: bool) {
        let Some(username) = self.directory().username(user) else {
            return;
        };
        let frame = Bytes::from(
            ServerFrame::Presence(Presence {
                user: username,
                status: if online {
                    PresenceStatus::Online
                } else {
                    PresenceStatus::Offline
                },
            })
            .to_json(),
        );
        let max_room = self.config().session.presence_max_room;
        for contact in self.directory().contacts(user, max_room) {
            self.inner
                .sessions
                .for_sessions(contact, |s| s.push(Outbound::Frame(frame.clone())));
        }
    }

    fn deliver_membership(&self, conv: i64, user: i64, joined: bool) {
        let (Some(ConversationKind::Room(room)), Some(username)) =
            (self.directory().kind(conv), self.directory().username(user))
        else {
            return;
        };
        let frame = Bytes::from(
            ServerFrame::Membership(Membership {
                room,
                user: username,
                change: if joined {
                    MembershipChange::Joined
                } else {
                    MembershipChange::Left
                },
            })
            .to_json(),
        );
        let mut audience = (*self.directory().members(conv)).clone();
        audience.insert(user);
        for member in audience {
            self.inner
                .sessions
                .for_sessions(member, |s| s.push(Outbound::Frame(frame.clone())));
        }
    }
}
