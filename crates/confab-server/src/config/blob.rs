//! `[attachments] blob_store`: where attachment bytes live when not in the data directory
//! (also `--blob-store`, `CONFAB_BLOB_STORE`).

use std::fmt;

use serde::{Deserialize, Deserializer};

/// The URL of a shared blob store: `postgres://user:password@host:port/db` (or
/// `postgresql://`). Unset, blobs stay under `<data_dir>/blobs/`.
///
/// It is `Copy` because [`super::AttachmentLimits`] is, and the hub copies those limits on every
/// upload: the string is set once per configuration read, so it is kept for the life of the
/// process (`&'static str`, a few bytes) instead of making every copy a clone. `Debug` hides
/// the password.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct BlobStoreUrl(&'static str);

impl BlobStoreUrl {
    /// Checks the scheme; the rest is checked when the store is opened.
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = url.trim();
        let scheme_ok = ["postgres://", "postgresql://"].iter().any(|scheme| {
            url.len() > scheme.len() && url[..scheme.len()].eq_ignore_ascii_case(scheme)
        });
        if !scheme_ok {
            return Err(format!(
                "blob store must be a postgres:// URL, not {:?}",
                redact(url)
            ));
        }
        Ok(Self(Box::leak(url.to_owned().into_boxed_str())))
    }

    pub fn as_str(&self) -> &'static str {
        self.0
    }
}

impl fmt::Debug for BlobStoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobStoreUrl({:?})", redact(self.0))
    }
}

impl<'de> Deserialize<'de> for BlobStoreUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let url = String::deserialize(deserializer)?;
        Self::parse(&url).map_err(serde::de::Error::custom)
    }
}

/// The URL with whatever stands before an `@` in its authority (user and password) and its
/// query (which may carry `password=`) replaced.
fn redact(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let rest = rest.split_once('?').map_or(rest, |(head, _)| head);
    let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let hidden_user = rest.contains('@');
    let hidden_query = url.contains('?');
    format!(
        "{scheme}://{}{host}{}",
        if hidden_user { "<redacted>@" } else { "" },
        if hidden_query { "?<redacted>" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::BlobStoreUrl;

    #[test]
    fn takes_postgres_urls_and_hides_their_secrets() {
        let url = BlobStoreUrl::parse("postgres://confab:s3cret@db:5432/confab").unwrap();
        assert_eq!(url.as_str(), "postgres://confab:s3cret@db:5432/confab");
        let shown = format!("{url:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("db:5432/confab"), "{shown}");
        let shown = format!(
            "{:?}",
            BlobStoreUrl::parse("postgresql://db/confab?password=s3cret").unwrap()
        );
        assert!(!shown.contains("s3cret"), "{shown}");
    }

    #[test]
    fn refuses_other_schemes_without_echoing_secrets() {
        for bad in [
            "",
            "postgres://",
            "s3://key:s3cret@bucket",
            "/var/blobs",
            "redis://x",
        ] {
            let err = BlobStoreUrl::parse(bad).unwrap_err();
            assert!(!err.contains("s3cret"), "{err}");
        }
    }

    #[test]
    fn is_read_from_the_attachments_section() {
        let config: crate::Config = toml::from_str(
            "[attachments]\nblob_store = \"postgres://postgres@127.0.0.1:5432/test\"\n",
        )
        .unwrap();
        assert_eq!(
            config.attachments.blob_store.map(|url| url.as_str()),
            Some("postgres://postgres@127.0.0.1:5432/test")
        );
        let bad = toml::from_str::<crate::Config>("[attachments]\nblob_store = \"ftp://x\"\n");
        assert!(bad.is_err());
        assert!(crate::Config::default().attachments.blob_store.is_none());
    }
}
