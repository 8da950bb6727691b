//! `durable`: senders, each alone in its own room, keep a window of messages in flight and count
//! acks: every ack is a commit, so this is the store's sustained durable write rate.

use std::sync::Arc;

use clap::Args;
use confab_client::protocol::{Receiver, RoomName, ServerFrame};
use serde_json::json;
use tokio::sync::Semaphore;

use super::{body, connect_in_room, message, Clock};
use crate::latency::{self, percentiles};
use crate::progress::{self, Counters};
use crate::target::Target;
use crate::users::{register, run_prefix};
use crate::{Common, Report};

#[derive(Debug, Clone, Args)]
pub struct Options {
    /// Concurrent senders (connections)
    #[arg(long, default_value_t = 16)]
    pub senders: usize,
    /// Messages in flight per sender
    #[arg(long, default_value_t = 64)]
    pub window: usize,
    /// Message content size in bytes
    #[arg(long, default_value_t = 64)]
    pub size: usize,
}

struct SenderResult {
    sent: u64,
    seqs: Vec<u64>,
    errors: Vec<String>,
    acks: hdrhistogram::Histogram<u64>,
}

pub async fn run(target: &Target, common: &Common, options: Options) -> anyhow::Result<Report> {
    let prefix = run_prefix();
    let users = register(&target.endpoint, &prefix, options.senders).await?;
    let mut connections = Vec::new();
    for (i, user) in users.iter().enumerate() {
        let room = RoomName::parse(&format!("#{prefix}-d{i}"))?;
        connections.push((
            room.clone(),
            connect_in_room(
                &target.node(i).endpoint,
                user,
                &room,
                confab_client::Transport::Ws,
            )
            .await?,
        ));
    }
    let clock = Clock::start();
    let counters = Arc::new(Counters::default());
    let deadline = common.duration().as_micros() as u64;
    let mut tasks = Vec::new();
    for (room, connection) in connections {
        let counters = counters.clone();
        let options = options.clone();
        tasks.push(tokio::spawn(async move {
            sender(
                connection,
                Receiver::Room(room),
                clock,
                deadline,
                options,
                counters,
            )
            .await
        }));
    }
    let started = 0;
    let line = progress::start("durable", counters.clone());
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await??);
    }
    progress::stop(line);
    let elapsed = (clock.micros().min(deadline) - started) as f64 / 1e6;

    let mut report = Report::new(
        "durable",
        json!({"senders": options.senders, "window": options.window, "size": options.size, "duration_s": common.duration}),
    );
    let acked: u64 = results.iter().map(|r| r.seqs.len() as u64).sum();
    report.figure("acked_per_sec", acked as f64 / elapsed);
    report.figure("acked_total", acked as f64);
    let mut all = latency::histogram();
    for result in &results {
        all.add(&result.acks).ok();
    }
    report
        .latency
        .push(("send_to_ack".into(), percentiles(&all)));
    if common.check {
        let mut problems = Vec::new();
        for (i, result) in results.iter().enumerate() {
            problems.extend(result.errors.iter().map(|e| format!("sender {i}: {e}")));
            let expected: Vec<u64> = (1..=result.sent).collect();
            if result.seqs != expected {
                problems.push(format!(
                    "sender {i}: sent {} but acked seqs are not 1..={} in order",
                    result.sent, result.sent
                ));
            }
        }
        report.check = Some(problems);
    }
    Ok(report)
}

async fn sender(
    connection: confab_client::Connection,
    receiver: Receiver,
    clock: Clock,
    deadline: u64,
    options: Options,
    counters: Arc<Counters>,
) -> anyhow::Result<SenderResult> {
    let (mut tx, mut rx) = connection.split();
    let window = Arc::new(Semaphore::new(options.window));
    let sent_at = Arc::new(std::sync::Mutex::new(std::collections::HashMap::new()));
    let reader = {
        let window = window.clone();
        let sent_at = sent_at.clone();
        let counters = counters.clone();
        tokio::spawn(async move {
            let mut seqs = Vec::new();
            let mut errors = Vec::new();
            let mut acks = latency::histogram();
            while let Some(frame) = rx.recv().await? {
                match frame {
                    ServerFrame::Ack(ack) if ack.reply_to == "done" => break,
                    ServerFrame::Ack(ack) => {
                        if let Some(at) = sent_at.lock().expect("lock").remove(&ack.reply_to) {
                            latency::record(&mut acks, clock.micros() - at);
                        }
                        seqs.extend(ack.seq);
                        Counters::add(&counters.acked, 1);
                        window.add_permits(1);
                    }
                    ServerFrame::Error(err) => {
                        errors.push(format!("{}: {}", err.code, err.message));
                        window.add_permits(1);
                    }
                    _ => {}
                }
            }
            Ok::<_, anyhow::Error>((seqs, errors, acks))
        })
    };
    let mut k = 0;
    while clock.micros() < deadline {
        let permit = window.acquire().await?;
        permit.forget();
        let id = format!("d{k}");
        sent_at
            .lock()
            .expect("lock")
            .insert(id.clone(), clock.micros());
        tx.send(&message(
            id,
            &receiver,
            body(k, clock.micros(), options.size),
        ))
        .await?;
        Counters::add(&counters.sent, 1);
        k += 1;
    }
    // Wait for the window to drain, then mark the end with a ping-like ack of a typing frame.
    let _drained = window.acquire_many(options.window as u32).await?;
    tx.send(&confab_client::protocol::ClientFrame::Typing(
        confab_client::protocol::Typing {
            id: Some("done".into()),
            receiver,
        },
    ))
    .await?;
    let (seqs, errors, acks) = reader.await??;
    Ok(SenderResult {
        sent: k,
        seqs,
        errors,
        acks,
    })
}
