//! JSON Web Tokens minted by a deployment's own application backend (`--jwt-key`). One key
//! file decides the one algorithm accepted: an HS256 secret (the file's bytes less one trailing
//! newline, at least 32 bytes), an RS256, ES256 (P-256) or EdDSA (Ed25519) public key in PEM, or
//! a JWKS file of such public keys (the token's `kid` picks one; a set of one needs no `kid`).
//! A token is accepted only if its header names exactly that algorithm (so `alg: none` and the
//! HS256-signed-with-the-public-key confusion fail), its signature verifies, `exp` is present
//! and not past, `nbf` not ahead and `iat` not in the future (each with [`LEEWAY_SECS`] of
//! clock skew), the issuer and audience match when configured, and `sub` is a valid username.

use std::collections::HashSet;
use std::path::Path;

use confab_protocol::names::Username;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

/// Clock skew allowed on `exp`, `nbf` and `iat`, in seconds.
pub const LEEWAY_SECS: u64 = 30;
/// Shortest HS256 secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

/// What a verified token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtClaims {
    pub username: Username,
    /// `exp`, in seconds since the Unix epoch.
    pub expires_at: i64,
}

/// Checks tokens against the configured key(s).
pub struct JwtVerifier {
    keys: Vec<Key>,
}

struct Key {
    kid: Option<String>,
    key: DecodingKey,
    validation: Validation,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    exp: i64,
    #[serde(default)]
    iat: Option<i64>,
}

impl JwtVerifier {
    /// Reads the key file; the error says what is wrong with it.
    pub fn from_file(
        path: &Path,
        issuer: Option<&str>,
        audience: Option<&str>,
    ) -> Result<Self, String> {
        let bytes = std::fs::read(path)
            .map_err(|err| format!("cannot read the JWT key {}: {err}", path.display()))?;
        Self::from_bytes(&bytes, issuer, audience)
            .map_err(|err| format!("JWT key {}: {err}", path.display()))
    }

    pub fn from_bytes(
        bytes: &[u8],
        issuer: Option<&str>,
        audience: Option<&str>,
    ) -> Result<Self, String> {
        let validation = |alg| validation(alg, issuer, audience);
        let text = std::str::from_utf8(bytes).ok().map(str::trim_start);
        let keys = match text {
            Some(text) if text.starts_with("-----BEGIN") => {
                let (key, alg) = pem_key(bytes)?;
                vec![Key {
                    kid: None,
                    key,
                    validation: validation(alg),
                }]
            }
            Some(text) if text.starts_with('{') => {
                let set: JwkSet =
                    serde_json::from_str(text).map_err(|err| format!("not a JWKS: {err}"))?;
                if set.keys.is_empty() {
                    return Err("the JWKS has no keys".into());
                }
                set.keys
                    .iter()
                    .map(|jwk| {
                        let alg = jwk_algorithm(jwk)?;
                        let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
                        Ok(Key {
                            kid: jwk.common.key_id.clone(),
                            key,
                            validation: validation(alg),
                        })
                    })
                    .collect::<Result<_, String>>()?
            }
            _ => {
                let secret = bytes.strip_suffix(b"\n").unwrap_or(bytes);
                if secret.len() < MIN_SECRET_BYTES {
                    return Err(format!(
                        "an HS256 secret needs at least {MIN_SECRET_BYTES} bytes"
                    ));
                }
                vec![Key {
                    kid: None,
                    key: DecodingKey::from_secret(secret),
                    validation: validation(Algorithm::HS256),
                }]
            }
        };
        Ok(Self { keys })
    }

    /// Verifies a token; the error is for the log, the client only hears `unauthorized`.
    pub fn verify(&self, token: &str) -> Result<JwtClaims, String> {
        if token.len() > confab_protocol::Limits::MAX_TOKEN_BYTES {
            return Err("token too large".into());
        }
        let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
        let key = match (&header.kid, self.keys.as_slice()) {
            (_, [only]) if only.kid.is_none() || only.kid == header.kid => only,
            (Some(kid), keys) => keys
                .iter()
                .find(|k| k.kid.as_deref() == Some(kid))
                .ok_or("no key with that kid")?,
            (None, _) => return Err("the token names no kid".into()),
        };
        let data = jsonwebtoken::decode::<Claims>(token, &key.key, &key.validation)
            .map_err(|e| e.to_string())?;
        let claims = data.claims;
        let now = unix_now();
        if claims.iat.is_some_and(|iat| iat > now + LEEWAY_SECS as i64) {
            return Err("issued in the future".into());
        }
        let username = Username::parse(&claims.sub).map_err(|e| format!("sub: {}", e.0))?;
        Ok(JwtClaims {
            username,
            expires_at: claims.exp,
        })
    }
}

/// Whether a token has the shape of a JWT (three base64url parts) rather than confab's own
/// opaque hex tokens.
pub fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3 && token.starts_with("eyJ")
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn validation(alg: Algorithm, issuer: Option<&str>, audience: Option<&str>) -> Validation {
    let mut validation = Validation::new(alg);
    validation.leeway = LEEWAY_SECS;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.required_spec_claims = HashSet::from(["exp".to_owned(), "sub".to_owned()]);
    match issuer {
        Some(issuer) => {
            validation.set_issuer(&[issuer]);
            validation.required_spec_claims.insert("iss".to_owned());
        }
        None => validation.iss = None,
    }
    match audience {
        Some(audience) => {
            validation.set_audience(&[audience]);
            validation.required_spec_claims.insert("aud".to_owned());
        }
        None => validation.validate_aud = false,
    }
    validation
}

/// A PEM public key and the algorithm its type goes with.
fn pem_key(pem: &[u8]) -> Result<(DecodingKey, Algorithm), String> {
    if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
        return Ok((key, Algorithm::RS256));
    }
    if let Ok(key) = DecodingKey::from_ec_pem(pem) {
        return Ok((key, Algorithm::ES256));
    }
    if let Ok(key) = DecodingKey::from_ed_pem(pem) {
        return Ok((key, Algorithm::EdDSA));
    }
    Err("not an RSA, EC (P-256) or Ed25519 public key in PEM".into())
}

/// The algorithm of one JWKS key: its `alg` when given (RS256, ES256 or EdDSA), else the one
/// its key type goes with. Secrets (`oct`) are refused: they do not belong in a key set.
fn jwk_algorithm(jwk: &jsonwebtoken::jwk::Jwk) -> Result<Algorithm, String> {
    let by_type = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            Algorithm::ES256
        }
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
            Algorithm::EdDSA
        }
        AlgorithmParameters::OctetKey(_) => {
            return Err(
                "a JWKS may hold public keys only; give an HS256 secret as its own file".into(),
            )
        }
        _ => return Err("only RSA, P-256 and Ed25519 keys are supported".into()),
    };
    match jwk.common.key_algorithm {
        None => Ok(by_type),
        Some(KeyAlgorithm::RS256) if by_type == Algorithm::RS256 => Ok(by_type),
        Some(KeyAlgorithm::ES256) if by_type == Algorithm::ES256 => Ok(by_type),
        Some(KeyAlgorithm::EdDSA) if by_type == Algorithm::EdDSA => Ok(by_type),
        Some(other) => Err(format!("unsupported alg {other:?} for this key")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::json;

    const SECRET: &[u8] = b"a secret of at least thirty-two bytes!!\n";

    fn hs256(claims: serde_json::Value) -> String {
        let secret = SECRET.strip_suffix(b"\n").unwrap();
        encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(secret),
        )
        .unwrap()
    }

    #[test]
    fn an_hs256_secret_file_verifies_its_tokens_and_checks_the_times() {
        let verifier = JwtVerifier::from_bytes(SECRET, None, None).unwrap();
        let now = unix_now();
        let good = hs256(json!({"sub": "Alice", "exp": now + 600, "iat": now}));
        let claims = verifier.verify(&good).unwrap();
        assert_eq!(claims.username.as_str(), "alice");
        assert!(looks_like_jwt(&good));
        assert!(!looks_like_jwt("ab12cd"));
        for bad in [
            json!({"sub": "alice", "exp": now - 120}),
            json!({"sub": "alice", "exp": now + 600, "nbf": now + 120}),
            json!({"sub": "alice", "exp": now + 600, "iat": now + 120}),
            json!({"sub": "alice"}),
            json!({"exp": now + 600}),
            json!({"sub": "not a name!", "exp": now + 600}),
        ] {
            assert!(verifier.verify(&hs256(bad.clone())).is_err(), "{bad}");
        }
        // Within the leeway.
        assert!(verifier
            .verify(&hs256(json!({"sub": "alice", "exp": now - 5})))
            .is_ok());
        assert!(JwtVerifier::from_bytes(b"short\n", None, None).is_err());
    }

    #[test]
    fn issuer_and_audience_are_required_when_configured() {
        let verifier = JwtVerifier::from_bytes(SECRET, Some("app"), Some("chat")).unwrap();
        let exp = unix_now() + 600;
        let right = hs256(json!({"sub": "a", "exp": exp, "iss": "app", "aud": "chat"}));
        assert!(verifier.verify(&right).is_ok());
        for bad in [
            json!({"sub": "a", "exp": exp, "iss": "other", "aud": "chat"}),
            json!({"sub": "a", "exp": exp, "iss": "app", "aud": "other"}),
            json!({"sub": "a", "exp": exp}),
        ] {
            assert!(verifier.verify(&hs256(bad.clone())).is_err(), "{bad}");
        }
    }

    #[test]
    fn alg_none_and_malformed_and_oversized_tokens_fail() {
        use base64::Engine;
        let verifier = JwtVerifier::from_bytes(SECRET, None, None).unwrap();
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let claims = b64.encode(json!({"sub": "alice", "exp": unix_now() + 600}).to_string());
        let none = format!("{}.{claims}.", b64.encode(r#"{"alg":"none","typ":"JWT"}"#));
        assert!(verifier.verify(&none).is_err());
        assert!(verifier.verify("eyJ.not.base64!").is_err());
        assert!(verifier.verify(&"eyJ".repeat(4000)).is_err());
    }
}
