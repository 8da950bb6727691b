//! `reconnect`: N clients in one room drop their connections at once; while they are away a
//! sender posts M messages; then all reconnect at once, resuming from the last sequence number
//! each holds. Reports the time until every client is back and has caught up. With `--check`,
//! every client must receive exactly the M messages it missed, in order.

use std::time::Instant;

use clap::Args;
use confab_client::protocol::{Login, Receiver, RoomName, ServerFrame};
use confab_client::Connection;
use futures_util::stream::{self, StreamExt};
use serde_json::json;

use super::{body, connect_in_room, message};
use crate::target::Target;
use crate::users::{register, run_prefix};
use crate::{Common, Report};

#[derive(Debug, Clone, Args)]
pub struct Options {
    /// Clients that drop and come back
    #[arg(long, default_value_t = 1000)]
    pub clients: usize,
    /// Messages posted while they are away
    #[arg(long, default_value_t = 10)]
    pub missed: u64,
    /// Reconnections in progress at once
    #[arg(long, default_value_t = 256)]
    pub concurrency: usize,
}

pub async fn run(target: &Target, _common: &Common, options: Options) -> anyhow::Result<Report> {
    let limit = rlimit::increase_nofile_limit(u64::MAX)?;
    anyhow::ensure!(
        (options.clients as u64) < limit.saturating_sub(64),
        "{} clients need more than the {limit} open files this process may hold",
        options.clients
    );
    let prefix = run_prefix();
    // Registering is the slow part (password hashing): users share out the clients.
    let users = register(&target.endpoint, &prefix, options.clients.clamp(1, 50) + 1).await?;
    let room = RoomName::parse(&format!("#{prefix}-r"))?;
    let receiver = Receiver::Room(room.clone());
    let (sender_user, members) = users.split_last().expect("at least two users");
    let mut sender = connect_in_room(
        &target.endpoint,
        sender_user,
        &room,
        confab_client::Transport::Ws,
    )
    .await?;
    for user in members {
        drop(connect_in_room(&target.endpoint, user, &room, confab_client::Transport::Ws).await?);
    }
    let base = {
        sender
            .send(&message("r0".into(), &receiver, body(0, 0, 32)))
            .await?;
        wait_ack(&mut sender, "r0").await?
    };
    let login = |i: usize| Login {
        token: Some(members[i % members.len()].token.clone()),
        cursors: [(receiver.clone(), base)].into_iter().collect(),
        ..Login::default()
    };

    // All online, then all dropped at once (sockets closed without a goodbye).
    let online: Vec<Connection> = stream::iter(0..options.clients)
        .map(|i| {
            let login = login(i);
            let endpoint = &target.endpoint;
            async move {
                Connection::connect_login(endpoint, login)
                    .await
                    .map(|(c, _)| c)
            }
        })
        .buffer_unordered(options.concurrency.max(1))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    drop(online);

    // Everyone away: post the messages they will miss.
    for k in 1..=options.missed {
        let id = format!("r{k}");
        sender
            .send(&message(id.clone(), &receiver, body(k, 0, 32)))
            .await?;
        wait_ack(&mut sender, &id).await?;
    }
    let last = base + options.missed;

    let started = Instant::now();
    let results: Vec<anyhow::Result<Vec<u64>>> = stream::iter(0..options.clients)
        .map(|i| {
            let login = login(i);
            let endpoint = &target.endpoint;
            async move {
                let (mut connection, _) = Connection::connect_login(endpoint, login).await?;
                let mut seqs = Vec::new();
                while seqs.last().copied().unwrap_or(base) < last {
                    match connection.recv().await? {
                        Some(ServerFrame::Message(m)) => seqs.push(m.seq),
                        Some(_) => {}
                        None => anyhow::bail!("closed while catching up"),
                    }
                }
                Ok(seqs)
            }
        })
        .buffer_unordered(options.concurrency.max(1))
        .collect()
        .await;
    let seconds = started.elapsed().as_secs_f64();

    let mut report = Report::new(
        "reconnect",
        json!({"clients": options.clients, "missed": options.missed, "concurrency": options.concurrency}),
    );
    report.figure("all_back_and_caught_up_s", seconds);
    report.figure("reconnects_per_sec", options.clients as f64 / seconds);
    let expected: Vec<u64> = (base + 1..=last).collect();
    let mut problems = Vec::new();
    for (i, result) in results.into_iter().enumerate() {
        match result {
            Ok(seqs) if seqs == expected => {}
            Ok(seqs) => problems.push(format!("client {i} caught up with {seqs:?}")),
            Err(err) => problems.push(format!("client {i}: {err}")),
        }
    }
    report.check = Some(problems);
    Ok(report)
}

async fn wait_ack(connection: &mut Connection, id: &str) -> anyhow::Result<u64> {
    loop {
        match connection.recv().await? {
            Some(ServerFrame::Ack(ack)) if ack.reply_to == id => {
                return ack.seq.ok_or_else(|| anyhow::anyhow!("ack without seq"))
            }
            Some(ServerFrame::Error(e)) => anyhow::bail!("refused: {}", e.message),
            Some(_) => continue,
            None => anyhow::bail!("closed"),
        }
    }
}
