//! The hub's in-memory picture of room settings and host powers: visibility, password hash,
//! topic, owner, moderators, running mutes and bans, loaded from the store at start and
//! updated by the hub after each store write. `check_can_post` reads it for every message, so
//! it is a sharded map and a check is one shard read lock, no query.
//!
//! Also here: the locks that keep a change's store write and its cache update together, and
//! the per-user budget of room password attempts.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};

use confab_protocol::{Role, Visibility};
use dashmap::DashMap;

use super::ratelimit::TokenBucket;
use crate::config::RoomLimits;
use crate::store::rooms::{RoomSettings, RoomSnapshot};
use crate::store::{ConvId, UserId};

/// Membership locks, striped by (room, user).
const MEMBER_LOCKS: usize = 64;
/// Admin locks, striped by room.
const ADMIN_LOCKS: usize = 16;

/// One room's settings and powers.
#[derive(Debug, Clone, Default)]
pub struct RoomState {
    pub visibility: Visibility,
    /// argon2id hash; shared so a join can verify against it without holding the map.
    pub password_hash: Option<Arc<str>>,
    pub topic: String,
    pub owner: Option<UserId>,
    pub moderators: HashSet<UserId>,
    /// Mute ends, in ms since the epoch; an entry in the past is no mute.
    pub mutes: HashMap<UserId, i64>,
    pub bans: HashSet<UserId>,
    /// Set while the room is being deleted: nobody may post or join.
    pub closing: bool,
}

impl RoomState {
    pub fn new(settings: RoomSettings) -> Self {
        Self {
            visibility: settings.visibility,
            password_hash: settings.password_hash.map(Arc::from),
            topic: settings.topic,
            ..Self::default()
        }
    }

    /// The user's role, assuming they are a member.
    pub fn role(&self, user: UserId) -> Role {
        if self.owner == Some(user) {
            Role::Owner
        } else if self.moderators.contains(&user) {
            Role::Moderator
        } else {
            Role::Member
        }
    }

    /// When the user's mute ends, if it is still running at `now`.
    pub fn muted_until(&self, user: UserId, now: i64) -> Option<i64> {
        self.mutes.get(&user).copied().filter(|&until| until > now)
    }

    /// Sets a member's role (owner included).
    pub fn set_role(&mut self, user: UserId, role: Role) {
        self.moderators.remove(&user);
        if self.owner == Some(user) {
            self.owner = None;
        }
        match role {
            Role::Owner => self.owner = Some(user),
            Role::Moderator => {
                self.moderators.insert(user);
            }
            Role::Member => {}
        }
    }
}

/// Every room's state, the locks around changes, and the password attempt budgets.
pub struct RoomStates {
    rooms: DashMap<ConvId, RoomState>,
    /// Held by every host action (and `leave`) across its checks, store write and cache
    /// update, so no two of them on one room interleave. Joins do not take it.
    admin: Box<[tokio::sync::Mutex<()>]>,
    /// Held across one user's membership change in one room (join, kick, ban, leave), so a
    /// join and a kick of the same user cannot leave the directory and the store disagreeing.
    members: Box<[tokio::sync::Mutex<()>]>,
    hasher: std::collections::hash_map::RandomState,
    attempts: DashMap<UserId, Mutex<TokenBucket>>,
    limits: RoomLimits,
}

/// Every room's state in a snapshot.
fn states(snapshot: RoomSnapshot) -> HashMap<ConvId, RoomState> {
    let mut rooms: HashMap<ConvId, RoomState> = snapshot
        .rooms
        .into_iter()
        .map(|(conv, settings)| (conv, RoomState::new(settings)))
        .collect();
    for (conv, user, role) in snapshot.roles {
        if let Some(room) = rooms.get_mut(&conv) {
            room.set_role(user, role);
        }
    }
    for (conv, user, until) in snapshot.mutes {
        if let Some(room) = rooms.get_mut(&conv) {
            room.mutes.insert(user, until);
        }
    }
    for (conv, user) in snapshot.bans {
        if let Some(room) = rooms.get_mut(&conv) {
            room.bans.insert(user);
        }
    }
    rooms
}

impl RoomStates {
    pub fn load(snapshot: RoomSnapshot, limits: RoomLimits) -> Self {
        let rooms: DashMap<ConvId, RoomState> = states(snapshot).into_iter().collect();
        Self {
            rooms,
            admin: (0..ADMIN_LOCKS)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            members: (0..MEMBER_LOCKS)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            hasher: Default::default(),
            attempts: DashMap::new(),
            limits,
        }
    }

    /// Replaces the state of every room (or only of `only`) with what a fresh snapshot says,
    /// after another node changed it. A room this node is deleting stays closing.
    pub fn refresh(&self, snapshot: RoomSnapshot, only: Option<ConvId>) {
        let wanted = |conv: ConvId| only.is_none_or(|only| only == conv);
        let deleted = snapshot.deleted.clone();
        for (conv, mut state) in states(snapshot) {
            if wanted(conv) {
                state.closing = self.rooms.get(&conv).is_some_and(|room| room.closing);
                self.rooms.insert(conv, state);
            }
        }
        for conv in deleted.into_iter().filter(|conv| wanted(*conv)) {
            self.rooms.remove(&conv);
        }
    }

    /// A copy of the room's state; the default (public, no owner) for a room created
    /// without one (`#general`).
    pub fn get(&self, conv: ConvId) -> RoomState {
        self.rooms
            .get(&conv)
            .map(|room| room.clone())
            .unwrap_or_default()
    }

    /// Reads the room's state without copying it; `None` for a room without state (a direct
    /// conversation, `#general`).
    pub fn read<R>(&self, conv: ConvId, f: impl FnOnce(&RoomState) -> R) -> Option<R> {
        self.rooms.get(&conv).map(|room| f(&room))
    }

    /// Changes the room's state, creating it if it has none yet.
    pub fn update<R>(&self, conv: ConvId, f: impl FnOnce(&mut RoomState) -> R) -> R {
        f(&mut self.rooms.entry(conv).or_default())
    }

    pub fn insert(&self, conv: ConvId, state: RoomState) {
        self.rooms.insert(conv, state);
    }

    pub fn remove(&self, conv: ConvId) {
        self.rooms.remove(&conv);
    }

    /// The user's role, assuming they are a member.
    pub fn role(&self, conv: ConvId, user: UserId) -> Role {
        self.read(conv, |room| room.role(user)).unwrap_or_default()
    }

    /// Forgets the role of a user who is no longer a member.
    pub fn left(&self, conv: ConvId, user: UserId) {
        if let Some(mut room) = self.rooms.get_mut(&conv) {
            room.moderators.remove(&user);
            if room.owner == Some(user) {
                room.owner = None;
            }
        }
    }

    /// The admin lock of a room.
    pub fn admin_lock(&self, conv: ConvId) -> &tokio::sync::Mutex<()> {
        &self.admin[(conv.unsigned_abs() as usize) % self.admin.len()]
    }

    /// The lock for one user's membership of one room.
    pub fn member_lock(&self, conv: ConvId, user: UserId) -> &tokio::sync::Mutex<()> {
        let slot = self.hasher.hash_one((conv, user)) as usize;
        &self.members[slot % self.members.len()]
    }

    /// Takes one room password attempt from the user's budget; false when it is spent.
    pub fn try_password_attempt(&self, user: UserId) -> bool {
        let limits = self.limits;
        self.attempts
            .entry(user)
            .or_insert_with(|| {
                Mutex::new(TokenBucket::new(
                    limits.password_attempts_per_sec,
                    limits.password_attempts_burst,
                ))
            })
            .lock()
            .expect("attempts lock")
            .try_take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_snapshot_becomes_roles_mutes_and_bans() {
        let snapshot = RoomSnapshot {
            rooms: vec![(
                1,
                RoomSettings {
                    visibility: Visibility::Private,
                    password_hash: Some("h".into()),
                    topic: "t".into(),
                },
            )],
            roles: vec![
                (1, 10, Role::Owner),
                (1, 11, Role::Moderator),
                (2, 12, Role::Owner),
            ],
            mutes: vec![(1, 13, 5_000)],
            bans: vec![(1, 14)],
            deleted: vec![],
        };
        let states = RoomStates::load(snapshot, RoomLimits::default());
        let room = states.get(1);
        assert_eq!(room.visibility, Visibility::Private);
        assert_eq!(room.password_hash.as_deref(), Some("h"));
        assert_eq!(states.role(1, 10), Role::Owner);
        assert_eq!(states.role(1, 11), Role::Moderator);
        assert_eq!(states.role(1, 13), Role::Member);
        assert_eq!(room.muted_until(13, 4_999), Some(5_000));
        assert_eq!(room.muted_until(13, 5_000), None);
        assert!(room.bans.contains(&14));
        // Unknown rooms (#general, direct conversations) have no powers.
        assert_eq!(states.role(2, 12), Role::Member);
        assert!(states.read(2, |_| ()).is_none());

        states.update(1, |room| room.set_role(11, Role::Owner));
        assert_eq!(states.role(1, 11), Role::Owner);
        assert_eq!(states.role(1, 10), Role::Member, "one owner at a time");
        states.left(1, 11);
        assert_eq!(states.get(1).owner, None);
    }

    #[test]
    fn password_attempts_are_budgeted_per_user() {
        let limits = RoomLimits {
            password_attempts_burst: 2.0,
            password_attempts_per_sec: 0.001,
            ..RoomLimits::default()
        };
        let states = RoomStates::load(RoomSnapshot::default(), limits);
        assert!(states.try_password_attempt(1));
        assert!(states.try_password_attempt(1));
        assert!(!states.try_password_attempt(1));
        assert!(states.try_password_attempt(2));
    }
}
