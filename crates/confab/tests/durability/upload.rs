//! Uploads that a kill may cut off. Each payload is made from its index alone and named by it
//! (`payload-<index>.bin`), so any upload the server stored can be told complete or not from
//! its row, without the client knowing it was stored (a kill after the commit and before the
//! `201` leaves a row the client never heard of).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use confab_client::{accounts, Endpoint};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Every payload starts so, so it is detected as a plain file (no thumbnail).
const MAGIC: &[u8] = b"confab durability payload\0";

/// Indexes from here on are large payloads.
pub const FIRST_LARGE: u64 = 1_000_000;
/// The size of a large payload: 24 MiB.
pub const LARGE: usize = 24 * 1024 * 1024;

/// The payload with this index: 512 KiB to 4 MiB of pseudo-random bytes, or [`LARGE`] from
/// [`FIRST_LARGE`] on.
pub fn payload(index: u64) -> Vec<u8> {
    let len = if index >= FIRST_LARGE {
        LARGE
    } else {
        (1 + index % 8) as usize * 512 * 1024 - (index as usize * 7919) % 4096
    };
    let mut state = index.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut bytes = Vec::with_capacity(len + 8);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&index.to_be_bytes());
    while bytes.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

pub fn file_name(index: u64) -> String {
    format!("payload-{index}.bin")
}

/// The index a stored name says, if it is one of ours.
pub fn index_of(name: &str) -> Option<u64> {
    name.strip_prefix("payload-")?
        .strip_suffix(".bin")?
        .parse()
        .ok()
}

/// One user uploading payload after payload, each a new index.
pub struct Uploader {
    /// Upload ids that got their `201`, with their payload index.
    pub done: Arc<Mutex<Vec<(String, u64)>>>,
    server: watch::Sender<Option<String>>,
    stop: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl Uploader {
    pub fn start(token: String, addr: &str, dir: &Path) -> Self {
        let (server, watcher) = watch::channel(Some(addr.to_owned()));
        let done = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(run(
            token,
            watcher,
            dir.to_owned(),
            done.clone(),
            stop.clone(),
        ));
        Self {
            done,
            server,
            stop,
            task,
        }
    }

    pub fn server_at(&self, addr: Option<&str>) {
        self.server.send_replace(addr.map(str::to_owned));
    }

    pub async fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        self.server.send_replace(None);
        tokio::time::timeout(Duration::from_secs(70), self.task)
            .await
            .expect("uploader stops")
            .expect("uploader task");
    }
}

async fn run(
    token: String,
    mut server: watch::Receiver<Option<String>>,
    dir: std::path::PathBuf,
    done: Arc<Mutex<Vec<(String, u64)>>>,
    stop: Arc<AtomicBool>,
) {
    let mut index = 0u64;
    while !stop.load(Ordering::SeqCst) {
        let Some(addr) = server.borrow_and_update().clone() else {
            let _ = tokio::time::timeout(Duration::from_millis(200), server.changed()).await;
            continue;
        };
        index += 1;
        let path = dir.join(file_name(index));
        if tokio::fs::write(&path, payload(index)).await.is_err() {
            return;
        }
        let endpoint = Endpoint::parse(&addr).unwrap();
        let upload = accounts::upload(&endpoint, &token, &path, |_, _| {});
        let result = tokio::time::timeout(Duration::from_secs(60), upload).await;
        let _ = tokio::fs::remove_file(&path).await;
        match result {
            Ok(Ok(info)) => {
                assert_eq!(info.size, payload(index).len() as u64, "{info:?}");
                done.lock().unwrap().push((info.id, index));
                // A breath between uploads, so a long run does not fill the disk.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            // Cut off by a kill (or refused): this index may or may not have been stored.
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}
