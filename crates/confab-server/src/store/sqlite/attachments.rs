//! [`crate::store::AttachmentStore`] on SQLite.

use std::collections::BTreeSet;

use async_trait::async_trait;
use confab_protocol::AttachmentKind;
use rusqlite::{Connection, OptionalExtension, Row};

use super::{db, SqliteStore};
use crate::store::attachments::{Removed, StoredAttachment, Thumbnail};
use crate::store::{AttachmentStore, StoreError, StoreResult, UserId};

const COLUMNS: &str = "a.id, a.uploader_id, a.sha256, a.size, a.mime, a.kind, a.name, a.width, \
                       a.height, a.thumb_sha256, a.thumb_mime, a.created_ms";

/// The SQL condition "upload `a` is in use".
const IN_USE: &str = "(EXISTS (SELECT 1 FROM messages m WHERE m.attachment_id = a.id \
                                AND m.deleted_ms IS NULL) \
                       OR EXISTS (SELECT 1 FROM users u WHERE u.avatar_id = a.id))";

fn kind_from(text: &str) -> AttachmentKind {
    match text {
        "image" => AttachmentKind::Image,
        "audio" => AttachmentKind::Audio,
        "video" => AttachmentKind::Video,
        _ => AttachmentKind::File,
    }
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<StoredAttachment> {
    let kind: String = row.get(5)?;
    let thumb_sha: Option<String> = row.get(9)?;
    let thumb_mime: Option<String> = row.get(10)?;
    Ok(StoredAttachment {
        id: row.get(0)?,
        uploader: row.get(1)?,
        sha256: row.get(2)?,
        size: row.get(3)?,
        mime: row.get(4)?,
        kind: kind_from(&kind),
        name: row.get(6)?,
        width: row.get(7)?,
        height: row.get(8)?,
        thumbnail: thumb_sha.map(|sha256| Thumbnail {
            sha256,
            mime: thumb_mime.unwrap_or_else(|| "image/jpeg".to_owned()),
        }),
        created_ms: row.get(11)?,
    })
}

/// Deletes the given uploads and names the blobs no remaining row refers to.
fn remove(conn: &Connection, uploads: Vec<StoredAttachment>) -> rusqlite::Result<Removed> {
    let mut blobs = BTreeSet::new();
    for upload in &uploads {
        conn.prepare_cached("DELETE FROM attachments WHERE id = ?1")?
            .execute([&upload.id])?;
        blobs.extend(upload.blobs().map(str::to_owned));
    }
    let mut orphans = Vec::new();
    for sha in blobs {
        let used: bool = conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM attachments WHERE sha256 = ?1)
                     OR EXISTS (SELECT 1 FROM attachments WHERE thumb_sha256 = ?1)",
            )?
            .query_row([&sha], |r| r.get(0))?;
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
impl AttachmentStore for SqliteStore {
    async fn insert_attachment(&self, upload: StoredAttachment) -> StoreResult<()> {
        self.write(move |ctx| {
            let (thumb_sha, thumb_mime) = match &upload.thumbnail {
                Some(t) => (Some(t.sha256.as_str()), Some(t.mime.as_str())),
                None => (None, None),
            };
            let inserted = ctx
                .conn
                .execute(
                    "INSERT OR IGNORE INTO attachments (id, uploader_id, sha256, size, mime, kind,
                         name, width, height, thumb_sha256, thumb_mime, created_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                    rusqlite::params![
                        upload.id,
                        upload.uploader,
                        upload.sha256,
                        upload.size,
                        upload.mime,
                        upload.kind.as_str(),
                        upload.name,
                        upload.width,
                        upload.height,
                        thumb_sha,
                        thumb_mime,
                        upload.created_ms,
                    ],
                )
                .map_err(db)?;
            if inserted == 0 {
                return Err(StoreError::Conflict(format!(
                    "attachment {} exists",
                    upload.id
                )));
            }
            Ok(())
        })
        .await
    }

    async fn attachment(&self, id: &str) -> StoreResult<Option<StoredAttachment>> {
        let id = id.to_owned();
        self.read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM attachments a WHERE a.id = ?1"
            ))?
            .query_row([id], from_row)
            .optional()
        })
        .await
    }

    async fn readable_attachment(
        &self,
        id: &str,
        reader: UserId,
    ) -> StoreResult<Option<StoredAttachment>> {
        let id = id.to_owned();
        self.read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM attachments a WHERE a.id = ?1 AND (
                     a.uploader_id = ?2
                     OR EXISTS (SELECT 1 FROM users u WHERE u.avatar_id = a.id)
                     OR EXISTS (SELECT 1 FROM messages m JOIN members mb
                                    ON mb.conv_id = m.conv_id AND mb.user_id = ?2
                                WHERE m.attachment_id = a.id AND m.deleted_ms IS NULL))"
            ))?
            .query_row(rusqlite::params![id, reader], from_row)
            .optional()
        })
        .await
    }

    async fn erase_attachment(&self, id: &str) -> StoreResult<Removed> {
        let id = id.to_owned();
        self.write(move |ctx| {
            let upload = ctx
                .conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM attachments a WHERE a.id = ?1 AND NOT {IN_USE}"
                ))
                .and_then(|mut s| s.query_row([&id], from_row).optional())
                .map_err(db)?;
            remove(&ctx.conn, upload.into_iter().collect()).map_err(db)
        })
        .await
    }

    async fn collect_unused(&self, created_before_ms: i64, limit: u32) -> StoreResult<Removed> {
        self.write(move |ctx| {
            let uploads = ctx
                .conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM attachments a
                     WHERE a.created_ms <= ?1 AND NOT {IN_USE}
                     ORDER BY a.created_ms LIMIT ?2"
                ))
                .and_then(|mut s| {
                    s.query_map(rusqlite::params![created_before_ms, limit], from_row)?
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(db)?;
            remove(&ctx.conn, uploads).map_err(db)
        })
        .await
    }

    async fn blob_in_use(&self, sha256: &str) -> StoreResult<bool> {
        let sha = sha256.to_owned();
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM attachments WHERE sha256 = ?1)
                     OR EXISTS (SELECT 1 FROM attachments WHERE thumb_sha256 = ?1)",
            )?
            .query_row([sha], |r| r.get(0))
        })
        .await
    }
}
