//! Certificate renewal without a restart: [`Reloader`] looks at the certificate and key files
//! every `tls.reload_interval_secs` (by their contents, so a renewal within the same second
//! or with an old modification time is seen too) and on SIGHUP. A changed pair that loads is
//! served from the next handshake on; connections already open are not touched. A pair that
//! does not load (half written, a key that is not the certificate's) is logged and the old
//! certificate kept; it is tried again when either file changes, so an ACME client writing
//! the two files one after the other is picked up once both are written.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use super::certs::{fingerprint, parse_pair, ReloadingCert};
use super::TlsError;

/// What one look at the files found.
#[derive(Debug)]
pub enum Checked {
    /// The files are as they were when last loaded or refused.
    Unchanged,
    /// A new pair is served; its fingerprint.
    Reloaded(String),
    /// The files changed but do not load; the old certificate stays.
    Refused(TlsError),
}

/// Watches one certificate and key pair and keeps a [`ReloadingCert`] up to date.
pub struct Reloader {
    cert_path: PathBuf,
    key_path: PathBuf,
    target: Arc<ReloadingCert>,
    /// The digest of the contents last tried (loaded or refused).
    seen: [u8; 32],
}

impl Reloader {
    /// Loads the pair; a server with TLS asked for does not start without it.
    pub async fn open(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let (cert_pem, key_pem) = read_pair(cert, key).await?;
        let certified = parse_pair(&cert_pem, cert, &key_pem, key)?;
        tracing::info!(
            cert = %cert.display(),
            fingerprint = fingerprint(&certified),
            "tls certificate loaded"
        );
        Ok(Self {
            cert_path: cert.to_owned(),
            key_path: key.to_owned(),
            target: Arc::new(ReloadingCert::new(certified)),
            seen: digest(&cert_pem, &key_pem),
        })
    }

    /// The resolver the acceptors ask.
    pub fn cert(&self) -> Arc<ReloadingCert> {
        self.target.clone()
    }

    /// Reads the files; loads them if they changed since the last try, or if `forced`.
    pub async fn check(&mut self, forced: bool) -> Checked {
        let (cert_pem, key_pem) = match read_pair(&self.cert_path, &self.key_path).await {
            Ok(pair) => pair,
            Err(err) => {
                // An unreadable file counts as its own state, so it is reported once.
                let state = Sha256::digest(err.to_string().as_bytes()).into();
                if state == self.seen && !forced {
                    return Checked::Unchanged;
                }
                self.seen = state;
                return Checked::Refused(err);
            }
        };
        let state = digest(&cert_pem, &key_pem);
        if state == self.seen && !forced {
            return Checked::Unchanged;
        }
        self.seen = state;
        match parse_pair(&cert_pem, &self.cert_path, &key_pem, &self.key_path) {
            Ok(certified) => {
                let print = fingerprint(&certified);
                self.target.replace(certified);
                Checked::Reloaded(print)
            }
            Err(err) => Checked::Refused(err),
        }
    }

    /// Checks every `interval` (if any) and on SIGHUP, logging what happens, until `shutdown`.
    pub async fn run(mut self, interval: Option<Duration>, shutdown: CancellationToken) {
        let mut hangups = hangups();
        let mut ticks = interval.map(|every| {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks
        });
        loop {
            let forced = tokio::select! {
                () = shutdown.cancelled() => return,
                () = tick(&mut ticks) => false,
                () = hangup(&mut hangups) => {
                    tracing::info!("SIGHUP: reloading the tls certificate");
                    true
                }
            };
            match self.check(forced).await {
                Checked::Unchanged => {}
                Checked::Reloaded(print) => tracing::info!(
                    cert = %self.cert_path.display(),
                    fingerprint = print,
                    "tls certificate reloaded"
                ),
                Checked::Refused(err) => tracing::warn!(
                    %err,
                    "the new tls certificate cannot be used; still serving the old one"
                ),
            }
        }
    }
}

fn digest(cert: &[u8], key: &[u8]) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update((cert.len() as u64).to_le_bytes());
    hash.update(cert);
    hash.update(key);
    hash.finalize().into()
}

async fn read_pair(cert: &Path, key: &Path) -> Result<(Vec<u8>, Vec<u8>), TlsError> {
    let read = |path: &Path| {
        let path = path.to_owned();
        async move {
            tokio::fs::read(&path)
                .await
                .map_err(|source| TlsError::Read { path, source })
        }
    };
    Ok((read(cert).await?, read(key).await?))
}

async fn tick(ticks: &mut Option<tokio::time::Interval>) {
    match ticks {
        Some(ticks) => {
            ticks.tick().await;
        }
        None => std::future::pending().await,
    }
}

#[cfg(unix)]
type Hangups = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangups = Option<()>;

#[cfg(unix)]
fn hangups() -> Hangups {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::hangup()) {
        Ok(signal) => Some(signal),
        Err(err) => {
            tracing::warn!(%err, "cannot listen for SIGHUP; the certificate reloads by polling only");
            None
        }
    }
}

#[cfg(not(unix))]
fn hangups() -> Hangups {
    None
}

async fn hangup(hangups: &mut Hangups) {
    #[cfg(unix)]
    if let Some(signal) = hangups {
        if signal.recv().await.is_some() {
            return;
        }
    }
    let _ = hangups;
    std::future::pending().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_pair(dir: &Path) -> (PathBuf, PathBuf) {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, made.cert.pem()).unwrap();
        std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
        (cert, key)
    }

    #[tokio::test]
    async fn a_changed_pair_is_served_and_a_bad_one_is_refused_once_keeping_the_old() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = write_pair(dir.path());
        let mut reloader = Reloader::open(&cert, &key).await.unwrap();
        let first = fingerprint(&reloader.cert().current());
        assert!(matches!(reloader.check(false).await, Checked::Unchanged));
        assert!(matches!(reloader.check(true).await, Checked::Reloaded(p) if p == first));

        write_pair(dir.path());
        let Checked::Reloaded(second) = reloader.check(false).await else {
            panic!("a new pair is loaded");
        };
        assert_ne!(second, first);
        assert_eq!(fingerprint(&reloader.cert().current()), second);

        // A new certificate whose key is not written yet: refused, once; the old one stays.
        let other = tempfile::tempdir().unwrap();
        let (new_cert, new_key) = write_pair(other.path());
        std::fs::copy(&new_cert, &cert).unwrap();
        assert!(matches!(
            reloader.check(false).await,
            Checked::Refused(TlsError::Key(_))
        ));
        assert!(matches!(reloader.check(false).await, Checked::Unchanged));
        assert_eq!(fingerprint(&reloader.cert().current()), second);
        // The key arrives: served.
        std::fs::copy(&new_key, &key).unwrap();
        assert!(matches!(reloader.check(false).await, Checked::Reloaded(p) if p != second));

        std::fs::remove_file(&key).unwrap();
        assert!(matches!(
            reloader.check(false).await,
            Checked::Refused(TlsError::Read { .. })
        ));
        assert!(matches!(reloader.check(false).await, Checked::Unchanged));
        std::fs::write(&key, "garbage").unwrap();
        assert!(matches!(
            reloader.check(false).await,
            Checked::Refused(TlsError::Pem { .. })
        ));
    }

    #[tokio::test]
    async fn a_server_does_not_start_on_a_bad_pair() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, _) = write_pair(dir.path());
        let missing = Reloader::open(&cert, &dir.path().join("nope.pem")).await;
        assert!(matches!(missing, Err(TlsError::Read { .. })));
        let swapped = Reloader::open(&cert, &cert).await;
        assert!(matches!(swapped, Err(TlsError::Pem { .. })));
    }
}
