//! [`crate::store::SessionStore`] on PostgreSQL.

use async_trait::async_trait;
use tokio_postgres::Row;

use super::sql::{exec, rows, Conn};
use super::PgStore;
use crate::auth::TokenHash;
use crate::clock;
use crate::store::sessions::{SessionStore, TokenOrigin, TokenRow};
use crate::store::{StoreError, StoreResult, UserId};

fn hash_of(row: &Row, index: usize) -> StoreResult<TokenHash> {
    let bytes: Vec<u8> = row.get(index);
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| StoreError::Backend("a stored token hash is not 32 bytes".into()))?;
    Ok(TokenHash(bytes))
}

/// Deletes every token of `user` but `keep`; returns the deleted ones.
async fn revoke_all_but(
    conn: &Conn,
    user: UserId,
    keep: Option<TokenHash>,
) -> StoreResult<Vec<TokenHash>> {
    let keep = keep.map(|k| k.0.to_vec()).unwrap_or_default();
    rows(
        conn,
        "DELETE FROM tokens WHERE user_id = $1 AND hash <> $2 RETURNING hash",
        &[&user, &keep],
    )
    .await?
    .iter()
    .map(|r| hash_of(r, 0))
    .collect()
}

#[async_trait]
impl SessionStore for PgStore {
    async fn create_session(
        &self,
        user: UserId,
        token: TokenHash,
        origin: TokenOrigin,
    ) -> StoreResult<()> {
        self.write(None, move |ctx| {
            Box::pin(async move {
                let now = clock::now_ms();
                exec(
                    &ctx.client,
                    "INSERT INTO tokens (hash, user_id, created_ms, device, ip, last_seen_ms)
                     VALUES ($1, $2, $3, $4, $5, $3)",
                    &[&&token.0[..], &user, &now, &origin.device, &origin.ip],
                )
                .await
                .map(drop)
            })
        })
        .await
    }

    async fn sessions(&self, user: UserId) -> StoreResult<Vec<TokenRow>> {
        let c = self.conn().await?;
        rows(
            &c,
            "SELECT hash, device, ip, created_ms, last_seen_ms FROM tokens
             WHERE user_id = $1 ORDER BY last_seen_ms DESC, created_ms DESC",
            &[&user],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(TokenRow {
                hash: hash_of(r, 0)?,
                origin: TokenOrigin {
                    device: r.get(1),
                    ip: r.get(2),
                },
                created_ms: r.get(3),
                last_seen_ms: r.get(4),
            })
        })
        .collect()
    }

    async fn touch_sessions(&self, uses: Vec<(TokenHash, i64)>) -> StoreResult<()> {
        if uses.is_empty() {
            return Ok(());
        }
        self.write(None, move |ctx| {
            Box::pin(async move {
                for (hash, at) in &uses {
                    exec(
                        &ctx.client,
                        "UPDATE tokens SET last_seen_ms = GREATEST(last_seen_ms, $2) WHERE hash = $1",
                        &[&&hash.0[..], at],
                    )
                    .await?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn revoke_sessions(
        &self,
        user: UserId,
        keep: Option<TokenHash>,
    ) -> StoreResult<Vec<TokenHash>> {
        self.write(None, move |ctx| {
            Box::pin(async move { revoke_all_but(&ctx.client, user, keep).await })
        })
        .await
    }

    async fn change_password(
        &self,
        user: UserId,
        password_hash: String,
        keep: TokenHash,
    ) -> StoreResult<Vec<TokenHash>> {
        self.write(None, move |ctx| {
            Box::pin(async move {
                exec(
                    &ctx.client,
                    "UPDATE users SET password_hash = $2 WHERE id = $1",
                    &[&user, &password_hash],
                )
                .await?;
                revoke_all_but(&ctx.client, user, Some(keep)).await
            })
        })
        .await
    }
}
