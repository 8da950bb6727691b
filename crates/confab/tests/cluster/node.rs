//! One `confab serve` node as a child process, on PostgreSQL and Redis, on a free loopback port.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const START_WITHIN: Duration = Duration::from_secs(60);

/// Limits raised so a test's many logins and messages from one address are not refused.
pub const CONFIG: &str = r#"
[abuse]
attempts_per_ip_per_min = 100000.0
attempts_per_ip_burst = 100000.0
failed_logins_per_user = 100000
handshakes_per_ip_per_sec = 100000.0
handshakes_per_ip_burst = 100000.0
[rate]
messages_per_sec = 1000.0
messages_burst = 1000.0
"#;

pub struct Node {
    child: Child,
    /// `127.0.0.1:port` of HTTP and `/ws`.
    pub addr: String,
}

impl Node {
    /// Starts a node on `database` and `bus` with its own data directory (for upload
    /// staging) under `dir`, configured by `config` (TOML).
    pub fn start(dir: &Path, database: &str, bus: &str, namespace: &str, config: &str) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let config_file = dir.join("confab.toml");
        std::fs::write(&config_file, config).unwrap();
        let config = config_file;
        let mut child = Command::new(env!("CARGO_BIN_EXE_confab"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .arg("--config")
            .arg(&config)
            .args([
                "--database",
                database,
                "--bus",
                bus,
                "--bus-namespace",
                namespace,
            ])
            .env("RUST_LOG", "warn,confab_server=info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("confab serve starts");
        let (lines, logs) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("ERROR") || line.contains("WARN") {
                    eprintln!("node: {line}");
                }
                let _ = lines.send(line);
            }
        });
        // Started means listening and on the bus (it heard its own heartbeat), so that no
        // test's first messages go out before every node hears the bus.
        let deadline = Instant::now() + START_WITHIN;
        let (mut addr, mut on_bus) = (None, false);
        while addr.is_none() || !on_bus {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = logs.recv_timeout(left) else {
                let _ = child.kill();
                panic!("the node did not start and join the bus within {START_WITHIN:?}");
            };
            on_bus |= line.contains("on the bus");
            if line.contains("confab listening") {
                if let Some(rest) = line.split("addr=").nth(1) {
                    addr = rest.split_whitespace().next().map(str::to_owned);
                }
            }
        }
        let addr = addr.unwrap();
        // Later lines are printed by the reader thread; the channel just fills.
        std::thread::spawn(move || for _ in logs {});
        Self { child, addr }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn kill9(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("killed node reaped");
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
