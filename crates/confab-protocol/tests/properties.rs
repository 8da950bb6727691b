//! Properties of the protocol crate that must hold for any input, checked on generated cases:
//! decoding never panics and always answers with a frame or a documented error; whatever a
//! client library serializes decodes to the same frame; names normalize once; search
//! highlights keep the text; locations and emoji checks agree with their rules.

use confab_protocol::messaging::{highlight, is_emoji, search_terms, Location};
use confab_protocol::{
    decode_client_frame, ClientFrame, ErrorCode, Limits, Receiver, RoomName, Username,
};
use proptest::prelude::*;

fn limits() -> Limits {
    Limits::default()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Any text at all: a frame or an error with a known code, never a panic; and an error's
    /// reply_to is only ever a valid id.
    #[test]
    fn decoding_any_text_never_panics(text in ".{0,300}") {
        match decode_client_frame(&text, &limits()) {
            Ok(_) => {}
            Err(err) => {
                prop_assert!(ErrorCode::ALL.contains(&err.code));
                if let Some(id) = err.reply_to {
                    prop_assert!(!id.is_empty() && id.len() <= Limits::MAX_CLIENT_ID_BYTES);
                }
            }
        }
    }

    /// JSON-shaped input with a known type and arbitrary fields: the same.
    #[test]
    fn decoding_frame_shaped_json_never_panics(
        kind in prop::sample::select(vec![
            "login", "message", "join", "leave", "history", "typing", "edit", "delete", "react",
            "read", "receipts", "search", "delete_chat", "set_profile", "invite", "create_room",
            "mute", "set_topic", "set_password", "create_invite",
        ]),
        key in "[a-z_]{1,12}",
        value in prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>().prop_map(|f| serde_json::json!(f)),
            ".{0,80}".prop_map(serde_json::Value::from),
        ],
    ) {
        let frame = serde_json::json!({"type": kind, "id": "p", key: value});
        let _ = decode_client_frame(&frame.to_string(), &limits());
    }

    /// A message a client builds decodes to the very same frame, or is refused as a whole.
    #[test]
    fn a_valid_message_round_trips(
        content in "[^\u{0}]{1,200}",
        room in "[a-z0-9][a-z0-9_-]{0,19}",
        id in "[A-Za-z0-9-]{1,64}",
    ) {
        let receiver = Receiver::Room(RoomName::parse(&format!("#{room}")).unwrap());
        let frame = ClientFrame::Message(confab_protocol::SendMessage {
            id: Some(id),
            receiver,
            content: content.clone(),
            attachment: None,
            location: None,
            reply_to_message: None,
            sender: None,
            timestamp: None,
        });
        let text = serde_json::to_string(&frame).unwrap();
        match decode_client_frame(&text, &limits()) {
            Ok(decoded) => prop_assert_eq!(decoded, frame),
            Err(err) => prop_assert!(content.trim().is_empty(), "{err:?}"),
        }
    }

    /// Usernames normalize to lowercase once: parsing the normalized name gives it back.
    #[test]
    fn names_normalize_once(raw in "[A-Za-z0-9][A-Za-z0-9_.-]{0,31}") {
        let name = Username::parse(&raw).unwrap();
        prop_assert_eq!(name.as_str(), raw.to_lowercase());
        let again = Username::parse(name.as_str()).unwrap();
        prop_assert_eq!(again.as_str(), name.as_str());
    }

    /// Highlight pieces put back together are the message, and every marked piece matches a
    /// term case-insensitively.
    #[test]
    fn highlights_keep_the_text(content in ".{0,120}", query in "[a-zA-Zé東京 ]{1,20}") {
        let terms = search_terms(&query);
        let pieces = highlight(&content, &terms);
        let joined: String = pieces.iter().map(|p| p.text.as_str()).collect();
        prop_assert_eq!(joined, content);
        for piece in pieces.iter().filter(|p| p.matched) {
            prop_assert!(!piece.text.is_empty());
        }
        for pair in pieces.windows(2) {
            prop_assert_ne!(pair[0].matched, pair[1].matched, "neighbours are merged");
        }
    }

    /// Locations are accepted exactly inside the ranges.
    #[test]
    fn locations_follow_the_ranges(latitude in -200.0f64..200.0, longitude in -400.0f64..400.0) {
        let location = Location { latitude, longitude, label: None };
        let inside = (-90.0..=90.0).contains(&latitude) && (-180.0..=180.0).contains(&longitude);
        prop_assert_eq!(location.validate().is_ok(), inside);
    }

    /// Plain text is never taken for an emoji.
    #[test]
    fn ascii_words_are_not_emoji(word in "[ -~]{1,20}") {
        prop_assert!(!is_emoji(&word) || word.chars().all(|c| c.is_ascii_digit() || c == '#' || c == '*'));
    }
}
