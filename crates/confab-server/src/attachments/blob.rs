//! Content-addressed blob storage: bytes named by their SHA-256 (64 lowercase hex digits).
//! [`FsBlobStore`] keeps them under `<data_dir>/blobs/ab/abcdef…`, sharded by the first two
//! hex digits; an S3-compatible store implements the same [`BlobStore`] trait (`put_file`
//! uploads the staged file, `open` is a ranged GET, `delete` a DELETE). Names are checked to
//! be hashes before any path is made, and a blob file or shard directory that is a symbolic
//! link is refused (an error, never followed), so nothing outside the store can be served.

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncSeekExt};

/// A blob opened for reading.
pub struct BlobReader {
    /// The blob's whole length in bytes.
    pub len: u64,
    /// The bytes from the offset asked for to the end.
    pub reader: Pin<Box<dyn AsyncRead + Send>>,
}

/// Where blobs live. Every method may be called from many tasks at once. Callers keep
/// `put_*` and `delete` of one name from racing (see `Attachments::refs`).
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Stores the finished local file `source` (fully written and synced) under `sha256`,
    /// taking it away from `source`. If the blob exists already, `source` is just removed.
    /// Returns whether the blob is new.
    async fn put_file(&self, sha256: &str, source: &Path) -> io::Result<bool>;
    /// Stores `bytes` under `sha256`. Returns whether the blob is new.
    async fn put_bytes(&self, sha256: &str, bytes: Vec<u8>) -> io::Result<bool>;
    /// Opens a blob to read from byte `from` on; `None` if there is no such blob.
    async fn open(&self, sha256: &str, from: u64) -> io::Result<Option<BlobReader>>;
    /// The blob's length in bytes; `None` if there is no such blob.
    async fn len(&self, sha256: &str) -> io::Result<Option<u64>>;
    /// Deletes a blob; false if there was none.
    async fn delete(&self, sha256: &str) -> io::Result<bool>;
    async fn exists(&self, sha256: &str) -> io::Result<bool> {
        Ok(self.len(sha256).await?.is_some())
    }
}

/// Whether `name` is a blob name: 64 lowercase hex digits.
pub fn is_blob_name(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn bad_name(name: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("not a blob name: {name:?}"),
    )
}

/// Blobs as files under a root directory, sharded by the first two hex digits of the name.
#[derive(Debug, Clone)]
pub struct FsBlobStore {
    root: PathBuf,
}

impl FsBlobStore {
    /// A store rooted at `root` (created if missing).
    pub fn open(root: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(root)?;
        Ok(Self {
            root: root.to_owned(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob `sha256` lives.
    pub fn path_of(&self, sha256: &str) -> io::Result<PathBuf> {
        if !is_blob_name(sha256) {
            return Err(bad_name(sha256));
        }
        Ok(self.root.join(&sha256[..2]).join(sha256))
    }

    async fn shard_for(&self, sha256: &str) -> io::Result<PathBuf> {
        let path = self.path_of(sha256)?;
        if let Some(shard) = path.parent() {
            tokio::fs::create_dir_all(shard).await?;
        }
        refuse_links(&path).await?;
        Ok(path)
    }
}

/// Fails if the blob file at `path` or its shard directory is a symbolic link. A missing file
/// passes (the caller finds it missing).
async fn refuse_links(path: &Path) -> io::Result<()> {
    for at in [Some(path), path.parent()].into_iter().flatten() {
        match tokio::fs::symlink_metadata(at).await {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{} is a symbolic link; blobs are never followed",
                        at.display()
                    ),
                ));
            }
            Ok(_) => {}
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

async fn exists(path: &Path) -> io::Result<bool> {
    tokio::fs::try_exists(path).await
}

#[async_trait]
impl BlobStore for FsBlobStore {
    async fn put_file(&self, sha256: &str, source: &Path) -> io::Result<bool> {
        let path = self.shard_for(sha256).await?;
        if exists(&path).await? {
            tokio::fs::remove_file(source).await?;
            return Ok(false);
        }
        // The staging directory is inside the root, so this is a rename on one file system.
        tokio::fs::rename(source, &path).await?;
        Ok(true)
    }

    async fn put_bytes(&self, sha256: &str, bytes: Vec<u8>) -> io::Result<bool> {
        let path = self.shard_for(sha256).await?;
        if exists(&path).await? {
            return Ok(false);
        }
        // Written beside the target and renamed, so a reader never sees half a blob.
        let partial = path.with_extension("partial");
        let written = tokio::task::spawn_blocking({
            let partial = partial.clone();
            move || -> io::Result<()> {
                use std::io::Write;
                let mut file = std::fs::File::create(&partial)?;
                file.write_all(&bytes)?;
                file.sync_all()
            }
        })
        .await
        .map_err(io::Error::other)?;
        if let Err(err) = written {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(err);
        }
        tokio::fs::rename(&partial, &path).await?;
        Ok(true)
    }

    async fn open(&self, sha256: &str, from: u64) -> io::Result<Option<BlobReader>> {
        let path = self.path_of(sha256)?;
        refuse_links(&path).await?;
        let mut file = match tokio::fs::File::open(&path).await {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(err),
        };
        let len = file.metadata().await?.len();
        if from > 0 {
            file.seek(io::SeekFrom::Start(from.min(len))).await?;
        }
        Ok(Some(BlobReader {
            len,
            reader: Box::pin(file),
        }))
    }

    async fn delete(&self, sha256: &str) -> io::Result<bool> {
        match tokio::fs::remove_file(self.path_of(sha256)?).await {
            Ok(()) => Ok(true),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(err) => Err(err),
        }
    }

    async fn len(&self, sha256: &str) -> io::Result<Option<u64>> {
        let path = self.path_of(sha256)?;
        refuse_links(&path).await?;
        match tokio::fs::metadata(&path).await {
            Ok(meta) => Ok(Some(meta.len())),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    const NAME: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    #[tokio::test]
    async fn puts_opens_ranges_and_deletes() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(&dir.path().join("blobs")).unwrap();
        assert!(!store.exists(NAME).await.unwrap());
        assert!(store.open(NAME, 0).await.unwrap().is_none());
        let staged = dir.path().join("staged");
        std::fs::write(&staged, b"hello").unwrap();
        assert!(store.put_file(NAME, &staged).await.unwrap());
        assert!(!staged.exists());
        assert!(dir.path().join("blobs/2c").join(NAME).exists());
        std::fs::write(&staged, b"hello").unwrap();
        assert!(
            !store.put_file(NAME, &staged).await.unwrap(),
            "deduplicated"
        );
        assert!(!staged.exists());
        assert!(!store.put_bytes(NAME, b"hello".to_vec()).await.unwrap());

        let mut blob = store.open(NAME, 2).await.unwrap().unwrap();
        assert_eq!(blob.len, 5);
        assert_eq!(store.len(NAME).await.unwrap(), Some(5));
        let mut rest = String::new();
        blob.reader.read_to_string(&mut rest).await.unwrap();
        assert_eq!(rest, "llo");

        assert!(store.delete(NAME).await.unwrap());
        assert!(!store.delete(NAME).await.unwrap());
        assert!(!store.exists(NAME).await.unwrap());
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_blob_or_shard_that_is_a_symlink_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::write(&outside, b"not a blob").unwrap();
        let store = FsBlobStore::open(&dir.path().join("blobs")).unwrap();
        let path = store.path_of(NAME).unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(&outside, &path).unwrap();
        assert!(store.open(NAME, 0).await.is_err());
        assert!(store.len(NAME).await.is_err());
        assert!(store.put_bytes(NAME, b"hello".to_vec()).await.is_err());
        assert_eq!(std::fs::read(&outside).unwrap(), b"not a blob");

        let other = "ab".to_owned() + &NAME[2..];
        let shard = store.path_of(&other).unwrap();
        std::os::unix::fs::symlink(dir.path(), shard.parent().unwrap()).unwrap();
        std::fs::write(dir.path().join(&other), b"planted").unwrap();
        assert!(
            store.open(&other, 0).await.is_err(),
            "a linked shard is refused"
        );
    }

    #[tokio::test]
    async fn refuses_names_that_are_not_hashes() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(dir.path()).unwrap();
        for name in ["../../etc/passwd", "", &NAME.to_uppercase(), &NAME[1..]] {
            assert!(store.open(name, 0).await.is_err(), "{name}");
            assert!(store.delete(name).await.is_err(), "{name}");
        }
    }
}
