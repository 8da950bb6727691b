//! The real `confab serve` binary as a child process on a fixed data directory: started on a
//! free loopback port, stopped with SIGKILL or SIGTERM, started again on the same data.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a start may take (a debug build replaying a large WAL on a busy machine).
const START_WITHIN: Duration = Duration::from_secs(60);

pub struct ServerProcess {
    child: Child,
    /// `127.0.0.1:port` of HTTP and `/ws`.
    pub addr: String,
    /// Whether the log said "shutdown complete" (only a graceful stop does).
    logs: mpsc::Receiver<String>,
}

impl ServerProcess {
    /// Starts `confab serve` on `data_dir` with `config`, and waits until it listens.
    pub fn start(data_dir: &Path, config: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_confab"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .arg("--config")
            .arg(config)
            .env("RUST_LOG", "warn,confab_server=info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("confab serve starts");
        // Every line is read, so the server never blocks on a full pipe; the interesting ones
        // are passed on.
        let (lines, logs) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("confab listening")
                    || line.contains("shutdown complete")
                    || line.contains("ERROR")
                    || line.contains("WARN")
                {
                    let _ = lines.send(line);
                }
            }
        });
        let deadline = Instant::now() + START_WITHIN;
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match logs.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.split("addr=").nth(1) {
                        break rest.split_whitespace().next().unwrap().to_owned();
                    }
                    eprintln!("server: {line}");
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!("the server did not start within {START_WITHIN:?}");
                }
            }
        };
        Self { child, addr, logs }
    }

    /// SIGKILL, and waits for the process to be gone.
    pub fn kill9(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("killed server reaped");
    }

    /// SIGTERM; waits at most `within` for the exit. Returns the exit status, how long the
    /// exit took and whether the log said the shutdown completed.
    pub fn terminate(mut self, within: Duration) -> (ExitStatus, Duration, bool) {
        let sent = Instant::now();
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill -TERM runs");
        assert!(status.success());
        let exit = loop {
            if let Some(exit) = self.child.try_wait().expect("try_wait") {
                break exit;
            }
            if sent.elapsed() > within {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("the server did not exit within {within:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let took = sent.elapsed();
        // The reader thread ends with the pipe.
        let complete = self.logs.iter().any(|line| {
            if line.contains("ERROR") || line.contains("WARN") {
                eprintln!("server: {line}");
            }
            line.contains("shutdown complete")
        });
        (exit, took, complete)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // A failing test must not leave a server running.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A data directory and the configuration the runs share.
pub struct Setup {
    pub _temp: tempfile::TempDir,
    pub data: PathBuf,
    pub config: PathBuf,
}

impl Setup {
    /// Rate limits out of the way (the load is the point here), uploads up to 32 MiB.
    pub fn new() -> Self {
        let temp = tempfile::tempdir().unwrap();
        let data = temp.path().join("data");
        let config = temp.path().join("confab.toml");
        std::fs::write(
            &config,
            "[rate]\nframes_per_sec = 10000.0\nframes_burst = 10000.0\n\
             messages_per_sec = 10000.0\nmessages_burst = 10000.0\n\
             [attachments]\nmax_bytes = 33554432\nuploads_per_minute = 100000.0\n\
             uploads_burst = 1000.0\n",
        )
        .unwrap();
        Self {
            _temp: temp,
            data,
            config,
        }
    }
}
