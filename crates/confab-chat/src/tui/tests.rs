//! The full-screen client without a terminal: updates and keys into [`App`], frames out, and
//! the picture drawn on ratatui's test backend.

use confab_client::protocol::{
    Ack, ChatMessage, ClientFrame, ConversationInfo, History, Limits, Presence, PresenceStatus,
    Ready, ServerFrame, TypingEvent, UserInfo,
};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use super::app::{App, Connection};
use super::view;
use crate::session::Update;

fn ready() -> Update {
    Update::Ready(Ready {
        protocol: 1,
        session: "1".into(),
        user: UserInfo {
            username: "alice".into(),
        },
        rooms: vec![
            ConversationInfo {
                receiver: "#general".into(),
                last_seq: 2,
            },
            ConversationInfo {
                receiver: "#ops".into(),
                last_seq: 0,
            },
        ],
        direct: vec![ConversationInfo {
            receiver: "bob".into(),
            last_seq: 1,
        }],
        limits: Limits::default(),
        token: None,
        reply_to: None,
    })
}

fn message(seq: u64, sender: &str, receiver: &str, content: &str) -> ChatMessage {
    ChatMessage {
        id: format!("01ID{seq:022}"),
        seq,
        sender: sender.into(),
        receiver: receiver.into(),
        content: content.into(),
        timestamp: format!("2026-12-01T19:0{seq}:00.000Z"),
        ..ChatMessage::default()
    }
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn ctrl(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}

/// Types a line and presses Enter; returns every frame the keys produced.
fn type_line(app: &mut App, text: &str) -> Vec<ClientFrame> {
    let mut frames = Vec::new();
    for c in text.chars() {
        frames.extend(app.on_key(key(KeyCode::Char(c))));
    }
    frames.extend(app.on_key(key(KeyCode::Enter)));
    frames
}

fn screen(app: &App) -> String {
    let mut terminal = Terminal::new(TestBackend::new(80, 20)).unwrap();
    terminal.draw(|frame| view::draw(frame, app)).unwrap();
    let buffer = terminal.backend().buffer();
    (0..buffer.area.height)
        .map(|y| {
            (0..buffer.area.width)
                .map(|x| buffer[(x, y)].symbol())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn ready_lists_conversations_and_loads_the_current_one() {
    let mut app = App::default();
    let frames = app.on_update(ready());
    assert_eq!(app.connection, Connection::Online);
    let names: Vec<&str> = app.conversations.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        ["#general", "#ops", "bob"],
        "rooms first, then people"
    );
    assert!(matches!(&frames[..], [ClientFrame::History(h)] if h.receiver.as_str() == "#general"));

    app.on_update(Update::Frame(ServerFrame::History(History {
        reply_to: None,
        receiver: "#general".into(),
        messages: vec![
            message(1, "bob", "#general", "first"),
            message(2, "carol", "#general", "second"),
        ],
        has_more: false,
    })));
    let shown = screen(&app);
    assert!(shown.contains("<bob> first"), "{shown}");
    assert!(shown.contains("19:02 <carol> second"), "{shown}");
    assert!(shown.contains("online as alice"), "{shown}");
}

#[test]
fn messages_elsewhere_count_as_unread_until_visited() {
    let mut app = App::default();
    app.on_update(ready());
    app.on_update(Update::Message(message(2, "bob", "alice", "psst")));
    app.on_update(Update::Frame(ServerFrame::Presence(Presence {
        user: "bob".into(),
        status: PresenceStatus::Online,
    })));
    let shown = screen(&app);
    assert!(shown.contains("● @bob (1)"), "{shown}");
    app.on_key(ctrl('p'));
    assert_eq!(app.current().unwrap().name, "bob");
    assert_eq!(app.current().unwrap().unread, 0);
    assert!(screen(&app).contains("<bob> psst"));
}

#[test]
fn typing_sends_messages_commands_and_notices() {
    let mut app = App::default();
    app.on_update(ready());
    let frames = type_line(&mut app, "hello all");
    let ClientFrame::Message(sent) = frames.last().unwrap() else {
        panic!("{frames:?}")
    };
    assert_eq!(
        (sent.receiver.as_str(), sent.content.as_str()),
        ("#general", "hello all")
    );
    assert!(
        frames.iter().any(|f| matches!(f, ClientFrame::Typing(_))),
        "a typing notice went out"
    );
    // Shown once acknowledged, with the server's seq.
    app.on_update(Update::Frame(ServerFrame::Ack(Ack {
        reply_to: sent.id.clone().unwrap(),
        id: Some("01X".into()),
        seq: Some(3),
        receiver: Some("#general".into()),
        timestamp: Some("2026-12-01T19:05:00.000Z".into()),
        duplicate: false,
    })));
    assert!(screen(&app).contains("<alice> hello all"));

    let frames = type_line(&mut app, "/join #rust");
    assert!(
        matches!(&frames[0], ClientFrame::Join(j) if j.room.as_str() == "#rust"),
        "{frames:?}"
    );
    assert_eq!(app.current().unwrap().name, "#rust");
    let frames = type_line(&mut app, "/msg bob hi");
    assert!(matches!(&frames[0], ClientFrame::Message(m) if m.receiver.as_str() == "bob"));
    assert_eq!(app.current().unwrap().name, "bob");
    assert!(type_line(&mut app, "/dance").is_empty());
    assert!(app.notice.contains("unknown command"), "{}", app.notice);
    type_line(&mut app, "/quit");
    assert!(app.quit);
}

#[test]
fn the_input_line_edits_recalls_and_completes() {
    let mut app = App::default();
    app.on_update(ready());
    type_line(&mut app, "first line");
    for c in "helo".chars() {
        app.on_key(key(KeyCode::Char(c)));
    }
    app.on_key(key(KeyCode::Left));
    app.on_key(key(KeyCode::Char('l')));
    assert_eq!(app.input, "hello");
    app.on_key(key(KeyCode::Home));
    app.on_key(key(KeyCode::Delete));
    assert_eq!(app.input, "ello");
    app.on_key(key(KeyCode::Up));
    assert_eq!(app.input, "first line", "history recall");
    app.on_key(key(KeyCode::Down));
    assert_eq!(app.input, "");
    for c in "/jo".chars() {
        app.on_key(key(KeyCode::Char(c)));
    }
    app.on_key(key(KeyCode::Tab));
    assert_eq!(app.input, "/join ");
    for c in "#op".chars() {
        app.on_key(key(KeyCode::Char(c)));
    }
    app.on_key(key(KeyCode::Tab));
    assert_eq!(app.input, "/join #ops ");
}

#[test]
fn typing_and_reconnecting_show_in_the_status_line() {
    let mut app = App::default();
    app.on_update(ready());
    app.on_update(Update::Frame(ServerFrame::Typing(TypingEvent {
        sender: "bob".into(),
        receiver: "#general".into(),
    })));
    assert!(screen(&app).contains("bob is typing"));
    app.on_update(Update::Reconnecting {
        reason: "connection closed".into(),
        delay: std::time::Duration::from_secs(2),
    });
    assert!(screen(&app).contains("reconnecting: connection closed"));
}

#[test]
fn scrolling_back_asks_for_older_history() {
    let mut app = App::default();
    app.on_update(ready());
    app.on_update(Update::Frame(ServerFrame::History(History {
        reply_to: None,
        receiver: "#general".into(),
        messages: (5..=9)
            .map(|s| message(s, "bob", "#general", "m"))
            .collect(),
        has_more: true,
    })));
    let frames = app.on_key(key(KeyCode::PageUp));
    match &frames[..] {
        [ClientFrame::History(h)] => {
            assert_eq!(h.before.as_deref(), Some("01ID0000000000000000000005"))
        }
        other => panic!("{other:?}"),
    }
}
