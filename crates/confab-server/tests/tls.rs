//! TLS on real sockets with a generated certificate: https and wss on one listener, TLS 1.2
//! and 1.3 and nothing older, HSTS on every response, the certificate reloaded when its files
//! change without dropping anyone (a bad new one refused, the old one kept), a server that
//! refuses to start on a bad pair, and the TCP gateway over the same certificate.

mod common;

use std::time::Duration;

use common::tls::{self, DevCert};
use common::{TestServer, WAIT};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

async fn tls_server(cert: &DevCert) -> TestServer {
    TestServer::start_with(|c| cert.configure(c)).await
}

#[tokio::test]
async fn https_and_wss_share_the_listener_and_every_response_has_hsts() {
    let cert = DevCert::new();
    let server = tls_server(&cert).await;
    let client = cert.client();

    let token = tls::register(server.addr, client.clone(), "alice").await;
    for path in ["/healthz", "/", "/api/v1/rooms", "/no/such/page"] {
        let reply = tls::https(server.addr, client.clone(), "GET", path, None, Some(&token)).await;
        assert_eq!(
            reply.header("strict-transport-security"),
            Some("max-age=31536000"),
            "{path}: {:?}",
            reply.headers
        );
    }
    // A browser offers h2 and HTTP/1.1 and is given HTTP/1.1.
    let mut browser_like = (*client).clone();
    browser_like.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let stream = tls::connect(server.addr, std::sync::Arc::new(browser_like)).await;
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    assert_eq!(tls::presented(&stream), cert.der());

    let mut alice = tls::wss_user(server.addr, client.clone(), &token).await;
    let ack = alice.say("#general", "over tls").await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let bob_token = tls::register(server.addr, client.clone(), "bob").await;
    let mut bob = tls::wss_user(server.addr, client.clone(), &bob_token).await;
    alice.say("#general", "hello bob").await;
    let seen = bob.recv_type("message").await;
    assert_eq!(seen["content"], "hello bob");

    // Plain HTTP to the TLS port gets no answer but a closed connection.
    let mut plain = TcpStream::connect(server.addr).await.unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(WAIT, plain.read_to_end(&mut answer))
        .await
        .expect("closed in time");
    assert!(!answer.starts_with(b"HTTP/"), "{answer:?}");
    server.stop().await;
}

#[tokio::test]
async fn tls_1_2_and_1_3_are_served_and_older_versions_are_refused() {
    let cert = DevCert::new();
    let server = tls_server(&cert).await;
    for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let client = tls::client_with(&cert, Some(version));
        let stream = tls::connect(server.addr, client.clone()).await;
        assert_eq!(stream.get_ref().1.protocol_version(), Some(version.version));
        let reply = tls::https(server.addr, client, "GET", "/healthz", None, None).await;
        assert_eq!(reply.status, 200);
    }
    // The same ClientHello (no supported_versions extension) as TLS 1.2 gets a ServerHello
    // record; as TLS 1.1 or 1.0, an alert.
    assert_eq!(
        first_answer(server.addr, 0x0303).await[0],
        0x16,
        "a handshake record"
    );
    for old in [0x0302, 0x0301] {
        let answer = first_answer(server.addr, old).await;
        assert_eq!(answer[0], 0x15, "an alert for {old:#x}: {answer:?}");
    }
    server.stop().await;
}

/// A minimal ClientHello of `version` that a TLS 1.2 server could accept, with the ECDHE
/// suites, groups and signature schemes the development certificate needs.
fn client_hello(version: u16) -> Vec<u8> {
    let mut body = version.to_be_bytes().to_vec();
    body.extend_from_slice(&[7; 32]);
    body.push(0); // no session id
    body.extend_from_slice(&[0, 6, 0xc0, 0x2b, 0xc0, 0x2f, 0x00, 0xff]);
    body.extend_from_slice(&[1, 0]); // no compression
    let extensions: &[u8] = &[
        0x00, 0x0a, 0, 6, 0, 4, 0x00, 0x1d, 0x00, 0x17, // supported groups
        0x00, 0x0b, 0, 2, 1, 0, // point formats
        0x00, 0x0d, 0, 6, 0, 4, 0x04, 0x03, 0x08, 0x04, // signature algorithms
        0x00, 0x17, 0, 0, // extended master secret
    ];
    body.extend_from_slice(&(extensions.len() as u16).to_be_bytes());
    body.extend_from_slice(extensions);
    let mut handshake = vec![1];
    handshake.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend_from_slice(&body);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

/// The first bytes the server answers a ClientHello of `version` with.
async fn first_answer(addr: std::net::SocketAddr, version: u16) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(&client_hello(version)).await.unwrap();
    let mut answer = vec![0; 5];
    tokio::time::timeout(WAIT, stream.read_exact(&mut answer))
        .await
        .expect("answered in time")
        .unwrap();
    answer
}

#[tokio::test]
async fn a_renewed_certificate_is_served_within_seconds_and_open_sessions_stay() {
    let cert = DevCert::new();
    let server = tls_server(&cert).await;
    let first = cert.der();
    let old_client = cert.client();
    let token = tls::register(server.addr, old_client.clone(), "alice").await;
    let mut alice = tls::wss_user(server.addr, old_client.clone(), &token).await;

    cert.renew();
    let second = cert.der();
    assert_ne!(first, second);
    let new_client = cert.client();
    // Within 5 seconds of the change, new handshakes get the new certificate.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let stream = tls::try_connect(server.addr, new_client.clone()).await;
        if stream.is_ok_and(|s| tls::presented(&s) == second) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the renewed certificate is served within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The session opened under the old certificate is still there and works.
    let ack = alice.say("#general", "still here").await;
    assert_eq!(ack["type"], "ack", "{ack}");

    // A bad renewal (the key is not the certificate's): logged, and the last good pair stays.
    let other = DevCert::new();
    std::fs::copy(&other.cert, &cert.cert).unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let stream = tls::connect(server.addr, new_client.clone()).await;
    assert_eq!(
        tls::presented(&stream),
        second,
        "the old certificate is kept"
    );
    std::fs::write(&cert.key, "not a key").unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let stream = tls::connect(server.addr, new_client.clone()).await;
    assert_eq!(tls::presented(&stream), second);
    let ack = alice.say("#general", "and still here").await;
    assert_eq!(ack["type"], "ack", "{ack}");
    server.stop().await;
}

#[tokio::test]
async fn a_server_with_a_bad_certificate_does_not_start() {
    let cert = DevCert::new();
    let other = DevCert::new();
    let dir = tempfile::tempdir().unwrap();
    for (cert_file, key_file) in [
        (cert.cert.clone(), other.key.clone()),
        (cert.cert.clone(), dir.path().join("missing.pem")),
        (cert.key.clone(), cert.key.clone()),
    ] {
        let config = confab_server::Config {
            data_dir: dir.path().to_owned(),
            tls: confab_server::config::TlsSettings {
                cert: Some(cert_file),
                key: Some(key_file),
                ..Default::default()
            },
            ..Default::default()
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let started = tokio::time::timeout(
            WAIT,
            confab_server::run(config, listener, Default::default()),
        )
        .await
        .expect("refused at once");
        assert!(
            matches!(started, Err(confab_server::ServeError::Tls(_))),
            "{started:?}"
        );
    }
}

#[tokio::test]
async fn the_tcp_gateway_speaks_tls_with_the_same_certificate() {
    let cert = DevCert::new();
    let server = tls_server(&cert).await;
    let token = tls::register(server.addr, cert.client(), "alice").await;
    let stream = tls::connect(server.tcp_addr, cert.client()).await;
    assert_eq!(tls::presented(&stream), cert.der());
    assert_eq!(
        stream.get_ref().1.alpn_protocol(),
        None,
        "lines are not HTTP"
    );
    let (read, mut write) = tokio::io::split(stream);
    let mut lines = BufReader::new(read).lines();
    let login = json!({"type": "login", "token": token}).to_string() + "\n";
    write.write_all(login.as_bytes()).await.unwrap();
    let line = tokio::time::timeout(WAIT, lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let ready: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(ready["type"], "ready", "{ready}");
    // Plain lines to it are not a login: the handshake fails and the connection closes.
    let mut plain = TcpStream::connect(server.tcp_addr).await.unwrap();
    plain.write_all(login.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(WAIT, plain.read_to_end(&mut answer))
        .await
        .expect("closed in time");
    assert!(
        !String::from_utf8_lossy(&answer).contains("ready"),
        "{answer:?}"
    );
    server.stop().await;
}
