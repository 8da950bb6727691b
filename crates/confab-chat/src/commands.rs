//! Slash commands: what a typed line means. A line that is not a command is a message to the
//! current conversation.

use std::path::PathBuf;

use confab_client::protocol::messaging::is_emoji;
use confab_client::protocol::{Receiver, RoomName, Username};

/// Which of your own messages in the current conversation a command names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Your n-th most recent message here that is not deleted: 1 is the last one.
    Recent(u32),
    /// A message by its server id (26 characters).
    Id(String),
}

/// The largest `n` a command may name (`/edit 500 x` is refused).
pub const MAX_RECENT: u32 = 500;

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send text to the current conversation.
    Say(String),
    /// `/join #room`: join and make it current.
    Join(RoomName),
    /// `/leave [#room]`: leave it (default: the current room).
    Leave(Option<RoomName>),
    /// `/msg user text`: a direct message (and make that conversation current).
    Msg(Username, String),
    /// `/rooms`.
    Rooms,
    /// `/who [#room]`: members of a room (default: the current one).
    Who(Option<RoomName>),
    /// `/history [n]`: the last n messages of the current conversation.
    History(u32),
    /// `/edit [n|id] text`: replace the content of one of your messages here.
    Edit(Target, String),
    /// `/delete [n|id]`: delete one of your messages here.
    Delete(Target),
    /// `/react [n|id] emoji`: toggle your reaction on one of your messages here.
    React(Target, String),
    /// `/invite user [#room]`: invite a user into a room (default: the current one).
    Invite(Username, Option<RoomName>),
    /// `/accept id`: accept an invitation (and switch to its room).
    Accept(String),
    /// `/decline id`: decline an invitation.
    Decline(String),
    /// `/invites`: list your pending invitations.
    Invites,
    /// `/redeem code`: join a room with an invite code (or link ending in `/invite/<code>`).
    Redeem(String),
    /// `/upload file [caption]`: upload a file and post it here (`"quoted"` if the path has
    /// spaces).
    Upload(PathBuf, String),
    /// `/help`.
    Help,
    /// `/quit`.
    Quit,
}

/// Every command, for `/help` and completion.
pub const COMMANDS: &[(&str, &str)] = &[
    (
        "/join",
        "#room          join a room (created if new) and switch to it",
    ),
    (
        "/leave",
        "[#room]       leave a room (default: the current one)",
    ),
    (
        "/msg",
        "user text       send a direct message and switch to that conversation",
    ),
    ("/rooms", "             list the rooms"),
    (
        "/who",
        "[#room]         list a room's members and who is online",
    ),
    (
        "/history",
        "[n]         show the last n messages here (default 20)",
    ),
    (
        "/edit",
        "[n] text       edit your last (or n-th last) message here",
    ),
    (
        "/delete",
        "[n]          delete your last (or n-th last) message here",
    ),
    (
        "/react",
        "[n] emoji     toggle a reaction on your last (or n-th last) message here",
    ),
    ("/upload", "file [caption] upload a file and post it here"),
    (
        "/invite",
        "user [#room]  invite someone into a room (default: the current one)",
    ),
    (
        "/invites",
        "            list the invitations waiting for you",
    ),
    (
        "/accept",
        "id           accept an invitation and switch to its room",
    ),
    ("/decline", "id          decline an invitation"),
    (
        "/redeem",
        "code         join a room with an invite code or link",
    ),
    ("/help", "               this list"),
    (
        "/quit",
        "               leave (after pending messages are acknowledged)",
    ),
];

/// Parses a typed line.
pub fn parse(line: &str) -> Result<Action, String> {
    let line = line.trim_end_matches(['\r', '\n']);
    if !line.starts_with('/') || line.starts_with("//") {
        let text = line.strip_prefix('/').unwrap_or(line);
        return Ok(Action::Say(text.to_owned()));
    }
    let mut words = line.splitn(3, ' ');
    let command = words.next().unwrap_or_default();
    let first = words.next().map(str::trim).filter(|w| !w.is_empty());
    let rest = words.next().map(str::trim).filter(|w| !w.is_empty());
    let after_command = line.split_once(' ').map_or("", |(_, after)| after);
    let room = |raw: Option<&str>| -> Result<Option<RoomName>, String> {
        raw.map(|r| {
            let r = if r.starts_with('#') {
                r.to_owned()
            } else {
                format!("#{r}")
            };
            RoomName::parse(&r).map_err(|e| e.0)
        })
        .transpose()
    };
    match command {
        "/join" => room(first)?
            .map(Action::Join)
            .ok_or("usage: /join #room".into()),
        "/leave" | "/part" => room(first).map(Action::Leave),
        "/msg" => {
            let (Some(user), Some(text)) = (first, rest) else {
                return Err("usage: /msg user text".into());
            };
            let user = Username::parse(user).map_err(|e| e.0)?;
            Ok(Action::Msg(user, text.to_owned()))
        }
        "/rooms" | "/list" => Ok(Action::Rooms),
        "/who" | "/names" => room(first).map(Action::Who),
        "/history" => match first {
            None => Ok(Action::History(20)),
            Some(n) => n
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .map(Action::History)
                .ok_or("usage: /history [n]".into()),
        },
        "/edit" => {
            let usage = || "usage: /edit [n] text".to_owned();
            let (target, text) = target_and_text(after_command).ok_or_else(usage)?;
            Ok(Action::Edit(target, text))
        }
        "/delete" | "/del" => {
            let usage = "usage: /delete [n]";
            match (first, rest) {
                (None, _) => Ok(Action::Delete(Target::Recent(1))),
                (Some(word), None) => target(word).map(Action::Delete).ok_or(usage.into()),
                _ => Err(usage.into()),
            }
        }
        "/react" => {
            let usage = || "usage: /react [n] emoji".to_owned();
            let (target, emoji) = target_and_text(after_command).ok_or_else(usage)?;
            if !is_emoji(&emoji) {
                return Err(format!("{emoji:?} is not one emoji"));
            }
            Ok(Action::React(target, emoji))
        }
        "/invite" => {
            let (Some(user), room_name) = (first, rest) else {
                return Err("usage: /invite user [#room]".into());
            };
            let user = Username::parse(user).map_err(|e| e.0)?;
            Ok(Action::Invite(user, room(room_name)?))
        }
        "/invites" | "/invitations" => Ok(Action::Invites),
        "/accept" | "/decline" => {
            let (Some(id), None) = (first, rest) else {
                return Err(format!("usage: {command} id"));
            };
            if !is_token(id) {
                return Err(format!("{id:?} is not an invitation id"));
            }
            Ok(if command == "/accept" {
                Action::Accept(id.to_owned())
            } else {
                Action::Decline(id.to_owned())
            })
        }
        "/redeem" => {
            let (Some(code), None) = (first, rest) else {
                return Err("usage: /redeem code".into());
            };
            let code = code
                .rsplit_once("/invite/")
                .map_or(code, |(_, code)| code)
                .trim_end_matches('/');
            if !is_token(code) {
                return Err(format!("{code:?} is not an invite code"));
            }
            Ok(Action::Redeem(code.to_owned()))
        }
        "/upload" => {
            let usage = || "usage: /upload file [caption]".to_owned();
            let raw = after_command.trim_start();
            let (file, caption) = match raw.strip_prefix('"') {
                Some(quoted) => quoted.split_once('"').ok_or_else(usage)?,
                None => raw.split_once(' ').unwrap_or((raw, "")),
            };
            if file.is_empty() {
                return Err(usage());
            }
            Ok(Action::Upload(
                PathBuf::from(expand_home(file)),
                caption.trim().to_owned(),
            ))
        }
        "/help" => Ok(Action::Help),
        "/quit" | "/exit" => Ok(Action::Quit),
        other => Err(format!("unknown command {other}; /help lists them")),
    }
}

/// A message named by a word: a count `n` (1 to [`MAX_RECENT`]) or a 26-character server id.
fn target(word: &str) -> Option<Target> {
    if let Ok(n) = word.parse::<u32>() {
        return (1..=MAX_RECENT).contains(&n).then_some(Target::Recent(n));
    }
    let id = word.len() == 26 && word.bytes().all(|b| b.is_ascii_alphanumeric());
    id.then(|| Target::Id(word.to_ascii_uppercase()))
}

/// `[n|id] text`: a target when the first word is one and text follows, else the last message
/// and all of the text. A target with nothing after it is refused (`/edit 2` is more likely a
/// mistake than the text "2"; write `/edit 1 2`).
fn target_and_text(raw: &str) -> Option<(Target, String)> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    let (first, rest) = raw
        .split_once(' ')
        .map_or((raw, ""), |(first, rest)| (first, rest.trim_start()));
    match (target(first), rest.is_empty()) {
        (Some(target), false) => Some((target, rest.to_owned())),
        (Some(_), true) => None,
        (None, _) => Some((Target::Recent(1), raw.to_owned())),
    }
}

/// Ids and codes: 1 to 64 of `A-Z a-z 0-9 - _`.
fn is_token(word: &str) -> bool {
    (1..=64).contains(&word.len())
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `~/file` is the file in the home directory.
fn expand_home(path: &str) -> String {
    match (path.strip_prefix("~/"), std::env::var("HOME")) {
        (Some(rest), Ok(home)) => format!("{home}/{rest}"),
        _ => path.to_owned(),
    }
}

/// Completes the word being typed: commands, then room and user names from `names`.
pub fn complete(line: &str, names: &[String]) -> Option<String> {
    let start = line.rfind(' ').map_or(0, |i| i + 1);
    let word = &line[start..];
    if word.is_empty() {
        return None;
    }
    let candidates: Vec<&str> = if start == 0 && word.starts_with('/') {
        COMMANDS.iter().map(|(c, _)| *c).collect()
    } else {
        names.iter().map(String::as_str).collect()
    };
    let mut matches = candidates.into_iter().filter(|c| c.starts_with(word));
    let first = matches.next()?;
    if matches.next().is_some() {
        return None;
    }
    Some(format!("{}{first} ", &line[..start]))
}

/// The receiver a conversation name stands for.
pub fn receiver(name: &str) -> Result<Receiver, String> {
    Receiver::parse(name).map_err(|e| e.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_become_actions() {
        assert_eq!(parse("hello"), Ok(Action::Say("hello".into())));
        assert_eq!(
            parse("//not a command"),
            Ok(Action::Say("/not a command".into()))
        );
        assert_eq!(
            parse("/join ops"),
            Ok(Action::Join(RoomName::parse("#ops").unwrap()))
        );
        assert_eq!(parse("/leave"), Ok(Action::Leave(None)));
        assert_eq!(
            parse("/msg Bob see you at 5"),
            Ok(Action::Msg(
                Username::parse("bob").unwrap(),
                "see you at 5".into()
            ))
        );
        assert_eq!(parse("/history 5"), Ok(Action::History(5)));
        assert!(parse("/msg bob").is_err());
        assert!(parse("/join").is_err());
        assert!(parse("/dance").unwrap_err().contains("unknown"));
    }

    #[test]
    fn edit_delete_and_react_name_your_messages() {
        let id = "01JXB3K9A0W2H4J6K8M0P2R4ST";
        assert_eq!(
            parse("/edit fixed  typo"),
            Ok(Action::Edit(Target::Recent(1), "fixed  typo".into()))
        );
        assert_eq!(
            parse("/edit 2 second to last"),
            Ok(Action::Edit(Target::Recent(2), "second to last".into()))
        );
        assert_eq!(
            parse("/edit 1 2 apples"),
            Ok(Action::Edit(Target::Recent(1), "2 apples".into()))
        );
        assert_eq!(
            parse(&format!("/edit {} by id", id.to_lowercase())),
            Ok(Action::Edit(Target::Id(id.into()), "by id".into()))
        );
        assert_eq!(
            parse("/edit 0 zero is text"),
            Ok(Action::Edit(Target::Recent(1), "0 zero is text".into()))
        );
        assert!(parse("/edit").is_err());
        assert!(parse("/edit 3").unwrap_err().contains("usage"));
        assert_eq!(parse("/delete"), Ok(Action::Delete(Target::Recent(1))));
        assert_eq!(parse("/delete 3"), Ok(Action::Delete(Target::Recent(3))));
        assert_eq!(
            parse(&format!("/delete {id}")),
            Ok(Action::Delete(Target::Id(id.into())))
        );
        assert!(parse("/delete 501").is_err(), "past MAX_RECENT");
        assert!(parse("/delete last one").is_err());
        assert_eq!(
            parse("/react 👍"),
            Ok(Action::React(Target::Recent(1), "👍".into()))
        );
        assert_eq!(
            parse("/react 2 🎉"),
            Ok(Action::React(Target::Recent(2), "🎉".into()))
        );
        assert!(parse("/react yes").unwrap_err().contains("not one emoji"));
        assert!(parse("/react 2").is_err());
    }

    #[test]
    fn invitations_codes_and_uploads() {
        assert_eq!(
            parse("/invite Bob"),
            Ok(Action::Invite(Username::parse("bob").unwrap(), None))
        );
        assert_eq!(
            parse("/invite bob club"),
            Ok(Action::Invite(
                Username::parse("bob").unwrap(),
                Some(RoomName::parse("#club").unwrap())
            ))
        );
        assert!(parse("/invite").is_err());
        assert!(parse("/invite b@d").is_err());
        let id = "01JXB3KB7Y1Z3X5V7T9S1Q3P5N";
        assert_eq!(
            parse(&format!("/accept {id}")),
            Ok(Action::Accept(id.into()))
        );
        assert_eq!(
            parse(&format!("/decline {id}")),
            Ok(Action::Decline(id.into()))
        );
        assert!(parse("/accept").is_err());
        assert!(parse("/accept a b").is_err());
        assert!(parse("/decline no/way").is_err());
        assert_eq!(parse("/invites"), Ok(Action::Invites));
        let code = "q3Zt0bW9xX2u7VfJm1k8Aw";
        assert_eq!(
            parse(&format!("/redeem {code}")),
            Ok(Action::Redeem(code.into()))
        );
        assert_eq!(
            parse(&format!("/redeem https://chat.example/invite/{code}")),
            Ok(Action::Redeem(code.into()))
        );
        assert!(parse("/redeem").is_err());
        assert!(parse("/redeem bad!code").is_err());
        assert_eq!(
            parse("/upload plan.png the plan for friday"),
            Ok(Action::Upload(
                "plan.png".into(),
                "the plan for friday".into()
            ))
        );
        assert_eq!(
            parse("/upload notes.txt"),
            Ok(Action::Upload("notes.txt".into(), String::new()))
        );
        assert_eq!(
            parse(r#"/upload "my plan v2.png" with spaces"#),
            Ok(Action::Upload(
                "my plan v2.png".into(),
                "with spaces".into()
            ))
        );
        assert!(parse("/upload").is_err());
        assert!(parse(r#"/upload "unclosed.png"#).is_err());
        assert!(parse(r#"/upload "" caption"#).is_err());
    }

    #[test]
    fn help_lists_every_command() {
        for command in [
            "/edit", "/delete", "/react", "/upload", "/invite", "/invites", "/accept", "/decline",
            "/redeem",
        ] {
            assert!(COMMANDS.iter().any(|(c, _)| *c == command), "{command}");
            assert!(
                !parse(command).err().unwrap_or_default().contains("unknown"),
                "{command} is known"
            );
        }
    }

    #[test]
    fn completion_needs_a_unique_prefix() {
        let names = vec![
            "#general".to_owned(),
            "#gophers".to_owned(),
            "alice".to_owned(),
        ];
        assert_eq!(complete("/jo", &names), Some("/join ".into()));
        assert_eq!(
            complete("/join #ge", &names),
            Some("/join #general ".into())
        );
        assert_eq!(complete("/join #g", &names), None);
        assert_eq!(complete("/msg al", &names), Some("/msg alice ".into()));
        assert_eq!(complete("/up", &names), Some("/upload ".into()));
        assert_eq!(complete("/acc", &names), Some("/accept ".into()));
        assert_eq!(complete("/invite", &names), None, "/invite or /invites");
        assert_eq!(
            complete("/invite al", &names),
            Some("/invite alice ".into())
        );
        assert_eq!(complete("/de", &names), None, "/delete or /decline");
    }
}
