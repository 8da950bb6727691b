//! The group-commit writer: one thread owns the write connection, takes every queued job, runs
//! them in one transaction (each inside its own savepoint, so one failing job does not undo the
//! others), commits once, then completes them in order. One fsync serves the whole batch.

use std::sync::mpsc;

use rusqlite::Connection;

use crate::store::ids::IdGenerator;

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
pub fn run(mut ctx: WriterCtx, jobs: mpsc::Receiver<Job>, max_batch: usize) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        run_batch(&mut ctx, batch);
    }
}

/// Runs a statement prepared once per connection (parsing it per job showed in profiles).
fn run_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

fn run_batch(ctx: &mut WriterCtx, batch: Vec<Job>) {
    let count = batch.len();
    if let Err(err) = run_cached(&ctx.conn, "BEGIN IMMEDIATE") {
        let cause = err.to_string();
        tracing::error!(%cause, jobs = count, "cannot begin write transaction");
        // Dropping the jobs drops their reply channels: every caller hears of the failure.
        drop(batch);
        return;
    }
    let mut completions = Vec::with_capacity(count);
    for job in batch {
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
    for completion in completions {
        completion(outcome.clone());
    }
}
