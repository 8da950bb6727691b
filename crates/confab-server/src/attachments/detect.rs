//! What an upload is, from its first bytes only: the client's file name and `Content-Type` are
//! never asked. Images (PNG, JPEG, GIF, WebP), audio and video get their kind and may be shown
//! inline; everything else is a `file`, downloaded, typed `application/octet-stream` unless its
//! detected type is on a short list of types browsers do not run (PDF, archives, office
//! documents). Markup and script (HTML, SVG, XML, JavaScript) are never recognised as anything
//! but an opaque file.

use confab_protocol::AttachmentKind;

/// How many leading bytes detection looks at.
pub const HEAD_BYTES: usize = 16 * 1024;

/// The type of anything not recognised.
pub const OCTET_STREAM: &str = "application/octet-stream";

/// What the bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detected {
    pub kind: AttachmentKind,
    pub mime: &'static str,
}

/// Image types shown inline (and thumbnailed).
const IMAGES: &[&str] = &["image/png", "image/jpeg", "image/gif", "image/webp"];

/// Audio types played inline.
const AUDIO: &[&str] = &[
    "audio/mpeg",
    "audio/ogg",
    "audio/opus",
    "audio/wav",
    "audio/flac",
    "audio/mp4",
    "audio/aac",
];

/// Video types played inline.
const VIDEO: &[&str] = &["video/mp4", "video/webm", "video/ogg", "video/quicktime"];

/// Detected types kept for files (downloaded, never shown inline). Anything else is
/// `application/octet-stream`.
const SAFE_FILES: &[&str] = &[
    "application/pdf",
    "application/zip",
    "application/gzip",
    "application/x-tar",
    "application/x-bzip2",
    "application/x-xz",
    "application/zstd",
    "application/x-7z-compressed",
    "application/vnd.rar",
    "application/epub+zip",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
    "application/vnd.sqlite3",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/bmp",
    "image/tiff",
    "image/heif",
    "image/avif",
    "audio/midi",
    "audio/x-aiff",
    "video/x-matroska",
    "video/x-msvideo",
];

/// Detects an upload's kind and type from its first bytes (up to [`HEAD_BYTES`]).
pub fn detect(head: &[u8]) -> Detected {
    let file = |mime| Detected {
        kind: AttachmentKind::File,
        mime,
    };
    // Ogg carrying Theora is video; infer calls every Ogg audio.
    if head.starts_with(b"OggS") && head.get(28..35) == Some(b"\x80theora") {
        return Detected {
            kind: AttachmentKind::Video,
            mime: "video/ogg",
        };
    }
    let Some(found) = infer::get(head) else {
        return file(OCTET_STREAM);
    };
    let mime = match found.mime_type() {
        // The registered names for what infer calls by older ones.
        "audio/x-wav" => "audio/wav",
        "audio/x-flac" => "audio/flac",
        "audio/m4a" => "audio/mp4",
        "video/x-m4v" => "video/mp4",
        other => other,
    };
    let kind = if IMAGES.contains(&mime) {
        AttachmentKind::Image
    } else if AUDIO.contains(&mime) {
        AttachmentKind::Audio
    } else if VIDEO.contains(&mime) {
        AttachmentKind::Video
    } else {
        AttachmentKind::File
    };
    let mime = match kind {
        AttachmentKind::File => SAFE_FILES
            .iter()
            .copied()
            .find(|&safe| safe == mime)
            .unwrap_or(OCTET_STREAM),
        // One of the static lists above: give back the static copy.
        _ => IMAGES
            .iter()
            .chain(AUDIO)
            .chain(VIDEO)
            .copied()
            .find(|&known| known == mime)
            .unwrap_or(OCTET_STREAM),
    };
    Detected { kind, mime }
}

/// Whether an upload of this kind and stored type may be shown inline by a browser. Checked
/// again when serving, so a row from anywhere can never make markup render.
pub fn is_inline(kind: AttachmentKind, mime: &str) -> bool {
    match kind {
        AttachmentKind::Image => IMAGES.contains(&mime),
        AttachmentKind::Audio => AUDIO.contains(&mime),
        AttachmentKind::Video => VIDEO.contains(&mime),
        AttachmentKind::File => false,
    }
}

/// The `Content-Type` to serve a stored upload with: its type if it is one this module hands
/// out, `application/octet-stream` otherwise.
pub fn served_type(kind: AttachmentKind, mime: &str) -> &'static str {
    if is_inline(kind, mime) {
        IMAGES
            .iter()
            .chain(AUDIO)
            .chain(VIDEO)
            .copied()
            .find(|&known| known == mime)
            .unwrap_or(OCTET_STREAM)
    } else {
        SAFE_FILES
            .iter()
            .copied()
            .find(|&safe| safe == mime)
            .unwrap_or(OCTET_STREAM)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AttachmentKind::*;

    fn wav() -> Vec<u8> {
        let mut bytes = b"RIFF\x24\x00\x00\x00WAVEfmt ".to_vec();
        bytes.extend_from_slice(&[16, 0, 0, 0, 1, 0, 1, 0, 0x40, 0x1f, 0, 0, 0x80, 0x3e, 0, 0]);
        bytes.extend_from_slice(&[2, 0, 16, 0]);
        bytes.extend_from_slice(b"data\x00\x00\x00\x00");
        bytes
    }

    #[test]
    fn recognises_media_from_magic_bytes() {
        let cases: Vec<(Vec<u8>, AttachmentKind, &str)> = vec![
            (
                b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec(),
                Image,
                "image/png",
            ),
            (
                b"\xff\xd8\xff\xe0\0\x10JFIF\0".to_vec(),
                Image,
                "image/jpeg",
            ),
            (b"GIF89a\x01\0\x01\0".to_vec(), Image, "image/gif"),
            (b"RIFF\0\0\0\0WEBPVP8 ".to_vec(), Image, "image/webp"),
            (wav(), Audio, "audio/wav"),
            (b"ID3\x04\0\0\0\0\0\0".to_vec(), Audio, "audio/mpeg"),
            (b"fLaC\0\0\0\x22".to_vec(), Audio, "audio/flac"),
            (b"\0\0\0\x20ftypM4A \0\0\0\0".to_vec(), Audio, "audio/mp4"),
            (b"\0\0\0\x20ftypisom\0\0\x02\0".to_vec(), Video, "video/mp4"),
            (
                b"\0\0\0\x14ftypqt  \0\0\0\0".to_vec(),
                Video,
                "video/quicktime",
            ),
            (b"%PDF-1.7\n".to_vec(), File, "application/pdf"),
            (
                b"PK\x03\x04\x14\0\0\0\0\0".to_vec(),
                File,
                "application/zip",
            ),
            (
                b"\x7fELF\x02\x01\x01\0\0\0\0\0".to_vec(),
                File,
                OCTET_STREAM,
            ),
            (b"just some text".to_vec(), File, OCTET_STREAM),
        ];
        for (bytes, kind, mime) in cases {
            assert_eq!(detect(&bytes), Detected { kind, mime }, "{bytes:?}");
        }
    }

    #[test]
    fn ogg_is_audio_unless_it_carries_theora() {
        let mut page = b"OggS\0\x02".to_vec();
        page.resize(28, 0);
        let mut vorbis = page.clone();
        vorbis.extend_from_slice(b"\x01vorbis\0\0\0\0");
        assert_eq!(detect(&vorbis).kind, Audio);
        assert_eq!(detect(&vorbis).mime, "audio/ogg");
        let mut opus = page.clone();
        opus.extend_from_slice(b"OpusHead\x01\x02");
        assert_eq!(detect(&opus).mime, "audio/opus");
        let mut theora = page;
        theora.extend_from_slice(b"\x80theora\x03\x02");
        assert_eq!(detect(&theora).kind, Video);
    }

    #[test]
    fn markup_and_script_are_opaque_files() {
        for text in [
            &b"<!DOCTYPE html><html><script>alert(1)</script>"[..],
            b"<html><body onload=alert(1)>",
            b"<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"><script/></svg>",
            b"<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"/>",
            b"#!/bin/sh\nrm -rf /\n",
            b"alert(document.cookie)",
        ] {
            assert_eq!(
                detect(text),
                Detected {
                    kind: File,
                    mime: OCTET_STREAM
                },
                "{}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn serving_never_trusts_a_stored_type() {
        assert_eq!(served_type(Image, "image/png"), "image/png");
        assert!(is_inline(Audio, "audio/wav"));
        assert!(!is_inline(Image, "image/svg+xml"));
        assert_eq!(served_type(Image, "image/svg+xml"), OCTET_STREAM);
        assert_eq!(served_type(File, "text/html"), OCTET_STREAM);
        assert_eq!(served_type(File, "application/pdf"), "application/pdf");
        assert!(!is_inline(File, "image/png"));
    }
}
