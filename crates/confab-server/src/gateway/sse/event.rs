//! The `text/event-stream` wire format, as this gateway writes it: one event per server frame
//! (`event:` the frame's type, `id:` the [`EventId`], `data:` the frame's JSON on one line),
//! heartbeat comments, and the reading of a frame's `type` and `reply_to` from its JSON.

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

/// The comment an idle stream gets every `sse.heartbeat_secs`.
pub const HEARTBEAT: &[u8] = b": ping\n\n";

/// How long, in milliseconds, an EventSource waits before it reconnects (the `retry:` field
/// sent with every `ready`); well inside the default resume grace.
pub const RETRY_MS: u64 = 2000;

/// An event's id, `<stream>.<n>`: the stream it belongs to and its place in that stream
/// (1, 2, 3…; a `ready` carries the place of the last event before it, 0 at the start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventId {
    pub stream: String,
    pub n: u64,
}

impl EventId {
    /// Reads an id a client sent back (`Last-Event-ID`); `None` if it is not one of ours.
    pub fn parse(text: &str) -> Option<Self> {
        let (stream, n) = text.trim().rsplit_once('.')?;
        if !is_stream_id(stream) || n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Self {
            stream: stream.to_owned(),
            n: n.parse().ok()?,
        })
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.stream, self.n)
    }
}

/// Bytes of randomness in a stream id (shown as twice as many hex digits).
const STREAM_ID_BYTES: usize = 16;

/// A fresh, unguessable stream id.
pub fn new_stream_id() -> String {
    let mut bytes = [0u8; STREAM_ID_BYTES];
    getrandom::fill(&mut bytes).expect("the system's random source works");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `text` has the shape of a stream id.
pub fn is_stream_id(text: &str) -> bool {
    text.len() == STREAM_ID_BYTES * 2
        && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// One event: the frame's JSON (one line: serde never writes a raw newline) under its type.
pub fn encode(frame: &[u8], id: &EventId) -> Bytes {
    let name = frame_type(frame).unwrap_or("message");
    let mut out = BytesMut::with_capacity(frame.len() + name.len() + 64);
    out.put_slice(b"event: ");
    out.put_slice(name.as_bytes());
    out.put_slice(b"\nid: ");
    out.put_slice(id.to_string().as_bytes());
    out.put_slice(b"\ndata: ");
    out.put_slice(frame);
    out.put_slice(b"\n\n");
    out.freeze()
}

/// The first event of a connection: the reconnection delay, then `ready`.
pub fn encode_first(ready: &[u8], id: &EventId) -> Bytes {
    let mut out = BytesMut::from(format!("retry: {RETRY_MS}\n").as_bytes());
    out.put_slice(&encode(ready, id));
    out.freeze()
}

/// The `type` of a server frame's JSON. Server frames are internally tagged, and serde writes
/// the tag first, so it is read from the front without parsing the rest.
pub fn frame_type(frame: &[u8]) -> Option<&str> {
    let rest = frame.strip_prefix(b"{\"type\":\"")?;
    let end = rest.iter().position(|&b| b == b'"')?;
    let name = std::str::from_utf8(&rest[..end]).ok()?;
    name.bytes()
        .all(|b| b.is_ascii_lowercase() || b == b'_')
        .then_some(name)
}

/// The top-level `reply_to` of a server frame's JSON, if it has one.
pub fn reply_to(frame: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct ReplyTo {
        reply_to: Option<String>,
    }
    // Most frames have none. Events never answer a frame (protocol.md section 5), and they
    // are most of the traffic: no need to look into them.
    if matches!(
        frame_type(frame),
        Some("message" | "update" | "typing" | "presence" | "membership")
    ) || !frame.windows(11).any(|w| w == b"\"reply_to\":")
    {
        return None;
    }
    serde_json::from_slice::<ReplyTo>(frame).ok()?.reply_to
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_strangers_are_refused() {
        let stream = new_stream_id();
        assert!(is_stream_id(&stream));
        assert_ne!(stream, new_stream_id());
        let id = EventId {
            stream: stream.clone(),
            n: 42,
        };
        assert_eq!(EventId::parse(&id.to_string()), Some(id));
        for bad in [
            "",
            "42",
            "abc.1",
            &format!("{stream}."),
            &format!("{stream}.-1"),
            &format!("{stream}.1x"),
            &format!("{}.1", stream.to_uppercase()),
            &format!("{stream}.99999999999999999999999"),
        ] {
            assert_eq!(EventId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn an_event_is_named_by_its_frame_type() {
        let id = EventId {
            stream: "s".repeat(32),
            n: 7,
        };
        let frame = br#"{"type":"message","content":"a\nb"}"#;
        let event = encode(frame, &id);
        assert_eq!(
            event,
            Bytes::from(format!(
                "event: message\nid: {}.7\ndata: {{\"type\":\"message\",\"content\":\"a\\nb\"}}\n\n",
                "s".repeat(32)
            ))
        );
        let first = encode_first(br#"{"type":"ready"}"#, &id);
        assert!(first.starts_with(b"retry: 2000\nevent: ready\nid: "));
        assert_eq!(
            frame_type(br#"{"type":"room_event","x":1}"#),
            Some("room_event")
        );
        assert_eq!(frame_type(br#"{"x":1}"#), None);
        assert_eq!(frame_type(br#"{"type":"a b"}"#), None);
    }

    #[test]
    fn reply_to_is_read_at_the_top_level_only() {
        assert_eq!(
            reply_to(br#"{"type":"ack","reply_to":"m1","seq":3}"#).as_deref(),
            Some("m1")
        );
        assert_eq!(
            reply_to(br#"{"type":"error","message":"\"reply_to\":\"x\""}"#),
            None
        );
        assert_eq!(
            reply_to(br#"{"type":"history","messages":[{"reply_to_message":{"id":"x"}}]}"#),
            None
        );
        assert_eq!(
            reply_to(br#"{"type":"history","messages":[{"reply_to":"x"}]}"#),
            None,
            "a nested key is not the frame's"
        );
        assert_eq!(
            reply_to(br#"{"type":"message","reply_to":"x"}"#),
            None,
            "an event never answers a frame"
        );
    }
}
