//! [`crate::store::AttachmentStore`] on PostgreSQL.

use std::collections::BTreeSet;

use async_trait::async_trait;
use confab_protocol::AttachmentKind;
use tokio_postgres::Row;

use super::sql::{big, exec, one, opt, rows, unsigned, Conn};
use super::PgStore;
use crate::store::attachments::{Removed, StoredAttachment, Thumbnail};
use crate::store::{AttachmentStore, StoreError, StoreResult, UserId};

const COLUMNS: &str = "a.id, a.uploader_id, a.sha256, a.size, a.mime, a.kind, a.name, a.width, \
                       a.height, a.thumb_sha256, a.thumb_mime, a.created_ms";

/// The SQL condition "upload `a` is in use".
const IN_USE: &str = "(EXISTS (SELECT 1 FROM messages m WHERE m.attachment_id = a.id \
                                AND m.deleted_ms IS NULL) \
                       OR EXISTS (SELECT 1 FROM users u WHERE u.avatar_id = a.id))";

const BLOB_USED: &str = "SELECT EXISTS (SELECT 1 FROM attachments WHERE sha256 = $1)
                             OR EXISTS (SELECT 1 FROM attachments WHERE thumb_sha256 = $1)";

fn kind_from(text: &str) -> AttachmentKind {
    match text {
        "image" => AttachmentKind::Image,
        "audio" => AttachmentKind::Audio,
        "video" => AttachmentKind::Video,
        _ => AttachmentKind::File,
    }
}

fn dimension(row: &Row, index: usize) -> Option<u32> {
    row.get::<_, Option<i64>>(index)
        .and_then(|v| u32::try_from(v).ok())
}

fn from_row(row: &Row) -> StoredAttachment {
    let kind: String = row.get(5);
    let thumb_sha: Option<String> = row.get(9);
    let thumb_mime: Option<String> = row.get(10);
    StoredAttachment {
        id: row.get(0),
        uploader: row.get(1),
        sha256: row.get(2),
        size: unsigned(row, 3),
        mime: row.get(4),
        kind: kind_from(&kind),
        name: row.get(6),
        width: dimension(row, 7),
        height: dimension(row, 8),
        thumbnail: thumb_sha.map(|sha256| Thumbnail {
            sha256,
            mime: thumb_mime.unwrap_or_else(|| "image/jpeg".to_owned()),
        }),
        created_ms: row.get(11),
    }
}

/// Deletes the given uploads and names the blobs no remaining row refers to.
async fn remove(conn: &Conn, uploads: Vec<StoredAttachment>) -> StoreResult<Removed> {
    let mut blobs = BTreeSet::new();
    for upload in &uploads {
        exec(conn, "DELETE FROM attachments WHERE id = $1", &[&upload.id]).await?;
        blobs.extend(upload.blobs().map(str::to_owned));
    }
    let mut orphans = Vec::new();
    for sha in blobs {
        let used: bool = one(conn, BLOB_USED, &[&sha]).await?.get(0);
        if !used {
            orphans.push(sha);
        }
    }
    Ok(Removed {
        uploads: uploads.into_iter().map(|u| u.id).collect(),
        orphans,
    })
}

#[async_trait]
impl AttachmentStore for PgStore {
    async fn insert_attachment(&self, upload: StoredAttachment) -> StoreResult<()> {
        self.write(None, move |ctx| {
            Box::pin(async move {
                let (thumb_sha, thumb_mime) = match &upload.thumbnail {
                    Some(t) => (Some(t.sha256.as_str()), Some(t.mime.as_str())),
                    None => (None, None),
                };
                let inserted = exec(
                    &ctx.client,
                    "INSERT INTO attachments (id, uploader_id, sha256, size, mime, kind,
                         name, width, height, thumb_sha256, thumb_mime, created_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                     ON CONFLICT (id) DO NOTHING",
                    &[
                        &upload.id,
                        &upload.uploader,
                        &upload.sha256,
                        &big(upload.size),
                        &upload.mime,
                        &upload.kind.as_str(),
                        &upload.name,
                        &upload.width.map(i64::from),
                        &upload.height.map(i64::from),
                        &thumb_sha,
                        &thumb_mime,
                        &upload.created_ms,
                    ],
                )
                .await?;
                if inserted == 0 {
                    return Err(StoreError::Conflict(format!(
                        "attachment {} exists",
                        upload.id
                    )));
                }
                Ok(())
            })
        })
        .await
    }

    async fn attachment(&self, id: &str) -> StoreResult<Option<StoredAttachment>> {
        let c = self.conn().await?;
        let sql = format!("SELECT {COLUMNS} FROM attachments a WHERE a.id = $1");
        Ok(opt(&c, &sql, &[&id]).await?.as_ref().map(from_row))
    }

    async fn readable_attachment(
        &self,
        id: &str,
        reader: UserId,
    ) -> StoreResult<Option<StoredAttachment>> {
        let c = self.conn().await?;
        let sql = format!(
            "SELECT {COLUMNS} FROM attachments a WHERE a.id = $1 AND (
                 a.uploader_id = $2
                 OR EXISTS (SELECT 1 FROM users u WHERE u.avatar_id = a.id)
                 OR EXISTS (SELECT 1 FROM messages m JOIN members mb
                                ON mb.conv_id = m.conv_id AND mb.user_id = $2
                            WHERE m.attachment_id = a.id AND m.deleted_ms IS NULL))"
        );
        Ok(opt(&c, &sql, &[&id, &reader]).await?.as_ref().map(from_row))
    }

    async fn erase_attachment(&self, id: &str) -> StoreResult<Removed> {
        let id = id.to_owned();
        self.write(None, move |ctx| {
            Box::pin(async move {
                let sql = format!(
                    "SELECT {COLUMNS} FROM attachments a WHERE a.id = $1 AND NOT {IN_USE}
                     FOR UPDATE OF a"
                );
                let upload = opt(&ctx.client, &sql, &[&id]).await?;
                remove(
                    &ctx.client,
                    upload.as_ref().map(from_row).into_iter().collect(),
                )
                .await
            })
        })
        .await
    }

    async fn collect_unused(&self, created_before_ms: i64, limit: u32) -> StoreResult<Removed> {
        self.write(None, move |ctx| {
            Box::pin(async move {
                // SKIP LOCKED: two nodes collecting at once take different uploads.
                let sql = format!(
                    "SELECT {COLUMNS} FROM attachments a
                     WHERE a.created_ms <= $1 AND NOT {IN_USE}
                     ORDER BY a.created_ms LIMIT $2 FOR UPDATE OF a SKIP LOCKED"
                );
                let found =
                    rows(&ctx.client, &sql, &[&created_before_ms, &i64::from(limit)]).await?;
                remove(&ctx.client, found.iter().map(from_row).collect()).await
            })
        })
        .await
    }

    async fn blob_in_use(&self, sha256: &str) -> StoreResult<bool> {
        let c = self.conn().await?;
        Ok(one(&c, BLOB_USED, &[&sha256]).await?.get(0))
    }
}
