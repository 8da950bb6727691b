//! `confab cert dev`: a self-signed certificate for local use (rcgen, an ECDSA P-256 key),
//! written as `dev-cert.pem` and `dev-key.pem` into a directory (the data dir by default). The
//! key file is readable by its owner only (mode 0600). Each file is written beside its place
//! and renamed, so a server watching them never reads half of one.

use std::path::{Path, PathBuf};

use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair};

use super::TlsError;

/// The certificate's file name.
pub const CERT_FILE: &str = "dev-cert.pem";
/// The key's file name.
pub const KEY_FILE: &str = "dev-key.pem";
/// Names the certificate is for when none are given.
pub const DEFAULT_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Where a development certificate was written.
#[derive(Debug, Clone)]
pub struct DevCert {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The host names and addresses it is valid for.
    pub hosts: Vec<String>,
}

/// Makes a certificate for `hosts` (names or IP addresses; [`DEFAULT_HOSTS`] if empty), valid
/// from a day ago for `days` days, and writes it and its key into `dir` (created if missing),
/// replacing any earlier pair.
pub fn write(dir: &Path, hosts: &[String], days: u32) -> Result<DevCert, TlsError> {
    let hosts: Vec<String> = if hosts.is_empty() {
        DEFAULT_HOSTS.iter().map(|h| (*h).to_owned()).collect()
    } else {
        hosts.to_vec()
    };
    let generate = |e: rcgen::Error| TlsError::Generate(e.to_string());
    let mut params = CertificateParams::new(hosts.clone()).map_err(generate)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "confab development certificate");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(i64::from(days.max(1)));
    let key = KeyPair::generate().map_err(generate)?;
    let cert = params.self_signed(&key).map_err(generate)?;

    let write_error = |path: &Path| {
        let path = path.to_owned();
        move |source| TlsError::Write { path, source }
    };
    std::fs::create_dir_all(dir).map_err(write_error(dir))?;
    let cert_path = dir.join(CERT_FILE);
    let key_path = dir.join(KEY_FILE);
    replace(&key_path, key.serialize_pem().as_bytes(), true).map_err(write_error(&key_path))?;
    replace(&cert_path, cert.pem().as_bytes(), false).map_err(write_error(&cert_path))?;
    Ok(DevCert {
        cert: cert_path,
        key: key_path,
        hosts,
    })
}

/// Writes `bytes` to a temporary file beside `path` (mode 0600 if `secret`) and renames it.
fn replace(path: &Path, bytes: &[u8], secret: bool) -> std::io::Result<()> {
    use std::io::Write;
    let partial = path.with_extension("pem.partial");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if secret { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = secret;
    let written = options.open(&partial).and_then(|mut file| {
        #[cfg(unix)]
        if secret {
            // In case a stale partial file was there with a wider mode.
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        file.write_all(bytes)?;
        file.sync_all()
    });
    if let Err(err) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(err);
    }
    std::fs::rename(&partial, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_pair_that_loads_with_the_key_private_to_its_owner() {
        let dir = tempfile::tempdir().unwrap();
        let at = dir.path().join("data");
        let made = write(&at, &[], 30).unwrap();
        assert_eq!(made.hosts, DEFAULT_HOSTS);
        assert_eq!(made.cert, at.join(CERT_FILE));
        let loaded = crate::tls::load_pair(&made.cert, &made.key).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&made.key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        }
        // Again, for other names: a new pair replaces the old one.
        let again = write(&at, &["chat.test".to_owned()], 30).unwrap();
        let reloaded = crate::tls::load_pair(&again.cert, &again.key).unwrap();
        assert_ne!(loaded.cert[0], reloaded.cert[0]);
        let leftovers: Vec<_> = std::fs::read_dir(&at)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 2, "{leftovers:?}");
    }
}
