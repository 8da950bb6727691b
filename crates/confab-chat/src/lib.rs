//! `confab chat`: the terminal client. [`session`] owns the connection (reconnects, resumes
//! from its cursors, resends what was not acknowledged); [`tui`] is the full-screen client and
//! [`plain`] the line mode for scripts; [`commands`] parses slash commands; [`credentials`]
//! finds or makes a token; [`failover`] picks the next of several servers.

#![forbid(unsafe_code)]

pub mod commands;
pub mod credentials;
pub mod failover;
pub mod format;
pub mod outgoing;
pub mod plain;
pub mod session;
pub mod tracker;
pub mod tui;

use clap::{Args, ValueEnum};
use confab_client::TlsOptions;
use failover::Servers;

/// How `confab chat` reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum TransportChoice {
    /// A WebSocket
    #[default]
    Ws,
    /// Server-Sent Events down and HTTP POSTs up, for networks that block WebSockets
    Sse,
    /// A WebSocket when one can be opened, else Server-Sent Events (tried again at every
    /// reconnection)
    Auto,
}

/// `confab chat` options.
#[derive(Debug, Clone, Args)]
pub struct ChatArgs {
    /// The server (ws://host:port, or wss://host:port for TLS); several, comma-separated or
    /// one after another, are nodes of one deployment, tried in turn when one fails
    /// [default: ws://127.0.0.1:8080]
    #[arg(value_delimiter = ',', value_name = "SERVER")]
    pub server: Vec<String>,
    /// One more server to fail over to (repeat, or separate with commas)
    #[arg(long = "server", value_delimiter = ',', value_name = "SERVER")]
    pub more_servers: Vec<String>,
    /// Line mode: read lines from stdin, print one message per line
    #[arg(long)]
    pub plain: bool,
    /// With --plain: print every frame as JSON
    #[arg(long)]
    pub json: bool,
    /// The conversation to talk in at first: #room (joined if needed) or a username
    #[arg(long, default_value = "#general")]
    pub room: String,
    /// With --plain: keep running after the end of input
    #[arg(long)]
    pub stay: bool,
    /// A session token (instead of a saved one or a login)
    #[arg(long, env = "CONFAB_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Log in as this user (password from CONFAB_PASSWORD, or asked for)
    #[arg(long)]
    pub user: Option<String>,
    /// Create the account first
    #[arg(long, requires = "user")]
    pub register: bool,
    /// Trust this PEM certificate as a root too (for a wss:// server with a development
    /// certificate); the system's roots are always trusted
    #[arg(long)]
    pub ca_file: Option<std::path::PathBuf>,
    /// How to reach the server
    #[arg(long, value_enum, default_value_t = TransportChoice::Ws)]
    pub transport: TransportChoice,
    /// With wss://: do not check the server's certificate at all (anyone on the path could pose
    /// as the server); for a quick look at a development server. Prefer --ca-file
    #[arg(long, conflicts_with = "ca_file")]
    pub insecure: bool,
}

/// The server when none is given.
pub const DEFAULT_SERVER: &str = "ws://127.0.0.1:8080";

/// What the client says at the start while `--insecure` is in force.
pub const INSECURE_WARNING: &str =
    "the server's certificate is not checked (--insecure): anyone on the path could read and change this chat";
/// What the full-screen client's status line shows for the whole run with `--insecure`.
pub const INSECURE_BADGE: &str = "INSECURE: certificate not checked";

/// Runs the client; returns the process exit code.
pub async fn run(args: ChatArgs) -> anyhow::Result<i32> {
    let options = TlsOptions {
        ca_file: args.ca_file.as_deref(),
        insecure: args.insecure,
    };
    let mut addresses: Vec<&str> = args.server.iter().map(String::as_str).collect();
    addresses.extend(args.more_servers.iter().map(String::as_str));
    if addresses.iter().all(|a| a.trim().is_empty()) {
        addresses = vec![DEFAULT_SERVER];
    }
    let servers = Servers::parse(&addresses, options)?;
    // On standard error in both modes (out of a script's output); the full-screen client
    // also keeps a badge on its status line.
    let insecure = servers.all().iter().any(|endpoint| endpoint.insecure);
    let badge = insecure.then_some(INSECURE_BADGE);
    if insecure {
        eprintln!("confab: warning: {INSECURE_WARNING}");
    } else if args.insecure {
        eprintln!(
            "confab: --insecure does nothing for {}: it is not TLS",
            addresses.join(",")
        );
    }
    let login = credentials::LoginOptions {
        token: args.token.clone(),
        user: args.user.clone(),
        password: std::env::var("CONFAB_PASSWORD").ok(),
        register: args.register,
    };
    let token = credentials::token(servers.all(), &login).await?;
    let (commands, updates) = session::spawn(servers, token, args.transport);
    if !args.plain {
        return tui::run(commands, updates, badge).await;
    }
    let options = plain::PlainOptions {
        room: args.room,
        json: args.json,
        stay: args.stay,
    };
    plain::run(options, commands, updates).await
}
