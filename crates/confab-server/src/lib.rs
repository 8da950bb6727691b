//! The confab server as a library: [`run`] serves a [`Config`] on a bound listener until a
//! shutdown token is cancelled. The binary parses arguments and calls it; tests call it on
//! `127.0.0.1:0`.
//!
//! Layers, top to bottom: [`transport`] accepts connections (per-address limits, TLS from
//! [`tls`], the HTTP accept loop); [`gateway`] (transports) and [`http`] turn bytes into
//! protocol frames; [`hub`] applies the rules and fans out; [`store`] keeps state durably;
//! [`bus`] carries events between them (and, later, between nodes).

#![forbid(unsafe_code)]

pub mod attachments;
pub mod auth;
pub mod bus;
pub mod clock;
pub mod config;
pub mod error;
pub mod gateway;
pub mod http;
pub mod hub;
pub mod metrics;
pub mod store;
pub mod tls;
pub mod transport;

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::bus::{Bus, Event, LocalBus};
pub use crate::config::Config;
use crate::hub::Hub;
use crate::store::postgres::PgStore;
use crate::store::sqlite::SqliteStore;
use crate::store::StoreError;

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("cannot open storage: {0}")]
    Store(#[from] StoreError),
    #[error("cannot start: {0}")]
    Start(String),
    #[error("tls: {0}")]
    Tls(#[from] tls::TlsError),
    #[error("server failed: {0}")]
    Io(#[from] std::io::Error),
}

/// The sockets a server serves on, bound by the caller.
pub struct Listeners {
    /// HTTP: REST, `/healthz` and the WebSocket on `/ws`.
    pub http: TcpListener,
    /// The TCP gateway, if any.
    pub tcp: Option<TcpListener>,
    /// The UDP gateway, if any.
    pub udp: Option<tokio::net::UdpSocket>,
}

impl Listeners {
    /// Binds what `config` asks for besides the HTTP listener.
    pub async fn bind_gateways(config: &Config, http: TcpListener) -> Result<Self, ServeError> {
        let tcp = match config.tcp_listen {
            Some(addr) => Some(TcpListener::bind(addr).await.map_err(|e| {
                ServeError::Start(format!("cannot listen on {addr} (tcp gateway): {e}"))
            })?),
            None => None,
        };
        let udp = match config.udp_listen {
            Some(addr) => Some(tokio::net::UdpSocket::bind(addr).await.map_err(|e| {
                ServeError::Start(format!("cannot bind {addr} (udp gateway): {e}"))
            })?),
            None => None,
        };
        Ok(Self { http, tcp, udp })
    }
}

/// Serves until `shutdown` is cancelled, then stops accepting, lets every session flush and
/// close with 1001, commits pending writes and returns. Binds the gateways `config` names.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    let listeners = Listeners::bind_gateways(&config, listener).await?;
    run_with(config, listeners, shutdown).await
}

/// [`run`] on listeners the caller bound (tests bind port 0 and read the ports back).
pub async fn run_with(
    config: Config,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    let listener = listeners.http;
    config.validate()?;
    // A certificate that does not load stops the start, before anything is opened.
    let reloader = match (&config.tls.cert, &config.tls.key) {
        (Some(cert), Some(key)) => Some(tls::reload::Reloader::open(cert, key).await?),
        _ => None,
    };
    let acceptors = match &reloader {
        Some(reloader) => Some(tls::Acceptors::new(reloader.cert())?),
        None => None,
    };
    let metrics = Arc::new(metrics::Metrics::new());
    // The bus's tasks stop with the hub, after the last session has flushed.
    let bus_stop = CancellationToken::new();
    let _bus_stop = bus_stop.clone().drop_guard();
    let (bus, events): (Arc<dyn Bus>, _) = match &config.bus {
        Some(url) => {
            let (bus, events) =
                bus::redis::RedisBus::start(url, &config.bus_namespace, metrics.clone(), bus_stop)
                    .map_err(|e| ServeError::Start(e.to_string()))?;
            (Arc::new(bus), events)
        }
        None => {
            let (bus, events) = LocalBus::new();
            (Arc::new(bus), events)
        }
    };
    let feed_bus = bus.clone();
    let transport = Arc::new(transport::Transport::new(
        config.transport,
        acceptors,
        metrics.clone(),
    ));
    let reload_interval = config.tls.reload_interval();
    let feed: store::CommitFeed =
        Box::new(move |committed| feed_bus.publish(Event::Message(Box::new(committed))));
    let store: Arc<dyn store::Store> = match &config.database {
        Some(url) => Arc::new(
            PgStore::open_observed(
                url,
                config.store.max_batch,
                config.store.pool_size,
                feed,
                metrics.clone(),
            )
            .await?,
        ),
        None => Arc::new(SqliteStore::open_observed(
            &config.data_dir,
            config.store.max_batch,
            feed,
            metrics.clone(),
        )?),
    };
    let grace = config.session.shutdown_grace();
    let per_ip = gateway::admission::PerIp::new(config.session.max_connections_per_ip);
    let hub = Hub::new(config, store, bus, events, metrics)
        .await
        .map_err(|e| ServeError::Start(e.to_string()))?;
    let tasks = TaskTracker::new();
    let app = http::router(http::AppState {
        hub: hub.clone(),
        shutdown: shutdown.clone(),
        tasks: tasks.clone(),
        streams: gateway::sse::Streams::default(),
        per_ip: per_ip.clone(),
    });
    if let Some(tcp) = listeners.tcp {
        let gateway = gateway::tcp::serve(
            tcp,
            transport.clone(),
            hub.clone(),
            shutdown.clone(),
            tasks.clone(),
            per_ip.clone(),
        );
        tokio::spawn(gateway);
    }
    if let Some(udp) = listeners.udp {
        let gateway = gateway::udp::serve(udp, hub.clone(), shutdown.clone(), tasks.clone());
        tokio::spawn(gateway);
    }
    if let Some(reloader) = reloader {
        tokio::spawn(reloader.run(reload_interval, shutdown.clone()));
    }
    let scheme = if transport.is_tls() { "https" } else { "http" };
    tracing::info!(addr = %listener.local_addr()?, scheme, "confab listening");
    let served = tokio::spawn(transport::http::serve(
        listener,
        transport,
        app,
        shutdown.clone(),
    ));
    shutdown.cancelled().await;
    tracing::info!("shutting down");
    // One grace period for sessions and HTTP requests together: a peer that stopped reading
    // and an upload still arriving must not add up to twice the grace.
    let deadline = tokio::time::Instant::now() + grace;
    tasks.close();
    if tokio::time::timeout_at(deadline, tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("sessions did not close within the grace period");
    }
    if tokio::time::timeout_at(deadline, served).await.is_err() {
        tracing::warn!("HTTP requests did not finish within the grace period");
    }
    hub.shutdown().await;
    tracing::info!("shutdown complete");
    Ok(())
}
