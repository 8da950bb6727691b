//! `dm`: pairs of users in ping-pong over direct messages. The pinger sends, the ponger echoes
//! each message back, the pinger measures the round trip and sends the next: closed loop, so
//! this measures latency at low load and, with many pairs, the peak direct-message rate.

use std::sync::Arc;

use clap::Args;
use confab_client::protocol::{Receiver, ServerFrame, Username};
use confab_client::{Connection, Sender};
use serde_json::json;

use super::{body, message, parse_body, Clock};
use crate::latency::{self, percentiles};
use crate::progress::{self, Counters};
use crate::target::Target;
use crate::users::{register, run_prefix};
use crate::{Common, Report};

#[derive(Debug, Clone, Args)]
pub struct Options {
    /// Number of ping-pong pairs
    #[arg(long, default_value_t = 8)]
    pub pairs: usize,
    /// Message content size in bytes
    #[arg(long, default_value_t = 64)]
    pub size: usize,
}

struct PairResult {
    round_trips: u64,
    problems: Vec<String>,
    latency: hdrhistogram::Histogram<u64>,
}

pub async fn run(target: &Target, common: &Common, options: Options) -> anyhow::Result<Report> {
    let prefix = run_prefix();
    let users = register(&target.endpoint, &prefix, options.pairs * 2).await?;
    let clock = Clock::start();
    let counters = Arc::new(Counters::default());
    let end = clock.micros() + common.duration().as_micros() as u64;
    let mut tasks = Vec::new();
    for (p, pair) in users.chunks(2).enumerate() {
        // The two ends of a pair are on different nodes when there are several.
        let (ping, _) = Connection::connect_via(
            &target.node(2 * p).endpoint,
            &pair[0].token,
            common.transport,
        )
        .await?;
        let (pong, _) = Connection::connect_via(
            &target.node(2 * p + 1).endpoint,
            &pair[1].token,
            common.transport,
        )
        .await?;
        let to_pong = Receiver::User(Username::parse(&pair[1].name)?);
        let to_ping = Receiver::User(Username::parse(&pair[0].name)?);
        tokio::spawn(echo(pong, to_ping));
        let counters = counters.clone();
        let size = options.size;
        tasks.push(tokio::spawn(async move {
            pinger(ping, to_pong, clock, end, size, counters).await
        }));
    }
    let line = progress::start("dm", counters.clone());
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await??);
    }
    progress::stop(line);
    let seconds = common.duration().as_secs_f64();
    let mut report = Report::new(
        "dm",
        json!({"pairs": options.pairs, "size": options.size, "duration_s": common.duration,
               "transport": common.transport.to_string()}),
    );
    let trips: u64 = results.iter().map(|r| r.round_trips).sum();
    report.figure("round_trips_per_sec", trips as f64 / seconds);
    report.figure("dm_messages_per_sec", 2.0 * trips as f64 / seconds);
    let mut all = latency::histogram();
    for result in &results {
        all.add(&result.latency).ok();
    }
    report
        .latency
        .push(("round_trip".into(), percentiles(&all)));
    if common.check {
        report.check = Some(results.into_iter().flat_map(|r| r.problems).collect());
    }
    Ok(report)
}

/// Echoes every direct message back to its sender.
async fn echo(connection: Connection, to: Receiver) -> anyhow::Result<()> {
    let (mut tx, mut rx) = connection.split();
    let mut k = 0u64;
    while let Some(frame) = rx.recv().await? {
        if let ServerFrame::Message(m) = frame {
            tx.send(&message(format!("e{k}"), &to, m.content)).await?;
            k += 1;
        }
    }
    Ok(())
}

async fn pinger(
    connection: Connection,
    to: Receiver,
    clock: Clock,
    end: u64,
    size: usize,
    counters: Arc<Counters>,
) -> anyhow::Result<PairResult> {
    let (mut tx, mut rx) = connection.split();
    let mut result = PairResult {
        round_trips: 0,
        problems: Vec::new(),
        latency: latency::histogram(),
    };
    let mut k = 0u64;
    send_ping(&mut tx, &to, k, clock, size).await?;
    Counters::add(&counters.sent, 1);
    while clock.micros() < end {
        let Some(frame) = rx.recv().await? else {
            result.problems.push("connection closed".into());
            break;
        };
        match frame {
            ServerFrame::Message(m) => {
                let Some((echoed, sent)) = parse_body(&m.content) else {
                    continue;
                };
                if echoed != k {
                    result
                        .problems
                        .push(format!("expected echo {k}, got {echoed}"));
                }
                latency::record(&mut result.latency, clock.micros() - sent);
                result.round_trips += 1;
                Counters::add(&counters.delivered, 2);
                k += 1;
                send_ping(&mut tx, &to, k, clock, size).await?;
                Counters::add(&counters.sent, 1);
            }
            ServerFrame::Ack(_) => Counters::add(&counters.acked, 1),
            ServerFrame::Error(err) => result
                .problems
                .push(format!("{}: {}", err.code, err.message)),
            _ => {}
        }
    }
    Ok(result)
}

async fn send_ping(
    tx: &mut Sender,
    to: &Receiver,
    k: u64,
    clock: Clock,
    size: usize,
) -> anyhow::Result<()> {
    tx.send(&message(format!("p{k}"), to, body(k, clock.micros(), size)))
        .await?;
    Ok(())
}
