//! The line format of `confab chat --plain`, one received message per line:
//!
//! ```text
//! 2026-12-01T19:00:00.123Z #general <alice> hello everyone
//! 2026-12-01T19:00:05.456Z @bob <bob> a direct message from bob
//! 2026-12-01T19:00:07.000Z @bob <alice> my reply, sent from another session
//! ```
//!
//! Fields are separated by one space: the server's timestamp, the conversation (`#room`, or
//! `@user` for direct messages with that user), the sender in angle brackets, the content.
//! Backslashes, newlines and carriage returns in the content are written as `\\`, `\n`, `\r`,
//! so every message is exactly one line.

use confab_client::protocol::ChatMessage;

/// The conversation a message belongs to, for the user `me`: the room, or the other user.
pub fn conversation(message: &ChatMessage, me: &str) -> String {
    if message.receiver.starts_with('#') || message.sender == me {
        message.receiver.clone()
    } else {
        message.sender.clone()
    }
}

/// A conversation as shown: `#room` or `@user`.
pub fn label(conversation: &str) -> String {
    if conversation.starts_with('#') {
        conversation.to_owned()
    } else {
        format!("@{conversation}")
    }
}

/// One message as one line.
pub fn line(message: &ChatMessage, me: &str) -> String {
    format!(
        "{} {} <{}> {}",
        message.timestamp,
        label(&conversation(message, me)),
        message.sender,
        escape(&message.content)
    )
}

fn escape(content: &str) -> String {
    let mut out = String::with_capacity(content.len());
    for c in content.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(sender: &str, receiver: &str, content: &str) -> ChatMessage {
        ChatMessage {
            id: "01".into(),
            seq: 1,
            sender: sender.into(),
            receiver: receiver.into(),
            content: content.into(),
            timestamp: "2026-12-01T19:00:00.123Z".into(),
            ..ChatMessage::default()
        }
    }

    #[test]
    fn one_message_one_line() {
        assert_eq!(
            line(&message("alice", "#general", "hi\nthere \\o/"), "bob"),
            "2026-12-01T19:00:00.123Z #general <alice> hi\\nthere \\\\o/"
        );
        assert_eq!(
            line(&message("alice", "bob", "psst"), "bob"),
            "2026-12-01T19:00:00.123Z @alice <alice> psst"
        );
        assert_eq!(
            line(&message("bob", "alice", "reply"), "bob"),
            "2026-12-01T19:00:00.123Z @alice <bob> reply"
        );
    }
}
