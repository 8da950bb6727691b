//! `confab chat --plain` as real processes talking through a real `confab serve`.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

mod common;

use common::Server;

impl Server {
    fn start() -> Self {
        Self::start_with("")
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

/// Registers users, each with a config directory of their own (the saved token).
fn register(server: &Server, names: &[&str]) -> Vec<tempfile::TempDir> {
    names
        .iter()
        .map(|name| {
            let config = tempfile::tempdir().unwrap();
            let (code, _, err) = run_with_input(
                chat(server, config.path(), &["--user", name, "--register"]),
                "",
            );
            assert_eq!(code, 0, "{err}");
            config
        })
        .collect()
}

/// A client that keeps running (`--stay`): its stdin, and its stdout line by line.
struct Listener {
    child: Child,
    input: Option<std::process::ChildStdin>,
    lines: mpsc::Receiver<String>,
}

impl Listener {
    fn start(server: &Server, config: &std::path::Path, room: &str) -> Self {
        let mut child = chat(server, config, &["--stay", "--room", room])
            .env_remove("CONFAB_PASSWORD")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let lines = lines(child.stdout.take().unwrap());
        let input = child.stdin.take();
        let mut listener = Self {
            child,
            input,
            lines,
        };
        // In the room (`/who` answers once the join is through).
        listener.say("/who");
        listener.expect(&format!("{room} "));
        listener
    }

    fn say(&mut self, line: &str) {
        let input = self.input.as_mut().unwrap();
        input.write_all(format!("{line}\n").as_bytes()).unwrap();
        input.flush().unwrap();
    }

    fn expect(&self, needle: &str) -> String {
        expect_line(&self.lines, needle)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        drop(self.input.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The token saved in a config directory.
fn saved_token(config: &std::path::Path) -> String {
    let text = std::fs::read_to_string(config.join("confab/tokens.json")).unwrap();
    let all: serde_json::Value = serde_json::from_str(&text).unwrap();
    let saved = all.as_object().unwrap().values().next().unwrap();
    saved["token"].as_str().unwrap().to_owned()
}

/// `GET path` with a bearer token; the status and the body.
fn http_get(server: &Server, path: &str, token: &str) -> (u16, Vec<u8>) {
    use std::io::Read;
    let addr = server.url.trim_start_matches("ws://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).unwrap();
    let split = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header");
    let head = String::from_utf8_lossy(&reply[..split]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "{head}"
    );
    (status, reply[split + 4..].to_vec())
}

/// The acks a `--json` client printed, in order: (server id, receiver).
fn acks(json_lines: &str) -> Vec<serde_json::Value> {
    json_lines
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|frame| frame["type"] == "ack")
        .collect()
}

#[test]
fn edits_and_deletes_reach_the_other_client_as_update_lines() {
    let server = Server::start();
    let configs = register(&server, &["alice", "bob"]);
    let (alice, bob) = (configs[0].path(), configs[1].path());
    let mut listener = Listener::start(&server, bob, "#ops");

    // `/edit 2` names alice's second-to-last message here, `/delete` her last one, even
    // right after sending them (the commands wait for the acks).
    let (code, out, err) = run_with_input(
        chat(&server, alice, &["--json", "--room", "#ops"]),
        "first\nsecond\n/edit 2 first, fixed\n/delete\n",
    );
    assert_eq!(code, 0, "{err}");
    let acks = acks(&out);
    assert_eq!(acks.len(), 4, "{out}");
    let first = acks[0]["id"].as_str().unwrap().to_owned();
    let second = acks[1]["id"].as_str().unwrap().to_owned();

    listener.expect("#ops <alice> first");
    listener.expect("#ops <alice> second");
    let edited = listener.expect(" edited ");
    assert!(
        edited.ends_with(&format!(" #ops * alice edited {first}: first, fixed")),
        "{edited}"
    );
    let deleted = listener.expect(" deleted ");
    assert!(
        deleted.ends_with(&format!(" #ops * alice deleted {second}")),
        "{deleted}"
    );
    // History shows the state now.
    listener.say("/history 2");
    listener.expect("#ops <alice> first, fixed (edited)");
    listener.expect("#ops <alice> (message deleted)");

    // Refusals are shown and fail the run: not yours, already deleted, none left.
    let (code, _, err) = run_with_input(
        chat(&server, bob, &["--room", "#ops"]),
        &format!("/edit {first} mine now\n"),
    );
    assert_eq!(code, 1);
    assert!(err.contains("forbidden"), "{err}");
    let (code, _, err) = run_with_input(
        chat(&server, alice, &["--room", "#ops"]),
        &format!("/delete {second}\n"),
    );
    assert_eq!(code, 1);
    assert!(err.contains("gone"), "{err}");
    let (code, _, err) = run_with_input(chat(&server, bob, &["--room", "#ops"]), "/delete\n");
    assert_eq!(code, 1);
    assert!(err.contains("no message of yours here"), "{err}");

    // A later run finds alice's message from history: `/react` by count.
    let (code, _, err) = run_with_input(chat(&server, alice, &["--room", "#ops"]), "/react 👍\n");
    assert_eq!(code, 0, "{err}");
    let reacted = listener.expect(" reactions ");
    assert!(
        reacted.ends_with(&format!(" #ops * alice reactions {first}: 👍 1")),
        "{reacted}"
    );
}

#[test]
fn an_upload_reaches_the_other_client_and_its_bytes_download() {
    let server = Server::start_with(
        "[attachments]\nmax_bytes = 400000\nuploads_burst = 4\nuploads_per_minute = 1\n",
    );
    let configs = register(&server, &["alice", "bob"]);
    let (alice, bob) = (configs[0].path(), configs[1].path());
    let listener = Listener::start(&server, bob, "#ops");

    let files = tempfile::tempdir().unwrap();
    let bytes: Vec<u8> = (0u32..300_000)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let path = files.path().join("report v2.bin");
    std::fs::write(&path, &bytes).unwrap();

    let (code, _, err) = run_with_input(
        chat(&server, alice, &["--room", "#ops"]),
        &format!(
            "/upload \"{}\" quarterly numbers\nafter the file\n",
            path.display()
        ),
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("uploading ") && err.contains("(293.0 KiB)..."),
        "{err}"
    );
    assert!(err.contains("uploaded "), "{err}");

    let line = listener.expect("[file ");
    assert!(
        line.contains(" #ops <alice> [file report v2.bin 293.0 KiB /api/v1/attachments/"),
        "{line}"
    );
    assert!(line.ends_with("] quarterly numbers"), "{line}");
    listener.expect("#ops <alice> after the file");
    let url = line
        .split("] ")
        .next()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .to_owned();
    assert!(url.starts_with("/api/v1/attachments/"), "{url}");

    // The receiver may read it, and gets the very bytes.
    let (status, body) = http_get(&server, &url, &saved_token(bob));
    assert_eq!(status, 200);
    assert!(body == bytes, "the download equals the file");

    // Too large: refused before anything is posted, and the run fails.
    let big = files.path().join("big.bin");
    std::fs::write(&big, vec![7u8; 500_000]).unwrap();
    let (code, _, err) = run_with_input(
        chat(&server, alice, &["--room", "#ops"]),
        &format!("/upload {}\nstill here\n", big.display()),
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("too_large"), "{err}");
    listener.expect("#ops <alice> still here");

    // A file that is not there.
    let (code, _, err) = run_with_input(
        chat(&server, alice, &["--room", "#ops"]),
        "/upload /no/such/file\n",
    );
    assert_eq!(code, 1);
    assert!(err.contains("cannot read /no/such/file"), "{err}");

    // Past the upload budget (a burst of 4, then one a minute): rate_limited.
    let small = files.path().join("small.txt");
    std::fs::write(&small, "tiny").unwrap();
    let upload_small = format!("/upload {}\n", small.display());
    let refusals: Vec<String> = (0..4)
        .map(|_| run_with_input(chat(&server, alice, &["--room", "#ops"]), &upload_small))
        .filter(|(code, _, _)| *code != 0)
        .map(|(_, _, err)| err)
        .collect();
    assert!(!refusals.is_empty(), "the budget ran out");
    assert!(
        refusals.iter().all(|err| err.contains("rate_limited")),
        "{refusals:?}"
    );
}

#[test]
fn an_invitation_is_accepted_and_the_invitee_posts_in_the_room() {
    let server = Server::start();
    let configs = register(&server, &["alice", "bob"]);
    let (alice, bob) = (configs[0].path(), configs[1].path());
    let mut alice = Listener::start(&server, alice, "#club");
    let mut bob = Listener::start(&server, bob, "#general");

    alice.say("/invite bob");
    let invited = bob.expect("invites you");
    assert!(
        invited.contains(" #club * alice invites you: /accept "),
        "{invited}"
    );
    let id = invited.rsplit(' ').next().unwrap().to_owned();
    assert_eq!(
        invited,
        format!(
            "{} #club * alice invites you: /accept {id} or /decline {id}",
            invited.split(' ').next().unwrap()
        )
    );

    // `/invites` lists it again.
    bob.say("/invites");
    let listed = bob.expect("invites you");
    assert!(
        listed.ends_with(&format!("/accept {id} or /decline {id}")),
        "{listed}"
    );

    // Accepting switches to the room: the next line is posted there, without a /join.
    bob.say(&format!("/accept {id}"));
    bob.say("hello club");
    let answered = alice.expect("the invitation");
    assert!(
        answered.ends_with(&format!(" #club * bob accepted the invitation {id}")),
        "{answered}"
    );
    alice.expect("#club <bob> hello club");

    // The invitation is used up.
    bob.say("/invites");
    bob.say(&format!("/decline {id}"));
    bob.say("/who #club");
    bob.expect("#club bob online");
}

#[test]
fn a_command_whose_answer_is_lost_with_the_server_fails_instead_of_hanging() {
    let mut server = Server::start();
    let configs = register(&server, &["alice"]);
    let mut client = chat(&server, configs[0].path(), &["--room", "#ops"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = lines(client.stdout.take().unwrap());
    let mut input = client.stdin.take().unwrap();
    input.write_all(b"/who\n").unwrap();
    expect_line(&out, "#ops alice online");
    let _ = server.child.kill();
    let _ = server.child.wait();
    input.write_all(b"/invites\n").unwrap();
    drop(input);
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = client.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = client.kill();
            panic!("the client did not exit");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut client.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(
        status.code(),
        Some(1),
        "the lost answer counts as a refusal: {err}"
    );
    assert!(err.contains("may or may not have been applied"), "{err}");
}

#[test]
fn plain_clients_talk_over_server_sent_events() {
    let server = Server::start();
    let configs = register(&server, &["carol", "dave"]);
    // Dave listens over the event stream (JSON lines, so his `ready` shows its stream).
    let mut dave = chat(
        &server,
        configs[1].path(),
        &["--stay", "--json", "--transport", "sse"],
    )
    .env_remove("CONFAB_PASSWORD")
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let dave_lines = lines(dave.stdout.take().unwrap());
    let ready = expect_line(&dave_lines, "\"type\":\"ready\"");
    assert!(ready.contains("\"stream\":\""), "{ready}");
    // Carol sends over it too: every message acknowledged (the exit code says so).
    let (code, _, err) = run_with_input(
        chat(&server, configs[0].path(), &["--transport", "sse"]),
        "hello over sse\n/msg dave a dm over sse\n",
    );
    assert_eq!(code, 0, "{err}");
    expect_line(&dave_lines, "hello over sse");
    expect_line(&dave_lines, "a dm over sse");
    // `auto` takes the WebSocket when there is one.
    let (code, _, err) = run_with_input(
        chat(&server, configs[0].path(), &["--transport", "auto"]),
        "auto works\n",
    );
    assert_eq!(code, 0, "{err}");
    expect_line(&dave_lines, "auto works");
    let _ = dave.kill();
    let _ = dave.wait();
}
