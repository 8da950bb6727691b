//! Headers every response carries, whatever route made it: `nosniff`, no referrer, and a
//! Content-Security-Policy that allows nothing and no framing, each unless the route set its
//! own (the web client's pages and the attachments have stricter or fitting ones); over TLS,
//! `Strict-Transport-Security` with `tls.hsts_max_age_secs`.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use crate::config::TlsSettings;
use crate::transport::Scheme;

/// For JSON and other non-page responses: nothing may load from them or frame them.
const DEFAULT_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// What the layer adds.
#[derive(Clone)]
pub struct Baseline {
    hsts: HeaderValue,
}

impl Baseline {
    pub fn new(tls: &TlsSettings) -> Self {
        Self {
            hsts: HeaderValue::from_str(&tls.hsts()).expect("digits are a valid header"),
        }
    }
}

/// The middleware (`axum::middleware::from_fn_with_state`).
pub async fn add(State(baseline): State<Baseline>, request: Request, next: Next) -> Response {
    let secure = request.extensions().get::<Scheme>() == Some(&Scheme::Https);
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if secure {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, baseline.hsts.clone());
    }
    for (name, value) in [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CONTENT_SECURITY_POLICY, DEFAULT_CSP),
    ] {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    response
}
