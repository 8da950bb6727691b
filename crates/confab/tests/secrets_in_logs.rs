//! Tokens and passwords never reach the log: a full run of `confab serve` at the most verbose
//! level (registration, password logins over REST and in-band, a JWT, a refresh, REST calls,
//! a refused token, logout), then every secret it used is looked for in everything it printed.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use confab_client::protocol::{ClientFrame, Login, Refresh, ServerFrame};
use confab_client::{accounts, Connection, Endpoint};
use jsonwebtoken::{encode, EncodingKey, Header};

const PASSWORD: &str = "a password worth hiding";
const SECRET: &str = "a JWT secret of more than 32 bytes";

#[test]
fn no_token_or_password_is_ever_logged() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("jwt.key");
    std::fs::write(&key, SECRET).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_confab"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--jwt-key")
        .arg(&key)
        .env("RUST_LOG", "trace")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut log = String::new();
    let addr = loop {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "server exited: {log}"
        );
        log.push_str(&line);
        if let Some(rest) = line.split("addr=").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    let reader = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = stdout.read_to_string(&mut rest);
        rest
    });
    let mut stderr = child.stderr.take().unwrap();

    let used = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(exercise(&format!("http://{addr}")));

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "server exits after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    log.push_str(&reader.join().unwrap());
    let mut errors = String::new();
    let _ = stderr.read_to_string(&mut errors);
    log.push_str(&errors);
    assert!(log.contains("logged in"), "the run was logged: {log}");
    for secret in used
        .iter()
        .chain([&PASSWORD.to_owned(), &SECRET.to_owned()])
    {
        let leak = log.lines().find(|l| l.contains(secret.as_str()));
        assert!(
            leak.is_none(),
            "a secret is in the log: {secret} in {leak:?}"
        );
        // Nor a recognisable piece of one.
        let piece = &secret[..secret.len().min(24)];
        assert!(
            !log.contains(piece),
            "part of a secret is in the log: {piece}"
        );
    }
}

/// Uses the server every way a secret can travel; returns the tokens it used.
async fn exercise(url: &str) -> Vec<String> {
    let endpoint = Endpoint::parse(url).unwrap();
    let registered = accounts::register(&endpoint, "alice", PASSWORD)
        .await
        .unwrap();
    let logged_in = accounts::login(&endpoint, "alice", PASSWORD).await.unwrap();
    assert!(accounts::login(&endpoint, "alice", "wrong wrong wrong")
        .await
        .is_err());
    let (mut by_token, _) = Connection::connect(&endpoint, &registered).await.unwrap();
    let (_, ready) = Connection::connect_login(
        &endpoint,
        Login {
            username: Some("alice".into()),
            password: Some(PASSWORD.into()),
            ..Login::default()
        },
    )
    .await
    .unwrap();
    let in_band = ready.token.clone().expect("a password login mints a token");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let jwt = |exp: u64| {
        encode(
            &Header::default(),
            &serde_json::json!({"sub": "jay", "exp": exp}),
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap()
    };
    let (first_jwt, second_jwt) = (jwt(now + 600), jwt(now + 1200));
    let (mut by_jwt, _) = Connection::connect(&endpoint, &first_jwt).await.unwrap();
    by_jwt
        .send(&ClientFrame::Refresh(Refresh {
            id: Some("r".into()),
            token: second_jwt.clone(),
        }))
        .await
        .unwrap();
    loop {
        match by_jwt.recv().await.unwrap() {
            Some(ServerFrame::Ack(ack)) if ack.reply_to == "r" => break,
            Some(_) => continue,
            None => panic!("closed"),
        }
    }
    let forged = "0123456789abcdef".repeat(4);
    assert!(Connection::connect(&endpoint, &forged).await.is_err());
    let (status, _) = accounts::post(&endpoint, "/api/v1/logout", String::new())
        .await
        .unwrap();
    assert_eq!(status, 401, "logout without a token is refused");
    by_token
        .send(&ClientFrame::Logout {
            id: Some("o".into()),
        })
        .await
        .unwrap();
    vec![
        registered, logged_in, in_band, first_jwt, second_jwt, forged,
    ]
}
