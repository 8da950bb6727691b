//! `confab serve --database postgres://...`: the binary stores in PostgreSQL (a user registered
//! before a restart logs in after it), and at the most verbose log level neither the
//! database password nor a user's password, token or the statements' parameters reach the
//! log. Uses `CONFAB_TEST_DATABASE` (default `postgres://postgres@127.0.0.1:5432/test`, trust
//! auth, so any password is accepted) in a fresh schema, dropped at the end with `psql`.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use confab_client::{accounts, Endpoint};

const DB_PASSWORD: &str = "db-password-not-for-logs";
const PASSWORD: &str = "a password worth hiding";

fn base() -> String {
    std::env::var("CONFAB_TEST_DATABASE")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// The base URL with our password and schema in it.
fn url(schema: &str) -> String {
    let base = base();
    let (scheme, rest) = base.split_once("://").expect("a URL");
    let rest = match rest.split_once('@') {
        Some((user, host)) => {
            let user = user.split(':').next().unwrap_or(user);
            format!("{user}:{DB_PASSWORD}@{host}")
        }
        None => format!("postgres:{DB_PASSWORD}@{rest}"),
    };
    let join = if rest.contains('?') { '&' } else { '?' };
    format!("{scheme}://{rest}{join}schema={schema}")
}

struct Serving {
    child: Child,
    addr: String,
    log: String,
    rest: std::thread::JoinHandle<String>,
}

fn serve(database: &str, data: &std::path::Path) -> Serving {
    let mut child = Command::new(env!("CARGO_BIN_EXE_confab"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .env("CONFAB_DATABASE", database)
        .env("RUST_LOG", "trace")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut log = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr = loop {
        assert!(Instant::now() < deadline, "no listening line: {log}");
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap() == 0 {
            let mut errors = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut errors);
            panic!("server exited: {log}{errors}");
        }
        log.push_str(&line);
        if let Some(rest) = line.split("addr=").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    let rest = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = stdout.read_to_string(&mut rest);
        rest
    });
    Serving {
        child,
        addr,
        log,
        rest,
    }
}

impl Serving {
    /// SIGTERM, wait, and everything it printed.
    fn stop(mut self) -> String {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "server exits after SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
        self.log.push_str(&self.rest.join().unwrap());
        let mut errors = String::new();
        let _ = self
            .child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut errors);
        self.log.push_str(&errors);
        self.log
    }
}

/// Drops the schema when the test ends, however it ends.
struct Schema(String);

impl Drop for Schema {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .arg(base())
            .args([
                "-qc",
                &format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.0),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

#[test]
fn serves_from_postgres_across_a_restart_and_logs_no_secret() {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let schema = Schema(format!("confab_bin_{}_{nanos}", std::process::id()));
    let database = url(&schema.0);
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();

    let first = serve(&database, &dir.path().join("data"));
    let endpoint = Endpoint::parse(&format!("http://{}", first.addr)).unwrap();
    let token = runtime
        .block_on(accounts::register(&endpoint, "alice", PASSWORD))
        .unwrap();
    let mut log = first.stop();

    // Another data dir: everything comes from the database.
    let second = serve(&database, &dir.path().join("elsewhere"));
    let endpoint = Endpoint::parse(&format!("http://{}", second.addr)).unwrap();
    let again = runtime
        .block_on(accounts::login(&endpoint, "alice", PASSWORD))
        .unwrap();
    log.push_str(&second.stop());

    assert!(log.contains("postgres store open"), "{log}");
    for secret in [DB_PASSWORD, PASSWORD, token.as_str(), again.as_str()] {
        let leak = log.lines().find(|l| l.contains(secret));
        assert!(leak.is_none(), "a secret is in the log: {leak:?}");
    }
    assert!(
        !log.contains("with parameters"),
        "statement parameters (hashes) are in the log"
    );
}
