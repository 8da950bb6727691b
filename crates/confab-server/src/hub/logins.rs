//! Session control: the tokens a user holds (one per login, with its device, address and when
//! it was last used), revoking one, all others or all, and changing the password (which
//! revokes every other token). A revoked token's live connections close with 4001 within
//! moments (the bus carries the revocation to every session).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use confab_protocol::names::check_password;

use super::Hub;
use crate::auth::TokenHash;
use crate::bus::Event;
use crate::clock;
use crate::error::AppError;
use crate::store::sessions::TokenOrigin;
use crate::store::User;

/// Longest device name kept, in characters.
pub const MAX_DEVICE_CHARS: usize = 64;

/// Who is logging in from where: for the abuse limits and the session list.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub ip: IpAddr,
    /// The client's name for itself, or its User-Agent; "unknown" when it gave neither.
    pub device: String,
}

impl ClientInfo {
    /// `device` is cut to [`MAX_DEVICE_CHARS`] and stripped of control characters.
    pub fn new(ip: IpAddr, device: Option<&str>) -> Self {
        let device: String = device
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_DEVICE_CHARS)
            .collect();
        let device = device.trim();
        Self {
            ip,
            device: if device.is_empty() {
                "unknown".to_owned()
            } else {
                device.to_owned()
            },
        }
    }

    pub(super) fn origin(&self) -> TokenOrigin {
        TokenOrigin {
            device: self.device.clone(),
            ip: self.ip.to_string(),
        }
    }
}

/// One login session as `GET /api/v1/sessions` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LoginSession {
    /// A public handle on the token (the first 16 hex digits of its SHA-256); never the token.
    pub id: String,
    pub device: String,
    pub ip: String,
    pub created: String,
    /// Now when it has live connections, else its last use (to within a minute).
    pub last_seen: String,
    /// Live connections using it.
    pub connections: usize,
    /// Whether it is the token of this request.
    pub current: bool,
}

/// Token uses not yet written (last seen), flushed now and then.
#[derive(Debug, Default)]
pub struct Touches(Mutex<HashMap<TokenHash, i64>>);

impl Touches {
    pub fn record(&self, token: TokenHash) {
        self.0
            .lock()
            .expect("touches lock")
            .insert(token, clock::now_ms());
    }

    pub fn take(&self) -> Vec<(TokenHash, i64)> {
        std::mem::take(&mut *self.0.lock().expect("touches lock"))
            .into_iter()
            .collect()
    }
}

/// The public id of a token.
pub fn session_id(token: &TokenHash) -> String {
    token.0[..8].iter().map(|b| format!("{b:02x}")).collect()
}

impl Hub {
    /// The user's login sessions, most recently used first.
    pub async fn login_sessions(
        &self,
        user: &User,
        current: TokenHash,
    ) -> Result<Vec<LoginSession>, AppError> {
        let rows = self.store().sessions(user.id).await?;
        let mut live: HashMap<TokenHash, usize> = HashMap::new();
        self.inner.sessions.for_sessions(user.id, |s| {
            *live.entry(s.token).or_default() += 1;
        });
        let now = clock::now_ms();
        let mut sessions: Vec<LoginSession> = rows
            .into_iter()
            .map(|row| {
                let connections = live.get(&row.hash).copied().unwrap_or(0);
                let seen = if connections > 0 {
                    now
                } else {
                    row.last_seen_ms
                };
                LoginSession {
                    id: session_id(&row.hash),
                    device: row.origin.device,
                    ip: row.origin.ip,
                    created: clock::rfc3339(row.created_ms),
                    last_seen: clock::rfc3339(seen.max(row.created_ms)),
                    connections,
                    current: row.hash == current,
                }
            })
            .collect();
        sessions.sort_by(|a, b| b.last_seen.cmp(&a.last_seen));
        Ok(sessions)
    }

    /// Revokes the user's session with this public id.
    pub async fn revoke_login_session(&self, user: &User, id: &str) -> Result<(), AppError> {
        let rows = self.store().sessions(user.id).await?;
        let hash = rows
            .iter()
            .map(|row| row.hash)
            .find(|hash| session_id(hash) == id)
            .ok_or_else(|| AppError::not_found(format!("no session {id}")))?;
        self.store().revoke_token(hash).await?;
        self.announce_revoked(user, &[hash]);
        tracing::info!(user = %user.username, session = id, "session revoked");
        Ok(())
    }

    /// Revokes every session of the user but `keep` (all of them when `None`).
    pub async fn revoke_login_sessions(
        &self,
        user: &User,
        keep: Option<TokenHash>,
    ) -> Result<usize, AppError> {
        let revoked = self.store().revoke_sessions(user.id, keep).await?;
        self.announce_revoked(user, &revoked);
        tracing::info!(user = %user.username, count = revoked.len(), "sessions revoked");
        Ok(revoked.len())
    }

    /// Changes the password (the current one must be right) and revokes every other session.
    pub async fn change_password(
        &self,
        user: &User,
        current_token: TokenHash,
        current: &str,
        new: &str,
    ) -> Result<(), AppError> {
        check_password(new).map_err(|e| AppError::bad_request(e.0))?;
        self.verify_password(&user.username, current).await?;
        let hash = self.inner.hasher.hash(new).await.map_err(|err| {
            tracing::error!(%err, "cannot hash password");
            AppError::internal()
        })?;
        let revoked = self
            .store()
            .change_password(user.id, hash, current_token)
            .await?;
        self.announce_revoked(user, &revoked);
        tracing::info!(user = %user.username, revoked = revoked.len(), "password changed");
        Ok(())
    }

    fn announce_revoked(&self, user: &User, tokens: &[TokenHash]) {
        for token in tokens {
            self.publish(Event::Revoked {
                user: user.id,
                token: *token,
                except: 0,
            });
        }
    }

    /// Writes the pending last-seen times.
    pub(super) async fn flush_touches(&self) {
        let uses = self.inner.touches.take();
        if let Err(err) = self.store().touch_sessions(uses).await {
            tracing::warn!(%err, "cannot record token uses");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_are_cut_and_cleaned() {
        let ip = "127.0.0.1".parse().unwrap();
        assert_eq!(ClientInfo::new(ip, None).device, "unknown");
        assert_eq!(ClientInfo::new(ip, Some("  ")).device, "unknown");
        assert_eq!(ClientInfo::new(ip, Some("Phone\n\u{7}X")).device, "PhoneX");
        assert_eq!(
            ClientInfo::new(ip, Some(&"a".repeat(200)))
                .device
                .chars()
                .count(),
            MAX_DEVICE_CHARS
        );
        let id = session_id(&TokenHash([0xab; 32]));
        assert_eq!(id, "abababababababab");
    }
}
