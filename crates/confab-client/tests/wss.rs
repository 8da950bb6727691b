//! `wss://` and `https://`: the client verifies the server's certificate (here a development
//! certificate given as an extra root) and talks through TLS. The server side is a real
//! `confab` behind a TLS-terminating proxy made for the test, since the server itself does not
//! serve TLS yet.

use std::sync::Arc;

use confab_client::protocol::{ClientFrame, Receiver, SendMessage, ServerFrame};
use confab_client::{accounts, ClientError, Connection, Endpoint};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

async fn tls_proxy_to(backend: std::net::SocketAddr) -> (u16, tempfile::TempDir) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), certified.cert.pem()).unwrap();
    let key =
        rustls_pki_types::PrivateKeyDer::try_from(certified.signing_key.serialize_der()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![certified.cert.der().clone()], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let mut plain = TcpStream::connect(backend).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    (port, dir)
}

#[tokio::test]
async fn the_client_talks_wss_and_https_and_checks_the_certificate() {
    let data = tempfile::tempdir().unwrap();
    let config = confab_server::Config {
        data_dir: data.path().to_owned(),
        ..confab_server::Config::default()
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let backend = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    tokio::spawn(confab_server::run(config, listener, shutdown.clone()));
    let (port, dir) = tls_proxy_to(backend).await;
    let ca = dir.path().join("ca.pem");

    // Without the development root the certificate is refused.
    let untrusted = Endpoint::parse(&format!("wss://localhost:{port}")).unwrap();
    let refused = accounts::register(&untrusted, "alice", "a long password").await;
    assert!(matches!(refused, Err(ClientError::Tls(_))), "{refused:?}");

    let endpoint = Endpoint::parse_with_ca(&format!("wss://localhost:{port}"), Some(&ca)).unwrap();
    let token = accounts::register(&endpoint, "alice", "a long password")
        .await
        .unwrap();
    let (mut connection, ready) = Connection::connect(&endpoint, &token).await.unwrap();
    assert_eq!(ready.user.username, "alice");
    connection
        .send(&ClientFrame::Message(SendMessage {
            id: Some("m1".into()),
            receiver: Receiver::parse("#general").unwrap(),
            content: "over tls".into(),
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
                assert_eq!(ack.reply_to, "m1");
                break;
            }
            Some(_) => continue,
            None => panic!("closed"),
        }
    }
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
    let (port, dir) = tls_proxy_to(backend).await;
    let secure = Endpoint::parse_with_ca(
        &format!("https://localhost:{port}"),
        Some(&dir.path().join("ca.pem")),
    )
    .unwrap();
    let plain = Endpoint::parse(&format!("http://{backend}")).unwrap();
    let token = accounts::register(&plain, "alice", "a long password")
        .await
        .unwrap();

    let files = tempfile::tempdir().unwrap();
    let path = files.path().join("notes.txt");
    let bytes: Vec<u8> = (0..150_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    std::fs::write(&path, &bytes).unwrap();
    for endpoint in [&plain, &secure] {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = seen.clone();
        let info = accounts::upload(endpoint, &token, &path, move |sent, total| {
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
        let refused = accounts::upload(endpoint, &token, &big, |_, _| {}).await;
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
    let missing = accounts::upload(&plain, &token, &files.path().join("nope"), |_, _| {}).await;
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
}
