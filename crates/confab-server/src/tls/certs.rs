//! Reading a certificate chain and its key from PEM files into a rustls `CertifiedKey`, and
//! [`ReloadingCert`], the resolver that hands the current one to every handshake. A pair is
//! refused when either file holds no usable PEM item or when the key is not the certificate's
//! (so a half-finished renewal is never served).

use std::path::Path;
use std::sync::{Arc, RwLock};

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

use super::{provider, TlsError};

/// Reads and checks the pair in `cert` and `key`.
pub fn load_pair(cert: &Path, key: &Path) -> Result<CertifiedKey, TlsError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| TlsError::Read {
            path: path.to_owned(),
            source,
        })
    };
    parse_pair(&read(cert)?, cert, &read(key)?, key)
}

/// Parses and checks a pair from the files' contents (the paths are for messages).
pub fn parse_pair(
    cert_pem: &[u8],
    cert: &Path,
    key_pem: &[u8],
    key: &Path,
) -> Result<CertifiedKey, TlsError> {
    let pem_error = |path: &Path, message: String| TlsError::Pem {
        path: path.to_owned(),
        message,
    };
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(cert, e.to_string()))?;
    if chain.is_empty() {
        return Err(pem_error(cert, "no PEM certificate in the file".into()));
    }
    let private = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| pem_error(key, format!("no usable PEM private key: {e}")))?;
    CertifiedKey::from_der(chain, private, &provider()).map_err(|e| TlsError::Key(e.to_string()))
}

/// A short name for a certificate in logs: the first 8 bytes of its SHA-256, in hex.
pub fn fingerprint(certified: &CertifiedKey) -> String {
    let Some(leaf) = certified.cert.first() else {
        return "none".into();
    };
    Sha256::digest(leaf.as_ref())[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The certificate every handshake gets, replaceable while the server runs. A handshake
/// takes a clone of the `Arc`, so a replacement never waits for one.
#[derive(Debug)]
pub struct ReloadingCert {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ReloadingCert {
    pub fn new(certified: CertifiedKey) -> Self {
        Self {
            current: RwLock::new(Arc::new(certified)),
        }
    }

    /// The certificate new handshakes get.
    pub fn current(&self) -> Arc<CertifiedKey> {
        match self.current.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Serves `certified` from the next handshake on.
    pub fn replace(&self, certified: CertifiedKey) {
        let certified = Arc::new(certified);
        match self.current.write() {
            Ok(mut current) => *current = certified,
            Err(poisoned) => *poisoned.into_inner() = certified,
        }
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (String, String) {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        (made.cert.pem(), made.signing_key.serialize_pem())
    }

    #[test]
    fn a_matching_pair_loads_and_bad_ones_are_refused_with_the_reason() {
        let (cert, key) = pair();
        let (c, k) = (Path::new("c.pem"), Path::new("k.pem"));
        let loaded = parse_pair(cert.as_bytes(), c, key.as_bytes(), k).unwrap();
        assert_eq!(loaded.cert.len(), 1);
        assert_eq!(fingerprint(&loaded).len(), 16);

        let (_, other_key) = pair();
        let mismatch = parse_pair(cert.as_bytes(), c, other_key.as_bytes(), k).unwrap_err();
        assert!(matches!(mismatch, TlsError::Key(_)), "{mismatch}");
        let empty = parse_pair(b"", c, key.as_bytes(), k).unwrap_err();
        assert!(empty.to_string().contains("c.pem"), "{empty}");
        let no_key = parse_pair(cert.as_bytes(), c, cert.as_bytes(), k).unwrap_err();
        assert!(no_key.to_string().contains("k.pem"), "{no_key}");
        let half = &cert[..cert.len() / 2];
        assert!(parse_pair(half.as_bytes(), c, key.as_bytes(), k).is_err());
    }

    #[test]
    fn the_resolver_hands_out_the_latest_certificate() {
        let (c, k) = (Path::new("c.pem"), Path::new("k.pem"));
        let (cert, key) = pair();
        let first = parse_pair(cert.as_bytes(), c, key.as_bytes(), k).unwrap();
        let first_print = fingerprint(&first);
        let resolver = ReloadingCert::new(first);
        let held = resolver.current();
        let (cert, key) = pair();
        let second = parse_pair(cert.as_bytes(), c, key.as_bytes(), k).unwrap();
        let second_print = fingerprint(&second);
        resolver.replace(second);
        assert_eq!(fingerprint(&resolver.current()), second_print);
        assert_eq!(fingerprint(&held), first_print, "a taken one is unchanged");
        assert_ne!(first_print, second_print);
    }
}
