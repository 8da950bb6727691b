//! `confab chat --plain` as real processes talking through a real `confab serve`.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

struct Server {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_confab"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path().join("data"))
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let addr = loop {
            let line = lines.next().expect("server logs its address").unwrap();
            if let Some(rest) = line.split("addr=").nth(1) {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Self {
            child,
            url: format!("ws://{addr}"),
            _dir: dir,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn chat(server: &Server, config: &std::path::Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_confab"));
    command
        .arg("chat")
        .arg("--plain")
        .args(args)
        .arg(&server.url)
        .env("XDG_CONFIG_HOME", config)
        .env("CONFAB_PASSWORD", "a long enough password")
        .env_remove("CONFAB_TOKEN");
    command
}

/// Lines of a child's stdout, as they come.
fn lines(stdout: ChildStdout) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

fn expect_line(rx: &mpsc::Receiver<String>, needle: &str) -> String {
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(15))
            .unwrap_or_else(|_| panic!("no line with {needle:?}"));
        if line.contains(needle) {
            return line;
        }
    }
}

fn run_with_input(mut command: Command, input: &str) -> (i32, String, String) {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
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
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn two_plain_clients_talk_through_a_room_and_a_dm() {
    let server = Server::start();
    let alice_config = tempfile::tempdir().unwrap();
    let bob_config = tempfile::tempdir().unwrap();

    // Register both; bob's token is saved with private permissions.
    let (code, _, err) = run_with_input(
        chat(
            &server,
            alice_config.path(),
            &["--user", "alice", "--register"],
        ),
        "",
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run_with_input(
        chat(
            &server,
            bob_config.path(),
            &["--user", "bob", "--register", "--room", "#ops"],
        ),
        "",
    );
    assert_eq!(code, 0, "{err}");
    let saved = bob_config.path().join("confab/tokens.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&saved).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // Bob listens (saved token, no password needed).
    let mut bob = chat(&server, bob_config.path(), &["--stay", "--room", "#ops"])
        .env_remove("CONFAB_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let bob_lines = lines(bob.stdout.take().unwrap());
    let mut bob_input = bob.stdin.take().unwrap();
    bob_input.write_all(b"/who\n").unwrap();
    expect_line(&bob_lines, "#ops bob online");

    let (code, _, err) = run_with_input(
        chat(&server, alice_config.path(), &["--room", "#ops"]),
        "hello ops\nline two\n/msg bob just for you\n",
    );
    assert_eq!(code, 0, "alice's messages were all acknowledged: {err}");
    let first = expect_line(&bob_lines, "hello ops");
    assert!(first.ends_with(" #ops <alice> hello ops"), "{first}");
    expect_line(&bob_lines, "#ops <alice> line two");
    let dm = expect_line(&bob_lines, "just for you");
    assert!(dm.ends_with(" @alice <alice> just for you"), "{dm}");

    bob_input.write_all(b"/msg alice got it\n").unwrap();
    drop(bob_input);
    let _ = bob.kill();
    let _ = bob.wait();

    // Refusals are reported and make the exit code 1.
    let (code, _, err) =
        run_with_input(chat(&server, alice_config.path(), &[]), "/msg nobody hi\n");
    assert_eq!(code, 1);
    assert!(err.contains("not_found"), "{err}");
}
