//! A smoke run of every `confab bench` scenario (small sizes, `--check` on) so the harness
//! never rots. No assertion on any timing: the check is exactly-once delivery.

use std::process::Command;

fn bench(args: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let output = Command::new(env!("CARGO_BIN_EXE_confab"))
        .args(["bench", "--duration", "1", "--check", "--json"])
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
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    assert_eq!(report["check"], serde_json::json!([]));
}

#[test]
fn durable() {
    bench(&["durable", "--senders", "2", "--window", "8"]);
}

#[test]
fn fanout() {
    bench(&["fanout", "--rooms", "2", "--members", "3", "--rate", "10"]);
}

#[test]
fn dm() {
    bench(&["dm", "--pairs", "2"]);
}

#[test]
fn connections() {
    bench(&[
        "connections",
        "--count",
        "50",
        "--users",
        "3",
        "--sources",
        "4",
    ]);
}

#[test]
fn history() {
    bench(&[
        "history",
        "--messages",
        "500",
        "--fillers",
        "2",
        "--page",
        "20",
    ]);
}

#[test]
fn reconnect() {
    bench(&["reconnect", "--clients", "40", "--missed", "3"]);
}

#[test]
fn fanout_sweep() {
    bench(&[
        "fanout",
        "--rooms",
        "1",
        "--members",
        "3",
        "--sweep",
        "2,4",
        "--p99-bound-ms",
        "100000",
    ]);
}

#[test]
fn fanout_over_sse() {
    bench(&[
        "--transport",
        "sse",
        "fanout",
        "--rooms",
        "2",
        "--members",
        "3",
        "--rate",
        "10",
    ]);
}

#[test]
fn dm_over_sse() {
    bench(&["--transport", "sse", "dm", "--pairs", "2"]);
}
