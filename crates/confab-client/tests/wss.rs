//! `wss://` and `https://` against the real server's TLS: the client verifies the server's
//! certificate (a development certificate from `confab cert dev`'s code, given as an extra
//! root), refuses it without that root, and with `insecure` skips the check only when asked.

use std::sync::Arc;

use confab_client::protocol::{ClientFrame, Receiver, SendMessage, ServerFrame};
use confab_client::{accounts, ClientError, Connection, Endpoint, TlsOptions};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// A TLS server with a fresh development certificate; returns its port, the certificate's
/// directory (`dev-cert.pem` in it) and the shutdown token.
async fn tls_server(
    tune: impl FnOnce(&mut confab_server::Config),
) -> (u16, tempfile::TempDir, CancellationToken) {
    let dir = tempfile::tempdir().unwrap();
    let made = confab_server::tls::dev::write(&dir.path().join("tls"), &[], 30).unwrap();
    let mut config = confab_server::Config {
        data_dir: dir.path().join("data"),
        ..confab_server::Config::default()
    };
    config.tls.cert = Some(made.cert);
    config.tls.key = Some(made.key);
    tune(&mut config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let shutdown = CancellationToken::new();
    tokio::spawn(confab_server::run(config, listener, shutdown.clone()));
    (port, dir, shutdown)
}

async fn say(connection: &mut Connection, id: &str, content: &str) {
    connection
        .send(&ClientFrame::Message(SendMessage {
            id: Some(id.into()),
            receiver: Receiver::parse("#general").unwrap(),
            content: content.into(),
            attachment: None,
            location: None,
            reply_to_message: None,
            sender: None,
            timestamp: None,
        }))
        .await
        .unwrap();
    loop {
        match connection.recv().await.unwrap() {
            Some(ServerFrame::Ack(ack)) => {
                assert_eq!(ack.reply_to, id);
                return;
            }
            Some(_) => continue,
            None => panic!("closed"),
        }
    }
}

#[tokio::test]
async fn the_client_talks_wss_and_https_and_checks_the_certificate() {
    let (port, dir, shutdown) = tls_server(|_| {}).await;
    let ca = dir.path().join("tls/dev-cert.pem");

    // Without the development root the certificate is refused.
    let untrusted = Endpoint::parse(&format!("wss://localhost:{port}")).unwrap();
    assert!(!untrusted.insecure);
    let refused = accounts::register(&untrusted, "alice", "a long password").await;
    assert!(matches!(refused, Err(ClientError::Tls(_))), "{refused:?}");

    let endpoint = Endpoint::parse_with_ca(&format!("wss://localhost:{port}"), Some(&ca)).unwrap();
    let token = accounts::register(&endpoint, "alice", "a long password")
        .await
        .unwrap();
    let (mut connection, ready) = Connection::connect(&endpoint, &token).await.unwrap();
    assert_eq!(ready.user.username, "alice");
    say(&mut connection, "m1", "over tls").await;

    // A name the certificate is not for is refused even with the root.
    let wrong_name =
        Endpoint::parse_with_ca(&format!("wss://127.0.0.2:{port}"), Some(&ca)).unwrap();
    let refused = Connection::connect(&wrong_name, &token).await;
    assert!(refused.is_err(), "a certificate for another name");

    // --insecure: the same unknown certificate is accepted, because it was asked for.
    let options = TlsOptions {
        ca_file: None,
        insecure: true,
    };
    let insecure = Endpoint::parse_with(&format!("wss://localhost:{port}"), options).unwrap();
    assert!(insecure.insecure);
    let (mut connection, _) = Connection::connect(&insecure, &token).await.unwrap();
    say(&mut connection, "m2", "unchecked").await;
    shutdown.cancel();
}

#[tokio::test]
async fn uploads_stream_over_http_and_https_and_refusals_come_back() {
    let data = tempfile::tempdir().unwrap();
    let mut config = confab_server::Config {
        data_dir: data.path().to_owned(),
        ..confab_server::Config::default()
    };
    config.attachments.max_bytes = 200_000;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let backend = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    tokio::spawn(confab_server::run(config, listener, shutdown.clone()));
    let (port, dir, tls_shutdown) = tls_server(|c| c.attachments.max_bytes = 200_000).await;
    let secure = Endpoint::parse_with_ca(
        &format!("https://localhost:{port}"),
        Some(&dir.path().join("tls/dev-cert.pem")),
    )
    .unwrap();
    let plain = Endpoint::parse(&format!("http://{backend}")).unwrap();
    // One account on each server, under the same name.
    let mut tokens = Vec::new();
    for endpoint in [&plain, &secure] {
        let token = accounts::register(endpoint, "alice", "a long password")
            .await
            .unwrap();
        tokens.push(token);
    }
    let token_for = |endpoint: &Endpoint| tokens[usize::from(endpoint.tls.is_some())].clone();

    let files = tempfile::tempdir().unwrap();
    let path = files.path().join("notes.txt");
    let bytes: Vec<u8> = (0..150_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    std::fs::write(&path, &bytes).unwrap();
    for endpoint in [&plain, &secure] {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = seen.clone();
        let info = accounts::upload(endpoint, &token_for(endpoint), &path, move |sent, total| {
            record.lock().unwrap().push((sent, total));
        })
        .await
        .unwrap();
        assert_eq!((info.name.as_str(), info.size), ("notes.txt", 150_000));
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.first(), Some(&(0, 150_000)), "announced first");
        assert_eq!(seen.last(), Some(&(150_000, 150_000)), "{seen:?}");
        assert!(seen.windows(2).all(|w| w[0].0 < w[1].0), "{seen:?}");
    }

    // Over the limit: the server's 413 comes back as the refusal, over both.
    let big = files.path().join("big.bin");
    std::fs::write(&big, vec![0u8; 300_000]).unwrap();
    for endpoint in [&plain, &secure] {
        let refused = accounts::upload(endpoint, &token_for(endpoint), &big, |_, _| {}).await;
        assert!(
            matches!(
                &refused,
                Err(ClientError::Refused {
                    code: confab_client::protocol::ErrorCode::TooLarge,
                    ..
                })
            ),
            "{refused:?}"
        );
    }
    let missing = accounts::upload(
        &plain,
        &token_for(&plain),
        &files.path().join("nope"),
        |_, _| {},
    )
    .await;
    assert!(
        matches!(missing, Err(ClientError::File { .. })),
        "{missing:?}"
    );
    let wrong = accounts::upload(&plain, "0".repeat(64).as_str(), &path, |_, _| {}).await;
    assert!(
        matches!(
            &wrong,
            Err(ClientError::Refused {
                code: confab_client::protocol::ErrorCode::Unauthorized,
                ..
            })
        ),
        "{wrong:?}"
    );
    shutdown.cancel();
    tls_shutdown.cancel();
}
