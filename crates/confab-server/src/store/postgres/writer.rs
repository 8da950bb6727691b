//! The group-commit writer: one task per [`super::PgStore`] takes every queued job (up to
//! `max_batch`), runs them in one transaction on a pooled connection (each inside its own
//! savepoint, so one failing job does not undo the others), commits once, then completes them
//! in order. One commit (and one WAL flush on the server) serves the whole batch.
//!
//! Before running anything, the batch locks the rows of every conversation its appends write
//! to, in id order (`SELECT ... ORDER BY id FOR UPDATE`). Each append then takes the next seq
//! under that lock, which is held until the commit: seqs have no gaps and follow commit order
//! even with several nodes writing, and two nodes' batches cannot deadlock on each other's
//! conversations.
//!
//! When the connection fails (PostgreSQL restarted, the network cut), the rest of the batch
//! is not run, the commit fails and every caller hears that nothing was committed
//! ([`crate::store::StoreError::Unavailable`]); the connection is thrown away and the next
//! batch takes a fresh one from the pool.

use std::time::{Duration, Instant};

use deadpool_postgres::{Object, Pool};
use futures_util::future::BoxFuture;
use tokio::sync::mpsc;

use super::sql::simple;
use crate::store::ids::IdGenerator;
use crate::store::{CommitObserver, ConvId};

/// Longest a batch may take, connection included, before it is given up (nothing committed).
const BATCH_DEADLINE: Duration = Duration::from_secs(30);

/// What a job's writes are run with: the batch's connection, inside its transaction.
pub struct WriterCtx {
    pub client: Object,
    pub ids: IdGenerator,
}

/// Called after the batch's commit with its outcome (`Err` holds the commit failure).
pub type Completion = Box<dyn FnOnce(Result<(), String>) + Send>;

/// A job's writes: return whether they succeeded (failed ones are rolled back to their
/// savepoint) and what to do once the batch is committed.
pub type Work =
    Box<dyn for<'a> FnOnce(&'a mut WriterCtx) -> BoxFuture<'a, (bool, Completion)> + Send>;

/// A queued write and the conversation whose row it needs locked (appends).
pub struct Job {
    pub lock: Option<ConvId>,
    pub work: Work,
}

/// Runs jobs until every sender is gone, then returns after committing what was queued.
pub async fn run(
    pool: Pool,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    max_batch: usize,
    observer: std::sync::Arc<dyn CommitObserver>,
) {
    let mut ids = IdGenerator::default();
    while let Some(first) = jobs.recv().await {
        let mut batch = vec![first];
        while batch.len() < max_batch.max(1) {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let count = batch.len();
        let started = Instant::now();
        let ok = run_batch(&pool, &mut ids, batch).await;
        observer.batch_committed(count, started.elapsed(), ok);
    }
}

/// Runs and commits one batch; false when nothing of it was committed. Dropping a job drops
/// its reply channel, which its caller hears as "not committed".
async fn run_batch(pool: &Pool, ids: &mut IdGenerator, batch: Vec<Job>) -> bool {
    let count = batch.len();
    let client = match tokio::time::timeout(BATCH_DEADLINE, pool.get()).await {
        Ok(Ok(client)) => client,
        Ok(Err(err)) => {
            tracing::error!(cause = %err, jobs = count, "no database connection for a write batch");
            return false;
        }
        Err(_) => {
            tracing::error!(jobs = count, "timed out waiting for a database connection");
            return false;
        }
    };
    let mut ctx = WriterCtx {
        client,
        ids: std::mem::take(ids),
    };
    let outcome = tokio::time::timeout(BATCH_DEADLINE, run_in_transaction(&mut ctx, batch)).await;
    *ids = std::mem::take(&mut ctx.ids);
    let (ok, healthy) = match outcome {
        Ok((completions, commit)) => {
            let ok = commit.is_ok();
            for completion in completions {
                completion(commit.clone());
            }
            (ok, ok)
        }
        Err(_) => {
            tracing::error!(jobs = count, "write batch timed out; nothing committed");
            (false, false)
        }
    };
    if !healthy {
        // The connection may be broken, or inside a transaction: never reuse it. Closing it
        // rolls back whatever the batch did.
        drop(Object::take(ctx.client));
    }
    ok
}

/// BEGIN, the conversation locks, every job in its savepoint, COMMIT. Returns the completions
/// of the jobs that ran and the commit's outcome. The savepoint commands ride along with the
/// statements around them (one round trip between two jobs), so a job costs its own
/// statements plus one round trip.
async fn run_in_transaction(
    ctx: &mut WriterCtx,
    batch: Vec<Job>,
) -> (Vec<Completion>, Result<(), String>) {
    let count = batch.len();
    let mut locks: Vec<ConvId> = batch.iter().filter_map(|job| job.lock).collect();
    locks.sort_unstable();
    locks.dedup();
    let mut prelude = String::from("BEGIN; ");
    if !locks.is_empty() {
        let ids: Vec<String> = locks.iter().map(ToString::to_string).collect();
        prelude.push_str(&format!(
            "SELECT id FROM conversations WHERE id IN ({}) ORDER BY id FOR UPDATE; ",
            ids.join(", ")
        ));
    }
    prelude.push_str("SAVEPOINT job");
    if let Err(err) = simple(&ctx.client, &prelude).await {
        tracing::error!(cause = %err, jobs = count, "cannot begin write transaction");
        return (Vec::new(), Err(err.to_string()));
    }
    let mut completions = Vec::with_capacity(count);
    let mut outcome = Err("the write transaction was lost".to_owned());
    for (index, job) in batch.into_iter().enumerate() {
        if ctx.client.is_closed() {
            tracing::error!(jobs = count, "database connection lost in a write batch");
            break;
        }
        let (ok, completion) = (job.work)(ctx).await;
        completions.push(completion);
        let last = index + 1 == count;
        let close = match (ok, last) {
            (true, false) => "RELEASE SAVEPOINT job; SAVEPOINT job",
            (false, false) => "ROLLBACK TO SAVEPOINT job; RELEASE SAVEPOINT job; SAVEPOINT job",
            (true, true) => "RELEASE SAVEPOINT job; COMMIT",
            (false, true) => "ROLLBACK TO SAVEPOINT job; RELEASE SAVEPOINT job; COMMIT",
        };
        match simple(&ctx.client, close).await {
            Ok(()) if last => outcome = Ok(()),
            Ok(()) => {}
            Err(err) => {
                let what = if last {
                    "commit failed"
                } else {
                    "cannot close savepoint"
                };
                tracing::error!(cause = %err, jobs = count, "{what}; batch rolled back");
                outcome = Err(err.to_string());
                break;
            }
        }
    }
    // On failure the caller throws the connection away, which rolls the transaction back:
    // no ROLLBACK to wait for on a database that stopped answering.
    if outcome.is_ok() {
        tracing::trace!(jobs = count, "batch committed");
    }
    (completions, outcome)
}
