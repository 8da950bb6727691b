//! A full disk, for real: the data directory lives on a small tmpfs this test mounts (it needs
//! root, as CI has), and a filler file takes the rest of its space. Senders get `unavailable`,
//! never a false ack; reads, history and connected sessions keep working; `/readyz` says
//! degraded; when the filler goes, the server writes again by itself and resent messages are
//! stored once.

mod common;

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::TestServer;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

/// A tmpfs mounted for the test, unmounted when dropped.
struct Mount(PathBuf);

impl Mount {
    fn new(size: &str) -> (tempfile::TempDir, Self) {
        let parent = tempfile::tempdir().unwrap();
        let point = parent.path().join("mnt");
        std::fs::create_dir(&point).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&point)
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mounting a tmpfs needs root (CI runs as root): {status}"
        );
        (parent, Self(point))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Writes a file that takes every free byte of the file system; returns its path.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    loop {
        if file.write_all(&chunk).is_err() {
            break;
        }
    }
    // The last bytes, down to one.
    for size in [4096, 512, 1] {
        while file.write_all(&chunk[..size]).is_ok() {}
    }
    let _ = file.sync_all();
    path
}

async fn readyz(server: &TestServer) -> (u16, Value) {
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let request = format!(
        "GET /readyz HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        server.addr
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let reply = common::read_reply(&mut stream).await;
    (reply.status, reply.json())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_keeps_reads_and_recovers_by_itself() {
    if common::pg::database().is_some() {
        // The small filesystem holds the SQLite file; PostgreSQL's data lies elsewhere.
        eprintln!("skipped on PostgreSQL");
        return;
    }
    let (_parent, mount) = Mount::new("24m");
    let data = mount.0.join("data");
    let server = TestServer::start_in(data.clone(), |c| {
        c.rate.messages_per_sec = 10_000.0;
        c.rate.messages_burst = 10_000.0;
        c.rate.frames_per_sec = 10_000.0;
        c.rate.frames_burst = 10_000.0;
    })
    .await;
    let (alice_token, mut alice) = server.user("alice").await;
    let (_, mut bob) = server.user("bob").await;
    alice.recv_type("presence").await;
    assert_eq!(alice.say("#general", "before").await["type"], "ack");
    assert_eq!(bob.recv_type("message").await["content"], "before");
    assert_eq!(readyz(&server).await.0, 200);

    let filler = fill(&mount.0);
    // Sends until the store runs out of room (its log may have some left at first). Every
    // answer is an ack or `unavailable`; nothing else, and no hang.
    let content = "x".repeat(4000);
    let mut acked = Vec::new();
    let mut refused = Vec::new();
    for i in 0..2000 {
        let id = format!("full-{i}");
        alice
            .send(json!({"type": "message", "id": id, "receiver": "#general", "content": content}))
            .await;
        let reply = loop {
            let frame = alice.recv().await;
            if frame["reply_to"] == json!(id) {
                break frame;
            }
        };
        match reply["type"].as_str() {
            Some("ack") => acked.push(id),
            Some("error") => {
                assert_eq!(reply["code"], "unavailable", "{reply}");
                refused.push(id);
            }
            _ => panic!("{reply}"),
        }
        if refused.len() >= 5 {
            break;
        }
    }
    assert!(refused.len() >= 5, "the disk never filled up");

    // Degraded (once the last answer, at most a second old, expires), and says why; uploads
    // are refused the same way.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let report = loop {
        let (status, report) = readyz(&server).await;
        if status == 503 {
            break report;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never degraded: {report}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(report["status"], "degraded");
    assert_ne!(report["store"], "ok", "{report}");
    let upload = common::upload(server.addr, &alice_token, "a.txt", &[7u8; 300_000]).await;
    assert_eq!(upload.status, 503, "{}", upload.text());
    assert_eq!(upload.json()["code"], "unavailable");

    // Reads and live sessions still work.
    let history = alice
        .request(json!({"type": "history", "receiver": "#general", "limit": 5}))
        .await;
    assert_eq!(history["type"], "history", "{history}");
    assert_eq!(
        bob.request(json!({"type": "ping"})).await["type"],
        "pong",
        "bob's session is alive"
    );
    let (status, _) = common::http(
        server.addr,
        "GET",
        "/api/v1/rooms",
        None,
        Some(&alice_token),
    )
    .await;
    assert_eq!(status, 200);

    // Space comes back: the server notices by itself, and the refused messages, resent with
    // their ids, are stored once each.
    std::fs::remove_file(&filler).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (status, report) = readyz(&server).await;
        if status == 200 {
            assert_eq!(report["status"], "ready");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never ready again: {report}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for id in &refused {
        alice
            .send(json!({"type": "message", "id": id, "receiver": "#general", "content": content}))
            .await;
        let reply = loop {
            let frame = alice.recv().await;
            if frame["reply_to"] == json!(id) {
                break frame;
            }
        };
        assert_eq!(reply["type"], "ack", "{reply}");
        assert_eq!(reply.get("duplicate"), None, "it was never stored: {reply}");
    }

    // History holds "before", every acked message and every resent one, each once, in seq
    // order without gaps.
    let mut seen = Vec::new();
    let mut seqs = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let mut request = json!({"type": "history", "receiver": "#general", "limit": 100});
        if let Some(before) = &before {
            request["before"] = json!(before);
        }
        let page = alice.request(request).await;
        let messages = page["messages"].as_array().unwrap().clone();
        for m in messages.iter().rev() {
            seen.push(m["content"].as_str().unwrap().len());
            seqs.push(m["seq"].as_u64().unwrap());
        }
        if !page["has_more"].as_bool().unwrap_or(false) || messages.is_empty() {
            break;
        }
        before = Some(messages[0]["id"].as_str().unwrap().to_owned());
    }
    let expected = 1 + acked.len() + refused.len();
    assert_eq!(seen.len(), expected, "every acked and resent message once");
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=expected as u64).collect::<Vec<_>>(), "no gap");
    let unique: HashSet<u64> = seqs.iter().copied().collect();
    assert_eq!(unique.len(), expected);

    // Bob got every message live, once.
    let mut got = 0;
    while got < acked.len() + refused.len() {
        let frame = bob.recv_type("message").await;
        assert_eq!(frame["sender"], "alice");
        got += 1;
    }
    bob.expect_quiet(
        Duration::from_millis(300),
        &["presence", "receipt", "typing"],
    )
    .await;
    drop((alice, bob));
    server.stop().await;
}
