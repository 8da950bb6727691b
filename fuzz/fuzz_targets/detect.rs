//! Upload type detection (`attachments::detect`) on any first bytes: a kind and a type from
//! the module's own lists, inline only for pictures, audio and video, and never a type a
//! browser would run.

#![no_main]

use confab_protocol::AttachmentKind;
use confab_server::attachments::detect::{detect, is_inline, served_type, HEAD_BYTES};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let head = &data[..data.len().min(HEAD_BYTES)];
    let found = detect(head);
    assert_eq!(served_type(found.kind, found.mime), found.mime, "{found:?}");
    assert_eq!(
        is_inline(found.kind, found.mime),
        found.kind != AttachmentKind::File,
        "{found:?}"
    );
    for runnable in ["html", "xml", "svg", "javascript", "text/"] {
        assert!(!found.mime.contains(runnable), "{found:?}");
    }
});
