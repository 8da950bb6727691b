//! Rich messaging: message kinds, locations, replies, reactions, edits and deletes, read
//! receipts, the conversation list and search. Pure data and validation, like the rest of
//! the crate.

use serde::{Deserialize, Serialize};

use crate::names::Receiver;
use crate::server::ChatMessage;

/// What a message holds. Derived by the server: `location` when the message has one, the
/// attachment's kind when it has one, `text` otherwise.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    #[default]
    Text,
    Image,
    Audio,
    Video,
    File,
    Location,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Image => "image",
            Self::Audio => "audio",
            Self::Video => "video",
            Self::File => "file",
            Self::Location => "location",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "text" => Self::Text,
            "image" => Self::Image,
            "audio" => Self::Audio,
            "video" => Self::Video,
            "file" => Self::File,
            "location" => Self::Location,
            _ => return None,
        })
    }

    pub fn is_text(&self) -> bool {
        *self == Self::Text
    }
}

/// A point on Earth: latitude in [-90, 90], longitude in [-180, 180], an optional label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// The longest location label, in bytes.
pub const MAX_LOCATION_LABEL_BYTES: usize = 256;

impl Location {
    /// Checks the ranges and the label.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.latitude.is_finite() && (-90.0..=90.0).contains(&self.latitude)) {
            return Err("latitude must be between -90 and 90".into());
        }
        if !(self.longitude.is_finite() && (-180.0..=180.0).contains(&self.longitude)) {
            return Err("longitude must be between -180 and 180".into());
        }
        if let Some(label) = &self.label {
            if label.len() > MAX_LOCATION_LABEL_BYTES {
                return Err(format!(
                    "location label is over {MAX_LOCATION_LABEL_BYTES} bytes"
                ));
            }
        }
        Ok(())
    }
}

/// What a reply shows of the message it answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyPreview {
    pub id: String,
    pub sender: String,
    /// The start of the answered message's content (at most 100 characters); empty when it was
    /// deleted or holds no text.
    pub excerpt: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

/// The longest reply excerpt, in characters.
pub const REPLY_EXCERPT_CHARS: usize = 100;

/// One emoji's reactions on a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    pub emoji: String,
    pub count: u32,
    /// Who reacted, in the order they did.
    pub users: Vec<String>,
}

/// The longest reaction, in bytes (a family emoji with skin tones fits).
pub const MAX_EMOJI_BYTES: usize = 64;

/// Whether `text` is one emoji (or an emoji sequence: skin tones, joiners, flags, keycaps).
pub fn is_emoji(text: &str) -> bool {
    if text.is_empty() || text.len() > MAX_EMOJI_BYTES {
        return false;
    }
    let mut pictographs = 0;
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let cp = c as u32;
        let pictograph = matches!(cp,
            0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2B00..=0x2BFF | 0x2190..=0x21FF
            | 0x2300..=0x23FF | 0x25A0..=0x25FF | 0x2934 | 0x2935 | 0x3030 | 0x303D
            | 0x3297 | 0x3299 | 0x00A9 | 0x00AE | 0x203C | 0x2049 | 0x2122 | 0x2139
            | 0x24C2);
        let joiner = matches!(cp, 0x200D | 0xFE0E | 0xFE0F | 0x20E3 | 0xE0020..=0xE007F);
        // Keycaps: a digit, # or * followed by U+FE0F and/or U+20E3.
        let keycap_base = (c.is_ascii_digit() || c == '#' || c == '*')
            && chars[i + 1..].iter().take(2).any(|&n| n == '\u{20E3}');
        if pictograph || keycap_base {
            pictographs += 1;
        } else if !joiner {
            return false;
        }
    }
    pictographs > 0
}

/// `edit`: replaces the content of one of the user's own messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EditMessage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The server id of the message to change.
    pub message: String,
    pub content: String,
}

/// `delete`: erases a message, leaving a tombstone. The sender may delete their own; a room's
/// owner or moderators may delete any in the room.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeleteMessage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub message: String,
}

/// `react`: toggles the user's reaction with this emoji on a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct React {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub message: String,
    pub emoji: String,
}

/// `read`: the user has read the conversation up to `seq`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarkRead {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub receiver: Receiver,
    pub seq: u64,
}

/// A request naming one conversation: `receipts`, `delete_chat`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub receiver: Receiver,
}

/// `search`: messages the user can see that contain every word of `query`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub query: String,
    /// Only this conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiver: Option<Receiver>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// The `next` of the previous page: results older than it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
}

/// Most characters a search query may have.
pub const MAX_SEARCH_QUERY_CHARS: usize = 256;
/// Most words a search query may have.
pub const MAX_SEARCH_TERMS: usize = 8;

/// `update`: a message changed (edited, deleted, reactions). Takes its own `seq` in the
/// conversation, so it is replayed after an absence like a message; `message` is the
/// message's state now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Update {
    pub seq: u64,
    pub receiver: String,
    pub change: Change,
    /// Who made the change.
    pub by: String,
    pub message: ChatMessage,
}

/// What an `update` is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Edited,
    Deleted,
    Reactions,
}

/// `receipt`: how far a user got in a conversation. Either field may be absent when only the
/// other moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub receiver: String,
    pub user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_seq: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_seq: Option<u64>,
}

/// `receipts`: every member's markers in one conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    pub receiver: String,
    pub members: Vec<MemberReceipt>,
}

/// One member's markers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberReceipt {
    pub user: String,
    pub delivered_seq: u64,
    pub read_seq: u64,
}

/// `chats`: the user's conversations, most recent activity first (getAllChats).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chats {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    pub chats: Vec<ChatSummary>,
}

/// One conversation in `chats`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatSummary {
    /// `#room`, or the other user's name.
    pub receiver: String,
    pub kind: ChatKind,
    /// The newest message (deleted ones show as tombstones), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_message: Option<ChatMessage>,
    /// Messages from others after the user's read marker.
    pub unread: u64,
    /// The user's read marker.
    pub read_seq: u64,
    /// The conversation's newest seq (messages and updates).
    pub last_seq: u64,
    /// RFC 3339 time of the last message, or of joining when there is none.
    pub last_activity: String,
    /// For direct conversations: whether the other user is online.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online: Option<bool>,
}

/// Whether a chat is a room or a direct conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatKind {
    Room,
    Direct,
}

/// `search_results`: newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResults {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    pub query: String,
    pub results: Vec<SearchHit>,
    /// Pass as `before` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// One found message, with its content cut into plain and matching pieces (render each piece
/// as text; mark the matching ones).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    pub message: ChatMessage,
    pub highlight: Vec<Segment>,
}

/// A piece of a found message's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub text: String,
    #[serde(rename = "match", default, skip_serializing_if = "std::ops::Not::not")]
    pub matched: bool,
}

/// Cuts `content` into segments where any of `terms` occurs (case-insensitively).
pub fn highlight(content: &str, terms: &[String]) -> Vec<Segment> {
    let lower: Vec<(usize, char)> = content
        .char_indices()
        .map(|(i, c)| (i, c.to_lowercase().next().unwrap_or(c)))
        .collect();
    let terms: Vec<Vec<char>> = terms
        .iter()
        .map(|t| {
            t.chars()
                .map(|c| c.to_lowercase().next().unwrap_or(c))
                .collect()
        })
        .filter(|t: &Vec<char>| !t.is_empty())
        .collect();
    let mut marked = vec![false; lower.len()];
    for term in &terms {
        for start in 0..lower.len() {
            if lower.len() - start >= term.len()
                && lower[start..start + term.len()]
                    .iter()
                    .zip(term)
                    .all(|((_, a), b)| a == b)
            {
                marked[start..start + term.len()].fill(true);
            }
        }
    }
    let mut segments: Vec<Segment> = Vec::new();
    for (index, &(offset, _)) in lower.iter().enumerate() {
        let end = lower.get(index + 1).map_or(content.len(), |&(o, _)| o);
        let piece = &content[offset..end];
        match segments.last_mut() {
            Some(last) if last.matched == marked[index] => last.text.push_str(piece),
            _ => segments.push(Segment {
                text: piece.to_owned(),
                matched: marked[index],
            }),
        }
    }
    segments
}

/// The words of a search query: split on whitespace, at most [`MAX_SEARCH_TERMS`].
pub fn search_terms(query: &str) -> Vec<String> {
    query
        .split_whitespace()
        .take(MAX_SEARCH_TERMS)
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emoji_are_told_from_text() {
        for ok in ["👍", "❤️", "🎉", "👩‍👩‍👧", "👍🏽", "🇮🇳", "1️⃣", "☕", "©️"]
        {
            assert!(is_emoji(ok), "{ok}");
        }
        for bad in ["", "a", "ok", "👍a", "<b>", "\u{200D}", "1", " 👍", "#"] {
            assert!(!is_emoji(bad), "{bad:?}");
        }
    }

    #[test]
    fn locations_are_range_checked() {
        let at = |latitude, longitude| Location {
            latitude,
            longitude,
            label: None,
        };
        assert!(at(18.52, 73.85).validate().is_ok());
        assert!(at(-90.0, 180.0).validate().is_ok());
        assert!(at(90.1, 0.0).validate().is_err());
        assert!(at(0.0, -180.5).validate().is_err());
        assert!(at(f64::NAN, 0.0).validate().is_err());
        let long = Location {
            label: Some("x".repeat(300)),
            ..at(0.0, 0.0)
        };
        assert!(long.validate().is_err());
    }

    #[test]
    fn highlights_cover_every_occurrence_of_every_term() {
        let segments = highlight("Deploy on Friday, deploy!", &["deploy".into()]);
        let text: Vec<(&str, bool)> = segments
            .iter()
            .map(|s| (s.text.as_str(), s.matched))
            .collect();
        assert_eq!(
            text,
            [
                ("Deploy", true),
                (" on Friday, ", false),
                ("deploy", true),
                ("!", false)
            ]
        );
        let cjk = highlight("東京タワーへ行く", &["タワー".into()]);
        assert_eq!(cjk[1].text, "タワー");
        assert!(cjk[1].matched);
        assert_eq!(highlight("", &["x".into()]), vec![]);
    }
}
