//! `confab bench`: drives a confab server over real WebSocket connections (or, with
//! `--transport sse`, Server-Sent Events and POSTs) and measures it.
//! Each scenario ([`scenarios`]) runs for a fixed duration, prints a progress line while it
//! runs and a human summary at the end, and can write its figures as JSON. `--check` verifies
//! that every message reached every intended recipient exactly once and fails loudly if not.
//!
//! Without `--server`, the bench starts `confab serve` itself on a temporary data directory with
//! rate limits raised by configuration ([`target`]).

#![forbid(unsafe_code)]

mod latency;
pub mod peer;
mod progress;
mod report;
pub mod scenarios;
mod target;
mod users;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

pub use report::Report;

/// Options every scenario shares.
#[derive(Debug, Clone, Args)]
pub struct Common {
    /// A running server (ws://host:port); without it the bench starts its own. Several
    /// (repeat, or separate with commas) are nodes of one deployment: the members of dm,
    /// fanout, durable and connections are spread over them round robin
    #[arg(long, global = true, value_delimiter = ',')]
    pub server: Vec<String>,
    /// With a wss:// --server: trust this PEM certificate too (a development certificate)
    #[arg(long, global = true)]
    pub ca_file: Option<PathBuf>,
    /// The server's process id, to read its memory from /proc (known when the bench starts it)
    #[arg(long, global = true)]
    pub server_pid: Option<u32>,
    /// How long the measured phase lasts, in seconds
    #[arg(long, global = true, default_value_t = 10.0)]
    pub duration: f64,
    /// Verify exactly-once delivery and fail if anything is missing or doubled
    #[arg(long, global = true)]
    pub check: bool,
    /// Write the report as JSON to this file
    #[arg(long, global = true)]
    pub json: Option<PathBuf>,
    /// Measure a peer chat instead of confab (fanout and connections only)
    #[arg(long, global = true, value_enum)]
    pub peer: Option<peer::Peer>,
    /// Where the peers live (npm ci there first)
    #[arg(long, global = true, default_value = "bench/peers")]
    pub peers_dir: PathBuf,
    /// How the measured clients reach confab: ws, or sse (Server-Sent Events + POST; dm and
    /// fanout only)
    #[arg(long, global = true, default_value = "ws")]
    pub transport: confab_client::Transport,
}

impl Common {
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.duration.max(0.1))
    }
}

/// The scenarios.
#[derive(Debug, Clone, Subcommand)]
pub enum Scenario {
    /// Sustained acknowledged (committed) messages per second to the store
    Durable(scenarios::durable::Options),
    /// R rooms of M members, each member sending at a fixed rate: throughput and latency
    Fanout(scenarios::fanout::Options),
    /// Pairs in ping-pong over direct messages: round-trip latency
    Dm(scenarios::dm::Options),
    /// N idle authenticated sessions: connect rate and server memory per session
    Connections(scenarios::connections::Options),
    /// History page latency in a conversation of N stored messages
    History(scenarios::history::Options),
    /// N clients dropped at once come back and catch up: time until all have
    Reconnect(scenarios::reconnect::Options),
    /// Members who stop reading: everyone else's latency, and the server's memory
    SlowConsumer(scenarios::slow_consumer::Options),
    /// Concurrent wrong-password logins: does chat stall for everyone else?
    LoginFlood(scenarios::login_flood::Options),
}

/// Runs one scenario; the report says whether `--check` passed.
pub async fn run(common: Common, scenario: Scenario) -> anyhow::Result<Report> {
    if common.peer.is_some() && !matches!(scenario, Scenario::Fanout(_) | Scenario::Connections(_))
    {
        anyhow::bail!("--peer measures only the fanout and connections scenarios");
    }
    if common.transport == confab_client::Transport::Sse
        && !matches!(scenario, Scenario::Fanout(_) | Scenario::Dm(_))
    {
        anyhow::bail!("--transport sse measures only the dm and fanout scenarios");
    }
    if common.transport == confab_client::Transport::Sse && common.peer.is_some() {
        anyhow::bail!("--transport sse measures confab, not a --peer");
    }
    let target = target::Target::open(&common).await?;
    let report = match scenario {
        Scenario::Durable(options) => scenarios::durable::run(&target, &common, options).await,
        Scenario::Fanout(options) => scenarios::fanout::run(&target, &common, options).await,
        Scenario::Dm(options) => scenarios::dm::run(&target, &common, options).await,
        Scenario::Connections(options) => {
            scenarios::connections::run(&target, &common, options).await
        }
        Scenario::History(options) => scenarios::history::run(&target, &common, options).await,
        Scenario::Reconnect(options) => scenarios::reconnect::run(&target, &common, options).await,
        Scenario::SlowConsumer(options) => {
            scenarios::slow_consumer::run(&target, &common, options).await
        }
        Scenario::LoginFlood(options) => {
            scenarios::login_flood::run(&target, &common, options).await
        }
    };
    let nodes = target.connections_per_node();
    target.close().await;
    let mut report = report?;
    if nodes.iter().any(|node| node.connections > 0) {
        report.nodes = nodes;
    }
    println!("{}", report.summary());
    if let Some(path) = &common.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)?;
    }
    Ok(report)
}
