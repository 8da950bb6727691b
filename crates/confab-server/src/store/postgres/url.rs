//! The database URL: `postgres://user[:password]@host[:port]/database[?params]`, with the
//! driver's parameters (`options=-csearch_path%3D...`, `connect_timeout`, `host=/run/...` for a
//! unix socket, ...) and one of our own: `schema=NAME` keeps confab's tables in that schema,
//! created at start if missing. Passwords never reach a log line: see [`redact`].

use std::time::Duration;

use crate::store::{StoreError, StoreResult};

/// A parsed database URL.
pub struct DbUrl {
    pub config: tokio_postgres::Config,
    /// Our `schema` parameter, if given.
    pub schema: Option<String>,
}

/// Whether `url` names PostgreSQL.
pub fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// The URL with its password (if any) replaced by `***`, for logs and errors.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "***".into();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

fn valid_schema(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit()
}

/// Parses a `postgres://` URL (errors never repeat the password).
pub fn parse(url: &str) -> StoreResult<DbUrl> {
    let bad = |why: &str| StoreError::Backend(format!("bad database URL {}: {why}", redact(url)));
    if !is_postgres(url) {
        return Err(bad("it must start with postgres:// or postgresql://"));
    }
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut schema = None;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("schema", name)) => {
                if !valid_schema(name) {
                    return Err(bad(
                        "schema must be lowercase letters, digits and _ (at most 63)",
                    ));
                }
                schema = Some(name.to_owned());
            }
            _ => kept.push(pair),
        }
    }
    let rebuilt = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    let mut config: tokio_postgres::Config =
        rebuilt.parse().map_err(|e: tokio_postgres::Error| {
            match std::error::Error::source(&e) {
                Some(cause) => bad(&format!("{e}: {cause}")),
                None => bad(&e.to_string()),
            }
        })?;
    if config.get_dbname().is_none() {
        return Err(bad("it names no database"));
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(5));
    }
    if config.get_application_name().is_none() {
        config.application_name("confab");
    }
    config.keepalives_idle(Duration::from_secs(30));
    if let Some(schema) = &schema {
        let options = match config.get_options() {
            Some(options) => format!("{options} -csearch_path={schema}"),
            None => format!("-csearch_path={schema}"),
        };
        config.options(&options);
    }
    Ok(DbUrl { config, schema })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://u:secret@db:5432/x?schema=a"),
            "postgres://u:***@db:5432/x?schema=a"
        );
        assert_eq!(redact("postgres://u@db/x"), "postgres://u@db/x");
        assert_eq!(redact("nonsense"), "***");
    }

    #[test]
    fn urls_parse_with_our_schema_parameter() {
        let url =
            parse("postgres://postgres@127.0.0.1:5432/test?schema=confab_a&connect_timeout=2")
                .unwrap();
        assert_eq!(url.schema.as_deref(), Some("confab_a"));
        assert_eq!(url.config.get_options(), Some("-csearch_path=confab_a"));
        assert_eq!(
            url.config.get_connect_timeout(),
            Some(&Duration::from_secs(2))
        );
        for bad in [
            "postgres://u:pw@h/x?schema=Bad-Name",
            "mysql://u:pw@h/x",
            "postgres://u:pw@h/x?nonsense=1",
        ] {
            let err = parse(bad).err().unwrap().to_string();
            assert!(!err.contains("pw"), "{err}");
        }
    }
}
