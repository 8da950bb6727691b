//! The PostgreSQL store, for several confab nodes on one database: a connection pool
//! (deadpool-postgres over tokio-postgres, no TLS: loopback or a private network), one
//! group-commit writer task per store ([`writer`]) and reads straight on pooled connections.
//! It behaves as [`super::sqlite`] does (the reference); what differs is said where it is done:
//! seqs are taken under a row lock on the conversation (see [`writer`]), idempotency keys are a
//! unique index that a concurrent duplicate from another node meets (`ON CONFLICT DO NOTHING`,
//! then the original is read back), and search is a case-insensitive substring match
//! (`ILIKE`) instead of SQLite's trigram index.
//!
//! Selected by a `postgres://` URL (see [`url`]); migrations run at open ([`schema`]).

mod attachments;
mod chats;
mod messages;
mod queries;
mod rooms;
mod schema;
mod search;
mod sessions;
mod social;
mod sql;
pub mod url;
mod writer;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use futures_util::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::NoTls;

use super::{
    Appended, ChatRow, CommitFeed, CommitObserver, Committed, ConvId, Conversation, Credentials,
    Directory, NewMessage, Page, SearchQuery, Store, StoreError, StoreResult, StoredMessage,
    Unread, User, UserId,
};
use crate::auth::TokenHash;
use crate::clock;
use sql::{exec, opt};
use writer::{Completion, Job, WriterCtx};

pub use sql::STATEMENT_DEADLINE;

/// Connections per store unless told otherwise (the writer uses one at a time).
pub const DEFAULT_POOL_SIZE: usize = 16;
/// How long a caller waits for a free connection, or for a new one to be made.
const POOL_WAIT: Duration = Duration::from_secs(5);

/// The PostgreSQL [`Store`].
pub struct PgStore {
    pool: Pool,
    jobs: Mutex<Option<mpsc::UnboundedSender<Job>>>,
    writer: Mutex<Option<tokio::task::JoinHandle<()>>>,
    closed: AtomicBool,
    feed: Arc<CommitFeed>,
}

impl PgStore {
    /// Connects to `url`, applies the migrations and starts the writer.
    pub async fn open(url: &str, max_batch: usize, feed: CommitFeed) -> StoreResult<Self> {
        Self::open_observed(url, max_batch, DEFAULT_POOL_SIZE, feed, Arc::new(())).await
    }

    /// [`PgStore::open`] with `pool_size` connections at most, telling `observer` about every
    /// batch committed.
    pub async fn open_observed(
        url: &str,
        max_batch: usize,
        pool_size: usize,
        feed: CommitFeed,
        observer: Arc<dyn CommitObserver>,
    ) -> StoreResult<Self> {
        let parsed = url::parse(url)?;
        let manager = Manager::from_config(
            parsed.config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(2))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(POOL_WAIT))
            .recycle_timeout(Some(POOL_WAIT))
            .build()
            .map_err(|e| StoreError::Backend(format!("cannot make the connection pool: {e}")))?;
        schema::migrate(&pool, parsed.schema.as_deref()).await?;
        let (tx, rx) = mpsc::unbounded_channel();
        let writer = tokio::spawn(writer::run(pool.clone(), rx, max_batch, observer));
        tracing::info!(database = %url::redact(url), "postgres store open");
        Ok(Self {
            pool,
            jobs: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(writer)),
            closed: AtomicBool::new(false),
            feed: Arc::new(feed),
        })
    }

    /// The connection pool, to share with other users of the same database (a blob store).
    pub fn pool(&self) -> Pool {
        self.pool.clone()
    }

    fn enqueue(&self, job: Job) -> StoreResult<()> {
        let jobs = self.jobs.lock().expect("jobs lock");
        match jobs.as_ref() {
            Some(tx) => tx
                .send(job)
                .map_err(|_| StoreError::Backend("store writer stopped".into())),
            None => Err(StoreError::Backend("store is closed".into())),
        }
    }

    /// Queues a write and returns a future for its committed result.
    fn write<T, F>(&self, lock: Option<ConvId>, work: F) -> BoxFuture<'static, StoreResult<T>>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a mut WriterCtx) -> BoxFuture<'a, StoreResult<T>> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job = Job {
            lock,
            work: Box::new(move |ctx| {
                Box::pin(async move {
                    match work(ctx).await {
                        Ok(value) => (true, reply(tx, value)),
                        Err(err) => {
                            let done: Completion = Box::new(move |_| drop(tx.send(Err(err))));
                            (false, done)
                        }
                    }
                })
            }),
        };
        let queued = self.enqueue(job);
        Box::pin(async move {
            queued?;
            rx.await.unwrap_or_else(|_| Err(not_committed()))
        })
    }

    /// A pooled connection for a read; refused once the store is closed.
    async fn conn(&self) -> StoreResult<Object> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Backend("store closed".into()));
        }
        self.pool.get().await.map_err(sql::pool)
    }
}

fn reply<T: Send + 'static>(tx: oneshot::Sender<StoreResult<T>>, value: T) -> Completion {
    Box::new(move |commit| {
        let _ = tx.send(commit.map(|()| value).map_err(StoreError::Unavailable));
    })
}

/// A write whose job never ran: its batch had no connection, or lost it before its turn.
fn not_committed() -> StoreError {
    StoreError::Unavailable("the write was not committed".into())
}

#[async_trait]
impl Store for PgStore {
    async fn create_user(
        &self,
        username: &str,
        password_hash: &str,
        default_room: &str,
    ) -> StoreResult<(User, Conversation)> {
        let (username, hash, room) = (
            username.to_owned(),
            password_hash.to_owned(),
            default_room.to_owned(),
        );
        self.write(None, move |ctx| {
            Box::pin(async move {
                let now = clock::now_ms();
                let c = &ctx.client;
                let inserted = opt(
                    c,
                    "INSERT INTO users (username, password_hash, created_ms) VALUES ($1, $2, $3)
                     ON CONFLICT (username) DO NOTHING RETURNING id",
                    &[&username, &hash, &now],
                )
                .await?;
                let Some(row) = inserted else {
                    return Err(StoreError::Conflict(format!(
                        "username {username} is taken"
                    )));
                };
                let user = User {
                    id: row.get(0),
                    username,
                };
                let conv = queries::room_get_or_create(c, &room, now).await?;
                queries::add_member(c, conv.id, user.id, conv.last_seq, now).await?;
                Ok((user, conv))
            })
        })
        .await
    }

    async fn credentials(&self, username: &str) -> StoreResult<Option<Credentials>> {
        let c = self.conn().await?;
        let row = opt(
            &c,
            "SELECT id, username, password_hash FROM users WHERE username = $1",
            &[&username],
        )
        .await?;
        Ok(row.map(|r| Credentials {
            user: User {
                id: r.get(0),
                username: r.get(1),
            },
            password_hash: r.get(2),
        }))
    }

    async fn user_by_token(&self, token: TokenHash) -> StoreResult<Option<User>> {
        let c = self.conn().await?;
        let row = opt(
            &c,
            "SELECT u.id, u.username FROM tokens t JOIN users u ON u.id = t.user_id
             WHERE t.hash = $1",
            &[&&token.0[..]],
        )
        .await?;
        Ok(row.map(|r| User {
            id: r.get(0),
            username: r.get(1),
        }))
    }

    async fn revoke_token(&self, token: TokenHash) -> StoreResult<bool> {
        self.write(None, move |ctx| {
            Box::pin(async move {
                let removed = exec(
                    &ctx.client,
                    "DELETE FROM tokens WHERE hash = $1",
                    &[&&token.0[..]],
                )
                .await?;
                Ok(removed > 0)
            })
        })
        .await
    }

    async fn directory(&self) -> StoreResult<Directory> {
        let c = self.conn().await?;
        queries::directory(&c).await
    }

    async fn room(&self, name: &str) -> StoreResult<Conversation> {
        let name = name.to_owned();
        self.write(None, move |ctx| {
            Box::pin(async move {
                queries::room_get_or_create(&ctx.client, &name, clock::now_ms()).await
            })
        })
        .await
    }

    async fn join(&self, conv: ConvId, user: UserId) -> StoreResult<bool> {
        self.write(None, move |ctx| {
            Box::pin(async move {
                let c = &ctx.client;
                let last_seq = opt(
                    c,
                    "SELECT last_seq FROM conversations WHERE id = $1",
                    &[&conv],
                )
                .await?
                .map(|r| sql::unsigned(&r, 0))
                .ok_or_else(|| StoreError::NotFound("no such conversation".into()))?;
                queries::add_member(c, conv, user, last_seq, clock::now_ms()).await
            })
        })
        .await
    }

    async fn leave(&self, conv: ConvId, user: UserId) -> StoreResult<bool> {
        self.write(None, move |ctx| {
            Box::pin(async move {
                let removed = exec(
                    &ctx.client,
                    "DELETE FROM members WHERE conv_id = $1 AND user_id = $2",
                    &[&conv, &user],
                )
                .await?;
                Ok(removed > 0)
            })
        })
        .await
    }

    async fn direct(&self, a: UserId, b: UserId) -> StoreResult<Conversation> {
        let (a, b) = (a.min(b), a.max(b));
        self.write(None, move |ctx| {
            Box::pin(async move {
                queries::direct_get_or_create(&ctx.client, a, b, clock::now_ms()).await
            })
        })
        .await
    }

    fn append(&self, message: NewMessage) -> BoxFuture<'static, StoreResult<Appended>> {
        let feed = self.feed.clone();
        let (tx, rx) = oneshot::channel();
        let job = Job {
            lock: Some(message.conv),
            work: Box::new(move |ctx| {
                Box::pin(async move {
                    let now = clock::now_ms();
                    match messages::append(ctx, &message, now).await {
                        Ok(Appended::New(stored)) => {
                            let committed = Committed {
                                message: stored.clone(),
                                client_id: message.client_id,
                                origin: message.origin,
                            };
                            let done: Completion = Box::new(move |commit| {
                                if commit.is_ok() {
                                    feed(committed);
                                }
                                let _ = tx.send(
                                    commit
                                        .map(|()| Appended::New(stored))
                                        .map_err(StoreError::Unavailable),
                                );
                            });
                            (true, done)
                        }
                        Ok(duplicate) => (true, reply(tx, duplicate)),
                        Err(err) => {
                            let done: Completion = Box::new(move |_| drop(tx.send(Err(err))));
                            (false, done)
                        }
                    }
                })
            }),
        };
        let queued = self.enqueue(job);
        Box::pin(async move {
            queued?;
            rx.await.unwrap_or_else(|_| Err(not_committed()))
        })
    }

    async fn history(
        &self,
        conv: ConvId,
        viewer: UserId,
        page: Page,
        limit: u32,
    ) -> StoreResult<(Vec<StoredMessage>, bool)> {
        let c = self.conn().await?;
        let floor = opt(
            &c,
            "SELECT cleared_seq FROM members WHERE conv_id = $1 AND user_id = $2",
            &[&conv, &viewer],
        )
        .await?
        .map_or(0, |r| sql::unsigned(&r, 0));
        messages::history(&c, conv, floor, page, limit).await
    }

    async fn changes(
        &self,
        conv: ConvId,
        after: u64,
        limit: u32,
    ) -> StoreResult<Vec<StoredMessage>> {
        let c = self.conn().await?;
        messages::changes(&c, conv, after, limit).await
    }

    async fn seq_of(&self, conv: ConvId, message_id: &str) -> StoreResult<Option<u64>> {
        let c = self.conn().await?;
        let row = opt(
            &c,
            "SELECT seq FROM messages WHERE id = $1 AND conv_id = $2",
            &[&message_id, &conv],
        )
        .await?;
        Ok(row.map(|r| sql::unsigned(&r, 0)))
    }

    async fn message(&self, id: &str) -> StoreResult<Option<StoredMessage>> {
        let c = self.conn().await?;
        messages::by_id(&c, id).await
    }

    async fn mark_read(&self, user: UserId, conv: ConvId, seq: u64) -> StoreResult<u64> {
        self.write(None, move |ctx| {
            Box::pin(async move { chats::mark_read(&ctx.client, user, conv, seq).await })
        })
        .await
    }

    async fn receipts(&self, conv: ConvId) -> StoreResult<Vec<(UserId, u64, u64)>> {
        let c = self.conn().await?;
        chats::receipts(&c, conv).await
    }

    async fn chats(&self, user: UserId) -> StoreResult<Vec<ChatRow>> {
        let c = self.conn().await?;
        chats::chats(&c, user).await
    }

    async fn clear_chat(&self, user: UserId, conv: ConvId) -> StoreResult<u64> {
        self.write(None, move |ctx| {
            Box::pin(async move { chats::clear_chat(&ctx.client, user, conv).await })
        })
        .await
    }

    async fn search(&self, user: UserId, query: SearchQuery) -> StoreResult<Vec<StoredMessage>> {
        let c = self.conn().await?;
        search::search(&c, user, &query).await
    }

    async fn unread(&self, user: UserId) -> StoreResult<Vec<Unread>> {
        let c = self.conn().await?;
        queries::unread(&c, user).await
    }

    async fn save_cursors(&self, cursors: Vec<(UserId, ConvId, u64)>) -> StoreResult<()> {
        if cursors.is_empty() {
            return Ok(());
        }
        self.write(None, move |ctx| {
            Box::pin(async move { queries::save_cursors(&ctx.client, &cursors).await })
        })
        .await
    }

    async fn probe_write(&self) -> StoreResult<()> {
        self.write(None, |ctx| {
            Box::pin(async move {
                exec(
                    &ctx.client,
                    "INSERT INTO write_probe (id, at_ms) VALUES (1, $1)
                     ON CONFLICT (id) DO UPDATE SET at_ms = excluded.at_ms",
                    &[&clock::now_ms()],
                )
                .await
                .map(drop)
            })
        })
        .await
    }

    async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        // Dropping the sender lets the writer finish the queue and exit.
        self.jobs.lock().expect("jobs lock").take();
        let handle = self.writer.lock().expect("writer lock").take();
        if let Some(handle) = handle {
            let _ = handle.await;
            self.pool.close();
            tracing::info!("postgres store closed");
        }
    }
}
