//! `POST /api/v1/attachments` (the raw file as the body) and `GET /api/v1/attachments/{id}`,
//! `/{id}/thumbnail` and `/{id}/info`. Downloads stream from the blob store with single
//! `Range` requests, an ETag (the SHA-256) and headers that keep a browser from ever running
//! what was uploaded: `nosniff`, a sandboxing CSP, and `inline` only for pictures, audio and
//! video.

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use confab_protocol::AttachmentInfo;
use serde::Deserialize;
use tokio::io::AsyncReadExt;
use tokio_util::io::ReaderStream;

use super::{AppState, AuthUser};
use crate::attachments::detect;
use crate::attachments::name::content_disposition;
use crate::attachments::range::{self, RangeAnswer};
use crate::error::AppError;

/// How long a client may reuse what it fetched. The bytes under an id never change, but access
/// can end (the message is deleted), so not for ever, and never in a shared cache.
const CACHE_CONTROL: &str = "private, max-age=86400";

/// Nothing served here may load, run or frame anything.
const CSP: &str = "default-src 'none'; sandbox";

/// Read size when streaming a blob.
const READ_CHUNK: usize = 64 * 1024;

#[derive(Deserialize)]
pub struct UploadQuery {
    name: Option<String>,
}

/// `POST /api/v1/attachments?name=<file name>`: the body is the file's bytes.
pub async fn upload(
    State(state): State<AppState>,
    auth: AuthUser,
    query: Result<Query<UploadQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<AttachmentInfo>), AppError> {
    let Query(query) = query.map_err(|e| AppError::bad_request(e.body_text()))?;
    let declared = match headers.get(header::CONTENT_LENGTH) {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or_else(|| AppError::bad_request("Content-Length is not a number"))?,
        ),
    };
    let info = state
        .hub
        .upload(
            &auth.user,
            query.name.as_deref(),
            declared,
            body.into_data_stream(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(info)))
}

/// `GET /api/v1/attachments/{id}/info`: what the upload is.
pub async fn info(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<AttachmentInfo>, AppError> {
    let upload = state.hub.readable_attachment(auth.user.id, &id).await?;
    Ok(Json(upload.info()))
}

/// `GET /api/v1/attachments/{id}`: the bytes.
pub async fn download(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let upload = state.hub.readable_attachment(auth.user.id, &id).await?;
    let inline = detect::is_inline(upload.kind, &upload.mime);
    let served = Served {
        sha256: &upload.sha256,
        content_type: detect::served_type(upload.kind, &upload.mime),
        disposition: content_disposition(inline, &upload.name),
    };
    serve(&state, served, &headers).await
}

/// `GET /api/v1/attachments/{id}/thumbnail`: the preview of a picture.
pub async fn thumbnail(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let upload = state.hub.readable_attachment(auth.user.id, &id).await?;
    let Some(thumb) = &upload.thumbnail else {
        return Err(AppError::not_found(format!(
            "attachment {id} has no thumbnail"
        )));
    };
    let content_type = match thumb.mime.as_str() {
        "image/png" => "image/png",
        "image/jpeg" => "image/jpeg",
        _ => detect::OCTET_STREAM,
    };
    let served = Served {
        sha256: &thumb.sha256,
        content_type,
        disposition: "inline".to_owned(),
    };
    serve(&state, served, &headers).await
}

/// A blob and how to present it.
struct Served<'a> {
    sha256: &'a str,
    content_type: &'static str,
    disposition: String,
}

/// Whether an `If-None-Match` or `If-Range` value names this entity tag.
pub fn names_etag(value: Option<&HeaderValue>, etag: &str) -> bool {
    let Some(value) = value.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    value
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

async fn serve(
    state: &AppState,
    served: Served<'_>,
    request: &HeaderMap,
) -> Result<Response, AppError> {
    let etag = format!("\"{}\"", served.sha256);
    let mut headers = HeaderMap::new();
    let mut set = |name, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::CONTENT_SECURITY_POLICY, CSP);
    set(header::CACHE_CONTROL, CACHE_CONTROL);
    set(header::ETAG, &etag);
    set(header::ACCEPT_RANGES, "bytes");
    set(header::CONTENT_DISPOSITION, &served.disposition);
    set(header::CONTENT_TYPE, served.content_type);
    if names_etag(request.get(header::IF_NONE_MATCH), &etag) {
        headers.remove(header::CONTENT_TYPE);
        return Ok((StatusCode::NOT_MODIFIED, headers).into_response());
    }
    let blobs = state.hub.blobs();
    let missing = || {
        tracing::error!(blob = served.sha256, "an upload's blob is missing");
        AppError::not_found("the attachment's bytes are gone")
    };
    let blob_error = |err: std::io::Error| {
        tracing::error!(%err, blob = served.sha256, "cannot read blob");
        AppError::internal()
    };
    let len = blobs
        .len(served.sha256)
        .await
        .map_err(blob_error)?
        .ok_or_else(missing)?;
    let range_header = request.get(header::RANGE).and_then(|v| v.to_str().ok());
    // A range applies only to the version the client has (If-Range), when it names one.
    let range_header = match request.get(header::IF_RANGE) {
        Some(value) if !names_etag(Some(value), &etag) => None,
        _ => range_header,
    };
    let (status, start, count) = match range::answer(range_header, len) {
        RangeAnswer::Full => (StatusCode::OK, 0, len),
        RangeAnswer::Partial { start, end } => {
            let mut set = |name, value: String| {
                if let Ok(value) = HeaderValue::from_str(&value) {
                    headers.insert(name, value);
                }
            };
            set(header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}"));
            (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
        }
        RangeAnswer::Unsatisfiable => {
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{len}")) {
                headers.insert(header::CONTENT_RANGE, value);
            }
            headers.remove(header::CONTENT_TYPE);
            headers.remove(header::CONTENT_DISPOSITION);
            return Ok((StatusCode::RANGE_NOT_SATISFIABLE, headers).into_response());
        }
    };
    let blob = blobs
        .open(served.sha256, start)
        .await
        .map_err(blob_error)?
        .ok_or_else(missing)?;
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(count));
    let body = Body::from_stream(ReaderStream::with_capacity(
        blob.reader.take(count),
        READ_CHUNK,
    ));
    Ok((status, headers, body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_match_lists_weak_tags_and_stars() {
        let etag = "\"abc\"";
        let value = |s: &'static str| HeaderValue::from_static(s);
        assert!(names_etag(Some(&value("\"abc\"")), etag));
        assert!(names_etag(Some(&value("\"x\", W/\"abc\"")), etag));
        assert!(names_etag(Some(&value("*")), etag));
        assert!(!names_etag(Some(&value("\"abd\"")), etag));
        assert!(!names_etag(None, etag));
    }
}
