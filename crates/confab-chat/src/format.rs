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
//!
//! A message with an attachment or a location starts its content with a bracketed label
//! (the caption follows it), a deleted one reads `(message deleted)`, an edited one ends in
//! ` (edited)`, and reactions follow as ` [👍 2 🎉 1]`:
//!
//! ```text
//! 2026-12-01T19:00:09.000Z #ops <alice> [image plan.png 47.1 KiB 640x320 /api/v1/attachments/01JX…] the plan
//! 2026-12-01T19:00:10.000Z #ops <alice> [location 18.5204,73.8567 Pune] here
//! 2026-12-01T19:00:11.000Z #ops <bob> (message deleted)
//! ```
//!
//! Changes and events are lines whose third field is `*` (never a user name):
//!
//! ```text
//! 2026-12-01T19:05:00.000Z #ops * alice edited 01JX…: the new text
//! 2026-12-01T19:06:00.000Z #ops * alice deleted 01JX…
//! 2026-12-01T19:07:00.000Z #ops * bob reactions 01JX…: 👍 2 🎉 1
//! 2026-12-01T19:08:00.000Z #club * alice invites you: /accept 01JX… or /decline 01JX…
//! 2026-12-01T19:09:00.000Z #club * bob accepted the invitation 01JX…
//! ```

use confab_client::protocol::messaging::{Location, Reaction, Update};
use confab_client::protocol::{AttachmentInfo, ChatMessage, Invitation, InvitationAnswered};

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
        body(message, escape)
    )
}

/// What a message holds, as text: the attachment or location label, the content (through
/// `text`), `(edited)`, the reactions; `(message deleted)` for a tombstone.
pub fn body(message: &ChatMessage, text: impl Fn(&str) -> String) -> String {
    if message.deleted {
        return "(message deleted)".to_owned();
    }
    let mut parts = Vec::new();
    if let Some(attachment) = &message.attachment {
        parts.push(format!("[{}]", attachment_label(attachment, true)));
    }
    if let Some(location) = &message.location {
        parts.push(format!("[{}]", location_label(location)));
    }
    if !message.content.is_empty() {
        parts.push(text(&message.content));
    }
    if message.edited.is_some() {
        parts.push("(edited)".to_owned());
    }
    if !message.reactions.is_empty() {
        parts.push(format!("[{}]", reactions_label(&message.reactions)));
    }
    parts.join(" ")
}

/// `image plan.png 47.1 KiB 640x320`, and the download path when `url` is set. Never the
/// bytes themselves.
pub fn attachment_label(attachment: &AttachmentInfo, url: bool) -> String {
    let mut label = format!(
        "{} {} {}",
        attachment.kind.as_str(),
        escape(&attachment.name),
        size(attachment.size)
    );
    if let (Some(width), Some(height)) = (attachment.width, attachment.height) {
        label.push_str(&format!(" {width}x{height}"));
    }
    if url {
        label.push(' ');
        label.push_str(&attachment.url);
    }
    label
}

/// `location 18.5204,73.8567 Pune`.
pub fn location_label(location: &Location) -> String {
    let mut label = format!("location {},{}", location.latitude, location.longitude);
    if let Some(name) = location.label.as_deref().filter(|l| !l.is_empty()) {
        label.push(' ');
        label.push_str(&escape(name));
    }
    label
}

/// `👍 2 🎉 1`, in the order the emoji were first used.
pub fn reactions_label(reactions: &[Reaction]) -> String {
    reactions
        .iter()
        .map(|r| format!("{} {}", r.emoji, r.count))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A size for people: `512 B`, `47.1 KiB`, `3.0 MiB`, `1.2 GiB`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 3] = ["KiB", "MiB", "GiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// The conversation an update belongs to, for the user `me`.
pub fn update_conversation(update: &Update, me: &str) -> String {
    if update.receiver.starts_with('#') || update.by == me {
        update.receiver.clone()
    } else {
        update.by.clone()
    }
}

/// One update as one line; `now` is the time of changes that carry none of their own
/// (deletes, reactions).
pub fn update_line(update: &Update, me: &str, now: &str) -> String {
    use confab_client::protocol::messaging::Change;
    let conversation = label(&update_conversation(update, me));
    let message = &update.message;
    match update.change {
        Change::Edited => format!(
            "{} {conversation} * {} edited {}: {}",
            message.edited.as_deref().unwrap_or(now),
            update.by,
            message.id,
            escape(&message.content)
        ),
        Change::Deleted => format!(
            "{now} {conversation} * {} deleted {}",
            update.by, message.id
        ),
        Change::Reactions => {
            let reactions = if message.reactions.is_empty() {
                "none".to_owned()
            } else {
                reactions_label(&message.reactions)
            };
            format!(
                "{now} {conversation} * {} reactions {}: {reactions}",
                update.by, message.id
            )
        }
    }
}

/// An invitation, with the commands that answer it.
pub fn invitation_line(invitation: &Invitation) -> String {
    format!(
        "{} {} * {} invites you: /accept {} or /decline {}",
        invitation.created, invitation.room, invitation.from, invitation.id, invitation.id
    )
}

/// An invitation accepted or declined.
pub fn answered_line(answered: &InvitationAnswered, now: &str) -> String {
    let verb = if answered.accepted {
        "accepted"
    } else {
        "declined"
    };
    format!(
        "{now} {} * {} {verb} the invitation {}",
        answered.room, answered.user, answered.id
    )
}

/// Now, in the server's format: RFC 3339, UTC, milliseconds.
pub fn now() -> String {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(since.as_millis() as u64)
}

/// Milliseconds since 1970 as `2026-12-01T19:00:00.123Z`.
fn rfc3339(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rest = secs % 86_400;
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        ms % 1000
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
    fn times_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_796_151_600_123), "2026-12-01T19:00:00.123Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(1023), "1023 B");
        assert_eq!(size(48_213), "47.1 KiB");
        assert_eq!(size(3 * 1024 * 1024), "3.0 MiB");
        assert_eq!(size(5 << 40), "5120.0 GiB");
    }

    #[test]
    fn attachments_locations_edits_deletes_and_reactions_show_in_the_line() {
        use confab_client::protocol::messaging::MessageKind;
        use confab_client::protocol::AttachmentKind;
        let mut picture = message("alice", "#ops", "the plan");
        picture.kind = MessageKind::Image;
        picture.attachment = Some(AttachmentInfo {
            id: "01JXB3M2X8V0T6R4P2N0K8H6F4".into(),
            kind: AttachmentKind::Image,
            name: "plan\nv2.png".into(),
            mime: "image/png".into(),
            size: 48_213,
            width: Some(640),
            height: Some(320),
            url: "/api/v1/attachments/01JXB3M2X8V0T6R4P2N0K8H6F4".into(),
            thumbnail_url: None,
        });
        assert_eq!(
            line(&picture, "bob"),
            "2026-12-01T19:00:00.123Z #ops <alice> [image plan\\nv2.png 47.1 KiB 640x320 \
             /api/v1/attachments/01JXB3M2X8V0T6R4P2N0K8H6F4] the plan"
        );
        let mut here = message("alice", "bob", "");
        here.location = Some(Location {
            latitude: 18.5204,
            longitude: 73.8567,
            label: Some("Pune".into()),
        });
        here.edited = Some("2026-12-01T19:01:00.000Z".into());
        assert_eq!(
            line(&here, "bob"),
            "2026-12-01T19:00:00.123Z @alice <alice> [location 18.5204,73.8567 Pune] (edited)"
        );
        let mut liked = message("bob", "#ops", "ship it");
        liked.reactions = vec![
            Reaction {
                emoji: "👍".into(),
                count: 2,
                users: vec!["alice".into(), "carol".into()],
            },
            Reaction {
                emoji: "🎉".into(),
                count: 1,
                users: vec!["alice".into()],
            },
        ];
        assert!(line(&liked, "bob").ends_with("<bob> ship it [👍 2 🎉 1]"));
        let gone = ChatMessage {
            deleted: true,
            content: String::new(),
            ..message("bob", "#ops", "")
        };
        assert!(line(&gone, "bob").ends_with("#ops <bob> (message deleted)"));
    }

    #[test]
    fn updates_and_invitations_are_star_lines() {
        use confab_client::protocol::messaging::Change;
        let now = "2026-12-01T19:09:00.000Z";
        let mut edited = message("alice", "bob", "new\ntext");
        edited.edited = Some("2026-12-01T19:05:00.000Z".into());
        let update = |change, by: &str, receiver: &str, message: ChatMessage| Update {
            seq: 9,
            receiver: receiver.into(),
            change,
            by: by.into(),
            message,
        };
        assert_eq!(
            update_line(&update(Change::Edited, "alice", "bob", edited), "bob", now),
            "2026-12-01T19:05:00.000Z @alice * alice edited 01: new\\ntext"
        );
        let gone = ChatMessage {
            deleted: true,
            ..message("alice", "#ops", "")
        };
        assert_eq!(
            update_line(&update(Change::Deleted, "carol", "#ops", gone), "bob", now),
            "2026-12-01T19:09:00.000Z #ops * carol deleted 01"
        );
        let plain = message("bob", "alice", "hi");
        assert_eq!(
            update_line(
                &update(Change::Reactions, "bob", "alice", plain),
                "bob",
                now
            ),
            "2026-12-01T19:09:00.000Z @alice * bob reactions 01: none"
        );
        let invitation = Invitation {
            id: "01JXB3KB7Y1Z3X5V7T9S1Q3P5N".into(),
            room: "#club".into(),
            from: "alice".into(),
            created: "2026-12-01T19:08:00.000Z".into(),
        };
        assert_eq!(
            invitation_line(&invitation),
            "2026-12-01T19:08:00.000Z #club * alice invites you: \
             /accept 01JXB3KB7Y1Z3X5V7T9S1Q3P5N or /decline 01JXB3KB7Y1Z3X5V7T9S1Q3P5N"
        );
        let answered = InvitationAnswered {
            id: "01JXB3KB7Y1Z3X5V7T9S1Q3P5N".into(),
            room: "#club".into(),
            user: "bob".into(),
            accepted: true,
        };
        assert_eq!(
            answered_line(&answered, now),
            "2026-12-01T19:09:00.000Z #club * bob accepted the invitation 01JXB3KB7Y1Z3X5V7T9S1Q3P5N"
        );
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
