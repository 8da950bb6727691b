//! Bench users: registered concurrently (password hashing is the slow part) under a prefix
//! unique to the run, so runs against one server never collide.

use confab_client::{accounts, Endpoint};
use futures_util::stream::{self, StreamExt, TryStreamExt};

/// The password every bench user gets.
pub const PASSWORD: &str = "bench-password";

/// A registered user.
#[derive(Debug, Clone)]
pub struct BenchUser {
    pub name: String,
    pub token: String,
}

/// A prefix unique to this run.
pub fn run_prefix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("b{:x}", (nanos as u64) ^ u64::from(std::process::id()))
}

/// Registers `count` users named `{prefix}-{i}`.
pub async fn register(
    endpoint: &Endpoint,
    prefix: &str,
    count: usize,
) -> anyhow::Result<Vec<BenchUser>> {
    stream::iter(0..count)
        .map(|i| async move {
            let name = format!("{prefix}-{i}");
            let token = accounts::register(endpoint, &name, PASSWORD).await?;
            Ok::<_, anyhow::Error>(BenchUser { name, token })
        })
        .buffered(16)
        .try_collect()
        .await
}
