//! `history`: fills one conversation with N messages (pipelined from several senders), then
//! measures `history` page latency from random points in it, closed loop. With `--check`,
//! every page must hold exactly the `limit` messages just before its cursor, in order.

use std::sync::Arc;

use clap::Args;
use confab_client::protocol::{ClientFrame, HistoryRequest, Receiver, RoomName, ServerFrame};
use serde_json::json;
use tokio::sync::Semaphore;

use super::{body, connect_in_room, message, Clock};
use crate::latency::{self, percentiles};
use crate::target::Target;
use crate::users::{register, run_prefix};
use crate::{Common, Report};

#[derive(Debug, Clone, Args)]
pub struct Options {
    /// Messages stored in the conversation before measuring
    #[arg(long, default_value_t = 100_000)]
    pub messages: u64,
    /// Messages per page
    #[arg(long, default_value_t = 50)]
    pub page: u32,
    /// Connections filling the conversation
    #[arg(long, default_value_t = 8)]
    pub fillers: usize,
}

pub async fn run(target: &Target, common: &Common, options: Options) -> anyhow::Result<Report> {
    let prefix = run_prefix();
    let users = register(&target.endpoint, &prefix, options.fillers.max(1)).await?;
    let room = RoomName::parse(&format!("#{prefix}-h"))?;
    let receiver = Receiver::Room(room.clone());
    let mut connections = Vec::new();
    for user in &users {
        connections.push(
            connect_in_room(&target.endpoint, user, &room, confab_client::Transport::Ws).await?,
        );
    }

    // Fill: each filler sends its share with a window of 128 in flight; ids come back in acks.
    let clock = Clock::start();
    let share = options.messages.div_ceil(connections.len() as u64);
    let mut fillers = Vec::new();
    for (f, connection) in connections.into_iter().enumerate() {
        let receiver = receiver.clone();
        let count = share.min(options.messages.saturating_sub(share * f as u64));
        fillers.push(tokio::spawn(fill(connection, receiver, count, f)));
    }
    let mut ids: Vec<(u64, String)> = Vec::new();
    for filler in fillers {
        ids.extend(filler.await??);
    }
    ids.sort_unstable();
    let fill_seconds = clock.micros() as f64 / 1e6;
    eprintln!(
        "[history] stored {} messages in {fill_seconds:.1}s; measuring pages",
        ids.len()
    );

    let (mut connection, _) =
        confab_client::Connection::connect(&target.endpoint, &users[0].token).await?;
    let mut histogram = latency::histogram();
    let mut problems = Vec::new();
    let end = clock.micros() + common.duration().as_micros() as u64;
    let mut k = 0u64;
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    while clock.micros() < end && ids.len() > options.page as usize {
        // xorshift: a cheap, repeatable spread of cursors over the whole conversation.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let at = options.page as usize + (state as usize % (ids.len() - options.page as usize));
        let (cursor_seq, cursor_id) = ids[at].clone();
        let id = format!("h{k}");
        k += 1;
        let sent = clock.micros();
        connection
            .send(&ClientFrame::History(HistoryRequest {
                id: Some(id.clone()),
                receiver: receiver.clone(),
                limit: Some(options.page),
                before: Some(cursor_id),
                after: None,
            }))
            .await?;
        let page = loop {
            match connection.recv().await? {
                Some(ServerFrame::History(h)) if h.reply_to.as_deref() == Some(&id) => break h,
                Some(ServerFrame::Error(e)) => anyhow::bail!("history failed: {}", e.message),
                Some(_) => continue,
                None => anyhow::bail!("closed"),
            }
        };
        latency::record(&mut histogram, clock.micros() - sent);
        if common.check {
            let seqs: Vec<u64> = page.messages.iter().map(|m| m.seq).collect();
            let expected: Vec<u64> = (cursor_seq - u64::from(options.page)..cursor_seq).collect();
            if seqs != expected {
                problems.push(format!("page before seq {cursor_seq} held {seqs:?}"));
            }
        }
    }
    let mut report = Report::new(
        "history",
        json!({"messages": options.messages, "page": options.page, "fillers": options.fillers, "duration_s": common.duration}),
    );
    report.figure("fill_msgs_per_sec", ids.len() as f64 / fill_seconds);
    report.figure("pages_per_sec", k as f64 / common.duration().as_secs_f64());
    report
        .latency
        .push(("page".into(), percentiles(&histogram)));
    if common.check {
        if ids.len() as u64 != options.messages {
            problems.push(format!("stored {} of {}", ids.len(), options.messages));
        }
        report.check = Some(problems);
    }
    Ok(report)
}

/// Sends `count` messages with a window in flight; returns (seq, id) of each.
async fn fill(
    connection: confab_client::Connection,
    receiver: Receiver,
    count: u64,
    filler: usize,
) -> anyhow::Result<Vec<(u64, String)>> {
    let (mut tx, mut rx) = connection.split();
    let window = Arc::new(Semaphore::new(128));
    let reader = {
        let window = window.clone();
        tokio::spawn(async move {
            let mut ids = Vec::with_capacity(count as usize);
            while (ids.len() as u64) < count {
                match rx.recv().await? {
                    Some(ServerFrame::Ack(ack)) => {
                        if let (Some(seq), Some(id)) = (ack.seq, ack.id) {
                            ids.push((seq, id));
                            window.add_permits(1);
                        }
                    }
                    Some(ServerFrame::Error(e)) => anyhow::bail!("fill refused: {}", e.message),
                    Some(_) => {}
                    None => anyhow::bail!("closed while filling"),
                }
            }
            Ok(ids)
        })
    };
    for k in 0..count {
        window.acquire().await?.forget();
        tx.feed(&message(
            format!("h{filler}-{k}"),
            &receiver,
            body(k, 0, 64),
        ))
        .await?;
        if k % 32 == 31 {
            tx.flush().await?;
        }
    }
    tx.flush().await?;
    reader.await?
}
