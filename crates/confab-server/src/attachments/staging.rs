//! The staging directory (`<data_dir>/blobs/tmp/`): uploads are streamed into a file here
//! while they are hashed, then handed to the blob store under their hash. A staged file is
//! removed when its [`Staged`] guard drops, whatever ended the upload (an error, a client that
//! went away, a dropped request), unless it was handed on.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Where uploads are written while they arrive.
#[derive(Debug, Clone)]
pub struct Staging {
    dir: PathBuf,
}

/// A staged file; removed on drop unless [`Staged::handed_on`] was called.
#[derive(Debug)]
pub struct Staged {
    path: PathBuf,
    keep: bool,
}

impl Staged {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file now belongs to someone else (it was moved into the blob store).
    pub fn handed_on(mut self) {
        self.keep = true;
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        // One unlink: cheap enough to do wherever the guard drops.
        match std::fs::remove_file(&self.path) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => {
                tracing::warn!(%err, path = %self.path.display(), "cannot remove staged upload")
            }
        }
    }
}

impl Staging {
    /// The staging directory `dir` (created if missing).
    pub fn open(dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(Self {
            dir: dir.to_owned(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Proves the directory can take new bytes: writes, syncs and removes a one-byte file.
    pub async fn probe(&self) -> io::Result<()> {
        use tokio::io::AsyncWriteExt;
        let path = self.dir.join("probe.part");
        let written = async {
            let mut file = tokio::fs::File::create(&path).await?;
            file.write_all(b"p").await?;
            file.sync_all().await
        }
        .await;
        let _ = tokio::fs::remove_file(&path).await;
        written
    }

    /// A new, empty staged file and its guard.
    pub async fn create(&self) -> io::Result<(Staged, tokio::fs::File)> {
        let mut random = [0u8; 12];
        getrandom::fill(&mut random).map_err(io::Error::other)?;
        let name: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let path = self.dir.join(format!("upload-{name}.part"));
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await?;
        Ok((Staged { path, keep: false }, file))
    }

    /// Removes staged files last changed more than `age` ago (left by a crash). Returns how
    /// many. Blocking: run on the blocking pool.
    pub fn remove_older_than(&self, age: Duration) -> io::Result<usize> {
        let now = SystemTime::now();
        let mut removed = 0;
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            let meta = entry.metadata()?;
            let old = meta
                .modified()
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .is_some_and(|elapsed| elapsed > age);
            if meta.is_file() && old && std::fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn guard_removes_unless_handed_on() {
        let dir = tempfile::tempdir().unwrap();
        let staging = Staging::open(&dir.path().join("tmp")).unwrap();
        let (staged, _file) = staging.create().await.unwrap();
        let path = staged.path().to_owned();
        assert!(path.exists());
        drop(staged);
        assert!(!path.exists());

        let (staged, _file) = staging.create().await.unwrap();
        let path = staged.path().to_owned();
        staged.handed_on();
        assert!(path.exists());
        assert_eq!(
            staging
                .remove_older_than(Duration::from_secs(3600))
                .unwrap(),
            0
        );
        assert_eq!(staging.remove_older_than(Duration::ZERO).unwrap(), 1);
        assert!(!path.exists());
    }
}
