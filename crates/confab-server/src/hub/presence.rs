//! Who is online on the other nodes. A user is online when they have a session here (the
//! session registry) or on any live node (this map). The dispatcher keeps the map from what
//! the bus says: live presence events, the list of live nodes, and a full snapshot when the
//! node gets back on the bus. Every change answers whether the user's cluster-wide state may
//! have flipped, so a presence frame goes out only when it did.

use std::collections::{HashMap, HashSet};

use dashmap::DashMap;

use crate::store::UserId;

#[derive(Debug, Default)]
pub struct RemotePresence {
    /// Users online elsewhere, with the nodes they are on.
    users: DashMap<UserId, HashSet<String>>,
}

impl RemotePresence {
    /// Whether the user has a session on another node.
    pub fn is_online(&self, user: UserId) -> bool {
        self.users.contains_key(&user)
    }

    /// Notes the user online or offline on `node`; true when they were online on no other
    /// node before (coming online) or are on none now (going offline).
    pub fn set(&self, node: &str, user: UserId, online: bool) -> bool {
        if online {
            let mut nodes = self.users.entry(user).or_default();
            let first = nodes.is_empty();
            nodes.insert(node.to_owned());
            first
        } else {
            let mut gone = false;
            self.users.remove_if_mut(&user, |_, nodes| {
                nodes.remove(node);
                gone = nodes.is_empty();
                gone
            });
            gone
        }
    }

    /// Keeps only what the live nodes say; returns the users now offline everywhere else.
    pub fn retain_nodes(&self, live: &HashSet<String>) -> Vec<UserId> {
        let mut gone = Vec::new();
        self.users.retain(|user, nodes| {
            nodes.retain(|node| live.contains(node));
            if nodes.is_empty() {
                gone.push(*user);
            }
            !nodes.is_empty()
        });
        gone
    }

    /// Replaces everything with a snapshot; returns who came online and who went offline
    /// (on the other nodes).
    pub fn replace(&self, snapshot: &[(String, Vec<UserId>)]) -> (Vec<UserId>, Vec<UserId>) {
        let mut next: HashMap<UserId, HashSet<String>> = HashMap::new();
        for (node, users) in snapshot {
            for user in users {
                next.entry(*user).or_default().insert(node.clone());
            }
        }
        let before: HashSet<UserId> = self.users.iter().map(|e| *e.key()).collect();
        let after: HashSet<UserId> = next.keys().copied().collect();
        self.users.clear();
        for (user, nodes) in next {
            self.users.insert(user, nodes);
        }
        (
            after.difference(&before).copied().collect(),
            before.difference(&after).copied().collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_is_offline_once_no_node_has_them() {
        let presence = RemotePresence::default();
        assert!(presence.set("a", 1, true));
        assert!(!presence.set("b", 1, true));
        assert!(!presence.set("a", 1, false));
        assert!(presence.is_online(1));
        assert!(presence.set("b", 1, false));
        assert!(!presence.is_online(1));
    }

    #[test]
    fn a_dead_node_takes_its_users_offline() {
        let presence = RemotePresence::default();
        presence.set("a", 1, true);
        presence.set("b", 2, true);
        presence.set("a", 2, true);
        let gone = presence.retain_nodes(&HashSet::from(["b".to_owned()]));
        assert_eq!(gone, vec![1]);
        assert!(presence.is_online(2));
    }

    #[test]
    fn a_snapshot_reports_the_difference() {
        let presence = RemotePresence::default();
        presence.set("a", 1, true);
        let (came, went) = presence.replace(&[("b".into(), vec![2])]);
        assert_eq!((came, went), (vec![2], vec![1]));
        assert!(presence.is_online(2) && !presence.is_online(1));
    }
}
