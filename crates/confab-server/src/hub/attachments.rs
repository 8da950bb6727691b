//! Attachments from the hub's side: receiving an upload, checking that an upload may be posted,
//! who may read one, erasing one, and collecting the unused ones. The transport (HTTP) only
//! hands over the body stream and serves the blob this says it may.

use std::fmt::Display;
use std::time::Duration;

use bytes::Bytes;
use confab_protocol::{AttachmentInfo, AttachmentKind};
use futures_util::Stream;
use sha2::{Digest, Sha256};

use super::Hub;
use crate::attachments::detect::{self, OCTET_STREAM};
use crate::attachments::thumbnail::{self, Preview};
use crate::attachments::upload::{self, Received};
use crate::attachments::{gc, is_upload_id, name, BlobStore};
use crate::clock;
use crate::error::AppError;
use crate::store::attachments::{StoredAttachment, Thumbnail};
use crate::store::ids::IdGenerator;
use crate::store::{User, UserId};

fn not_found(id: &str) -> AppError {
    AppError::not_found(format!("no attachment {id}"))
}

fn blob_failure(err: std::io::Error) -> AppError {
    AppError::io("blob store failure", &err)
}

/// What decoding found out about an image, or why it is a plain file after all.
struct Examined {
    kind: AttachmentKind,
    mime: &'static str,
    size: Option<(u32, u32)>,
    thumbnail: Option<(Vec<u8>, &'static str)>,
}

impl Hub {
    /// The blob store uploads live in.
    pub(crate) fn blobs(&self) -> &dyn BlobStore {
        self.inner.attachments.blobs.as_ref()
    }

    /// Receives an upload by `user`: streams `body` to the staging directory while hashing it,
    /// detects its type from its bytes, makes a thumbnail for a picture, stores the blobs and
    /// records the upload. `declared_len` (the request's `Content-Length`) over the limit is
    /// refused before anything is read. Nothing is left behind on any failure.
    pub async fn upload<S, E>(
        &self,
        user: &User,
        file_name: Option<&str>,
        declared_len: Option<u64>,
        body: S,
    ) -> Result<AttachmentInfo, AppError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: Display,
    {
        let limits = self.config().attachments;
        if declared_len.is_some_and(|len| len > limits.max_bytes) {
            return Err(upload::too_large(limits.max_bytes));
        }
        let _slot = self.inner.attachments.slots.acquire(user.id)?;
        let received = upload::receive(
            &self.inner.attachments.staging,
            body,
            limits.max_bytes,
            limits.idle_timeout(),
        )
        .await?;
        let name = name::clean_name(file_name.unwrap_or(""));
        // From here on the work finishes even if the request is dropped, so a blob is never
        // stored without its row.
        let hub = self.clone();
        let uploader = user.id;
        let stored = self
            .inner
            .tasks
            .spawn(async move { hub.store_upload(uploader, name, received).await })
            .await
            .map_err(|err| {
                tracing::error!(%err, "upload task failed");
                AppError::internal()
            })??;
        tracing::info!(
            user = %user.username,
            id = %stored.id,
            kind = stored.kind.as_str(),
            size = stored.size,
            "upload stored"
        );
        Ok(stored.info())
    }

    async fn store_upload(
        &self,
        uploader: UserId,
        name: String,
        received: Received,
    ) -> Result<StoredAttachment, AppError> {
        let examined = self.examine(&received).await?;
        let thumbnail = examined.thumbnail.map(|(bytes, mime)| {
            let sha = hex(&Sha256::digest(&bytes));
            (
                bytes,
                Thumbnail {
                    sha256: sha,
                    mime: mime.to_owned(),
                },
            )
        });
        let now = clock::now_ms();
        let row = StoredAttachment {
            id: IdGenerator::default().next(now),
            uploader,
            sha256: received.sha256.clone(),
            size: received.size,
            mime: examined.mime.to_owned(),
            kind: examined.kind,
            name,
            width: examined.size.map(|(w, _)| w),
            height: examined.size.map(|(_, h)| h),
            thumbnail: thumbnail.as_ref().map(|(_, t)| t.clone()),
            created_ms: now,
        };
        let _refs = self.inner.attachments.refs.lock().await;
        let blobs = self.blobs();
        let new_blob = blobs
            .put_file(&row.sha256, received.staged.path())
            .await
            .map_err(blob_failure)?;
        received.staged.handed_on();
        let mut new_thumb = false;
        let mut stored = Ok(());
        if let Some((bytes, thumb)) = thumbnail {
            match blobs.put_bytes(&thumb.sha256, bytes).await {
                Ok(new) => new_thumb = new,
                Err(err) => stored = Err(blob_failure(err)),
            }
        }
        if stored.is_ok() {
            stored = self
                .store()
                .insert_attachment(row.clone())
                .await
                .map_err(AppError::from);
        }
        if let Err(err) = stored {
            // Take back what this upload added, so nothing is left without a row.
            if new_blob {
                let _ = blobs.delete(&row.sha256).await;
            }
            if let (true, Some(thumb)) = (new_thumb, &row.thumbnail) {
                let _ = blobs.delete(&thumb.sha256).await;
            }
            return Err(err);
        }
        Ok(row)
    }

    /// Detects the type; decodes a picture (on the blocking pool, a few at a time).
    async fn examine(&self, received: &Received) -> Result<Examined, AppError> {
        let detected = detect::detect(&received.head);
        let plain = Examined {
            kind: detected.kind,
            mime: detected.mime,
            size: None,
            thumbnail: None,
        };
        if detected.kind != AttachmentKind::Image {
            return Ok(plain);
        }
        let limits = self.config().attachments;
        let _decoding = self
            .inner
            .attachments
            .thumbnails
            .acquire()
            .await
            .map_err(|_| AppError::internal())?;
        let path = received.staged.path().to_owned();
        let mime = detected.mime;
        let preview = tokio::task::spawn_blocking(move || {
            thumbnail::preview(&path, mime, limits.max_image_pixels, limits.thumbnail_px)
        })
        .await
        .map_err(|err| {
            tracing::error!(%err, "thumbnail task failed");
            AppError::internal()
        })?;
        Ok(match preview {
            Preview::Image {
                width,
                height,
                thumbnail,
                thumbnail_mime,
            } => Examined {
                size: Some((width, height)),
                thumbnail: Some((thumbnail, thumbnail_mime)),
                ..plain
            },
            // A real picture, too big to preview: a file of its type.
            Preview::TooLarge { .. } => Examined {
                kind: AttachmentKind::File,
                ..plain
            },
            // Claims to be a picture but is not one: an opaque file.
            Preview::Invalid => Examined {
                kind: AttachmentKind::File,
                mime: OCTET_STREAM,
                ..plain
            },
        })
    }

    /// The upload `id` if `reader` may fetch it (its uploader, a member of a conversation where
    /// a message that is not deleted carries it, or anyone if it is an avatar); `not_found`
    /// otherwise, the same as for an id that never existed.
    pub async fn readable_attachment(
        &self,
        reader: UserId,
        id: &str,
    ) -> Result<StoredAttachment, AppError> {
        if !is_upload_id(id) {
            return Err(not_found(id));
        }
        self.store()
            .readable_attachment(id, reader)
            .await?
            .ok_or_else(|| not_found(id))
    }

    /// The upload `id` as a message would carry it, if `user` may post it.
    pub(crate) async fn attachment_for_post(
        &self,
        user: UserId,
        id: &str,
    ) -> Result<AttachmentInfo, AppError> {
        if !is_upload_id(id) {
            return Err(not_found(id));
        }
        match self.store().attachment(id).await? {
            Some(upload) if upload.uploader == user => Ok(upload.info()),
            _ => Err(not_found(id)),
        }
    }

    /// Erases an upload (its row, and its bytes once no other upload shares them): called when
    /// the message that carried it is deleted. An upload still in use (another message that is
    /// not deleted carries it, or it is an avatar) is kept; the collector takes it once unused.
    pub(crate) async fn erase_attachment(&self, id: &str) -> Result<(), AppError> {
        if !is_upload_id(id) {
            return Ok(());
        }
        let attachments = &self.inner.attachments;
        let _refs = attachments.refs.lock().await;
        let removed = self.store().erase_attachment(id).await?;
        gc::delete_orphans(attachments, &removed).await;
        Ok(())
    }

    /// Removes the uploads nobody uses that are older than `ttl`, and their blobs once
    /// unreferenced. Returns how many uploads went. The collector runs this every
    /// `attachments.gc_interval_secs`; tests call it with a zero `ttl`.
    pub async fn collect_attachments(&self, ttl: Duration) -> Result<usize, AppError> {
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        let cutoff = clock::now_ms().saturating_sub(ttl_ms);
        gc::collect(&self.inner.attachments, self.store(), cutoff).await
    }

    /// The collector: cleans the staging directory at once, then collects every interval
    /// until the hub stops.
    pub(super) async fn collect_attachments_forever(self) {
        gc::clean_staging(&self.inner.attachments).await;
        let limits = self.config().attachments;
        let mut tick = tokio::time::interval(limits.gc_interval());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = self.inner.stop.cancelled() => return,
            }
            self.collect_once(limits.unposted_ttl()).await;
        }
    }

    /// One collection: unused uploads older than `ttl`, and staged files a crash left (a
    /// crash while the server runs on leaves them too, not only one before it started).
    async fn collect_once(&self, ttl: Duration) {
        gc::clean_staging(&self.inner.attachments).await;
        if let Err(err) = self.collect_attachments(ttl).await {
            tracing::error!(%err, "attachment collection failed");
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::Arc;

    use confab_protocol::ErrorCode;
    use futures_util::stream;

    use super::*;
    use crate::bus::{Bus, LocalBus};
    use crate::config::Config;
    use crate::store::sqlite::SqliteStore;

    async fn hub() -> (tempfile::TempDir, Hub) {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_owned(),
            ..Config::default()
        };
        let (bus, events) = LocalBus::new();
        let bus: Arc<dyn Bus> = Arc::new(bus);
        let store = SqliteStore::open(dir.path(), 64, Box::new(|_| {})).unwrap();
        let metrics = Arc::new(crate::metrics::Metrics::new());
        let hub = Hub::new(config, Arc::new(store), bus, events, metrics)
            .await
            .unwrap();
        (dir, hub)
    }

    async fn user(hub: &Hub, name: &str) -> User {
        hub.store()
            .create_user(name, "hash", "#general")
            .await
            .unwrap()
            .0
    }

    async fn upload(hub: &Hub, user: &User, bytes: &'static [u8]) -> AttachmentInfo {
        let body = stream::iter([Ok::<_, Infallible>(Bytes::from_static(bytes))]);
        hub.upload(user, Some("notes.txt"), None, body)
            .await
            .unwrap()
    }

    fn blob_path(dir: &tempfile::TempDir, sha: &str) -> std::path::PathBuf {
        dir.path().join("blobs").join(&sha[..2]).join(sha)
    }

    fn sql(dir: &tempfile::TempDir, statement: &str, id: &str) {
        let conn = rusqlite::Connection::open(dir.path().join("confab.db")).unwrap();
        conn.busy_timeout(Duration::from_secs(5)).unwrap();
        conn.execute(statement, [id]).unwrap();
    }

    #[tokio::test]
    async fn only_the_uploader_may_post_an_upload() {
        let (_dir, hub) = hub().await;
        let alice = user(&hub, "alice").await;
        let bob = user(&hub, "bob").await;
        let info = upload(&hub, &alice, b"hello").await;
        assert_eq!(
            hub.attachment_for_post(alice.id, &info.id).await.unwrap(),
            info
        );
        for (who, id) in [
            (bob.id, info.id.as_str()),
            (alice.id, "01JXB3K8Q4M6Z9T2V5N7R1C3DE"),
            (alice.id, "../../etc/passwd"),
        ] {
            let err = hub.attachment_for_post(who, id).await.unwrap_err();
            assert_eq!(err.code, ErrorCode::NotFound);
            assert_eq!(err.message, format!("no attachment {id}"));
        }
        hub.shutdown().await;
    }

    #[tokio::test]
    async fn erasing_keeps_shared_bytes_and_uploads_in_use() {
        let (dir, hub) = hub().await;
        let alice = user(&hub, "alice").await;
        let first = upload(&hub, &alice, b"same bytes").await;
        let second = upload(&hub, &alice, b"same bytes").await;
        let avatar = upload(&hub, &alice, b"my face").await;
        let sha = hub
            .store()
            .attachment(&first.id)
            .await
            .unwrap()
            .unwrap()
            .sha256;
        assert!(blob_path(&dir, &sha).exists());

        hub.erase_attachment(&first.id).await.unwrap();
        assert_eq!(hub.store().attachment(&first.id).await.unwrap(), None);
        assert!(
            blob_path(&dir, &sha).exists(),
            "the second upload shares it"
        );
        hub.erase_attachment(&second.id).await.unwrap();
        assert!(!blob_path(&dir, &sha).exists());
        hub.erase_attachment(&second.id).await.unwrap();

        sql(
            &dir,
            "UPDATE users SET avatar_id = ?1 WHERE username = 'alice'",
            &avatar.id,
        );
        hub.erase_attachment(&avatar.id).await.unwrap();
        assert!(hub.store().attachment(&avatar.id).await.unwrap().is_some());
        hub.shutdown().await;
    }

    /// Found by the kill -9 harness (`crates/confab/tests/durability`): uploads cut off by a
    /// kill left their staged files until the next start, however long that was.
    #[tokio::test]
    async fn every_collection_removes_stale_staged_files() {
        let (dir, hub) = hub().await;
        let staging = dir.path().join("blobs").join("tmp");
        let stale = staging.join("upload-left-by-a-crash.part");
        let fresh = staging.join("upload-in-progress.part");
        for path in [&stale, &fresh] {
            std::fs::write(path, b"half an upload").unwrap();
        }
        let long_ago = std::time::SystemTime::now() - gc::STALE_STAGING * 2;
        std::fs::File::options()
            .write(true)
            .open(&stale)
            .unwrap()
            .set_modified(long_ago)
            .unwrap();
        hub.collect_once(Duration::from_secs(3600)).await;
        assert!(!stale.exists(), "a staged file an hour old is a crash's");
        assert!(fresh.exists(), "a recent one may be an upload in progress");
        hub.shutdown().await;
    }

    #[tokio::test]
    async fn collection_removes_only_unused_uploads() {
        let (dir, hub) = hub().await;
        let alice = user(&hub, "alice").await;
        let unused = upload(&hub, &alice, b"nobody wants me").await;
        let avatar = upload(&hub, &alice, b"a face").await;
        let posted = upload(&hub, &alice, b"look at this").await;
        let unused_sha = hub
            .store()
            .attachment(&unused.id)
            .await
            .unwrap()
            .unwrap()
            .sha256;
        sql(
            &dir,
            "UPDATE users SET avatar_id = ?1 WHERE username = 'alice'",
            &avatar.id,
        );
        let general = hub.store().room("#general").await.unwrap();
        let conn = rusqlite::Connection::open(dir.path().join("confab.db")).unwrap();
        conn.execute(
            "INSERT INTO messages (conv_id, seq, id, sender_id, receiver, content, created_ms,
                 attachment_id) VALUES (?1, 1, 'M1', ?2, '#general', '', 0, ?3)",
            rusqlite::params![general.id, alice.id, posted.id],
        )
        .unwrap();

        assert_eq!(
            hub.collect_attachments(Duration::from_secs(3600))
                .await
                .unwrap(),
            0
        );
        assert_eq!(hub.collect_attachments(Duration::ZERO).await.unwrap(), 1);
        assert_eq!(hub.store().attachment(&unused.id).await.unwrap(), None);
        assert!(!blob_path(&dir, &unused_sha).exists());
        for kept in [&avatar.id, &posted.id] {
            assert!(hub.store().attachment(kept).await.unwrap().is_some());
        }

        // Once the message is deleted, its upload is unused too.
        conn.execute("UPDATE messages SET deleted_ms = 1 WHERE id = 'M1'", [])
            .unwrap();
        assert_eq!(hub.collect_attachments(Duration::ZERO).await.unwrap(), 1);
        assert_eq!(hub.store().attachment(&posted.id).await.unwrap(), None);
        hub.shutdown().await;
    }
}
