//! Client frames as the WebSocket, TCP and UDP gateways hand them to the protocol crate: any
//! text decodes to a frame or to an error with a documented code (and a `reply_to` only when
//! it is a valid id), under the default limits and under tight ones. A frame that was accepted
//! is accepted again, the same, once serialized: validation normalizes once.

#![no_main]

use confab_protocol::{decode_client_frame, ClientFrame, ErrorCode, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let tight = Limits {
        max_frame_bytes: 256,
        max_content_bytes: 16,
        max_history_limit: 3,
    };
    for limits in [Limits::default(), tight] {
        match decode_client_frame(text, &limits) {
            Ok(frame) => accepted_again(&frame, &limits),
            Err(err) => {
                assert!(ErrorCode::ALL.contains(&err.code), "{err:?}");
                if let Some(id) = &err.reply_to {
                    assert!(!id.is_empty() && id.len() <= Limits::MAX_CLIENT_ID_BYTES);
                }
            }
        }
    }
});

fn accepted_again(frame: &ClientFrame, limits: &Limits) {
    let text = serde_json::to_string(frame).expect("client frames serialize");
    // The frame limit is on what the client sent; the serialized form may be longer (a number
    // written `1e0` comes back as `1.0`).
    let limits = Limits {
        max_frame_bytes: usize::MAX,
        ..*limits
    };
    let again = decode_client_frame(&text, &limits)
        .unwrap_or_else(|err| panic!("{text} was accepted once, then refused: {err:?}"));
    // Compared as JSON: fields the server ignores (`timestamp`) are not written. Floats may
    // move by a unit in the last place through serde_json's fast parser.
    let has_float = matches!(frame, ClientFrame::Message(m) if m.location.is_some());
    if !has_float {
        let again = serde_json::to_string(&again).expect("client frames serialize");
        assert_eq!(again, text);
    }
}
