//! The embedded SQLite store: one file (`confab.db`) in the data directory, WAL mode, one writer
//! thread doing group commit ([`writer`]) and a small pool of read connections used from the
//! blocking thread pool.

mod attachments;
mod chats;
mod indexer;
mod messages;
mod queries;
mod rooms;
mod schema;
mod search;
mod sessions;
mod social;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};

use async_trait::async_trait;
use futures_util::future::BoxFuture;
use rusqlite::{Connection, OptionalExtension};
use tokio::sync::oneshot;

use super::{
    Appended, ChatRow, CommitFeed, CommitObserver, Committed, ConvId, Conversation, Credentials,
    Directory, NewMessage, Page, SearchQuery, Store, StoreError, StoreResult, StoredMessage,
    Unread, User, UserId,
};
use crate::auth::TokenHash;
use crate::clock;
use crate::store::ids::IdGenerator;
use writer::{Completion, Job, WriterCtx};

/// Read connections kept open for reuse.
const READ_POOL: usize = 8;

/// The SQLite [`Store`].
pub struct SqliteStore {
    path: PathBuf,
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Idle read connections; `None` once the store is closed, so no read opens a new one.
    readers: Arc<Mutex<Option<Vec<Connection>>>>,
    feed: Arc<CommitFeed>,
    index: Arc<indexer::Index>,
}

impl SqliteStore {
    /// Opens (creating and migrating) `confab.db` in `dir`.
    pub fn open(dir: &Path, max_batch: usize, feed: CommitFeed) -> StoreResult<Self> {
        Self::open_observed(dir, max_batch, feed, Arc::new(()))
    }

    /// [`SqliteStore::open`], telling `observer` about every batch committed.
    pub fn open_observed(
        dir: &Path,
        max_batch: usize,
        feed: CommitFeed,
        observer: Arc<dyn CommitObserver>,
    ) -> StoreResult<Self> {
        std::fs::create_dir_all(dir)
            .map_err(|e| backend(format!("cannot create {}: {e}", dir.display())))?;
        let path = dir.join("confab.db");
        let mut conn = Connection::open(&path).map_err(db)?;
        schema::configure(&conn).map_err(db)?;
        schema::migrate(&mut conn).map_err(db)?;
        let index = Arc::new(indexer::Index::open(&path).map_err(db)?);
        let (tx, rx) = mpsc::channel::<Job>();
        let ctx = WriterCtx {
            conn,
            ids: IdGenerator::default(),
        };
        let handle = std::thread::Builder::new()
            .name("confab-sqlite-writer".into())
            .spawn(move || writer::run(ctx, rx, max_batch, observer.as_ref()))
            .map_err(|e| backend(e.to_string()))?;
        tracing::info!(path = %path.display(), "sqlite store open");
        Ok(Self {
            path,
            jobs: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(handle)),
            readers: Arc::new(Mutex::new(Some(Vec::new()))),
            feed: Arc::new(feed),
            index,
        })
    }

    fn enqueue(&self, job: Job) -> StoreResult<()> {
        let jobs = self.jobs.lock().expect("jobs lock");
        match jobs.as_ref() {
            Some(tx) => tx.send(job).map_err(|_| backend("store writer stopped")),
            None => Err(backend("store is closed")),
        }
    }

    /// Queues a write and returns a future for its committed result.
    fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut WriterCtx) -> StoreResult<T> + Send + 'static,
    ) -> BoxFuture<'static, StoreResult<T>> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |ctx| match work(ctx) {
            Ok(value) => (true, reply(tx, value)),
            Err(err) => (false, Box::new(move |_| drop(tx.send(Err(err))))),
        });
        let queued = self.enqueue(job);
        Box::pin(async move {
            queued?;
            rx.await.unwrap_or_else(|_| Err(not_committed()))
        })
    }

    /// Runs a read on a pooled connection on the blocking pool.
    async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> StoreResult<T> {
        let readers = self.readers.clone();
        let path = self.path.clone();
        let search = self.index.path().to_owned();
        tokio::task::spawn_blocking(move || {
            let pooled = match readers.lock().expect("readers lock").as_mut() {
                Some(pool) => pool.pop(),
                // A session that outlived the shutdown's grace must not open the database
                // again (and wait on its locks) after the store closed.
                None => return Err(backend("store closed")),
            };
            let conn = match pooled {
                Some(conn) => conn,
                None => {
                    let conn = Connection::open(&path).map_err(db)?;
                    schema::configure(&conn).map_err(db)?;
                    conn.execute(
                        "ATTACH DATABASE ?1 AS search",
                        [search.to_string_lossy().as_ref()],
                    )
                    .map_err(db)?;
                    conn
                }
            };
            let result = work(&conn).map_err(db);
            if let Some(pool) = readers.lock().expect("readers lock").as_mut() {
                if pool.len() < READ_POOL {
                    pool.push(conn);
                }
            }
            result
        })
        .await
        .map_err(|e| backend(e.to_string()))?
    }
}

fn reply<T: Send + 'static>(tx: oneshot::Sender<StoreResult<T>>, value: T) -> Completion {
    Box::new(move |commit| {
        let _ = tx.send(commit.map(|()| value).map_err(StoreError::Unavailable));
    })
}

fn backend(message: impl Into<String>) -> StoreError {
    StoreError::Backend(message.into())
}

/// A write whose job never ran: its batch's transaction was gone (rolled back by SQLite after
/// an I/O error or a full disk) before its turn.
fn not_committed() -> StoreError {
    StoreError::Unavailable("the write was not committed".into())
}

/// SQLite's errors: those of a disk that is full, read-only or failing, and of a database that
/// stays locked, pass and are [`StoreError::Unavailable`]; the rest are bugs or corruption.
fn db(err: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode as Code;
    match err.sqlite_error_code() {
        Some(
            Code::DiskFull
            | Code::ReadOnly
            | Code::SystemIoFailure
            | Code::CannotOpen
            | Code::DatabaseBusy
            | Code::DatabaseLocked,
        ) => StoreError::Unavailable(err.to_string()),
        _ => StoreError::Backend(err.to_string()),
    }
}

#[async_trait]
impl Store for SqliteStore {
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
        self.write(move |ctx| {
            let now = clock::now_ms();
            let taken: Option<i64> = ctx
                .conn
                .query_row(
                    "SELECT id FROM users WHERE username = ?1",
                    [&username],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db)?;
            if taken.is_some() {
                return Err(StoreError::Conflict(format!(
                    "username {username} is taken"
                )));
            }
            ctx.conn
                .execute(
                    "INSERT INTO users (username, password_hash, created_ms) VALUES (?1, ?2, ?3)",
                    rusqlite::params![username, hash, now],
                )
                .map_err(db)?;
            let user = User {
                id: ctx.conn.last_insert_rowid(),
                username,
            };
            let conv = queries::room_get_or_create(&ctx.conn, &room, now).map_err(db)?;
            queries::add_member(&ctx.conn, conv.id, user.id, conv.last_seq, now).map_err(db)?;
            Ok((user, conv))
        })
        .await
    }

    async fn credentials(&self, username: &str) -> StoreResult<Option<Credentials>> {
        let username = username.to_owned();
        self.read(move |conn| {
            conn.query_row(
                "SELECT id, username, password_hash FROM users WHERE username = ?1",
                [username],
                |r| {
                    Ok(Credentials {
                        user: User {
                            id: r.get(0)?,
                            username: r.get(1)?,
                        },
                        password_hash: r.get(2)?,
                    })
                },
            )
            .optional()
        })
        .await
    }

    async fn user_by_token(&self, token: TokenHash) -> StoreResult<Option<User>> {
        self.read(move |conn| {
            conn.query_row(
                "SELECT u.id, u.username FROM tokens t JOIN users u ON u.id = t.user_id
                 WHERE t.hash = ?1",
                [&token.0[..]],
                |r| {
                    Ok(User {
                        id: r.get(0)?,
                        username: r.get(1)?,
                    })
                },
            )
            .optional()
        })
        .await
    }

    async fn revoke_token(&self, token: TokenHash) -> StoreResult<bool> {
        self.write(move |ctx| {
            let removed = ctx
                .conn
                .execute("DELETE FROM tokens WHERE hash = ?1", [&token.0[..]])
                .map_err(db)?;
            Ok(removed > 0)
        })
        .await
    }

    async fn directory(&self) -> StoreResult<Directory> {
        self.read(queries::directory).await
    }

    async fn room(&self, name: &str) -> StoreResult<Conversation> {
        let name = name.to_owned();
        self.write(move |ctx| {
            queries::room_get_or_create(&ctx.conn, &name, clock::now_ms()).map_err(db)
        })
        .await
    }

    async fn join(&self, conv: ConvId, user: UserId) -> StoreResult<bool> {
        self.write(move |ctx| {
            let last_seq: u64 = ctx
                .conn
                .query_row(
                    "SELECT last_seq FROM conversations WHERE id = ?1",
                    [conv],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db)?
                .ok_or_else(|| StoreError::NotFound("no such conversation".into()))?;
            queries::add_member(&ctx.conn, conv, user, last_seq, clock::now_ms()).map_err(db)
        })
        .await
    }

    async fn leave(&self, conv: ConvId, user: UserId) -> StoreResult<bool> {
        self.write(move |ctx| {
            let removed = ctx
                .conn
                .execute(
                    "DELETE FROM members WHERE conv_id = ?1 AND user_id = ?2",
                    [conv, user],
                )
                .map_err(db)?;
            Ok(removed > 0)
        })
        .await
    }

    async fn direct(&self, a: UserId, b: UserId) -> StoreResult<Conversation> {
        let (a, b) = (a.min(b), a.max(b));
        self.write(move |ctx| {
            queries::direct_get_or_create(&ctx.conn, a, b, clock::now_ms()).map_err(db)
        })
        .await
    }

    fn append(&self, message: NewMessage) -> BoxFuture<'static, StoreResult<Appended>> {
        let feed = self.feed.clone();
        let index = self.index.clone();
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |ctx| {
            let now = clock::now_ms();
            match messages::append(ctx, &message, now) {
                Ok(Appended::New(stored)) => {
                    let committed = Committed {
                        message: stored.clone(),
                        client_id: message.client_id,
                        origin: message.origin,
                    };
                    let done: Completion = Box::new(move |commit| {
                        if commit.is_ok() {
                            index.notify(committed.message.conv);
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
                Err(err) => (false, Box::new(move |_| drop(tx.send(Err(err))))),
            }
        });
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
        self.read(move |conn| {
            let floor: u64 = conn
                .prepare_cached(
                    "SELECT cleared_seq FROM members WHERE conv_id = ?1 AND user_id = ?2",
                )?
                .query_row([conv, viewer], |r| r.get(0))
                .optional()?
                .unwrap_or(0);
            messages::history(conn, conv, floor, page, limit)
        })
        .await
    }

    async fn changes(
        &self,
        conv: ConvId,
        after: u64,
        limit: u32,
    ) -> StoreResult<Vec<StoredMessage>> {
        self.read(move |conn| messages::changes(conn, conv, after, limit))
            .await
    }

    async fn seq_of(&self, conv: ConvId, message_id: &str) -> StoreResult<Option<u64>> {
        let id = message_id.to_owned();
        self.read(move |conn| {
            conn.query_row(
                "SELECT seq FROM messages WHERE id = ?1 AND conv_id = ?2",
                rusqlite::params![id, conv],
                |r| r.get(0),
            )
            .optional()
        })
        .await
    }

    async fn message(&self, id: &str) -> StoreResult<Option<StoredMessage>> {
        let id = id.to_owned();
        self.read(move |conn| messages::by_id(conn, &id)).await
    }

    async fn mark_read(&self, user: UserId, conv: ConvId, seq: u64) -> StoreResult<u64> {
        self.write(move |ctx| chats::mark_read(&ctx.conn, user, conv, seq).map_err(db))
            .await
    }

    async fn receipts(&self, conv: ConvId) -> StoreResult<Vec<(UserId, u64, u64)>> {
        self.read(move |conn| chats::receipts(conn, conv)).await
    }

    async fn chats(&self, user: UserId) -> StoreResult<Vec<ChatRow>> {
        self.read(move |conn| chats::chats(conn, user)).await
    }

    async fn clear_chat(&self, user: UserId, conv: ConvId) -> StoreResult<u64> {
        self.write(move |ctx| chats::clear_chat(&ctx.conn, user, conv).map_err(db))
            .await
    }

    async fn search(&self, user: UserId, query: SearchQuery) -> StoreResult<Vec<StoredMessage>> {
        // Everything acked before the search is in the index.
        self.index.synced().await;
        self.read(move |conn| search::search(conn, user, &query))
            .await
    }

    async fn unread(&self, user: UserId) -> StoreResult<Vec<Unread>> {
        self.read(move |conn| queries::unread(conn, user)).await
    }

    async fn save_cursors(&self, cursors: Vec<(UserId, ConvId, u64)>) -> StoreResult<()> {
        if cursors.is_empty() {
            return Ok(());
        }
        self.write(move |ctx| queries::save_cursors(&ctx.conn, &cursors).map_err(db))
            .await
    }

    async fn probe_write(&self) -> StoreResult<()> {
        self.write(|ctx| {
            ctx.conn
                .prepare_cached(
                    "INSERT INTO write_probe (id, at_ms) VALUES (1, ?1)
                     ON CONFLICT (id) DO UPDATE SET at_ms = excluded.at_ms",
                )
                .and_then(|mut stmt| stmt.execute([clock::now_ms()]))
                .map(drop)
                .map_err(db)
        })
        .await
    }

    async fn close(&self) {
        // Reads in progress finish; later ones are refused, and idle connections close.
        self.readers.lock().expect("readers lock").take();
        // Dropping the sender lets the writer finish the queue and exit.
        self.jobs.lock().expect("jobs lock").take();
        let handle = self.writer.lock().expect("writer lock").take();
        if let Some(handle) = handle {
            let _ = tokio::task::spawn_blocking(move || handle.join()).await;
            let index = self.index.clone();
            let _ = tokio::task::spawn_blocking(move || index.close()).await;
            tracing::info!("sqlite store closed");
        }
    }
}

#[cfg(test)]
mod tests;
