//! JWTs from an application backend (`jwt.key_file`), with real keys of every kind: an HS256
//! secret, RS256, ES256 and EdDSA public keys in PEM, and a JWKS. Accepted everywhere a session
//! token is; every way a token can be wrong is `unauthorized`; a WebSocket session opened with
//! one closes with 4003 when it expires unless `refresh` gives a newer one.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use common::{Client, Ended, TestServer};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

const SECRET: &str = "the backend's shared secret, 32+ bytes";
/// A fresh 2048-bit RSA key pair in PEM (private PKCS#8, public SPKI), made by the `openssl`
/// command (ring cannot generate RSA keys); no key is kept in the repository.
fn rsa_pair() -> (Vec<u8>, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let private = dir.path().join("private.pem");
    let public = dir.path().join("public.pem");
    let run = |args: &[&std::ffi::OsStr]| {
        let status = std::process::Command::new("openssl")
            .args(args)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("the openssl command makes the RSA test keys");
        assert!(status.success(), "openssl failed");
    };
    run(&[
        "genpkey".as_ref(),
        "-algorithm".as_ref(),
        "RSA".as_ref(),
        "-pkeyopt".as_ref(),
        "rsa_keygen_bits:2048".as_ref(),
        "-out".as_ref(),
        private.as_os_str(),
    ]);
    run(&[
        "pkey".as_ref(),
        "-in".as_ref(),
        private.as_os_str(),
        "-pubout".as_ref(),
        "-out".as_ref(),
        public.as_os_str(),
    ]);
    (
        std::fs::read(private).unwrap(),
        std::fs::read(public).unwrap(),
    )
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn claims(sub: &str, exp_in: i64) -> Value {
    json!({"sub": sub, "exp": now() + exp_in, "iat": now()})
}

fn sign(alg: Algorithm, key: &EncodingKey, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    encode(&header, claims, key).unwrap()
}

/// A server whose JWT key is the file `name` with `contents` in its data dir's parent.
async fn server_with_key(
    contents: &[u8],
    tune: impl FnOnce(&mut confab_server::Config),
) -> (TestServer, tempfile::TempDir) {
    let keys = tempfile::tempdir().unwrap();
    let path: PathBuf = keys.path().join("jwt.key");
    std::fs::write(&path, contents).unwrap();
    let server = TestServer::start_with(|c| {
        c.jwt.key_file = Some(path);
        tune(c);
    })
    .await;
    (server, keys)
}

/// `GET /api/v1/rooms` with the token: the status.
async fn rest_status(server: &TestServer, token: &str) -> (u16, Value) {
    server.get("/api/v1/rooms", Some(token)).await
}

fn assert_refused(answer: (u16, Value), what: &str) {
    assert_eq!(answer.0, 401, "{what}: {}", answer.1);
    assert_eq!(answer.1["code"], "unauthorized", "{what}");
}

#[tokio::test]
async fn an_hs256_token_works_everywhere_a_session_token_does_and_creates_the_account() {
    let (server, _keys) = server_with_key(format!("{SECRET}\n").as_bytes(), |_| {}).await;
    let key = EncodingKey::from_secret(SECRET.as_bytes());
    let token = sign(Algorithm::HS256, &key, None, &claims("Zoe", 600));
    // At the upgrade (query), which creates the account on first use.
    let zoe = server.connect(&token).await;
    assert_eq!(zoe.ready["user"]["username"], "zoe");
    // In-band login and the bearer header over REST.
    let mut in_band = Client::open(&server.ws_url()).await;
    in_band
        .send(json!({"type": "login", "id": "l", "token": token}))
        .await;
    assert_eq!(in_band.recv().await["type"], "ready");
    assert_eq!(rest_status(&server, &token).await.0, 200);
    // The account has no password.
    let login = json!({"username": "zoe", "password": "anything at all"}).to_string();
    assert_eq!(server.post("/api/v1/login", &login, None).await.0, 401);
    // And it chats like any other.
    let (_, mut bob) = server.user("bob").await;
    let mut zoe = zoe;
    assert_eq!(zoe.say("#general", "hi from a JWT").await["type"], "ack");
    assert_eq!(bob.recv_type("message").await["sender"], "zoe");
}

#[tokio::test]
async fn every_bad_token_is_unauthorized() {
    let (private, public) = rsa_pair();
    let (other, _) = rsa_pair();
    let (server, _keys) = server_with_key(&public, |c| {
        c.jwt.issuer = Some("https://app.example".into());
        c.jwt.audience = Some("confab".into());
    })
    .await;
    let key = EncodingKey::from_rsa_pem(&private).unwrap();
    let wrong_key = EncodingKey::from_rsa_pem(&other).unwrap();
    let full = |sub: &str, exp_in: i64| {
        let mut c = claims(sub, exp_in);
        c["iss"] = json!("https://app.example");
        c["aud"] = json!("confab");
        c
    };
    let good = sign(Algorithm::RS256, &key, None, &full("rita", 600));
    assert_eq!(
        rest_status(&server, &good).await.0,
        200,
        "a good RS256 token"
    );

    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let body = b64.encode(full("rita", 600).to_string());
    let none = format!("{}.{body}.", b64.encode(r#"{"alg":"none","typ":"JWT"}"#));
    // The classic confusion: HS256 with the public key's bytes as the secret.
    let confused = sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(&public),
        None,
        &full("rita", 600),
    );
    let mut not_yet = full("rita", 600);
    not_yet["nbf"] = json!(now() + 300);
    let mut future_iat = full("rita", 600);
    future_iat["iat"] = json!(now() + 300);
    let mut wrong_iss = full("rita", 600);
    wrong_iss["iss"] = json!("https://evil.example");
    let mut wrong_aud = full("rita", 600);
    wrong_aud["aud"] = json!("someone-else");
    let mut no_exp = full("rita", 600);
    no_exp.as_object_mut().unwrap().remove("exp");
    let cases = [
        ("alg none", none),
        ("HS256 signed with the public key", confused),
        (
            "another key's signature",
            sign(Algorithm::RS256, &wrong_key, None, &full("rita", 600)),
        ),
        (
            "RS384, not the configured algorithm",
            sign(Algorithm::RS384, &key, None, &full("rita", 600)),
        ),
        (
            "expired",
            sign(Algorithm::RS256, &key, None, &full("rita", -300)),
        ),
        (
            "not yet valid",
            sign(Algorithm::RS256, &key, None, &not_yet),
        ),
        (
            "issued in the future",
            sign(Algorithm::RS256, &key, None, &future_iat),
        ),
        (
            "wrong issuer",
            sign(Algorithm::RS256, &key, None, &wrong_iss),
        ),
        (
            "wrong audience",
            sign(Algorithm::RS256, &key, None, &wrong_aud),
        ),
        ("no exp", sign(Algorithm::RS256, &key, None, &no_exp)),
        (
            "a bad sub",
            sign(Algorithm::RS256, &key, None, &full("not a name!", 600)),
        ),
        ("malformed", "eyJhbGciOiJSUzI1NiJ9.e30.!!!".to_owned()),
        ("oversized", format!("eyJ{}.e30.e30", "A".repeat(9000))),
    ];
    for (what, token) in &cases {
        assert_refused(rest_status(&server, token).await, what);
        // Over the WebSocket too.
        let url = format!("{}?token={token}", server.ws_url());
        match tokio_tungstenite::connect_async(url).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 401, "{what}")
            }
            Err(err) if *what == "oversized" => {
                // Too long for a request line some way or other; refused all the same.
                let _ = err;
            }
            other => panic!("{what}: the upgrade went through: {:?}", other.map(|_| ())),
        }
    }
}

/// An EC P-256 or Ed25519 key pair made now: (PKCS#8 private PEM, SPKI public PEM, raw public).
fn generated(alg: &'static rcgen::SignatureAlgorithm) -> (String, String, Vec<u8>) {
    let pair = rcgen::KeyPair::generate_for(alg).unwrap();
    (
        pair.serialize_pem(),
        pair.public_key_pem(),
        pair.public_key_raw().to_vec(),
    )
}

#[tokio::test]
async fn es256_and_eddsa_public_keys_in_pem_verify_their_tokens_only() {
    for (rcgen_alg, alg) in [
        (&rcgen::PKCS_ECDSA_P256_SHA256, Algorithm::ES256),
        (&rcgen::PKCS_ED25519, Algorithm::EdDSA),
    ] {
        let (private, public, _) = generated(rcgen_alg);
        let (server, _keys) = server_with_key(public.as_bytes(), |_| {}).await;
        let key = match alg {
            Algorithm::ES256 => EncodingKey::from_ec_pem(private.as_bytes()),
            _ => EncodingKey::from_ed_pem(private.as_bytes()),
        }
        .unwrap();
        let good = sign(alg, &key, None, &claims("eve", 600));
        assert_eq!(rest_status(&server, &good).await.0, 200, "{alg:?}");
        let (other, _, _) = generated(rcgen_alg);
        let other = match alg {
            Algorithm::ES256 => EncodingKey::from_ec_pem(other.as_bytes()),
            _ => EncodingKey::from_ed_pem(other.as_bytes()),
        }
        .unwrap();
        let forged = sign(alg, &other, None, &claims("eve", 600));
        assert_refused(rest_status(&server, &forged).await, "another key");
        let hs = sign(
            Algorithm::HS256,
            &EncodingKey::from_secret(public.as_bytes()),
            None,
            &claims("eve", 600),
        );
        assert_refused(rest_status(&server, &hs).await, "HS256 with the public key");
    }
}

#[tokio::test]
async fn a_jwks_picks_the_key_by_kid() {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (ec_private, _, ec_raw) = generated(&rcgen::PKCS_ECDSA_P256_SHA256);
    let (ed_private, _, ed_raw) = generated(&rcgen::PKCS_ED25519);
    // The raw EC point is 0x04 || x || y.
    let jwks = json!({"keys": [
        {"kty": "EC", "crv": "P-256", "kid": "ec-1", "alg": "ES256", "use": "sig",
         "x": b64.encode(&ec_raw[1..33]), "y": b64.encode(&ec_raw[33..65])},
        {"kty": "OKP", "crv": "Ed25519", "kid": "ed-1", "x": b64.encode(&ed_raw)},
    ]});
    let (server, _keys) = server_with_key(jwks.to_string().as_bytes(), |_| {}).await;
    let ec = EncodingKey::from_ec_pem(ec_private.as_bytes()).unwrap();
    let ed = EncodingKey::from_ed_pem(ed_private.as_bytes()).unwrap();
    let by_ec = sign(Algorithm::ES256, &ec, Some("ec-1"), &claims("kim", 600));
    let by_ed = sign(Algorithm::EdDSA, &ed, Some("ed-1"), &claims("kim", 600));
    assert_eq!(rest_status(&server, &by_ec).await.0, 200);
    assert_eq!(rest_status(&server, &by_ed).await.0, 200);
    let wrong_kid = sign(Algorithm::EdDSA, &ed, Some("ec-1"), &claims("kim", 600));
    assert_refused(rest_status(&server, &wrong_kid).await, "kid of another key");
    let no_kid = sign(Algorithm::EdDSA, &ed, None, &claims("kim", 600));
    assert_refused(
        rest_status(&server, &no_kid).await,
        "no kid in a set of two",
    );
    let unknown = sign(Algorithm::EdDSA, &ed, Some("nope"), &claims("kim", 600));
    assert_refused(rest_status(&server, &unknown).await, "unknown kid");
}

#[tokio::test]
async fn a_jwt_session_closes_when_it_expires_unless_refreshed() {
    let (server, _keys) = server_with_key(SECRET.as_bytes(), |_| {}).await;
    let key = EncodingKey::from_secret(SECRET.as_bytes());
    let short = sign(Algorithm::HS256, &key, None, &claims("sam", 2));
    let mut expiring = server.connect(&short).await;
    let mut refreshed = server.connect(&short).await;

    // A bad refresh, and one naming another user, are refused and change nothing.
    let bad = refreshed
        .request(json!({"type": "refresh", "token": "eyJx.eyJ5.z"}))
        .await;
    assert_eq!(bad["code"], "unauthorized", "{bad}");
    let other = sign(Algorithm::HS256, &key, None, &claims("tom", 600));
    let answer = refreshed
        .request(json!({"type": "refresh", "token": other}))
        .await;
    assert_eq!(answer["code"], "forbidden", "{answer}");
    let longer = sign(Algorithm::HS256, &key, None, &claims("sam", 600));
    let ack = refreshed
        .request(json!({"type": "refresh", "token": longer}))
        .await;
    assert_eq!(ack["type"], "ack", "{ack}");

    let (ended, _) = tokio::time::timeout(Duration::from_secs(10), expiring.until_end())
        .await
        .expect("the expired session closes");
    assert_eq!(ended, Ended::Closed(4003));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        refreshed.request(json!({"type": "ping"})).await["type"],
        "pong",
        "the refreshed session lives on"
    );

    // A session on confab's own token does not expire and cannot be refreshed.
    let (_, mut plain) = server.user("pat").await;
    let answer = plain
        .request(json!({"type": "refresh", "token": longer}))
        .await;
    assert_eq!(answer["code"], "bad_request", "{answer}");
}
