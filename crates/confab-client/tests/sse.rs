//! The client's Server-Sent Events transport against a real server: a session over it talks
//! to one over a WebSocket, replies come back on the receiving half, a dropped stream resumes
//! from its resume point with what it missed, and a refused token is `unauthorized`.

use std::collections::BTreeMap;
use std::time::Duration;

use confab_client::protocol::{ClientFrame, ErrorCode, Receiver, SendMessage, ServerFrame};
use confab_client::sse::ResumePoint;
use confab_client::{accounts, ClientError, Connection, Endpoint, Transport};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(10);

fn message(id: &str, to: &str, content: &str) -> ClientFrame {
    ClientFrame::Message(SendMessage {
        id: Some(id.into()),
        receiver: Receiver::parse(to).unwrap(),
        content: content.into(),
        attachment: None,
        location: None,
        reply_to_message: None,
        sender: None,
        timestamp: None,
    })
}

/// The next message's content, skipping everything else.
async fn next_message(connection: &mut Connection) -> String {
    loop {
        let frame = tokio::time::timeout(WAIT, connection.recv())
            .await
            .expect("a frame in time")
            .unwrap()
            .expect("open");
        if let ServerFrame::Message(m) = frame {
            return m.content;
        }
    }
}

async fn next_ack(connection: &mut Connection) -> String {
    loop {
        let frame = tokio::time::timeout(WAIT, connection.recv())
            .await
            .expect("a frame in time")
            .unwrap()
            .expect("open");
        match frame {
            ServerFrame::Ack(ack) => return ack.reply_to,
            ServerFrame::Error(err) => panic!("{}: {}", err.code, err.message),
            _ => {}
        }
    }
}

#[tokio::test]
async fn a_session_over_sse_talks_to_one_over_a_websocket_and_resumes() {
    let data = tempfile::tempdir().unwrap();
    let config = confab_server::Config {
        data_dir: data.path().to_owned(),
        ..confab_server::Config::default()
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    tokio::spawn(confab_server::run(config, listener, shutdown.clone()));
    let endpoint = Endpoint::parse(&format!("http://{addr}")).unwrap();
    let alice = accounts::register(&endpoint, "alice", "correct horse")
        .await
        .unwrap();
    let bob = accounts::register(&endpoint, "bob", "correct horse")
        .await
        .unwrap();

    let refused = Connection::connect_via(&endpoint, &"0".repeat(64), Transport::Sse).await;
    assert!(matches!(
        refused,
        Err(ClientError::Refused {
            code: ErrorCode::Unauthorized,
            ..
        })
    ));

    let (mut over_sse, ready) = Connection::connect_via(&endpoint, &alice, Transport::Sse)
        .await
        .unwrap();
    let stream = ready.stream.clone().expect("a stream id");
    let (mut over_ws, _) = Connection::connect_via(&endpoint, &bob, Transport::Ws)
        .await
        .unwrap();

    // Both ways, with the sender's ack coming back on its own receiving half.
    over_sse
        .send(&message("a1", "#general", "from sse"))
        .await
        .unwrap();
    assert_eq!(next_ack(&mut over_sse).await, "a1");
    assert_eq!(next_message(&mut over_ws).await, "from sse");
    over_ws
        .send(&message("b1", "alice", "from ws"))
        .await
        .unwrap();
    assert_eq!(next_message(&mut over_sse).await, "from ws");
    // Several frames queued at once go out in order (batched into POSTs).
    let (mut tx, rx) = over_sse.split();
    for i in 0..20 {
        tx.send(&message(&format!("m{i}"), "bob", &format!("n{i}")))
            .await
            .unwrap();
    }
    for i in 0..20 {
        assert_eq!(next_message(&mut over_ws).await, format!("n{i}"));
    }

    // Dropped, then resumed from its resume point: the messages sent meanwhile follow ready.
    let resume: ResumePoint = rx.resume_point().expect("an event stream");
    assert!(resume.last_event_id().unwrap().starts_with(&stream));
    drop((tx, rx));
    over_ws
        .send(&message("b2", "alice", "while away"))
        .await
        .unwrap();
    let (mut again, ready) =
        Connection::connect_sse(&endpoint, &alice, &BTreeMap::new(), resume.clone())
            .await
            .unwrap();
    assert_eq!(
        ready.stream.as_deref(),
        Some(stream.as_str()),
        "the same stream"
    );
    assert_eq!(next_message(&mut again).await, "while away");

    shutdown.cancel();
}
