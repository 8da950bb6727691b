//! The group-commit writer: one thread owns the write connection, takes every queued job, runs
//! them in one transaction (each inside its own savepoint, so one failing job does not undo the
//! others), commits once, then completes them in order. One fsync serves the whole batch.
//!
//! When SQLite rolls the whole transaction back by itself (a full disk, an I/O error), the
//! jobs after that point are not run at all (they would run outside any transaction): their
//! callers hear that nothing was committed, like those of the jobs before.

use std::sync::mpsc;
use std::time::Instant;

use rusqlite::Connection;

use crate::store::ids::IdGenerator;
use crate::store::CommitObserver;

/// What a job's writes are run with.
pub struct WriterCtx {
    pub conn: Connection,
    pub ids: IdGenerator,
}

/// Called after the batch's commit with its outcome (`Err` holds the commit failure).
pub type Completion = Box<dyn FnOnce(Result<(), String>) + Send>;

/// A job's writes: returns whether they succeeded (failed ones are rolled back to their
/// savepoint) and what to do once the batch is committed.
pub type Job = Box<dyn FnOnce(&mut WriterCtx) -> (bool, Completion) + Send>;

/// Runs jobs until every sender is gone, then returns after committing what was queued.
pub fn run(
    mut ctx: WriterCtx,
    jobs: mpsc::Receiver<Job>,
    max_batch: usize,
    observer: &dyn CommitObserver,
) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let count = batch.len();
        let started = Instant::now();
        let ok = run_batch(&mut ctx, batch);
        observer.batch_committed(count, started.elapsed(), ok);
    }
}

/// Runs a statement prepared once per connection (parsing it per job showed in profiles).
fn run_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

/// Runs and commits one batch; false when nothing of it was committed.
fn run_batch(ctx: &mut WriterCtx, batch: Vec<Job>) -> bool {
    let count = batch.len();
    if let Err(err) = run_cached(&ctx.conn, "BEGIN IMMEDIATE") {
        let cause = err.to_string();
        tracing::error!(%cause, jobs = count, "cannot begin write transaction");
        // Dropping the jobs drops their reply channels: every caller hears of the failure.
        drop(batch);
        return false;
    }
    let mut completions = Vec::with_capacity(count);
    for job in batch {
        if ctx.conn.is_autocommit() {
            // SQLite rolled the transaction back after a failure: the rest is dropped (its
            // callers hear that it was not committed) and the commit below fails.
            tracing::error!(jobs = count, "write transaction rolled back by SQLite");
            break;
        }
        if let Err(err) = run_cached(&ctx.conn, "SAVEPOINT job") {
            tracing::error!(cause = %err, "cannot open savepoint");
        }
        let (ok, completion) = job(ctx);
        let closed = if ok {
            run_cached(&ctx.conn, "RELEASE job")
        } else {
            run_cached(&ctx.conn, "ROLLBACK TO job")
                .and_then(|()| run_cached(&ctx.conn, "RELEASE job"))
        };
        if let Err(err) = closed {
            tracing::error!(cause = %err, "cannot close savepoint");
        }
        completions.push(completion);
    }
    let outcome = run_cached(&ctx.conn, "COMMIT").map_err(|err| {
        let cause = err.to_string();
        tracing::error!(%cause, jobs = count, "commit failed; batch rolled back");
        let _ = ctx.conn.execute_batch("ROLLBACK");
        cause
    });
    if outcome.is_ok() {
        tracing::trace!(jobs = count, "batch committed");
    }
    let ok = outcome.is_ok();
    for completion in completions {
        completion(outcome.clone());
    }
    ok
}
