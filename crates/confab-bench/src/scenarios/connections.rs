//! `connections`: opens N authenticated sessions, spread over several 127.0.0.x source
//! addresses, and holds them idle. Reports the connect rate, the time until all are ready, and
//! the server's resident memory per session (from /proc, when the server's pid is known).
//! With `--check`, every session must answer a `ping` at the end.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use clap::Args;
use confab_client::protocol::{ClientFrame, Login, ServerFrame};
use confab_client::Connection;
use futures_util::stream::{self, StreamExt};
use serde_json::json;

use crate::target::Target;
use crate::users::{register, run_prefix};
use crate::{Common, Report};

#[derive(Debug, Clone, Args)]
pub struct Options {
    /// Sessions to open
    #[arg(long, default_value_t = 1000)]
    pub count: usize,
    /// Distinct users the sessions belong to (sessions are spread over them)
    #[arg(long, default_value_t = 50)]
    pub users: usize,
    /// Source addresses 127.0.0.1 .. 127.0.0.N to spread the client sockets over
    #[arg(long, default_value_t = 8)]
    pub sources: u8,
    /// Connections opened at once
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
}

pub async fn run(target: &Target, common: &Common, options: Options) -> anyhow::Result<Report> {
    let limit = rlimit::increase_nofile_limit(u64::MAX)?;
    anyhow::ensure!(
        (options.count as u64) < limit.saturating_sub(64),
        "{} sessions need more than the {limit} open files this process may hold",
        options.count
    );
    if target.peer.is_some() {
        return run_peer(target, common, options).await;
    }
    let users = register(&target.endpoint, &run_prefix(), options.users.max(1)).await?;
    let rss_before = target.rss_bytes();
    let started = Instant::now();
    let sources = options.sources.max(1);
    let mut connections: Vec<Connection> = stream::iter(0..options.count)
        .map(|i| {
            let user = &users[i % users.len()];
            let local = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + (i % sources as usize) as u8));
            let login = Login {
                token: Some(user.token.clone()),
                ..Login::default()
            };
            let node = target.node(i);
            async move {
                Connection::connect_from(&node.endpoint, node.addr, local, login)
                    .await
                    .map(|(connection, _)| connection)
            }
        })
        .buffer_unordered(options.concurrency.max(1))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let all_ready = started.elapsed().as_secs_f64();
    eprintln!(
        "[connections] {} sessions ready in {all_ready:.2}s; holding",
        connections.len()
    );
    tokio::time::sleep(common.duration()).await;
    let rss_after = target.rss_bytes();

    let mut report = Report::new(
        "connections",
        json!({"count": options.count, "users": options.users, "sources": sources, "duration_s": common.duration}),
    );
    connect_figures(&mut report, options.count, all_ready, rss_before, rss_after);
    if common.check {
        let mut problems = Vec::new();
        for (i, connection) in connections.iter_mut().enumerate() {
            if let Err(problem) = ping(connection).await {
                problems.push(format!("session {i}: {problem}"));
            }
        }
        report.check = Some(problems);
    }
    Ok(report)
}

/// The same against a peer chat: sessions there need no account.
async fn run_peer(target: &Target, common: &Common, options: Options) -> anyhow::Result<Report> {
    let rss_before = target.rss_bytes();
    let started = Instant::now();
    let sources = options.sources.max(1);
    let connections: Vec<_> = stream::iter(0..options.count)
        .map(|i| {
            let local = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + (i % sources as usize) as u8));
            let addr = target.addr;
            async move { crate::peer::connect(addr, local, "#idle", &format!("c{i}")).await }
        })
        .buffer_unordered(options.concurrency.max(1))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let all_ready = started.elapsed().as_secs_f64();
    tokio::time::sleep(common.duration()).await;
    let rss_after = target.rss_bytes();
    let mut report = Report::new(
        "connections",
        json!({"peer": target.peer.map(|p| p.name()), "count": options.count, "sources": sources,
               "duration_s": common.duration}),
    );
    connect_figures(&mut report, options.count, all_ready, rss_before, rss_after);
    if common.check {
        report.check = Some(if connections.len() == options.count {
            vec![]
        } else {
            vec![format!(
                "{} of {} connected",
                connections.len(),
                options.count
            )]
        });
    }
    Ok(report)
}

/// Connect rate, time to all ready, and the server's memory per session when it is known.
fn connect_figures(
    report: &mut Report,
    count: usize,
    all_ready: f64,
    rss_before: Option<u64>,
    rss_after: Option<u64>,
) {
    report.figure("connect_per_sec", count as f64 / all_ready);
    report.figure("time_to_all_ready_s", all_ready);
    if let (Some(before), Some(after)) = (rss_before, rss_after) {
        report.figure("server_rss_before_bytes", before as f64);
        report.figure("server_rss_after_bytes", after as f64);
        report.figure(
            "server_rss_per_session_bytes",
            after.saturating_sub(before) as f64 / count as f64,
        );
    }
}

async fn ping(connection: &mut Connection) -> anyhow::Result<()> {
    connection
        .send(&ClientFrame::Ping {
            id: Some("alive".into()),
        })
        .await?;
    loop {
        match connection.recv().await? {
            Some(ServerFrame::Pong { .. }) => return Ok(()),
            Some(_) => continue,
            None => anyhow::bail!("closed"),
        }
    }
}
