//! The request headers and query strings the REST API reads itself: `Range` (one byte range,
//! `attachments::range`), `If-None-Match`/`If-Range`, `Authorization: Bearer`, `Origin`
//! against `Host`, and `?token=`. None panics; a range answer always lies inside the body.

#![no_main]

use axum::http::{header, HeaderMap, HeaderValue};
use confab_server::attachments::range::{answer, RangeAnswer};
use confab_server::http::{bearer_token, check_origin, names_etag, query_token};
use confab_server::transport::Scheme;
use libfuzzer_sys::fuzz_target;

const ETAG: &str = "\"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\"";

fuzz_target!(|input: (&str, &str, u64)| {
    let (first, second, len) = input;
    // Bodies the server could hold: from empty to far past any upload.
    for len in [len, len % 1024, 0, 1] {
        match answer(Some(first), len) {
            RangeAnswer::Partial { start, end } => {
                assert!(start <= end && end < len, "{first:?} {len}: {start}-{end}");
            }
            RangeAnswer::Unsatisfiable => {
                assert!(first.trim().starts_with("bytes="), "{first:?}");
            }
            RangeAnswer::Full => {}
        }
    }
    assert_eq!(answer(None, len), RangeAnswer::Full);

    let _ = query_token(Some(first));
    let Ok(value) = HeaderValue::from_str(first) else {
        return;
    };
    let _ = names_etag(Some(&value), ETAG);
    let mut headers = HeaderMap::new();
    headers.insert(header::AUTHORIZATION, value.clone());
    if let Some(token) = bearer_token(&headers) {
        assert!(!token.is_empty() && token.trim() == token);
    }
    headers.insert(header::ORIGIN, value);
    if let Ok(host) = HeaderValue::from_str(second) {
        headers.insert(header::HOST, host);
    }
    let allowed = ["https://chat.example.com".to_owned()];
    for scheme in [Scheme::Http, Scheme::Https] {
        let _ = check_origin(&headers, scheme, &allowed);
    }
});
