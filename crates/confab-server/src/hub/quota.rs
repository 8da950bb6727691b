//! How many sessions each user has open, over every transport, bounded by
//! `session.max_sessions_per_user`: one more is refused with `rate_limited`. Counted apart from
//! the registry of sessions so that the check and the count are one step.

use dashmap::DashMap;

use crate::store::UserId;

#[derive(Debug, Default)]
pub struct SessionQuota {
    open: DashMap<UserId, usize>,
}

impl SessionQuota {
    /// Counts one more session of `user` if that stays within `max`.
    pub fn try_open(&self, user: UserId, max: usize) -> bool {
        let mut open = self.open.entry(user).or_insert(0);
        if *open >= max {
            return false;
        }
        *open += 1;
        true
    }

    /// One session of `user` closed.
    pub fn close(&self, user: UserId) {
        self.open.remove_if_mut(&user, |_, open| {
            *open = open.saturating_sub(1);
            *open == 0
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_counted_per_user_up_to_the_limit() {
        let quota = SessionQuota::default();
        assert!(quota.try_open(1, 2));
        assert!(quota.try_open(1, 2));
        assert!(!quota.try_open(1, 2), "a third is one too many");
        assert!(quota.try_open(2, 2), "users apart");
        quota.close(1);
        assert!(quota.try_open(1, 2));
        quota.close(1);
        quota.close(1);
        assert!(
            quota.open.get(&1).is_none(),
            "no entry left for a user with none"
        );
    }
}
