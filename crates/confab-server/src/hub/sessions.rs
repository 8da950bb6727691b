//! Who is online: every open session, by user, with its bounded outbound queue. Pushing to a
//! session never waits: a queue that stays over its byte bound (see [`super::queue`]) or
//! reaches its frame bound marks the session a slow consumer and closes it (it will reconnect
//! and catch up), so one slow reader cannot hold up anyone else or grow memory.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use confab_protocol::close;
use dashmap::DashMap;
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

use super::queue::{Level, QueueBytes, ITEM_OVERHEAD};
use super::ratelimit::TokenBucket;
use crate::auth::TokenHash;
use crate::store::{ConvId, UserId};

/// One item in a session's outbound queue.
#[derive(Debug, Clone)]
pub enum Outbound {
    /// A frame to send as is.
    Frame(Bytes),
    /// Message `seq` of `conv`: sent once per session (a copy catch-up already sent is
    /// skipped) and counted toward the user's delivery cursor when written.
    Message {
        conv: ConvId,
        seq: u64,
        frame: Bytes,
    },
    /// The ack of the session's own message `seq` of `conv`: always sent (it answers a frame)
    /// and counted toward the cursor like the message.
    Ack {
        conv: ConvId,
        seq: u64,
        frame: Bytes,
    },
    /// Close the connection with this code after what was queued before it.
    Close { code: u16, reason: &'static str },
}

impl Outbound {
    /// What the item counts toward its queue's byte bound.
    pub fn size(&self) -> usize {
        ITEM_OVERHEAD
            + match self {
                Self::Frame(frame) | Self::Message { frame, .. } | Self::Ack { frame, .. } => {
                    frame.len()
                }
                Self::Close { .. } => 0,
            }
    }
}

/// Asks a session to close from outside its own task.
#[derive(Debug, Default)]
pub struct SessionControl {
    code: AtomicU16,
    reason: Mutex<&'static str>,
    cancel: CancellationToken,
}

impl SessionControl {
    /// Closes the session with `code`; the first call wins.
    pub fn close(&self, code: u16, reason: &'static str) {
        if self
            .code
            .compare_exchange(0, code, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            *self.reason.lock().expect("reason lock") = reason;
        }
        self.cancel.cancel();
    }

    /// The close code and reason asked for, if any.
    pub fn requested(&self) -> Option<(u16, &'static str)> {
        match self.code.load(Ordering::Acquire) {
            0 => None,
            code => Some((code, *self.reason.lock().expect("reason lock"))),
        }
    }

    /// Resolves once a close was asked for.
    pub async fn closed(&self) {
        self.cancel.cancelled().await
    }

    pub fn is_closed(&self) -> bool {
        self.cancel.is_cancelled()
    }
}

/// The hub's handle on one session.
#[derive(Debug, Clone)]
pub struct SessionHandle {
    pub id: u64,
    pub user: UserId,
    pub token: TokenHash,
    tx: mpsc::Sender<Outbound>,
    pub control: Arc<SessionControl>,
    /// The session's entries sent but not yet acked to it. A permit is taken per entry and
    /// comes back when its ack leaves the outbound queue, so acks can never fill the queue.
    pub in_flight: Arc<Semaphore>,
    /// The bytes in the outbound queue, against its bound.
    pub queue: Arc<QueueBytes>,
    /// When the session's credential expires (Unix seconds; 0: never).
    expires_at: Arc<std::sync::atomic::AtomicI64>,
}

impl SessionHandle {
    pub fn new(
        id: u64,
        user: UserId,
        token: TokenHash,
        tx: mpsc::Sender<Outbound>,
        in_flight: usize,
        queue: QueueBytes,
    ) -> Self {
        Self {
            id,
            user,
            token,
            tx,
            control: Arc::new(SessionControl::default()),
            in_flight: Arc::new(Semaphore::new(in_flight)),
            queue: Arc::new(queue),
            expires_at: Arc::default(),
        }
    }

    /// Closes the session with 4003 at `at` (Unix seconds), unless [`Self::extend`] moves it;
    /// the first call starts the clock.
    pub fn expire_at(&self, at: i64) {
        self.expires_at.store(at, Ordering::Release);
        let expires_at = self.expires_at.clone();
        let control = self.control.clone();
        tokio::spawn(async move {
            loop {
                let at = expires_at.load(Ordering::Acquire);
                let left = at - crate::auth::jwt::unix_now();
                if left <= 0 {
                    control.close(close::TOKEN_EXPIRED, "token expired");
                    return;
                }
                tokio::select! {
                    () = tokio::time::sleep(std::time::Duration::from_secs(left as u64)) => {}
                    () = control.closed() => return,
                }
            }
        });
    }

    /// Whether the session expires (it was opened with a JWT).
    pub fn expires(&self) -> bool {
        self.expires_at.load(Ordering::Acquire) != 0
    }

    /// Moves the expiry later (never earlier).
    pub fn extend(&self, at: i64) {
        self.expires_at.fetch_max(at, Ordering::AcqRel);
    }

    /// Queues an item without waiting. A queue at its frame bound, or at twice its byte bound,
    /// closes the session as a slow consumer at once; one over its byte bound starts the grace
    /// period after which it closes unless it drained.
    pub fn push(&self, item: Outbound) {
        let size = item.size();
        let level = self.queue.add(size);
        match self.tx.try_send(item) {
            Ok(()) => {}
            Err(err) => {
                self.queue.remove(size);
                if let mpsc::error::TrySendError::Full(_) = err {
                    tracing::warn!(session = self.id, "slow consumer: outbound queue full");
                    self.control
                        .close(close::SLOW_CONSUMER, "slow consumer: outbound queue full");
                }
                return;
            }
        }
        match level {
            Level::Under | Level::Over => {}
            Level::CrossedOver => self.queue.start_grace(self.id, self.control.clone()),
            Level::Overflowing => {
                tracing::warn!(
                    session = self.id,
                    "slow consumer: outbound queue at twice its bound"
                );
                self.control
                    .close(close::SLOW_CONSUMER, "slow consumer: outbound queue full");
            }
        }
    }
}

/// A user with at least one open session.
#[derive(Debug)]
struct OnlineUser {
    sessions: Vec<SessionHandle>,
    messages: Arc<Mutex<TokenBucket>>,
}

/// Every open session, by user.
#[derive(Debug, Default)]
pub struct Registry {
    users: DashMap<UserId, OnlineUser>,
}

impl Registry {
    /// Adds a session unless its user has `max` already (then false); `on_first` runs (under
    /// the user's entry lock, so presence changes cannot overtake each other) when it is the
    /// user's first.
    pub fn add(
        &self,
        session: SessionHandle,
        max: usize,
        bucket: impl FnOnce() -> TokenBucket,
        on_first: impl FnOnce(),
    ) -> bool {
        let mut online = self.users.entry(session.user).or_insert_with(|| {
            on_first();
            OnlineUser {
                sessions: Vec::new(),
                messages: Arc::new(Mutex::new(bucket())),
            }
        });
        if online.sessions.len() >= max {
            return false;
        }
        online.sessions.push(session);
        true
    }

    /// Removes a session; `on_last` runs (under the user's entry lock) when it was the last.
    pub fn remove(&self, user: UserId, session: u64, on_last: impl FnOnce()) {
        let mut on_last = Some(on_last);
        self.users.remove_if_mut(&user, |_, online| {
            online.sessions.retain(|s| s.id != session);
            let last = online.sessions.is_empty();
            if last {
                if let Some(on_last) = on_last.take() {
                    on_last();
                }
            }
            last
        });
    }

    pub fn is_online(&self, user: UserId) -> bool {
        self.users.contains_key(&user)
    }

    /// The user's message bucket, shared by their sessions.
    pub fn message_bucket(&self, user: UserId) -> Option<Arc<Mutex<TokenBucket>>> {
        self.users.get(&user).map(|online| online.messages.clone())
    }

    /// Calls `each` for every session of `user`.
    pub fn for_sessions(&self, user: UserId, mut each: impl FnMut(&SessionHandle)) {
        if let Some(online) = self.users.get(&user) {
            online.sessions.iter().for_each(&mut each);
        }
    }

    /// Every open session, for shutdown.
    pub fn all(&self) -> Vec<SessionHandle> {
        self.users
            .iter()
            .flat_map(|online| online.sessions.clone())
            .collect()
    }
}
