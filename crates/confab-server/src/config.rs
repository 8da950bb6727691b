//! Server configuration: one typed struct with a documented default for every limit. It is read
//! from an optional TOML file (`--config`); flags and `CONFAB_*` variables, applied by the binary,
//! win over the file. Every field may be left out of the file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use confab_protocol::Limits;
pub use ipnet::IpNet;
use serde::Deserialize;

mod blob;
mod transport;
pub use blob::BlobStoreUrl;
pub use transport::{TlsSettings, TransportLimits};

/// Everything `run` needs to know.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on (HTTP and WebSocket). Default `127.0.0.1:8080`.
    pub listen: SocketAddr,
    /// Address of the TCP gateway (newline-delimited JSON). Off unless set.
    pub tcp_listen: Option<SocketAddr>,
    /// Address of the UDP gateway (JSON datagrams). Off unless set.
    pub udp_listen: Option<SocketAddr>,
    /// Directory for the SQLite database. Default `./confab-data`.
    pub data_dir: PathBuf,
    /// The database: a `postgres://` or `postgresql://` URL selects PostgreSQL (several nodes
    /// may share it; see docs/postgres.md). Default none: SQLite in `data_dir`.
    pub database: Option<String>,
    /// Frame, content and history limits.
    pub limits: Limits,
    /// Rate limits.
    pub rate: RateLimits,
    /// Per-session bounds and timers.
    pub session: SessionLimits,
    /// The Server-Sent Events + POST fallback transport (`/api/v1/events`, `/api/v1/frames`).
    pub sse: SseLimits,
    /// Origins (scheme://host[:port]) allowed to open a WebSocket besides the server's own.
    /// Requests without an `Origin` header (non-browser clients) are always allowed.
    pub allowed_origins: Vec<String>,
    /// Storage tuning.
    pub store: StoreTuning,
    /// Serve the web client from this directory instead of the copy built into the binary
    /// (for working on the client). Off unless set.
    pub web_dir: Option<PathBuf>,
    /// Uploads: sizes, thumbnails, rates and garbage collection.
    pub attachments: AttachmentLimits,
    /// Contacts, invitations and invite links.
    pub social: SocialLimits,
    /// Rooms: mutes and room passwords.
    pub rooms: RoomLimits,
    /// JWTs minted by the deployment's own backend, accepted wherever a session token is.
    pub jwt: JwtSettings,
    /// Limits against password guessing, handshake floods and session hoarding.
    pub abuse: AbuseLimits,
    /// Addresses or networks (CIDR) of reverse proxies whose `X-Forwarded-For` is believed
    /// (also `--trusted-proxy`). Default none: the peer address is the client's.
    pub trusted_proxies: Vec<IpNet>,
    /// A secret that lets any peer read `/metrics` with `Authorization: Bearer <it>`. Unset
    /// (the default), `/metrics` answers only peers on a loopback address.
    pub metrics_token: Option<String>,
    /// Serve the test-only WebSocket echo route `/conformance/echo` (for the Autobahn
    /// conformance run, `conformance/autobahn.sh`). Default `false`: the path is a 404.
    pub conformance_echo: bool,
    /// TLS: certificate, key and their reloading. Off unless set.
    pub tls: TlsSettings,
    /// Connections per address and the handshake and request head deadlines.
    pub transport: TransportLimits,
    /// The bus between nodes: `redis://host:port[/db]`. Unset (the default), the node is
    /// alone and events stay in the process. See docs/scaling.md.
    pub bus: Option<String>,
    /// What this deployment's channel and keys on the bus start with, so several deployments
    /// can share one Redis. Default `confab`.
    pub bus_namespace: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            tcp_listen: None,
            udp_listen: None,
            data_dir: PathBuf::from("confab-data"),
            database: None,
            limits: Limits::default(),
            rate: RateLimits::default(),
            session: SessionLimits::default(),
            sse: SseLimits::default(),
            allowed_origins: Vec::new(),
            store: StoreTuning::default(),
            web_dir: None,
            attachments: AttachmentLimits::default(),
            social: SocialLimits::default(),
            rooms: RoomLimits::default(),
            abuse: AbuseLimits::default(),
            jwt: JwtSettings::default(),
            trusted_proxies: Vec::new(),
            metrics_token: None,
            conformance_echo: false,
            tls: TlsSettings::default(),
            transport: TransportLimits::default(),
            bus: None,
            bus_namespace: "confab".to_owned(),
        }
    }
}

/// Token-bucket rate limits: a sustained rate per second and a burst.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    /// Frames of any kind one connection may send per second. Default 50.
    pub frames_per_sec: f64,
    /// Burst of frames one connection may send at once. Default 100.
    pub frames_burst: f64,
    /// Messages one user may send per second, over all their sessions. Default 20.
    pub messages_per_sec: f64,
    /// Burst of messages one user may send at once. Default 50.
    pub messages_burst: f64,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            frames_per_sec: 50.0,
            frames_burst: 100.0,
            messages_per_sec: 20.0,
            messages_burst: 50.0,
        }
    }
}

/// Bounds on each session.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionLimits {
    /// Frames queued for one session at most; one more closes it as a slow consumer at once.
    /// Default 8192.
    pub outbound_queue: usize,
    /// Bytes queued for one session (frames plus 64 bytes each) before it counts as a slow
    /// consumer: a queue over this for `slow_consumer_secs` closes with 4000, and one at
    /// twice this closes at once. Default 1048576 (1 MiB).
    pub outbound_queue_bytes: usize,
    /// Seconds a session's queue may stay over `outbound_queue_bytes`. Default 5.
    pub slow_consumer_secs: u64,
    /// Seconds between WebSocket pings to the peer. Default 20.
    pub ping_interval_secs: u64,
    /// Seconds without any frame from the peer (pongs count) before it is dropped. Default 60.
    pub idle_timeout_secs: u64,
    /// Seconds a new connection has to authenticate. Default 10.
    pub login_timeout_secs: u64,
    /// Seconds a graceful shutdown waits for sessions to flush. Default 5.
    pub shutdown_grace_secs: u64,
    /// Presence changes go to the members of rooms up to this size (and to direct contacts);
    /// members of bigger rooms read who is online from `members`. Default 1000.
    pub presence_max_room: usize,
    /// WebSocket connections, event streams and TCP connections one IP address may have open
    /// at once; one more is refused with `rate_limited`. Default 1000.
    pub max_connections_per_ip: usize,
}

impl Default for SessionLimits {
    fn default() -> Self {
        Self {
            outbound_queue: 8192,
            outbound_queue_bytes: 1024 * 1024,
            slow_consumer_secs: 5,
            ping_interval_secs: 20,
            idle_timeout_secs: 60,
            login_timeout_secs: 10,
            shutdown_grace_secs: 5,
            presence_max_room: 1000,
            max_connections_per_ip: 1000,
        }
    }
}

impl SessionLimits {
    pub fn ping_interval(&self) -> Duration {
        Duration::from_secs(self.ping_interval_secs.max(1))
    }
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs.max(1))
    }
    pub fn login_timeout(&self) -> Duration {
        Duration::from_secs(self.login_timeout_secs.max(1))
    }
    pub fn slow_consumer_grace(&self) -> Duration {
        Duration::from_secs(self.slow_consumer_secs)
    }
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }
}

/// Bounds and timers of the Server-Sent Events transport.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SseLimits {
    /// Seconds between heartbeat comments (`: ping`) on an idle stream, so proxies keep it
    /// open. Default 15.
    pub heartbeat_secs: u64,
    /// Seconds a stream's session is kept after its connection drops, waiting for the
    /// EventSource to come back with `Last-Event-ID`; then it closes like a dropped
    /// WebSocket. Default 30.
    pub resume_grace_secs: u64,
    /// Events each stream keeps for replay to a reconnecting client; events not yet written
    /// are never dropped from it (when it is full of them, the outbound queue fills and the
    /// slow-consumer rule applies). Default 256.
    pub replay_events: usize,
    /// Seconds a `POST /api/v1/frames` waits for the replies of its frames; replies that come
    /// later go on the stream. Default 10.
    pub post_timeout_secs: u64,
}

impl Default for SseLimits {
    fn default() -> Self {
        Self {
            heartbeat_secs: 15,
            resume_grace_secs: 30,
            replay_events: 256,
            post_timeout_secs: 10,
        }
    }
}

impl SseLimits {
    pub fn heartbeat(&self) -> Duration {
        Duration::from_secs(self.heartbeat_secs.max(1))
    }
    pub fn resume_grace(&self) -> Duration {
        Duration::from_secs(self.resume_grace_secs)
    }
    pub fn post_timeout(&self) -> Duration {
        Duration::from_secs(self.post_timeout_secs.max(1))
    }
}

/// Storage tuning.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreTuning {
    /// Most writes committed in one transaction (group commit). Default 512.
    pub max_batch: usize,
    /// Writes accepted but not yet committed, over all sessions, before senders wait. Default 8192.
    pub max_pending_writes: usize,
    /// Connections to PostgreSQL per node (when `database` names it). Default 16.
    pub pool_size: usize,
}

impl Default for StoreTuning {
    fn default() -> Self {
        Self {
            max_batch: 512,
            max_pending_writes: 8192,
            pool_size: crate::store::postgres::DEFAULT_POOL_SIZE,
        }
    }
}

/// Limits on uploads (`POST /api/v1/attachments`) and their collection.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AttachmentLimits {
    /// Largest upload in bytes; a bigger one is refused with 413 `too_large`. Default 25 MiB.
    pub max_bytes: u64,
    /// Longer side of an image's thumbnail, in pixels. Default 320.
    pub thumbnail_px: u32,
    /// Most pixels (width x height) an image may have to be decoded for its thumbnail; a bigger
    /// one (or a decompression bomb claiming to be one) is kept as a plain file. Default 40
    /// megapixels.
    pub max_image_pixels: u64,
    /// Uploads one user may stream at the same time; one more is refused with 429
    /// `rate_limited`. Default 2.
    pub max_concurrent_uploads: usize,
    /// Uploads one user may start per minute (sustained). Default 30.
    pub uploads_per_minute: f64,
    /// Uploads one user may start at once before the per-minute rate applies. Default 10.
    pub uploads_burst: f64,
    /// Seconds an upload may go without receiving a byte before it is abandoned. Default 30.
    pub idle_timeout_secs: u64,
    /// Images decoded at the same time over the whole server (each holds its pixels in
    /// memory). Default 2.
    pub max_concurrent_thumbnails: usize,
    /// Seconds an upload that no message carries and no profile uses is kept before the
    /// collector removes it. Default 86400 (24 h).
    pub unposted_ttl_secs: u64,
    /// Seconds between two runs of the collector. Default 600.
    pub gc_interval_secs: u64,
    /// A shared blob store for the bytes, so that every node serves every upload:
    /// `postgres://...` (also `--blob-store`, `CONFAB_BLOB_STORE`). Default unset: blobs are
    /// files under `<data_dir>/blobs/`.
    pub blob_store: Option<BlobStoreUrl>,
}

impl Default for AttachmentLimits {
    fn default() -> Self {
        Self {
            max_bytes: 25 * 1024 * 1024,
            thumbnail_px: 320,
            max_image_pixels: 40_000_000,
            max_concurrent_uploads: 2,
            uploads_per_minute: 30.0,
            uploads_burst: 10.0,
            idle_timeout_secs: 30,
            max_concurrent_thumbnails: 2,
            unposted_ttl_secs: 24 * 60 * 60,
            gc_interval_secs: 600,
            blob_store: None,
        }
    }
}

/// JWT authentication (see `auth::jwt`). Off unless `key_file` is set.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JwtSettings {
    /// The key: an HS256 secret file, an RS256/ES256/EdDSA public key in PEM, or a JWKS file
    /// (also `--jwt-key`, `CONFAB_JWT_KEY`).
    pub key_file: Option<PathBuf>,
    /// The `iss` every token must carry (also `--jwt-issuer`). Default: not checked.
    pub issuer: Option<String>,
    /// The `aud` every token must carry (also `--jwt-audience`). Default: not checked.
    pub audience: Option<String>,
}

/// Limits against abuse. Addresses count per IPv4 address and per IPv6 /64.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AbuseLimits {
    /// Password logins and registrations one address may attempt per minute (REST and
    /// in-band `login` alike); more get `rate_limited` (429 with `Retry-After`). Default 60.
    pub attempts_per_ip_per_min: f64,
    /// Burst of such attempts from one address. Default 60.
    pub attempts_per_ip_burst: f64,
    /// Failed logins one username may have per `failed_login_window_secs`; after that, logins
    /// as that user are refused with `rate_limited` without checking the password, until the
    /// window lets one more through. Default 10.
    pub failed_logins_per_user: u32,
    /// The window of `failed_logins_per_user`, in seconds. Default 600.
    pub failed_login_window_secs: u64,
    /// WebSocket handshakes (`/ws` upgrades) one address may make per second. Default 10.
    pub handshakes_per_ip_per_sec: f64,
    /// Burst of handshakes from one address. Default 50.
    pub handshakes_per_ip_burst: f64,
    /// Sessions (over every transport) one user may have open; one more is refused with
    /// `rate_limited`. Default 100.
    pub max_sessions_per_user: usize,
    /// Threads that hash and check passwords (argon2id, 19 MiB each); logins beyond wait in a
    /// queue. 0 (the default) means half the CPU cores, at least one, so that a login flood
    /// always leaves cores to chat.
    pub password_hash_threads: usize,
}

impl AbuseLimits {
    /// The number of password hashing threads to run.
    pub fn hash_threads(&self) -> usize {
        match self.password_hash_threads {
            0 => (std::thread::available_parallelism().map_or(2, |n| n.get()) / 2).max(1),
            n => n,
        }
    }
}

impl Default for AbuseLimits {
    fn default() -> Self {
        Self {
            attempts_per_ip_per_min: 60.0,
            attempts_per_ip_burst: 60.0,
            failed_logins_per_user: 10,
            failed_login_window_secs: 600,
            handshakes_per_ip_per_sec: 10.0,
            handshakes_per_ip_burst: 50.0,
            max_sessions_per_user: 100,
            password_hash_threads: 0,
        }
    }
}

/// Bounds on host powers and room passwords.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoomLimits {
    /// Longest mute, in seconds, at most 100 years. Default 2592000 (30 days).
    pub max_mute_secs: u64,
    /// Room password attempts (a `join` with a password, of a room that has one) one user may
    /// make per second, over all their sessions and REST. Default 0.2 (one every 5 s).
    pub password_attempts_per_sec: f64,
    /// Burst of room password attempts one user may make at once. Default 5.
    pub password_attempts_burst: f64,
}

impl Default for RoomLimits {
    fn default() -> Self {
        Self {
            max_mute_secs: 30 * 24 * 3600,
            password_attempts_per_sec: 0.2,
            password_attempts_burst: 5.0,
        }
    }
}

/// Bounds on contacts, invitations and invite links.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SocialLimits {
    /// Most contacts one user may have; adding more gets `too_large`. Default 1000.
    pub max_contacts: usize,
    /// Most pending invitations one user may have; inviting them again gets `too_large`.
    /// Default 100.
    pub max_pending_invitations: usize,
    /// Most live (not expired, used up or revoked) invite links one room may have; creating
    /// more gets `too_large`. Default 100.
    pub max_invite_links: usize,
    /// Lifetime of an invite link created without `expires_in_secs`. Default 604800 (7 days).
    pub invite_default_expiry_secs: u64,
    /// Longest `expires_in_secs` accepted; longer gets `bad_request`. Default 2592000 (30 days).
    pub invite_max_expiry_secs: u64,
    /// Largest `max_uses` accepted, and the use limit of a link created without one.
    /// Default 1000.
    pub invite_max_uses: u32,
}

impl Default for SocialLimits {
    fn default() -> Self {
        Self {
            max_contacts: 1000,
            max_pending_invitations: 100,
            max_invite_links: 100,
            invite_default_expiry_secs: 7 * 24 * 3600,
            invite_max_expiry_secs: 30 * 24 * 3600,
            invite_max_uses: 1000,
        }
    }
}

impl AttachmentLimits {
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs.max(1))
    }
    pub fn unposted_ttl(&self) -> Duration {
        Duration::from_secs(self.unposted_ttl_secs)
    }
    pub fn gc_interval(&self) -> Duration {
        Duration::from_secs(self.gc_interval_secs.max(1))
    }
}

/// A configuration file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config {path}: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("invalid config: {0}")]
    Invalid(String),
}

impl Config {
    /// Reads a TOML file; missing fields keep their defaults.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let config: Config = toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source,
        })?;
        Ok(config)
    }

    /// Rejects settings that cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |what: &str| Err(ConfigError::Invalid(what.to_owned()));
        self.tls.validate()?;
        self.transport.validate()?;
        if let Some(url) = &self.database {
            crate::store::postgres::url::parse(url).map_err(|e| match e {
                crate::store::StoreError::Backend(why) => ConfigError::Invalid(why),
                other => ConfigError::Invalid(other.to_string()),
            })?;
        }
        transport::validate_origins(&self.allowed_origins)?;
        if let Some(bus) = &self.bus {
            if !bus.starts_with("redis://") {
                return bad("bus must be a redis:// URL");
            }
            if self.database.is_none() {
                // Nodes that each keep their own SQLite file cannot share conversations.
                return bad("a bus between nodes needs a shared database: set database (--database postgres://...)");
            }
        }
        let namespace_ok = |c: char| c.is_ascii_alphanumeric() || "-_.:".contains(c);
        if self.bus_namespace.is_empty()
            || self.bus_namespace.len() > 64
            || !self.bus_namespace.chars().all(namespace_ok)
        {
            return bad("bus_namespace must be 1 to 64 letters, digits, '-', '_', '.' or ':'");
        }
        if self.limits.max_content_bytes == 0 || self.limits.max_frame_bytes == 0 {
            return bad("limits must be positive");
        }
        if self.limits.max_content_bytes > self.limits.max_frame_bytes {
            return bad("limits.max_content_bytes cannot exceed limits.max_frame_bytes");
        }
        if self.limits.max_history_limit == 0 {
            return bad("limits.max_history_limit must be positive");
        }
        let r = &self.rate;
        if [
            r.frames_per_sec,
            r.frames_burst,
            r.messages_per_sec,
            r.messages_burst,
        ]
        .iter()
        .any(|v| !v.is_finite() || *v <= 0.0)
        {
            return bad("rate limits must be positive numbers");
        }
        if self
            .metrics_token
            .as_ref()
            .is_some_and(|t| t.len() < 16 || t.len() > 256)
        {
            return bad("metrics_token must have 16 to 256 characters");
        }
        if self.session.outbound_queue == 0 || self.session.outbound_queue_bytes < 64 * 1024 {
            return bad(
                "session.outbound_queue must be positive and session.outbound_queue_bytes at least 65536 (a frame's limit)",
            );
        }
        if self.session.max_connections_per_ip == 0 {
            return bad("session.max_connections_per_ip must be positive");
        }
        if self.sse.replay_events == 0 {
            return bad("sse.replay_events must be positive");
        }
        if self.store.max_batch == 0 || self.store.max_pending_writes == 0 {
            return bad("store.max_batch and store.max_pending_writes must be positive");
        }
        let a = &self.attachments;
        if a.max_bytes == 0
            || a.thumbnail_px == 0
            || a.max_image_pixels == 0
            || a.max_concurrent_uploads == 0
            || a.max_concurrent_thumbnails == 0
        {
            return bad("attachments limits must be positive");
        }
        if [a.uploads_per_minute, a.uploads_burst]
            .iter()
            .any(|v| !v.is_finite() || *v < 1.0)
        {
            return bad("attachments.uploads_per_minute and uploads_burst must be at least 1");
        }
        let social = &self.social;
        if social.max_contacts == 0
            || social.max_pending_invitations == 0
            || social.max_invite_links == 0
            || social.invite_default_expiry_secs == 0
            || social.invite_max_uses == 0
        {
            return bad("social limits must be positive");
        }
        if social.invite_default_expiry_secs > social.invite_max_expiry_secs {
            return bad(
                "social.invite_default_expiry_secs cannot exceed social.invite_max_expiry_secs",
            );
        }
        let abuse = &self.abuse;
        if [
            abuse.attempts_per_ip_per_min,
            abuse.attempts_per_ip_burst,
            abuse.handshakes_per_ip_per_sec,
            abuse.handshakes_per_ip_burst,
        ]
        .iter()
        .any(|v| !v.is_finite() || *v <= 0.0)
            || abuse.failed_logins_per_user == 0
            || abuse.failed_login_window_secs == 0
            || abuse.max_sessions_per_user == 0
        {
            return bad("abuse limits must be positive");
        }
        let rooms = &self.rooms;
        if rooms.max_mute_secs > 100 * 365 * 24 * 3600 {
            return bad("rooms.max_mute_secs is at most 100 years");
        }
        if rooms.max_mute_secs == 0
            || [
                rooms.password_attempts_per_sec,
                rooms.password_attempts_burst,
            ]
            .iter()
            .any(|v| !v.is_finite() || *v <= 0.0)
        {
            return bad("rooms limits must be positive");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_file_keeps_defaults() {
        let config: Config =
            toml::from_str("listen = \"127.0.0.1:9000\"\n[limits]\nmax_content_bytes = 100\n")
                .unwrap();
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.limits.max_content_bytes, 100);
        assert_eq!(config.limits.max_frame_bytes, 64 * 1024);
        assert_eq!(config.session.outbound_queue, 8192);
        assert_eq!(config.session.outbound_queue_bytes, 1024 * 1024);
        assert_eq!(config.session.slow_consumer_secs, 5);
        assert_eq!(config.attachments.max_bytes, 25 * 1024 * 1024);
        config.validate().unwrap();
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        assert!(toml::from_str::<Config>("lisen = \"x\"").is_err());
        let mut config = Config::default();
        config.rate.messages_per_sec = 0.0;
        assert!(config.validate().is_err());
        let mut config = Config::default();
        config.social.invite_default_expiry_secs = config.social.invite_max_expiry_secs + 1;
        assert!(config.validate().is_err());
        let social: Config = toml::from_str("[social]\nmax_contacts = 5\n").unwrap();
        assert_eq!(social.social.max_contacts, 5);
        assert_eq!(social.social.invite_max_uses, 1000);
        config.rooms.max_mute_secs = 0;
        assert!(config.validate().is_err());
        let rooms: Config = toml::from_str("[rooms]\nmax_mute_secs = 60\n").unwrap();
        assert_eq!(rooms.rooms.max_mute_secs, 60);
        assert_eq!(rooms.rooms.password_attempts_burst, 5.0);
        let sse: Config = toml::from_str("[sse]\nheartbeat_secs = 5\n").unwrap();
        assert_eq!(sse.sse.heartbeat(), Duration::from_secs(5));
        assert_eq!(sse.sse.replay_events, 256);
        assert!(toml::from_str::<Config>("[sse]\nheartbeat = 5\n").is_err());
        let mut config = Config::default();
        config.sse.replay_events = 0;
        assert!(config.validate().is_err());
    }

    #[test]
    fn the_conformance_run_config_is_valid_and_the_echo_is_off_by_default() {
        assert!(!Config::default().conformance_echo);
        let config: Config =
            toml::from_str(include_str!("../../../conformance/server.toml")).unwrap();
        config.validate().unwrap();
        // Autobahn section 9 sends messages of 16 MiB.
        assert!(config.limits.max_frame_bytes >= 16 * 1024 * 1024);
        assert!(
            !config.conformance_echo,
            "the flag turns it on, not the file"
        );
        let on: Config = toml::from_str("conformance_echo = true\n").unwrap();
        assert!(on.conformance_echo);
    }
}
