//! The capacity sweep (`fanout --sweep R1,R2,...`): runs `fanout` at rising per-member rates
//! and reports capacity as the highest offered rate whose p99 stays under the bound with
//! nothing lost. "Nothing lost" alone is not capacity: a saturated server can stay loss-free
//! while its latency grows without bound. Every rate is reported (a noisy machine can miss the
//! bound at one rate and meet it at the next); the sweep stops once p99 passes ten times the
//! bound.

use serde_json::json;

use super::fanout::{self, Options};
use crate::target::Target;
use crate::{Common, Report};

pub async fn run(target: &Target, common: &Common, options: Options) -> anyhow::Result<Report> {
    let mut rates = options.sweep.clone();
    rates.sort_by(f64::total_cmp);
    let members = (options.rooms * options.members) as f64;
    let checked = Common {
        check: true,
        json: None,
        ..common.clone()
    };
    let mut report = Report::new(
        "fanout-sweep",
        json!({"peer": target.peer.map(|p| p.name()), "rooms": options.rooms, "members": options.members,
               "rates": rates, "p99_bound_ms": options.p99_bound_ms, "size": options.size,
               "duration_s": common.duration}),
    );
    let mut capacity = 0.0;
    let mut problems = Vec::new();
    for rate in rates {
        let step = Options {
            rate,
            sweep: Vec::new(),
            ..options.clone()
        };
        let run = fanout::run_once(target, &checked, step).await?;
        let p99 = run.latency.first().map_or(f64::INFINITY, |(_, p)| p.p99_ms);
        let lossless = run.passed();
        // confab must lose nothing at any rate; a peer's loss past saturation is a result.
        if target.peer.is_none() {
            problems.extend(
                run.check
                    .iter()
                    .flatten()
                    .map(|problem| format!("at {rate}/s per member: {problem}")),
            );
        }
        eprintln!(
            "[sweep] {:.0} msgs/s offered: p99 {p99:.2} ms, {}",
            members * rate,
            if lossless { "nothing lost" } else { "LOSS" }
        );
        if let Some((_, percentiles)) = run.latency.into_iter().next() {
            report.latency.push((
                format!("at_{:.0}_msgs_per_sec", members * rate),
                percentiles,
            ));
        }
        if lossless && p99 < options.p99_bound_ms {
            capacity = members * rate;
        }
        // Far past the bound the server is saturated: higher rates only take longer.
        if !lossless || p99 >= 10.0 * options.p99_bound_ms {
            break;
        }
    }
    // confab's exactly-once holds at every rate, over capacity too: any loss is a failure.
    report.check = Some(problems);
    report.figure("capacity_msgs_per_sec", capacity);
    report.figure(
        "capacity_deliveries_per_sec",
        capacity * (options.members.saturating_sub(1)) as f64,
    );
    Ok(report)
}
