//! The search index, kept off the message writer. Indexing a message's trigrams costs about as
//! much as storing the message, so the FTS5 index lives in its own database file
//! (`search.db`) with its own thread: the writer only marks a conversation as changed after
//! each commit, and the indexer reads the new entries back and applies them (posts are
//! indexed with their current text, edits re-index their target, deletes remove it, a
//! deleted room drops its whole range). Progress is kept per conversation in the same file
//! and transaction as the index, so after a crash or a restart the indexer simply continues
//! from there; the index can always be rebuilt from `confab.db`.
//!
//! A search waits until the indexer has caught up with every commit made before it started
//! (see [`Index::synced`]), so a message is searchable as soon as its ack is out.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::watch;

use super::schema;
use crate::store::ConvId;

/// The index's key for a message (`search.rs` computes the same in SQL).
pub fn search_rowid(conv: ConvId, seq: u64) -> i64 {
    (conv << 32) + seq as i64
}

/// Entries read from `confab.db` per indexing step.
const PAGE: i64 = 512;
/// How long a search waits for the index to catch up before it runs anyway.
const SYNC_WAIT: Duration = Duration::from_secs(2);

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS progress (
        conv_id INTEGER PRIMARY KEY,
        seq     INTEGER NOT NULL
    );
    CREATE VIRTUAL TABLE IF NOT EXISTS message_search USING fts5(content, tokenize = 'trigram');
    INSERT INTO message_search (message_search, rank) VALUES ('secure-delete', 1);
";

#[derive(Default)]
struct Pending {
    dirty: HashSet<ConvId>,
    /// Changes announced so far.
    generation: u64,
    stopping: bool,
}

/// The handle the store keeps on its indexer.
pub struct Index {
    pending: Arc<(Mutex<Pending>, Condvar)>,
    indexed: watch::Receiver<u64>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    path: PathBuf,
}

impl Index {
    /// Opens (creating) `search.db` next to `main` and starts the indexer, which first brings
    /// every conversation up to date.
    pub fn open(main: &Path) -> rusqlite::Result<Self> {
        let path = main.with_file_name("search.db");
        let conn = Connection::open(&path)?;
        schema::configure(&conn)?;
        // The index can be rebuilt from confab.db: no need to sync every commit.
        conn.execute_batch("PRAGMA synchronous = NORMAL;")?;
        conn.execute_batch(SCHEMA)?;
        let source = Connection::open(main)?;
        schema::configure(&source)?;
        let all: HashSet<ConvId> = source
            .prepare("SELECT id FROM conversations")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let pending = Arc::new((
            Mutex::new(Pending {
                dirty: all,
                generation: 1,
                stopping: false,
            }),
            Condvar::new(),
        ));
        let (done, indexed) = watch::channel(0);
        let shared = pending.clone();
        let thread = std::thread::Builder::new()
            .name("confab-search-indexer".into())
            .spawn(move || run(conn, source, &shared, &done))
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        Ok(Self {
            pending,
            indexed,
            thread: Mutex::new(Some(thread)),
            path,
        })
    }

    /// Where the index lives (readers attach it as `search`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Marks a conversation changed (called after a commit).
    pub fn notify(&self, conv: ConvId) {
        let (lock, wake) = &*self.pending;
        let mut pending = lock.lock().expect("index lock");
        pending.dirty.insert(conv);
        pending.generation += 1;
        wake.notify_one();
    }

    /// Resolves once everything announced before the call is indexed (or after a while).
    pub async fn synced(&self) {
        let target = self.pending.0.lock().expect("index lock").generation;
        let mut indexed = self.indexed.clone();
        let _ = tokio::time::timeout(SYNC_WAIT, indexed.wait_for(|&done| done >= target)).await;
    }

    /// Stops the indexer once its pass under way is committed; what is still pending is
    /// indexed at the next start.
    pub fn close(&self) {
        {
            let (lock, wake) = &*self.pending;
            lock.lock().expect("index lock").stopping = true;
            wake.notify_one();
        }
        if let Some(thread) = self.thread.lock().expect("thread lock").take() {
            let _ = thread.join();
        }
    }
}

/// How long a failed indexing pass waits before it is tried again.
const RETRY_PAUSE: Duration = Duration::from_secs(1);

fn run(
    mut index: Connection,
    source: Connection,
    pending: &(Mutex<Pending>, Condvar),
    done: &watch::Sender<u64>,
) {
    let (lock, wake) = pending;
    loop {
        let (convs, generation, stopping) = {
            let mut state = lock.lock().expect("index lock");
            while state.dirty.is_empty() && !state.stopping {
                state = wake.wait(state).expect("index lock");
            }
            (
                std::mem::take(&mut state.dirty),
                state.generation,
                state.stopping,
            )
        };
        // One transaction for the whole pass (FTS5 writes a segment per commit, so fewer,
        // larger commits cost far less), a savepoint per conversation so one failure does not
        // undo the others. A conversation with more to do than one page goes round again.
        let mut again = Vec::new();
        let mut failed = Vec::new();
        match index.transaction() {
            Ok(mut tx) => {
                let mut passed = Vec::new();
                for conv in convs {
                    let outcome = tx.savepoint().and_then(|sp| {
                        let more = catch_up(&sp, &source, conv)?;
                        sp.commit()?;
                        Ok(more)
                    });
                    match outcome {
                        Ok(true) => again.push(conv),
                        Ok(false) => passed.push(conv),
                        Err(err) => {
                            tracing::error!(%err, conv, "search indexing failed; retrying");
                            failed.push(conv);
                        }
                    }
                }
                if let Err(err) = tx.commit() {
                    tracing::error!(%err, "search index commit failed; retrying");
                    failed.append(&mut passed);
                    failed.append(&mut again);
                }
            }
            Err(err) => {
                tracing::error!(%err, "search index transaction failed; retrying");
                failed.extend(convs);
            }
        }
        if !failed.is_empty() && !stopping {
            // A full disk or a busy file passes: try again after a pause (sooner when a new
            // change arrives). Searches meanwhile wait at most SYNC_WAIT.
            let state = lock.lock().expect("index lock");
            let (mut state, _) = wake.wait_timeout(state, RETRY_PAUSE).expect("index lock");
            state.dirty.extend(failed);
        }
        // Stopping: this pass is committed; the rest is caught up at the next start (progress
        // is kept), so a backlog never holds up a shutdown.
        if stopping {
            return;
        }
        if !again.is_empty() {
            let mut state = lock.lock().expect("index lock");
            state.dirty.extend(again);
            continue;
        }
        done.send_replace(generation);
    }
}

/// One entry as the indexer needs it.
struct Entry {
    seq: u64,
    kind: String,
    target: Option<String>,
}

/// A message's searchable text now, or None when it is deleted or has none.
fn text_of(source: &Connection, conv: ConvId, seq: u64) -> rusqlite::Result<Option<String>> {
    let row = source
        .prepare_cached(
            "SELECT content, attachment_json, location_label, deleted_ms FROM messages
             WHERE conv_id = ?1 AND seq = ?2",
        )?
        .query_row(params![conv, seq], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Option<i64>>(3)?,
            ))
        })
        .optional()?;
    let Some((content, attachment, label, deleted)) = row else {
        return Ok(None);
    };
    if deleted.is_some() {
        return Ok(None);
    }
    let name = attachment
        .and_then(|json| serde_json::from_str::<confab_protocol::AttachmentInfo>(&json).ok())
        .map(|a| a.name)
        .or(label);
    let text = match name {
        Some(name) if content.is_empty() => name,
        Some(name) => format!("{content}\n{name}"),
        None => content,
    };
    Ok((!text.is_empty()).then_some(text))
}

/// Indexes one page of a conversation's new entries (inside the pass's transaction); true
/// when more remain.
fn catch_up(index: &Connection, source: &Connection, conv: ConvId) -> rusqlite::Result<bool> {
    let deleted: Option<Option<i64>> = source
        .prepare_cached("SELECT deleted_ms FROM conversations WHERE id = ?1")?
        .query_row([conv], |r| r.get(0))
        .optional()?;
    if !matches!(deleted, Some(None)) {
        // A deleted room (or none at all): nothing of it may stay searchable.
        let first = search_rowid(conv, 0);
        index.execute(
            "DELETE FROM message_search WHERE rowid >= ?1 AND rowid < ?2",
            [first, first + (1 << 32)],
        )?;
        index.execute("DELETE FROM progress WHERE conv_id = ?1", [conv])?;
        return Ok(false);
    }
    let from: u64 = index
        .prepare_cached("SELECT seq FROM progress WHERE conv_id = ?1")?
        .query_row([conv], |r| r.get(0))
        .optional()?
        .unwrap_or(0);
    let entries = source
        .prepare_cached(
            "SELECT seq, kind, target_id FROM messages WHERE conv_id = ?1 AND seq > ?2
             ORDER BY seq LIMIT ?3",
        )?
        .query_map(params![conv, from, PAGE], |r| {
            Ok(Entry {
                seq: r.get(0)?,
                kind: r.get(1)?,
                target: r.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let Some(last) = entries.last().map(|e| e.seq) else {
        return Ok(false);
    };
    for entry in &entries {
        if entry.kind == "reaction" {
            continue;
        }
        let seq = match &entry.target {
            None => entry.seq,
            // An edit or delete of an earlier message: re-index that one.
            Some(target) => {
                let found: Option<u64> = source
                    .prepare_cached("SELECT seq FROM messages WHERE id = ?1")?
                    .query_row([target], |r| r.get(0))
                    .optional()?;
                match found {
                    Some(seq) => seq,
                    None => continue,
                }
            }
        };
        let rowid = search_rowid(conv, seq);
        index
            .prepare_cached("DELETE FROM message_search WHERE rowid = ?1")?
            .execute([rowid])?;
        if let Some(text) = text_of(source, conv, seq)? {
            index
                .prepare_cached("INSERT INTO message_search (rowid, content) VALUES (?1, ?2)")?
                .execute(params![rowid, text])?;
        }
    }
    index
        .prepare_cached(
            "INSERT INTO progress (conv_id, seq) VALUES (?1, ?2)
             ON CONFLICT (conv_id) DO UPDATE SET seq = excluded.seq",
        )?
        .execute(params![conv, last])?;
    Ok(entries.len() as i64 == PAGE)
}
