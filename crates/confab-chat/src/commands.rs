//! Slash commands: what a typed line means. A line that is not a command is a message to the
//! current conversation.

use confab_client::protocol::{Receiver, RoomName, Username};

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
    ("/help", "               this list"),
    (
        "/quit",
        "               leave (after pending messages are acknowledged)",
    ),
];

/// Commands that need server features this version does not have yet.
const NOT_YET: &[&str] = &["/invite", "/edit", "/delete", "/upload"];

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
        "/help" => Ok(Action::Help),
        "/quit" | "/exit" => Ok(Action::Quit),
        other if NOT_YET.contains(&other) => {
            Err(format!("{other} needs a newer server (not supported yet)"))
        }
        other => Err(format!("unknown command {other}; /help lists them")),
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
        assert!(parse("/edit 3 x").unwrap_err().contains("not supported"));
        assert!(parse("/dance").unwrap_err().contains("unknown"));
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
    }
}
