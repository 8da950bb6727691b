//! [`crate::store::SessionStore`] on SQLite.

use async_trait::async_trait;
use rusqlite::{params, Connection};

use super::{db, SqliteStore};
use crate::auth::TokenHash;
use crate::clock;
use crate::store::sessions::{SessionStore, TokenOrigin, TokenRow};
use crate::store::{StoreResult, UserId};

fn hash_of(blob: Vec<u8>) -> rusqlite::Result<TokenHash> {
    let bytes: [u8; 32] = blob.try_into().map_err(|_| {
        rusqlite::Error::InvalidColumnType(0, "hash".into(), rusqlite::types::Type::Blob)
    })?;
    Ok(TokenHash(bytes))
}

/// Deletes every token of `user` but `keep`; returns the deleted ones.
fn revoke_all_but(
    conn: &Connection,
    user: UserId,
    keep: Option<TokenHash>,
) -> rusqlite::Result<Vec<TokenHash>> {
    let keep = keep.map(|k| k.0.to_vec()).unwrap_or_default();
    let mut statement =
        conn.prepare_cached("DELETE FROM tokens WHERE user_id = ?1 AND hash != ?2 RETURNING hash")?;
    let rows = statement.query_map(params![user, keep], |r| hash_of(r.get(0)?))?;
    rows.collect()
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create_session(
        &self,
        user: UserId,
        token: TokenHash,
        origin: TokenOrigin,
    ) -> StoreResult<()> {
        self.write(move |ctx| {
            let now = clock::now_ms();
            ctx.conn
                .prepare_cached(
                    "INSERT INTO tokens (hash, user_id, created_ms, device, ip, last_seen_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?3)",
                )
                .and_then(|mut s| {
                    s.execute(params![&token.0[..], user, now, origin.device, origin.ip])
                })
                .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn sessions(&self, user: UserId) -> StoreResult<Vec<TokenRow>> {
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(
                "SELECT hash, device, ip, created_ms, last_seen_ms FROM tokens
                 WHERE user_id = ?1 ORDER BY last_seen_ms DESC, created_ms DESC",
            )?;
            let rows = statement.query_map([user], |r| {
                Ok(TokenRow {
                    hash: hash_of(r.get(0)?)?,
                    origin: TokenOrigin {
                        device: r.get(1)?,
                        ip: r.get(2)?,
                    },
                    created_ms: r.get(3)?,
                    last_seen_ms: r.get(4)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn touch_sessions(&self, uses: Vec<(TokenHash, i64)>) -> StoreResult<()> {
        if uses.is_empty() {
            return Ok(());
        }
        self.write(move |ctx| {
            let mut statement = ctx
                .conn
                .prepare_cached(
                    "UPDATE tokens SET last_seen_ms = MAX(last_seen_ms, ?2) WHERE hash = ?1",
                )
                .map_err(db)?;
            for (hash, at) in &uses {
                statement.execute(params![&hash.0[..], at]).map_err(db)?;
            }
            Ok(())
        })
        .await
    }

    async fn revoke_sessions(
        &self,
        user: UserId,
        keep: Option<TokenHash>,
    ) -> StoreResult<Vec<TokenHash>> {
        self.write(move |ctx| revoke_all_but(&ctx.conn, user, keep).map_err(db))
            .await
    }

    async fn change_password(
        &self,
        user: UserId,
        password_hash: String,
        keep: TokenHash,
    ) -> StoreResult<Vec<TokenHash>> {
        self.write(move |ctx| {
            ctx.conn
                .execute(
                    "UPDATE users SET password_hash = ?2 WHERE id = ?1",
                    params![user, password_hash],
                )
                .map_err(db)?;
            revoke_all_but(&ctx.conn, user, Some(keep)).map_err(db)
        })
        .await
    }
}
