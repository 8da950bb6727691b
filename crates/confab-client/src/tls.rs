//! TLS for `wss://` and `https://` servers, with rustls (ring): the system's root certificates,
//! plus any extra root from a PEM file (`--ca-file`, for a development certificate).

use std::path::Path;
use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use crate::ClientError;

/// A client configuration trusting the system roots and the certificates in `ca_file`.
pub fn config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, ClientError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        // A system root rustls cannot parse is skipped, as browsers do.
        let _ = roots.add(cert);
    }
    if let Some(path) = ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| ClientError::Tls(format!("cannot read {}: {e}", path.display())))?;
        let mut added = 0;
        for cert in certs {
            let cert = cert.map_err(|e| ClientError::Tls(format!("{}: {e}", path.display())))?;
            roots
                .add(cert)
                .map_err(|e| ClientError::Tls(format!("{}: {e}", path.display())))?;
            added += 1;
        }
        if added == 0 {
            return Err(ClientError::Tls(format!(
                "{} holds no PEM certificate",
                path.display()
            )));
        }
    }
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
