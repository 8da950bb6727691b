//! The WebSocket origin check, against cross-site WebSocket hijacking: a browser sends
//! `Origin` with every WebSocket handshake, and a page on another site must not open a socket
//! with a user's token (a browser would hand over an ambient credential; a token in the URL
//! could have been leaked to that page). [`AllowedOrigin`] lets a handshake through when its
//! `Origin` is this server (the scheme the request came in on and its `Host`) or one of
//! `allowed_origins`; any other gets 403 `forbidden` before its token is even looked at. A
//! handshake without `Origin` is not from a browser and is judged by its token alone.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};

use super::AppState;
use crate::error::AppError;
use crate::transport::Scheme;

/// Extracting it checks the request's origin (see the module docs).
pub struct AllowedOrigin;

impl FromRequestParts<AppState> for AllowedOrigin {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let scheme = parts
            .extensions
            .get::<Scheme>()
            .copied()
            .unwrap_or(Scheme::Http);
        check_origin(&parts.headers, scheme, &state.hub.config().allowed_origins)?;
        Ok(Self)
    }
}

/// Whether a request with these headers, received over `scheme`, may open a WebSocket.
pub fn check_origin(
    headers: &HeaderMap,
    scheme: Scheme,
    allowed: &[String],
) -> Result<(), AppError> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or_default();
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)) {
        return Ok(());
    }
    let authority = origin
        .strip_prefix(scheme.as_str())
        .and_then(|rest| rest.strip_prefix("://"));
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    match (authority, host) {
        (Some(authority), Some(host)) if authority.eq_ignore_ascii_case(host) => Ok(()),
        _ => Err(AppError::forbidden(format!(
            "origin {origin} is not allowed"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::tests::headers;

    #[test]
    fn origin_must_match_scheme_and_host_or_the_allow_list() {
        let allowed = vec!["https://chat.example.com".to_owned()];
        let http = Scheme::Http;
        assert!(check_origin(&headers(&[]), http, &allowed).is_ok());
        let same = headers(&[
            (header::ORIGIN, "http://127.0.0.1:8080"),
            (header::HOST, "127.0.0.1:8080"),
        ]);
        assert!(check_origin(&same, http, &allowed).is_ok());
        assert!(
            check_origin(&same, Scheme::Https, &allowed).is_err(),
            "a plain page may not open the secure server's socket"
        );
        let secure = headers(&[
            (header::ORIGIN, "https://127.0.0.1:8443"),
            (header::HOST, "127.0.0.1:8443"),
        ]);
        assert!(check_origin(&secure, Scheme::Https, &allowed).is_ok());
        assert!(check_origin(&secure, http, &allowed).is_err());
        let listed = headers(&[
            (header::ORIGIN, "https://chat.example.com"),
            (header::HOST, "127.0.0.1:8080"),
        ]);
        assert!(check_origin(&listed, http, &allowed).is_ok());
        for foreign in [
            "https://evil.example",
            "null",
            "http://127.0.0.1:8080.evil.example",
            "http://127.0.0.1",
            "",
        ] {
            let h = headers(&[(header::ORIGIN, foreign), (header::HOST, "127.0.0.1:8080")]);
            assert!(check_origin(&h, http, &allowed).is_err(), "{foreign}");
        }
        let no_host = headers(&[(header::ORIGIN, "http://127.0.0.1:8080")]);
        assert!(check_origin(&no_host, http, &allowed).is_err());
    }
}
