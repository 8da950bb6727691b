//! Uploads: the blob store they are kept in ([`blob`]; shared by several nodes: [`pg_blob`]), what they are ([`detect`]), how they
//! arrive ([`staging`], [`upload`]), image previews ([`thumbnail`]), their names ([`name`]),
//! ranged reads ([`range`]) and collection of unused ones ([`gc`]). The hub's side (who may
//! post or read an upload) is in `hub/attachments.rs`; the HTTP side in `http/attachments.rs`.

pub mod blob;
pub mod detect;
pub mod gc;
pub mod name;
pub mod pg_blob;
pub mod range;
pub mod staging;
pub mod thumbnail;
pub mod upload;

use std::io;
use std::path::Path;
use std::sync::Arc;

use tokio::sync::{Mutex, Semaphore};

pub use blob::{BlobReader, BlobStore, FsBlobStore};
pub use pg_blob::PgBlobStore;
use staging::Staging;
use upload::UploadSlots;

use crate::config::AttachmentLimits;

/// The blob store's directory under the data dir.
pub const BLOB_DIR: &str = "blobs";
/// The staging directory under the blob directory.
pub const STAGING_DIR: &str = "tmp";

/// What the hub keeps for uploads.
pub struct Attachments {
    pub blobs: Arc<dyn BlobStore>,
    pub staging: Staging,
    pub slots: UploadSlots,
    /// Images being decoded, over the whole server.
    pub thumbnails: Semaphore,
    /// Held from storing a blob to committing the row that names it, and from removing rows to
    /// deleting the blobs they leave unreferenced: so a blob is never deleted under an upload
    /// of the same bytes that is about to refer to it.
    pub refs: Mutex<()>,
}

impl Attachments {
    /// Blobs on the file system under `<data_dir>/blobs/`, or in the shared store
    /// `limits.blob_store` names; staging in `<data_dir>/blobs/tmp/` either way. Synchronous:
    /// a PostgreSQL store connects on first use.
    pub fn open(data_dir: &Path, limits: &AttachmentLimits) -> io::Result<Self> {
        let root = data_dir.join(BLOB_DIR);
        let blobs: Arc<dyn BlobStore> = match limits.blob_store {
            Some(url) => Arc::new(PgBlobStore::connect(url.as_str())?),
            None => Arc::new(FsBlobStore::open(&root)?),
        };
        Self::with_blobs(blobs, &root.join(STAGING_DIR), limits)
    }

    /// Any blob store, with a local staging directory.
    pub fn with_blobs(
        blobs: Arc<dyn BlobStore>,
        staging_dir: &Path,
        limits: &AttachmentLimits,
    ) -> io::Result<Self> {
        Ok(Self {
            blobs,
            staging: Staging::open(staging_dir)?,
            slots: UploadSlots::new(
                limits.max_concurrent_uploads,
                limits.uploads_per_minute,
                limits.uploads_burst,
            ),
            thumbnails: Semaphore::new(limits.max_concurrent_thumbnails),
            refs: Mutex::new(()),
        })
    }
}

/// Whether `id` has the shape of an upload id (26 characters of Crockford base32), so an
/// obviously forged one costs no store read.
pub fn is_upload_id(id: &str) -> bool {
    id.len() == 26
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b.is_ascii_uppercase() && !b"ILOU".contains(&b)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn upload_ids_are_checked_by_shape() {
        let mut ids = crate::store::ids::IdGenerator::default();
        assert!(super::is_upload_id(&ids.next(1_700_000_000_000)));
        for forged in [
            "",
            "../etc",
            "01JXB3K8Q4M6Z9T2V5N7R1C3D",
            "01jxb3k8q4m6z9t2v5n7r1c3de",
        ] {
            assert!(!super::is_upload_id(forged), "{forged}");
        }
    }
}
