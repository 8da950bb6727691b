//! Delivery cursors: per user and conversation, the highest sequence number written to any of
//! the user's sessions. A new session is pushed everything after its user's cursor. Cursors
//! move in memory on every write and reach the store in batches (every flush interval and at
//! shutdown), so tracking them costs no write per delivered message.

use std::collections::HashMap;
use std::sync::Mutex;

use dashmap::DashMap;

use crate::store::{ConvId, Store, StoreResult, UserId};

#[derive(Debug, Default)]
pub struct Cursors {
    latest: DashMap<(UserId, ConvId), u64>,
    dirty: Mutex<HashMap<(UserId, ConvId), u64>>,
}

impl Cursors {
    /// Records that message `seq` reached one of `user`'s sessions.
    pub fn advance(&self, user: UserId, conv: ConvId, seq: u64) {
        let mut entry = self.latest.entry((user, conv)).or_insert(0);
        if *entry < seq {
            *entry = seq;
            drop(entry);
            self.dirty
                .lock()
                .expect("cursor lock")
                .insert((user, conv), seq);
        }
    }

    /// The cursor as known in memory (the store may know an older one).
    pub fn get(&self, user: UserId, conv: ConvId) -> Option<u64> {
        self.latest.get(&(user, conv)).map(|seq| *seq)
    }

    /// Forgets every cursor in a conversation (a deleted room).
    pub fn forget_conversation(&self, conv: ConvId) {
        self.dirty
            .lock()
            .expect("cursor lock")
            .retain(|&(_, c), _| c != conv);
        self.latest.retain(|&(_, c), _| c != conv);
    }

    /// Writes the cursors that moved since the last flush, and returns them.
    pub async fn flush(&self, store: &dyn Store) -> StoreResult<Vec<(UserId, ConvId, u64)>> {
        let batch: Vec<_> = std::mem::take(&mut *self.dirty.lock().expect("cursor lock"))
            .into_iter()
            .map(|((user, conv), seq)| (user, conv, seq))
            .collect();
        if batch.is_empty() {
            return Ok(batch);
        }
        let result = store.save_cursors(batch.clone()).await;
        if let Err(err) = result {
            // Keep them for the next flush, unless they moved on meanwhile.
            let mut dirty = self.dirty.lock().expect("cursor lock");
            for (user, conv, seq) in batch {
                dirty.entry((user, conv)).or_insert(seq);
            }
            return Err(err);
        }
        Ok(batch)
    }
}
