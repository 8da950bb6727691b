//! The `confab` binary: argument parsing only. `confab serve` runs the server, `confab chat`
//! talks to one from a terminal, `confab bench` measures one, `confab cert dev` makes a
//! development certificate.

#![forbid(unsafe_code)]

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use confab_server::Config;
use tokio_util::sync::CancellationToken;

/// mimalloc rather than the system allocator: argon2's 19 MiB aligned blocks fragmented glibc's
/// heap so badly that every login kept ~18 MiB resident; mimalloc returns them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "confab",
    version,
    about = "A real-time chat server and its tools"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the chat server (WebSocket on /ws, REST on /api/v1).
    Serve(Box<ServeArgs>),
    /// Measure a server: throughput, latency, connection scale (starts one if none is given).
    Bench(BenchArgs),
    /// Chat from the terminal (`--plain` for scripts and pipes).
    Chat(confab_chat::ChatArgs),
    /// Certificates for TLS.
    #[command(subcommand)]
    Cert(CertCommand),
}

#[derive(Subcommand)]
enum CertCommand {
    /// Write a self-signed certificate and key for local use (dev-cert.pem, dev-key.pem)
    Dev(CertDevArgs),
}

#[derive(clap::Args)]
struct CertDevArgs {
    /// A host name or IP address the certificate is for (repeat for more)
    /// [default: localhost, 127.0.0.1 and ::1]
    #[arg(long = "host", value_name = "NAME")]
    hosts: Vec<String>,
    /// Directory to write the files into [default: the data dir, ./confab-data]
    #[arg(long, env = "CONFAB_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Days the certificate is valid
    #[arg(long, default_value_t = 365)]
    days: u32,
}

#[derive(clap::Args)]
struct BenchArgs {
    #[command(flatten)]
    common: confab_bench::Common,
    #[command(subcommand)]
    scenario: confab_bench::Scenario,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "CONFAB_LISTEN")]
    listen: Option<SocketAddr>,
    /// Address for the TCP gateway (newline-delimited JSON frames); off unless given
    #[arg(long, env = "CONFAB_TCP_LISTEN")]
    tcp_listen: Option<SocketAddr>,
    /// Address for the UDP gateway (JSON datagrams of at most 4096 bytes); off unless given
    #[arg(long, env = "CONFAB_UDP_LISTEN")]
    udp_listen: Option<SocketAddr>,
    /// Directory for the embedded database [default: ./confab-data]
    #[arg(long, env = "CONFAB_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The database: a postgres:// (or postgresql://) URL to share one PostgreSQL among several
    /// nodes [default: SQLite in the data dir]
    #[arg(
        long,
        env = "CONFAB_DATABASE",
        hide_env_values = true,
        value_name = "URL"
    )]
    database: Option<String>,
    /// TOML file with further settings (limits, rates, timeouts); flags win over it
    #[arg(long, env = "CONFAB_CONFIG")]
    config: Option<PathBuf>,
    /// Serve the test-only WebSocket echo on /conformance/echo (for conformance suites)
    #[arg(long)]
    conformance_echo: bool,
    /// Serve the web client from this directory instead of the built-in copy (development)
    #[arg(long, env = "CONFAB_WEB_DIR")]
    web_dir: Option<PathBuf>,
    /// Accept JWTs from your application backend, checked with this key: an HS256 secret
    /// file, an RS256/ES256/EdDSA public key in PEM, or a JWKS file
    #[arg(long, env = "CONFAB_JWT_KEY")]
    jwt_key: Option<PathBuf>,
    /// The `iss` every JWT must carry
    #[arg(long, env = "CONFAB_JWT_ISSUER")]
    jwt_issuer: Option<String>,
    /// The `aud` every JWT must carry
    #[arg(long, env = "CONFAB_JWT_AUDIENCE")]
    jwt_audience: Option<String>,
    /// Keep attachment bytes in this shared store instead of <data-dir>/blobs, so that every
    /// node serves every upload: postgres://user:password@host:port/db
    #[arg(
        long,
        env = "CONFAB_BLOB_STORE",
        hide_env_values = true,
        value_name = "URL"
    )]
    blob_store: Option<String>,
    /// A reverse proxy (address or CIDR network) whose X-Forwarded-For is believed; repeat or
    /// separate with commas. Default none
    #[arg(
        long = "trusted-proxy",
        env = "CONFAB_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    trusted_proxies: Vec<confab_server::config::IpNet>,
    /// Serve /metrics to any peer that sends `Authorization: Bearer <TOKEN>` (without it,
    /// /metrics answers loopback peers only)
    #[arg(long, env = "CONFAB_METRICS_TOKEN", hide_env_values = true)]
    metrics_token: Option<String>,
    /// Join other nodes on this bus (redis://host:port[/db]); default: this node is alone
    #[arg(long, env = "CONFAB_BUS", hide_env_values = true)]
    bus: Option<String>,
    /// What the bus channel and keys start with, so deployments can share one Redis
    #[arg(long, env = "CONFAB_BUS_NAMESPACE")]
    bus_namespace: Option<String>,
    /// Log lines as human-readable text, or as one JSON object per line for log shippers
    #[arg(long, env = "CONFAB_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Let pages of this origin (scheme://host[:port], e.g. https://chat.example.com) open
    /// WebSockets besides the server's own; repeat or separate with commas
    #[arg(
        long = "allowed-origin",
        env = "CONFAB_ALLOWED_ORIGINS",
        value_delimiter = ',',
        value_name = "ORIGIN"
    )]
    allowed_origins: Vec<String>,
    /// Serve https and wss with this PEM certificate chain (reloaded when it changes, and on
    /// SIGHUP); needs --tls-key
    #[arg(
        long,
        env = "CONFAB_TLS_CERT",
        requires = "tls_key",
        value_name = "FILE"
    )]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert
    #[arg(
        long,
        env = "CONFAB_TLS_KEY",
        requires = "tls_cert",
        value_name = "FILE"
    )]
    tls_key: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Log targets that print payloads (frames, headers, statement parameters) below info.
const PAYLOAD_LOGGERS: [&str; 6] = [
    "tungstenite=info",
    "tokio_tungstenite=info",
    "hyper=info",
    "hyper_util=info",
    "h2=info",
    "tokio_postgres=info",
];

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // The server logs to stdout; the tools keep stdout for their output.
    let serving = matches!(cli.command, Command::Serve(_));
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(if serving { "info" } else { "warn" })
    });
    // Libraries that log whole frames and headers at debug and trace (tokens, passwords) stay
    // at info whatever RUST_LOG asks: secrets never reach the log.
    for quiet in PAYLOAD_LOGGERS {
        filter = filter.add_directive(quiet.parse().expect("a valid directive"));
    }
    let logs = tracing_subscriber::fmt().with_env_filter(filter);
    let json = matches!(&cli.command, Command::Serve(args) if args.log_format == LogFormat::Json);
    if json {
        logs.json().with_current_span(false).init();
    } else if serving {
        logs.with_ansi(std::io::stdout().is_terminal()).init();
    } else {
        logs.with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .init();
    }
    match cli.command {
        Command::Serve(args) => serve(*args),
        Command::Bench(args) => bench(args),
        Command::Chat(args) => chat(args),
        Command::Cert(CertCommand::Dev(args)) => cert_dev(args),
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = match &args.config {
        Some(path) => Config::from_file(path)?,
        None => Config::default(),
    };
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(tcp) = args.tcp_listen {
        config.tcp_listen = Some(tcp);
    }
    if let Some(udp) = args.udp_listen {
        config.udp_listen = Some(udp);
    }
    if args.conformance_echo {
        config.conformance_echo = true;
    }
    if let Some(dir) = args.data_dir {
        config.data_dir = dir;
    }
    if let Some(url) = args.database {
        config.database = Some(url);
    }
    if let Some(dir) = args.web_dir {
        config.web_dir = Some(dir);
    }
    if let Some(key) = args.jwt_key {
        config.jwt.key_file = Some(key);
    }
    if let Some(issuer) = args.jwt_issuer {
        config.jwt.issuer = Some(issuer);
    }
    if let Some(audience) = args.jwt_audience {
        config.jwt.audience = Some(audience);
    }
    if !args.trusted_proxies.is_empty() {
        config.trusted_proxies = args.trusted_proxies;
    }
    if let Some(url) = args.blob_store {
        config.attachments.blob_store =
            Some(confab_server::config::BlobStoreUrl::parse(&url).map_err(anyhow::Error::msg)?);
    }
    if let Some(token) = args.metrics_token {
        config.metrics_token = Some(token);
    }
    if let Some(bus) = args.bus {
        config.bus = Some(bus);
    }
    if let Some(namespace) = args.bus_namespace {
        config.bus_namespace = namespace;
    }
    config.allowed_origins.extend(args.allowed_origins);
    if let (Some(cert), Some(key)) = (args.tls_cert, args.tls_key) {
        config.tls.cert = Some(cert);
        config.tls.key = Some(key);
    }
    config.validate()?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let shutdown = CancellationToken::new();
        tokio::spawn(cancel_on_signal(shutdown.clone()));
        // With TLS the server reloads its certificate on SIGHUP; without, a SIGHUP (from a
        // service manager's reload) must not end the process.
        #[cfg(unix)]
        if !config.tls.enabled() {
            tokio::spawn(hangups_do_nothing());
        }
        confab_server::run(config, listener, shutdown).await?;
        Ok(())
    })
}

fn cert_dev(args: CertDevArgs) -> anyhow::Result<()> {
    let dir = args.data_dir.unwrap_or_else(|| Config::default().data_dir);
    let made = confab_server::tls::dev::write(&dir, &args.hosts, args.days)?;
    let (cert, key) = (made.cert.display(), made.key.display());
    println!(
        "wrote {cert} (self-signed, for {}; valid {} days)",
        made.hosts.join(", "),
        args.days
    );
    println!("wrote {key} (its private key, readable by you only)");
    println!();
    println!("serve with:  confab serve --tls-cert {cert} --tls-key {key}");
    println!("chat with:   confab chat wss://localhost:8080 --ca-file {cert}");
    println!("browsers warn about a self-signed certificate until you trust {cert}");
    Ok(())
}

fn chat(args: confab_chat::ChatArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let code = runtime.block_on(confab_chat::run(args))?;
    std::process::exit(code);
}

fn bench(args: BenchArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let report = runtime.block_on(confab_bench::run(args.common, args.scenario))?;
    anyhow::ensure!(report.passed(), "the --check found problems (see above)");
    Ok(())
}

/// Logs each SIGHUP: there is nothing to reload without TLS.
#[cfg(unix)]
async fn hangups_do_nothing() {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        return;
    };
    while hangups.recv().await.is_some() {
        tracing::info!("SIGHUP: nothing to reload (no TLS certificate)");
    }
}

/// Cancels `shutdown` on Ctrl-C or SIGTERM.
async fn cancel_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("signal received");
    shutdown.cancel();
}
