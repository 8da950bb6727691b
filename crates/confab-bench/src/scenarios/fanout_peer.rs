//! `fanout` against a peer chat (`--peer`): the same rooms, members, rates and open-loop
//! schedule as against confab, over the peers' smaller contract (no accounts, no acks, nothing
//! stored). With `--check`, every member must receive every other member's messages exactly
//! once (by sender and number: the peers have no sequence numbers).

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::fanout::Options;
use super::{body, parse_body, Clock};
use crate::latency;
use crate::peer::{self, Peer};
use crate::progress::{self, Counters};
use crate::target::Target;
use crate::{Common, Report};

const DRAIN: Duration = Duration::from_secs(2);

struct Member {
    room: usize,
    name: String,
    sent: u64,
    seen: HashSet<(String, u64)>,
    duplicates: u64,
    latency: hdrhistogram::Histogram<u64>,
}

pub async fn run(
    target: &Target,
    common: &Common,
    options: Options,
    peer: Peer,
) -> anyhow::Result<Report> {
    let total = options.rooms * options.members;
    let clock = Clock::start();
    let counters = Arc::new(Counters::default());
    let interval_us = (1e6 / options.rate) as u64;
    let mut connections = Vec::new();
    for i in 0..total {
        let room = format!("#f{}", i % options.rooms);
        let name = format!("u{i}");
        let local = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + (i % 8) as u8));
        connections.push((
            i,
            name.clone(),
            peer::connect(target.addr, local, &room, &name).await?,
        ));
    }
    // Let the peer register every subscription before the first send.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let start = clock.micros() + 200_000;
    let end = start + common.duration().as_micros() as u64;
    let mut tasks = Vec::new();
    for (i, name, (mut tx, mut rx)) in connections {
        let counters = counters.clone();
        let size = options.size;
        let first = start + interval_us * i as u64 / total as u64;
        let drain_until = clock.at(end) + DRAIN;
        tasks.push(tokio::spawn(async move {
            let reader = {
                let counters = counters.clone();
                tokio::spawn(async move {
                    let mut seen = HashSet::new();
                    let mut duplicates = 0;
                    let mut histogram = latency::histogram();
                    while let Ok(Ok(Some((sender, content)))) =
                        tokio::time::timeout_at(drain_until.into(), peer::recv(&mut rx)).await
                    {
                        let Some((k, intended)) = parse_body(&content) else {
                            continue;
                        };
                        if !seen.insert((sender, k)) {
                            duplicates += 1;
                        }
                        latency::record(&mut histogram, clock.micros().saturating_sub(intended));
                        Counters::add(&counters.delivered, 1);
                    }
                    (seen, duplicates, histogram)
                })
            };
            let mut k = 0u64;
            loop {
                let intended = first + k * interval_us;
                if intended >= end {
                    break;
                }
                tokio::time::sleep_until(clock.at(intended).into()).await;
                peer::send(&mut tx, body(k, intended, size)).await?;
                Counters::add(&counters.sent, 1);
                k += 1;
            }
            let (seen, duplicates, latency) = reader.await?;
            Ok::<_, anyhow::Error>(Member {
                room: i % options.rooms,
                name,
                sent: k,
                seen,
                duplicates,
                latency,
            })
        }));
    }
    let line = progress::start("fanout", counters.clone());
    let mut members = Vec::new();
    for task in tasks {
        members.push(task.await??);
    }
    progress::stop(line);
    let seconds = (end - start) as f64 / 1e6;
    let mut report = Report::new(
        "fanout",
        json!({"peer": peer.name(), "rooms": options.rooms, "members": options.members,
               "rate_per_member": options.rate, "size": options.size, "duration_s": common.duration}),
    );
    let sent: u64 = members.iter().map(|m| m.sent).sum();
    super::fanout_figures(
        &mut report,
        total as f64 * options.rate,
        ("sent_per_sec", sent),
        members.iter().map(|m| &m.latency),
        seconds,
    );
    if common.check {
        let mut problems = Vec::new();
        let sent_by: HashMap<&str, (usize, u64)> = members
            .iter()
            .map(|m| (m.name.as_str(), (m.room, m.sent)))
            .collect();
        for member in &members {
            let expected: u64 = sent_by
                .iter()
                .filter(|(name, (room, _))| *room == member.room && **name != member.name)
                .map(|(_, (_, sent))| sent)
                .sum();
            if member.duplicates > 0 || member.seen.len() as u64 != expected {
                problems.push(format!(
                    "{}: {} of {expected} messages, {} duplicates",
                    member.name,
                    member.seen.len(),
                    member.duplicates
                ));
            }
        }
        report.check = Some(problems);
    }
    Ok(report)
}
