//! `slow-consumer`: what readers that stop reading cost everyone else. Three runs of one room
//! of M members sending at a fixed rate (open loop, as in `fanout`):
//! 1. quiet: every member reads;
//! 2. stalled: one more member joins and never reads (a socket with a small receive buffer, so
//!    its backlog reaches the server's queue soon); the server should close it (4000) without
//!    the others noticing;
//! 3. idle: N members join and never read; the server's memory is sampled throughout.
//!
//! Reported: the readers' send-to-receipt p99 of each run and the ratio stalled/quiet, the
//! server's resident memory before and at its peak in the idle run (per non-reader), and the
//! slow-consumer closes the server counted (read from its `/metrics`, when it answers).
//! With `--check`, every reader must see every message of its room exactly once in every run.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use confab_client::protocol::RoomName;
use futures_util::SinkExt;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::fanout::{check, member, MemberResult};
use super::{connect_in_room, Clock};
use crate::latency;
use crate::progress::{self, Counters};
use crate::target::Target;
use crate::users::{register, run_prefix, BenchUser};
use crate::{Common, Report};

#[derive(Debug, Clone, Args)]
pub struct Options {
    /// Members of the room that read (and send)
    #[arg(long, default_value_t = 20)]
    pub members: usize,
    /// Messages per second each reading member sends
    #[arg(long, default_value_t = 10.0)]
    pub rate: f64,
    /// Message content size in bytes
    #[arg(long, default_value_t = 1024)]
    pub size: usize,
    /// Members that never read, in the idle run
    #[arg(long, default_value_t = 1000)]
    pub idle: usize,
}

/// The receive buffer of a member that never reads: small, so the server's queue fills soon.
const NON_READER_BUFFER: u32 = 4096;

/// One run's outcome.
pub(super) struct Run {
    pub results: Vec<MemberResult>,
    pub rss_before: Option<u64>,
    pub rss_peak: Option<u64>,
}

impl Run {
    /// The readers' send-to-receipt percentiles, all merged.
    pub fn latency(&self) -> latency::Percentiles {
        let mut all = latency::histogram();
        for r in &self.results {
            all.add(&r.latency).ok();
        }
        latency::percentiles(&all)
    }
}

pub async fn run(target: &Target, common: &Common, options: Options) -> anyhow::Result<Report> {
    anyhow::ensure!(options.rate > 0.0, "--rate must be positive");
    anyhow::ensure!(options.members >= 2, "--members must be at least 2");
    rlimit::increase_nofile_limit(u64::MAX)?;
    let closes_before = slow_consumer_closes(target).await;
    let quiet = room_run(target, common, &options, 0, "quiet").await?;
    let stalled = room_run(target, common, &options, 1, "stalled").await?;
    let closes_stalled = slow_consumer_closes(target).await;
    let idle = room_run(target, common, &options, options.idle, "idle").await?;
    let closes_after = slow_consumer_closes(target).await;

    let mut report = Report::new(
        "slow-consumer",
        json!({"members": options.members, "rate_per_member": options.rate, "size": options.size,
               "idle": options.idle, "duration_s": common.duration}),
    );
    let (quiet_p, stalled_p, idle_p) = (quiet.latency(), stalled.latency(), idle.latency());
    report.figure("quiet_p99_ms", quiet_p.p99_ms);
    report.figure("stalled_p99_ms", stalled_p.p99_ms);
    report.figure("idle_p99_ms", idle_p.p99_ms);
    if quiet_p.p99_ms > 0.0 {
        report.figure("stalled_over_quiet_p99", stalled_p.p99_ms / quiet_p.p99_ms);
        report.figure("idle_over_quiet_p99", idle_p.p99_ms / quiet_p.p99_ms);
    }
    if let (Some(before), Some(peak)) = (idle.rss_before, idle.rss_peak) {
        report.figure("idle_rss_before_bytes", before as f64);
        report.figure("idle_rss_peak_bytes", peak as f64);
        report.figure(
            "idle_rss_per_non_reader_bytes",
            peak.saturating_sub(before) as f64 / options.idle.max(1) as f64,
        );
    }
    if let (Some(before), Some(stalled), Some(after)) =
        (closes_before, closes_stalled, closes_after)
    {
        report.figure(
            "stalled_run_slow_consumer_closes",
            (stalled - before) as f64,
        );
        report.figure("idle_run_slow_consumer_closes", (after - stalled) as f64);
    }
    report.latency.push(("quiet".into(), quiet_p));
    report.latency.push(("stalled".into(), stalled_p));
    report.latency.push(("idle".into(), idle_p));
    if common.check {
        let mut problems = Vec::new();
        for (name, run) in [("quiet", &quiet), ("stalled", &stalled), ("idle", &idle)] {
            problems.extend(
                check(&run.results, 1)
                    .into_iter()
                    .map(|p| format!("{name} run: {p}")),
            );
        }
        report.check = Some(problems);
    }
    Ok(report)
}

/// One room: `options.members` readers sending at the rate, plus `non_readers` that never
/// read. Samples the server's memory while it runs.
pub(super) async fn room_run(
    target: &Target,
    common: &Common,
    options: &Options,
    non_readers: usize,
    name: &'static str,
) -> anyhow::Result<Run> {
    let prefix = run_prefix();
    let room = RoomName::parse(&format!("#{prefix}-slow"))?;
    let users = register(&target.endpoint, &prefix, options.members + non_readers).await?;
    let (readers, idle) = users.split_at(options.members);
    let mut connections = Vec::new();
    for user in readers {
        connections.push(connect_in_room(&target.endpoint, user, &room, common.transport).await?);
    }
    let mut silent = Vec::new();
    for user in idle {
        silent.push(non_reader(target, user, &room).await?);
    }
    // Let the joins land before the first message.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let rss_before = target.rss_bytes();
    let clock = Clock::start();
    let counters = Arc::new(Counters::default());
    let interval_us = (1e6 / options.rate) as u64;
    let start = clock.micros() + 200_000;
    let end = start + common.duration().as_micros() as u64;
    let total = connections.len() as u64;
    let mut tasks = Vec::new();
    for (i, connection) in connections.into_iter().enumerate() {
        let counters = counters.clone();
        let first = start + interval_us * i as u64 / total;
        let (room, size) = (room.clone(), options.size);
        tasks.push(tokio::spawn(async move {
            member(
                connection,
                0,
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
    let line = progress::start(name, counters.clone());
    let peak_reader = {
        let pid = target.pid;
        let sampled = Arc::new(std::sync::Mutex::new(None::<u64>));
        let keep = sampled.clone();
        let task = tokio::spawn(async move {
            loop {
                if let Some(rss) = pid.and_then(crate::target::rss_of) {
                    let mut peak = keep.lock().expect("peak lock");
                    *peak = Some(peak.map_or(rss, |p| p.max(rss)));
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        });
        (sampled, task)
    };
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await??);
    }
    progress::stop(line);
    peak_reader.1.abort();
    let rss_peak = *peak_reader.0.lock().expect("peak lock");
    drop(silent);
    Ok(Run {
        results,
        rss_before,
        rss_peak,
    })
}

type Silent = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// A member that joins `room` and never reads again: its socket's receive buffer is small, so
/// what the server sends backs up into the server's queue for it.
async fn non_reader(target: &Target, user: &BenchUser, room: &RoomName) -> anyhow::Result<Silent> {
    let socket = if target.addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_recv_buffer_size(NON_READER_BUFFER)?;
    let stream = socket.connect(target.addr).await?;
    let url = target.endpoint.ws_url(Some(&user.token));
    let (mut ws, _) = tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(stream)).await?;
    let join = json!({"type": "join", "room": room.as_str()}).to_string();
    ws.send(Message::Text(join.into())).await?;
    Ok(ws)
}

/// The server's `confab_slow_consumer_closes_total`, if its `/metrics` answers this peer.
async fn slow_consumer_closes(target: &Target) -> Option<u64> {
    let mut stream = tokio::net::TcpStream::connect(target.addr).await.ok()?;
    let request = format!(
        "GET /metrics HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        target.endpoint.authority
    );
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut text = String::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut text))
        .await
        .ok()?
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("confab_slow_consumer_closes_total "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|v| v as u64)
}
