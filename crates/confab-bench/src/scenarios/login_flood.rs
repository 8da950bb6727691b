//! `login-flood`: does a flood of password logins stall chat for everyone else? One room of M
//! members chatting at a fixed rate (as in `slow-consumer`'s quiet run) is measured twice:
//! quiet, and while F concurrent clients send wrong-password logins as fast as they are
//! answered (each for a different unknown username, so the per-username limit never stops
//! them; the bench's server config lifts the per-address limit, so every one reaches the
//! password hash). Reported: the readers' p99 in both runs and the ratio, and the logins
//! answered per second. Password hashing runs on its own few threads with a bounded queue, so
//! the flood should cost chat little.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use clap::Args;
use confab_client::accounts;
use serde_json::json;

use super::fanout::check;
use super::slow_consumer::{self, room_run};
use crate::target::Target;
use crate::{Common, Report};

#[derive(Debug, Clone, Args)]
pub struct Options {
    /// Members of the chatting room
    #[arg(long, default_value_t = 20)]
    pub members: usize,
    /// Messages per second each member sends
    #[arg(long, default_value_t = 5.0)]
    pub rate: f64,
    /// Message content size in bytes
    #[arg(long, default_value_t = 256)]
    pub size: usize,
    /// Concurrent wrong-password logins
    #[arg(long, default_value_t = 200)]
    pub flood: usize,
}

pub async fn run(target: &Target, common: &Common, options: Options) -> anyhow::Result<Report> {
    anyhow::ensure!(options.flood > 0, "--flood must be positive");
    let room = slow_consumer::Options {
        members: options.members,
        rate: options.rate,
        size: options.size,
        idle: 0,
    };
    let quiet = room_run(target, common, &room, 0, "quiet").await?;

    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let unexpected = Arc::new(AtomicU64::new(0));
    let mut flood = Vec::new();
    for worker in 0..options.flood {
        let (stop, answered, unexpected) = (stop.clone(), answered.clone(), unexpected.clone());
        let endpoint = target.endpoint.clone();
        flood.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let body = json!({"username": format!("flood{worker}x{n}"),
                                  "password": "certainly not the password"});
                match accounts::post(&endpoint, "/api/v1/login", body.to_string()).await {
                    Ok((401, _)) => answered.fetch_add(1, Ordering::Relaxed),
                    _ => unexpected.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    let started = std::time::Instant::now();
    let flooded = room_run(target, common, &room, 0, "flood").await;
    let seconds = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for task in flood {
        let _ = task.await;
    }
    let flooded = flooded?;

    let mut report = Report::new(
        "login-flood",
        json!({"members": options.members, "rate_per_member": options.rate, "size": options.size,
               "flood": options.flood, "duration_s": common.duration}),
    );
    let (quiet_p, flood_p) = (quiet.latency(), flooded.latency());
    report.figure("quiet_p99_ms", quiet_p.p99_ms);
    report.figure("flood_p99_ms", flood_p.p99_ms);
    if quiet_p.p99_ms > 0.0 {
        report.figure("flood_over_quiet_p99", flood_p.p99_ms / quiet_p.p99_ms);
    }
    report.figure(
        "refused_logins_per_sec",
        answered.load(Ordering::Relaxed) as f64 / seconds,
    );
    report.figure(
        "login_answers_other_than_401",
        unexpected.load(Ordering::Relaxed) as f64,
    );
    report.latency.push(("quiet".into(), quiet_p));
    report.latency.push(("flood".into(), flood_p));
    if common.check {
        let mut problems: Vec<String> = check(&quiet.results, 1)
            .into_iter()
            .chain(check(&flooded.results, 1))
            .collect();
        let other = unexpected.load(Ordering::Relaxed);
        if other > 0 {
            problems.push(format!("{other} logins were not answered 401"));
        }
        report.check = Some(problems);
    }
    Ok(report)
}
