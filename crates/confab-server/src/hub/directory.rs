//! The hub's in-memory picture of users, conversations and memberships, loaded from the store
//! at start and kept in step by the hub after each store write. Fan-out reads it on every
//! message, so it is sharded (DashMap) and member sets are shared `Arc`s swapped on change:
//! a reader takes an `Arc` and lets go of the map at once.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use dashmap::DashMap;

use crate::store::{ConvId, Conversation, ConversationKind, Directory as Snapshot, User, UserId};

/// A conversation, what `receiver` names it for one user, and its last sequence number.
pub type Named = (ConvId, String, u64);

/// One conversation as the hub knows it.
#[derive(Debug)]
pub struct ConvEntry {
    pub kind: ConversationKind,
    pub members: Arc<HashSet<UserId>>,
    pub last_seq: AtomicU64,
}

#[derive(Debug, Default)]
pub struct Directory {
    names: DashMap<UserId, String>,
    ids: DashMap<String, UserId>,
    convs: DashMap<ConvId, ConvEntry>,
    rooms: DashMap<String, ConvId>,
    directs: DashMap<(UserId, UserId), ConvId>,
    user_convs: DashMap<UserId, HashSet<ConvId>>,
    /// Who has the key user in their contact list.
    watchers: DashMap<UserId, HashSet<UserId>>,
}

impl Directory {
    pub fn load(snapshot: Snapshot) -> Self {
        let directory = Self::default();
        for user in snapshot.users {
            directory.add_user(&user);
        }
        for conv in snapshot.conversations {
            directory.add_conversation(&conv);
        }
        for (conv, user) in snapshot.members {
            directory.add_member(conv, user);
        }
        directory
    }

    /// Brings the picture in line with a fresh snapshot (after this node was off the bus):
    /// new users and conversations are added (a conversation new to this node with sequence 0,
    /// so everything in it is still to be delivered), vanished ones dropped, member sets
    /// replaced. Sequence numbers of known conversations are kept: they say what was delivered.
    pub fn reconcile(&self, snapshot: Snapshot) {
        for user in &snapshot.users {
            self.add_user(user);
        }
        let live: HashSet<ConvId> = snapshot.conversations.iter().map(|c| c.id).collect();
        let gone: Vec<ConvId> = self
            .convs
            .iter()
            .map(|entry| *entry.key())
            .filter(|conv| !live.contains(conv))
            .collect();
        for conv in gone {
            self.remove_conversation(conv);
        }
        for conv in &snapshot.conversations {
            if !self.convs.contains_key(&conv.id) {
                self.add_conversation(&Conversation {
                    last_seq: 0,
                    ..conv.clone()
                });
            }
        }
        let mut members: std::collections::HashMap<ConvId, HashSet<UserId>> = Default::default();
        for (conv, user) in snapshot.members {
            members.entry(conv).or_default().insert(user);
        }
        for conv in live {
            let want = members.remove(&conv).unwrap_or_default();
            let have = self.members(conv);
            for user in have.difference(&want) {
                self.remove_member(conv, *user);
            }
            for user in want.difference(&have) {
                self.add_member(conv, *user);
            }
        }
    }

    /// Replaces every contact list: `(user, contact)` pairs.
    pub fn replace_contacts(&self, pairs: &[(UserId, UserId)]) {
        self.watchers.clear();
        for (user, contact) in pairs {
            self.add_contact(*user, *contact);
        }
    }

    pub fn add_user(&self, user: &User) {
        self.names.insert(user.id, user.username.clone());
        self.ids.insert(user.username.clone(), user.id);
    }

    pub fn user_id(&self, username: &str) -> Option<UserId> {
        self.ids.get(username).map(|id| *id)
    }

    pub fn username(&self, user: UserId) -> Option<String> {
        self.names.get(&user).map(|name| name.clone())
    }

    /// Adds a conversation if it is new (no-op otherwise).
    pub fn add_conversation(&self, conv: &Conversation) {
        match &conv.kind {
            ConversationKind::Room(name) => {
                self.rooms.insert(name.clone(), conv.id);
            }
            ConversationKind::Direct { a, b } => {
                self.directs.insert((*a, *b), conv.id);
            }
        }
        self.convs.entry(conv.id).or_insert_with(|| ConvEntry {
            kind: conv.kind.clone(),
            members: Arc::default(),
            last_seq: AtomicU64::new(conv.last_seq),
        });
    }

    pub fn room(&self, name: &str) -> Option<ConvId> {
        self.rooms.get(name).map(|id| *id)
    }

    pub fn direct(&self, a: UserId, b: UserId) -> Option<ConvId> {
        self.directs.get(&(a.min(b), a.max(b))).map(|id| *id)
    }

    /// Adds a member to a known conversation (no-op for an unknown or removed one).
    pub fn add_member(&self, conv: ConvId, user: UserId) {
        let Some(mut entry) = self.convs.get_mut(&conv) else {
            return;
        };
        Arc::make_mut(&mut entry.members).insert(user);
        drop(entry);
        self.user_convs.entry(user).or_default().insert(conv);
    }

    /// Forgets a conversation (a deleted room); returns who its members were.
    pub fn remove_conversation(&self, conv: ConvId) -> Vec<UserId> {
        let Some((_, entry)) = self.convs.remove(&conv) else {
            return Vec::new();
        };
        if let ConversationKind::Room(name) = &entry.kind {
            self.rooms.remove_if(name, |_, id| *id == conv);
        }
        for user in entry.members.iter() {
            if let Some(mut convs) = self.user_convs.get_mut(user) {
                convs.remove(&conv);
            }
        }
        entry.members.iter().copied().collect()
    }

    pub fn remove_member(&self, conv: ConvId, user: UserId) {
        if let Some(mut entry) = self.convs.get_mut(&conv) {
            Arc::make_mut(&mut entry.members).remove(&user);
        }
        if let Some(mut convs) = self.user_convs.get_mut(&user) {
            convs.remove(&conv);
        }
    }

    /// The members of a conversation (empty if unknown).
    pub fn members(&self, conv: ConvId) -> Arc<HashSet<UserId>> {
        self.convs
            .get(&conv)
            .map(|entry| entry.members.clone())
            .unwrap_or_default()
    }

    pub fn is_member(&self, conv: ConvId, user: UserId) -> bool {
        self.convs
            .get(&conv)
            .is_some_and(|entry| entry.members.contains(&user))
    }

    /// The newest sequence number known for a conversation.
    pub fn last_seq(&self, conv: ConvId) -> u64 {
        self.convs
            .get(&conv)
            .map_or(0, |entry| entry.last_seq.load(Ordering::Acquire))
    }

    /// Notes a committed message's sequence number.
    pub fn saw_seq(&self, conv: ConvId, seq: u64) {
        if let Some(entry) = self.convs.get(&conv) {
            entry.last_seq.fetch_max(seq, Ordering::AcqRel);
        }
    }

    /// The user's conversations with what `receiver` names them for this user, and their last
    /// sequence numbers: rooms first, then direct conversations, each sorted by name.
    pub fn conversations_of(&self, user: UserId) -> (Vec<Named>, Vec<Named>) {
        let convs: Vec<ConvId> = self
            .user_convs
            .get(&user)
            .map(|set| set.iter().copied().collect())
            .unwrap_or_default();
        let (mut rooms, mut directs) = (Vec::new(), Vec::new());
        for conv in convs {
            let Some(entry) = self.convs.get(&conv) else {
                continue;
            };
            let last = entry.last_seq.load(Ordering::Acquire);
            match &entry.kind {
                ConversationKind::Room(name) => rooms.push((conv, name.clone(), last)),
                ConversationKind::Direct { a, b } => {
                    let peer = if *a == user { *b } else { *a };
                    if let Some(name) = self.username(peer) {
                        directs.push((conv, name, last));
                    }
                }
            }
        }
        rooms.sort_by(|x, y| x.1.cmp(&y.1));
        directs.sort_by(|x, y| x.1.cmp(&y.1));
        (rooms, directs)
    }

    /// Notes that `user` has `contact` in their contact list.
    pub fn add_contact(&self, user: UserId, contact: UserId) {
        self.watchers.entry(contact).or_default().insert(user);
    }

    pub fn remove_contact(&self, user: UserId, contact: UserId) {
        self.watchers.remove_if_mut(&contact, |_, watchers| {
            watchers.remove(&user);
            watchers.is_empty()
        });
    }

    /// Everyone who has the user as a contact, or shares a direct conversation or a room of at
    /// most `max_room` members with them: presence and profile changes go to them. Bigger
    /// rooms are left out so one login does not cost a frame per member of a huge room; their
    /// members read `online` from `members`.
    pub fn contacts(&self, user: UserId, max_room: usize) -> HashSet<UserId> {
        let convs: Vec<ConvId> = self
            .user_convs
            .get(&user)
            .map(|set| set.iter().copied().collect())
            .unwrap_or_default();
        let mut contacts = self
            .watchers
            .get(&user)
            .map(|watchers| watchers.clone())
            .unwrap_or_default();
        for conv in convs {
            let members = self.members(conv);
            let direct = matches!(self.kind(conv), Some(ConversationKind::Direct { .. }));
            if direct || members.len() <= max_room {
                contacts.extend(members.iter().copied());
            }
        }
        contacts.remove(&user);
        contacts
    }

    /// Every room: name, member count.
    pub fn rooms(&self) -> Vec<(ConvId, String, usize)> {
        let mut rooms: Vec<_> = self
            .rooms
            .iter()
            .filter_map(|room| {
                let conv = *room.value();
                let count = self.convs.get(&conv)?.members.len();
                Some((conv, room.key().clone(), count))
            })
            .collect();
        rooms.sort_by(|x, y| x.1.cmp(&y.1));
        rooms
    }

    /// How a conversation is named in frames for `user`: the room, or the peer's name.
    pub fn kind(&self, conv: ConvId) -> Option<ConversationKind> {
        self.convs.get(&conv).map(|entry| entry.kind.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presence_reaches_watchers_without_a_shared_room() {
        let directory = Directory::default();
        directory.add_contact(1, 2);
        directory.add_contact(3, 2);
        assert_eq!(directory.contacts(2, 10), HashSet::from([1, 3]));
        // Contacts are one-way: 1 watches 2, not the other way round.
        assert!(directory.contacts(1, 10).is_empty());
        directory.remove_contact(1, 2);
        assert_eq!(directory.contacts(2, 10), HashSet::from([3]));
        directory.remove_contact(3, 2);
        assert!(directory.contacts(2, 10).is_empty());
    }

    #[test]
    fn reconcile_adds_new_conversations_from_zero_and_keeps_known_seqs() {
        let user = |id, name: &str| User {
            id,
            username: name.into(),
        };
        let room = |id, last_seq| Conversation {
            id,
            kind: ConversationKind::Room(format!("#r{id}")),
            last_seq,
        };
        let directory = Directory::load(Snapshot {
            users: vec![user(1, "a")],
            conversations: vec![room(10, 5), room(11, 2)],
            members: vec![(10, 1), (11, 1)],
        });
        directory.saw_seq(10, 6);
        directory.reconcile(Snapshot {
            users: vec![user(1, "a"), user(2, "b")],
            conversations: vec![room(10, 9), room(12, 4)],
            members: vec![(10, 2), (12, 1)],
        });
        assert_eq!(directory.user_id("b"), Some(2));
        assert_eq!(directory.last_seq(10), 6, "what was delivered stays");
        assert_eq!(
            directory.last_seq(12),
            0,
            "a new conversation starts from zero"
        );
        assert!(
            directory.kind(11).is_none(),
            "a vanished conversation is dropped"
        );
        assert_eq!(*directory.members(10), HashSet::from([2]));
        assert!(directory.is_member(12, 1));
    }
}
