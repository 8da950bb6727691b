//! TLS through the real binaries: `confab cert dev` writes a pair, `confab serve --tls-cert
//! --tls-key` serves it, `confab chat --plain wss://...` talks through it with `--ca-file` or
//! (saying so) `--insecure` and refuses it with neither, and SIGHUP reloads a renewed pair.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

fn confab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_confab"))
}

/// `confab cert dev --data-dir dir`: its output.
fn cert_dev(dir: &Path) -> String {
    let output = confab()
        .args(["cert", "dev", "--data-dir"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap()
}

struct Server {
    child: Child,
    addr: String,
    dir: PathBuf,
    _temp: tempfile::TempDir,
}

impl Server {
    /// Makes a development pair in a new data dir and serves it with `config`.
    fn start(config: &str) -> Self {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("data");
        let printed = cert_dev(&dir);
        let (cert, key) = (dir.join("dev-cert.pem"), dir.join("dev-key.pem"));
        assert!(printed.contains(&format!(
            "confab serve --tls-cert {} --tls-key {}",
            cert.display(),
            key.display()
        )));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "the key is private");
        }
        let config_file = temp.path().join("confab.toml");
        std::fs::write(&config_file, config).unwrap();
        let mut child = confab()
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&dir)
            .arg("--config")
            .arg(&config_file)
            .env("CONFAB_TLS_CERT", &cert)
            .arg("--tls-key")
            .arg(&key)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = loop {
            let line = lines.next().expect("server logs its address").unwrap();
            if line.contains("addr=") {
                break line;
            }
        };
        assert!(line.contains("https"), "{line}");
        let addr = line.split("addr=").nth(1).unwrap();
        let addr = addr.split_whitespace().next().unwrap().to_owned();
        std::thread::spawn(move || for _ in lines {});
        Self {
            child,
            addr,
            dir,
            _temp: temp,
        }
    }

    fn port(&self) -> u16 {
        self.addr.rsplit(':').next().unwrap().parse().unwrap()
    }

    fn cert(&self) -> PathBuf {
        self.dir.join("dev-cert.pem")
    }

    fn signal(&self, name: &str) {
        let sent = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The certificate the server presents, if a client trusting only `trusted` accepts it.
fn presented(
    server: &Server,
    trusted: &CertificateDer<'static>,
) -> Option<CertificateDer<'static>> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(trusted.clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut tcp = TcpStream::connect(&server.addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut stream = rustls::Stream::new(&mut tls, &mut tcp);
    let request = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    stream.write_all(request).ok()?;
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    if !reply.starts_with(b"HTTP/1.1 200") {
        return None;
    }
    let chain = tls.peer_certificates()?;
    Some(chain.first()?.clone().into_owned())
}

/// The certificate in the server's file now.
fn in_file(server: &Server) -> CertificateDer<'static> {
    CertificateDer::from_pem_file(server.cert()).unwrap()
}

fn chat(server: &Server, config: &Path, args: &[&str]) -> Command {
    let mut command = confab();
    command
        .args(["chat", "--plain"])
        .args(args)
        .arg(format!("wss://localhost:{}", server.port()))
        .env("XDG_CONFIG_HOME", config)
        .env("CONFAB_PASSWORD", "a long enough password")
        .env_remove("CONFAB_TOKEN");
    command
}

/// Runs a client to its end (killed after 60 s: a client that hangs fails the test).
fn run(mut command: Command, input: &str) -> (i32, String, String) {
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
    let read = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let out = read(Box::new(child.stdout.take().unwrap()));
    let err = read(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the client did not finish: {}", err.join().unwrap());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (
        status.code().unwrap_or(-1),
        out.join().unwrap(),
        err.join().unwrap(),
    )
}

#[test]
fn chat_over_wss_with_the_dev_certificate_or_insecure_and_never_silently() {
    let server = Server::start("");
    let cert = server.cert();
    let cert = cert.to_str().unwrap();
    let alice = tempfile::tempdir().unwrap();
    let bob = tempfile::tempdir().unwrap();

    // Neither --ca-file nor --insecure: the unknown certificate is refused.
    let (code, _, err) = run(
        chat(&server, alice.path(), &["--user", "alice", "--register"]),
        "",
    );
    assert_ne!(code, 0);
    assert!(err.contains("TLS") || err.contains("certificate"), "{err}");

    let (code, _, err) = run(
        chat(
            &server,
            alice.path(),
            &["--user", "alice", "--register", "--ca-file", cert],
        ),
        "",
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        !err.contains("INSECURE") && !err.contains("not checked"),
        "{err}"
    );

    // Bob listens with --insecure, and is told so.
    let mut listener = chat(
        &server,
        bob.path(),
        &["--user", "bob", "--register", "--insecure", "--stay"],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let (tx, warnings) = mpsc::channel();
    let stderr = listener.stderr.take().unwrap();
    std::thread::spawn(move || {
        let mut first = String::new();
        let _ = BufReader::new(stderr).read_line(&mut first);
        let _ = tx.send(first);
    });
    let warning = warnings
        .recv_timeout(Duration::from_secs(15))
        .expect("a line on standard error");
    assert!(
        warning.contains("warning") && warning.contains("not checked"),
        "{warning}"
    );
    let (tx, rx) = mpsc::channel();
    let stdout = listener.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut bob_input = listener.stdin.take().unwrap();
    bob_input.write_all(b"/who\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let wait_for = |needle: &str| loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no line with {needle:?}"));
        if line.contains(needle) {
            return line;
        }
    };
    wait_for("bob online");

    let (code, _, err) = run(
        chat(&server, alice.path(), &["--ca-file", cert]),
        "hello over tls\n",
    );
    assert_eq!(code, 0, "{err}");
    wait_for("<alice> hello over tls");
    drop(bob_input);
    let _ = listener.kill();
    let _ = listener.wait();
}

#[test]
fn sighup_reloads_a_renewed_certificate_and_the_server_keeps_running() {
    // No polling: only the signal reloads.
    let mut server = Server::start("[tls]\nreload_interval_secs = 0\n");
    let first = in_file(&server);
    assert_eq!(presented(&server, &first), Some(first.clone()));
    cert_dev(&server.dir);
    let renewed = in_file(&server);
    assert_ne!(first, renewed);
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        presented(&server, &first),
        Some(first.clone()),
        "nothing reloads by itself"
    );

    server.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(5);
    while presented(&server, &renewed).is_none() {
        assert!(Instant::now() < deadline, "reloaded within 5 s of SIGHUP");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(presented(&server, &first), None, "the old one is gone");
    assert!(server.child.try_wait().unwrap().is_none(), "still running");
    server.signal("TERM");
    let deadline = Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(exit) = server.child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "exits after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
}
