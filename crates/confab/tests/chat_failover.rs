//! `confab chat` given several servers fails over, as real processes: a client on `A,B`; the
//! server on A is killed; a message is sent while the client has no server (through the same
//! data dir served on a third port); the server comes back on B; the client moves there by
//! itself, logs in with the same token and catches up: every message exactly once, in order.
//! (One SQLite data dir is served by one process at a time; several live nodes need
//! PostgreSQL, which the scale-out tests cover.)

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long the client may take to come back: its backoff is at most a few seconds here.
const WAIT: Duration = Duration::from_secs(40);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `confab serve` on a given port and data dir, up once it logs its address.
struct Server(Child);

impl Server {
    fn start(port: u16, data: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_confab"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(data)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        loop {
            let line = lines.next().expect("the server logs its address").unwrap();
            if line.contains("addr=") {
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        Self(child)
    }

    /// SIGKILL: no goodbye to anyone.
    fn kill(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn chat(config: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_confab"));
    command
        .arg("chat")
        .arg("--plain")
        .args(args)
        .env("XDG_CONFIG_HOME", config)
        .env("CONFAB_PASSWORD", "a long enough password")
        .env_remove("CONFAB_TOKEN");
    command
}

/// Runs a client to the end of `input`; asserts it exited 0 (every message acknowledged).
fn run(mut command: Command, input: &str) {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Each line of a reader, as it comes, on a channel.
fn lines(reader: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// Reads lines until one contains `needle`; every line read is kept in `seen`.
fn expect(rx: &mpsc::Receiver<String>, seen: &mut Vec<String>, needle: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no line with {needle:?}; got {seen:#?}"));
        let found = line.contains(needle);
        seen.push(line);
        if found {
            return;
        }
    }
}

#[test]
fn the_client_moves_to_the_next_server_and_catches_up_exactly_once() {
    let data = tempfile::tempdir().unwrap();
    let (a, b, c) = (free_port(), free_port(), free_port());
    let url = |port: u16| format!("ws://127.0.0.1:{port}");
    let server = Server::start(a, data.path());

    let alice_config = tempfile::tempdir().unwrap();
    let bob_config = tempfile::tempdir().unwrap();
    run(
        chat(
            alice_config.path(),
            &["--user", "alice", "--register", &url(a)],
        ),
        "",
    );
    run(
        chat(bob_config.path(), &["--user", "bob", "--register", &url(a)]),
        "",
    );
    let bob_says = |port: u16, line: &str| {
        // Bob's token was saved for A; on another port he logs in again with his password.
        let server = url(port);
        run(
            chat(
                bob_config.path(),
                &["--user", "bob", "--room", "#general", &server],
            ),
            &format!("{line}\n"),
        );
    };

    // Alice listens on A, with B to fall back on (the token saved for A is used).
    let servers = format!("{},{}", url(a), url(b));
    let mut alice = chat(
        alice_config.path(),
        &["--stay", "--room", "#general", &servers],
    )
    .env_remove("CONFAB_PASSWORD")
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let out = lines(alice.stdout.take().unwrap());
    let err = lines(alice.stderr.take().unwrap());
    let mut input = alice.stdin.take().unwrap();
    let mut seen = Vec::new();
    input.write_all(b"/who\n").unwrap();
    input.flush().unwrap();
    expect(&out, &mut seen, "#general alice online");

    bob_says(a, "before the crash");
    expect(&out, &mut seen, "<bob> before the crash");

    server.kill();
    // While alice has no server at all: the same data served on a port she does not know.
    let elsewhere = Server::start(c, data.path());
    bob_says(c, "while you were away");
    elsewhere.kill();

    let _server = Server::start(b, data.path());
    expect(&out, &mut seen, "<bob> while you were away");
    bob_says(b, "after the move");
    expect(&out, &mut seen, "<bob> after the move");
    // Anything that would come twice comes now.
    std::thread::sleep(Duration::from_millis(500));
    seen.extend(out.try_iter());

    let from_bob: Vec<&str> = seen
        .iter()
        .filter_map(|line| line.split_once(" #general <bob> ").map(|(_, text)| text))
        .collect();
    assert_eq!(
        from_bob,
        ["before the crash", "while you were away", "after the move"],
        "each once, in order: {seen:#?}"
    );
    let notices: Vec<String> = err.try_iter().collect();
    assert!(
        notices
            .iter()
            .any(|n| n.contains(&format!("reconnecting to 127.0.0.1:{b}"))),
        "{notices:#?}"
    );
    drop(input);
    let _ = alice.kill();
    let _ = alice.wait();
}
