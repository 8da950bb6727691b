//! `fanout`: R rooms of M members; every member sends at a fixed rate, open loop (each send is
//! scheduled in advance and latency counts from that intended time, so a stalled server cannot
//! hide its queueing: coordinated-omission safe). Every recipient records send-to-receipt
//! latency on the one clock. With `--check`, every member must see every sequence number of its
//! room exactly once (its own messages as acks, the others' as messages).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use confab_client::protocol::{Receiver, RoomName, ServerFrame};
use serde_json::json;

use super::{body, connect_in_room, message, parse_body, Clock};
use crate::latency;
use crate::progress::{self, Counters};
use crate::target::Target;
use crate::users::{register, run_prefix};
use crate::{Common, Report};

#[derive(Debug, Clone, Args)]
pub struct Options {
    /// Number of rooms
    #[arg(long, default_value_t = 4)]
    pub rooms: usize,
    /// Members per room
    #[arg(long, default_value_t = 25)]
    pub members: usize,
    /// Messages per second each member sends
    #[arg(long, default_value_t = 1.0)]
    pub rate: f64,
    /// Message content size in bytes
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    /// Capacity sweep: run at each of these per-member rates (ascending) and report the
    /// highest whose p99 stays under --p99-bound-ms with nothing lost
    #[arg(long, value_delimiter = ',')]
    pub sweep: Vec<f64>,
    /// The p99 bound of the sweep, in milliseconds
    #[arg(long, default_value_t = 10.0)]
    pub p99_bound_ms: f64,
}

/// Time allowed after the last send for deliveries to arrive.
const DRAIN: Duration = Duration::from_secs(2);

pub(super) struct MemberResult {
    pub room: usize,
    pub sent: u64,
    pub seen: BTreeSet<u64>,
    pub duplicates: u64,
    pub errors: Vec<String>,
    pub latency: hdrhistogram::Histogram<u64>,
}

pub async fn run(target: &Target, common: &Common, options: Options) -> anyhow::Result<Report> {
    if options.sweep.is_empty() {
        run_once(target, common, options).await
    } else {
        super::sweep::run(target, common, options).await
    }
}

/// One run at `options.rate`.
pub async fn run_once(
    target: &Target,
    common: &Common,
    options: Options,
) -> anyhow::Result<Report> {
    anyhow::ensure!(options.rate > 0.0, "--rate must be positive");
    if let Some(peer) = target.peer {
        return super::fanout_peer::run(target, common, options, peer).await;
    }
    let prefix = run_prefix();
    let total = options.rooms * options.members;
    let users = register(&target.endpoint, &prefix, total).await?;
    let clock = Clock::start();
    let counters = Arc::new(Counters::default());
    let interval_us = (1e6 / options.rate) as u64;
    let mut connections = Vec::new();
    for (i, user) in users.iter().enumerate() {
        let room = RoomName::parse(&format!("#{prefix}-f{}", i % options.rooms))?;
        connections.push((
            i,
            room.clone(),
            connect_in_room(&target.node(i).endpoint, user, &room, common.transport).await?,
        ));
    }
    let start = clock.micros() + 200_000;
    let end = start + common.duration().as_micros() as u64;
    let mut tasks = Vec::new();
    for (i, room, connection) in connections {
        let counters = counters.clone();
        let size = options.size;
        // Stagger first sends evenly over one interval.
        let first = start + interval_us * i as u64 / total as u64;
        tasks.push(tokio::spawn(async move {
            member(
                connection,
                i % options.rooms,
                room,
                clock,
                first,
                end,
                interval_us,
                size,
                counters,
            )
            .await
        }));
    }
    let line = progress::start("fanout", counters.clone());
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await??);
    }
    progress::stop(line);
    let seconds = (end - start) as f64 / 1e6;

    let mut report = Report::new(
        "fanout",
        json!({"rooms": options.rooms, "members": options.members, "rate_per_member": options.rate,
               "size": options.size, "duration_s": common.duration,
               "transport": common.transport.to_string()}),
    );
    let sent: u64 = results.iter().map(|r| r.sent).sum();
    super::fanout_figures(
        &mut report,
        total as f64 * options.rate,
        ("acked_per_sec", sent),
        results.iter().map(|r| &r.latency),
        seconds,
    );
    if common.check {
        report.check = Some(check(&results, options.rooms));
    }
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn member(
    connection: confab_client::Connection,
    room_index: usize,
    room: RoomName,
    clock: Clock,
    first: u64,
    end: u64,
    interval_us: u64,
    size: usize,
    counters: Arc<Counters>,
) -> anyhow::Result<MemberResult> {
    let (mut tx, mut rx) = connection.split();
    let receiver = Receiver::Room(room);
    let drain_until = clock.at(end) + DRAIN;
    let reader = {
        let counters = counters.clone();
        tokio::spawn(async move {
            let mut seen = BTreeSet::new();
            let mut duplicates = 0;
            let mut errors = Vec::new();
            let mut histogram = latency::histogram();
            loop {
                let frame = match tokio::time::timeout_at(drain_until.into(), rx.recv()).await {
                    Err(_) | Ok(Ok(None)) => break,
                    Ok(frame) => frame?,
                };
                let (seq, content) = match frame {
                    Some(ServerFrame::Message(m)) => (m.seq, Some(m.content)),
                    Some(ServerFrame::Ack(ack)) => match ack.seq {
                        Some(seq) => (seq, None),
                        None => continue,
                    },
                    Some(ServerFrame::Error(err)) => {
                        errors.push(format!("{}: {}", err.code, err.message));
                        continue;
                    }
                    _ => continue,
                };
                if !seen.insert(seq) {
                    duplicates += 1;
                }
                match content.as_deref().and_then(parse_body) {
                    Some((_, intended)) => {
                        latency::record(&mut histogram, clock.micros().saturating_sub(intended));
                        Counters::add(&counters.delivered, 1);
                    }
                    None => Counters::add(&counters.acked, 1),
                }
            }
            Ok::<_, anyhow::Error>((seen, duplicates, errors, histogram))
        })
    };
    let mut k = 0u64;
    loop {
        let intended = first + k * interval_us;
        if intended >= end {
            break;
        }
        tokio::time::sleep_until(clock.at(intended).into()).await;
        tx.send(&message(
            format!("f{k}"),
            &receiver,
            body(k, intended, size),
        ))
        .await?;
        Counters::add(&counters.sent, 1);
        k += 1;
    }
    let (seen, duplicates, errors, latency) = reader.await??;
    Ok(MemberResult {
        room: room_index,
        sent: k,
        seen,
        duplicates,
        errors,
        latency,
    })
}

/// Every member must have seen exactly the sequence numbers 1..=n of its room, where n is the
/// number of messages sent into that room.
pub(super) fn check(results: &[MemberResult], rooms: usize) -> Vec<String> {
    let mut problems = Vec::new();
    for room in 0..rooms {
        let members: Vec<&MemberResult> = results.iter().filter(|r| r.room == room).collect();
        let sent: u64 = members.iter().map(|r| r.sent).sum();
        let expected: BTreeSet<u64> = (1..=sent).collect();
        for (i, member) in members.iter().enumerate() {
            problems.extend(
                member
                    .errors
                    .iter()
                    .map(|e| format!("room {room} member {i}: {e}")),
            );
            if member.duplicates > 0 {
                problems.push(format!(
                    "room {room} member {i}: {} duplicates",
                    member.duplicates
                ));
            }
            if member.seen != expected {
                let missing = expected.difference(&member.seen).count();
                let extra = member.seen.difference(&expected).count();
                problems.push(format!(
                    "room {room} member {i}: {missing} missing, {extra} unexpected of {sent}"
                ));
            }
        }
    }
    problems
}
