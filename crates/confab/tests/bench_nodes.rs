//! `confab bench` against several nodes: the members are spread over the `--server`s round
//! robin and the report counts each node's connections. Both URLs name one running server
//! here (several live nodes need PostgreSQL and Redis); what is checked is the spreading and
//! the report, with `--check` for exactly-once delivery.

use std::process::Command;

/// Limits high enough for bench users on loopback (as the bench's own server has).
const CONFIG: &str = r#"
[rate]
frames_per_sec = 1000000.0
frames_burst = 1000000.0
messages_per_sec = 1000000.0
messages_burst = 1000000.0

[session]
max_connections_per_ip = 1000000

[abuse]
attempts_per_ip_per_min = 1000000.0
attempts_per_ip_burst = 1000000.0
handshakes_per_ip_per_sec = 1000000.0
handshakes_per_ip_burst = 1000000.0
max_sessions_per_user = 100000

[transport]
max_connections_per_ip = 1000000
"#;

mod common;

use common::Server;

/// Runs a scenario on two "nodes"; returns the report's per-node connection counts.
fn bench(server: &Server, args: &[&str]) -> Vec<u64> {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let servers = format!("{},{}", server.url, server.url);
    let output = Command::new(env!("CARGO_BIN_EXE_confab"))
        .args([
            "bench",
            "--duration",
            "1",
            "--check",
            "--server",
            &servers,
            "--json",
        ])
        .arg(&json)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("exactly once"), "{stdout}");
    assert!(stdout.contains("connections to"), "{stdout}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    assert_eq!(report["check"], serde_json::json!([]));
    let authority = server.url.trim_start_matches("ws://");
    report["nodes"]
        .as_array()
        .expect("a nodes list")
        .iter()
        .map(|node| {
            assert_eq!(node["server"], authority);
            node["connections"].as_u64().unwrap()
        })
        .collect()
}

#[test]
fn members_are_spread_over_the_nodes_round_robin() {
    let server = Server::start_with(CONFIG);
    assert_eq!(
        bench(
            &server,
            &["fanout", "--rooms", "2", "--members", "3", "--rate", "10"]
        ),
        [3, 3]
    );
    assert_eq!(bench(&server, &["dm", "--pairs", "2"]), [2, 2]);
    assert_eq!(
        bench(&server, &["durable", "--senders", "3", "--window", "8"]),
        [2, 1]
    );
    assert_eq!(
        bench(
            &server,
            &[
                "connections",
                "--count",
                "20",
                "--users",
                "3",
                "--sources",
                "2"
            ]
        ),
        [10, 10]
    );
}
