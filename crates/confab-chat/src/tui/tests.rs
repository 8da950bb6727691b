//! The full-screen client without a terminal: updates and keys into [`App`], frames out, and
//! the picture drawn on ratatui's test backend.

use confab_client::protocol::messaging::{
    Change, Location, MessageKind, Reaction, Update as MessageUpdate,
};
use confab_client::protocol::{
    Ack, AttachmentInfo, AttachmentKind, ChatMessage, ClientFrame, ConversationInfo, ErrorCode,
    History, Invitation, Limits, Presence, PresenceStatus, Ready, ServerFrame, TypingEvent,
    UserInfo,
};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use super::app::{App, Connection};
use super::view;
use crate::session::{Update, UploadEvent};

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
        stream: None,
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
    assert!(!shown.contains("over SSE"), "{shown}");

    // A `ready` that names an event stream: the status line says so.
    let Update::Ready(mut over_sse) = ready() else {
        unreachable!()
    };
    over_sse.stream = Some("0123456789abcdef0123456789abcdef".into());
    app.on_update(Update::Ready(over_sse));
    assert!(screen(&app).contains("online as alice · over SSE"));
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
        server: "127.0.0.1:8081".into(),
    });
    assert!(screen(&app).contains("reconnecting: connection closed"));
    assert!(
        screen(&app).contains("127.0.0.1:8081"),
        "the server it tries next"
    );
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

fn ack(reply_to: &str, id: &str, seq: u64, receiver: &str) -> Update {
    Update::Frame(ServerFrame::Ack(Ack {
        reply_to: reply_to.into(),
        id: Some(id.into()),
        seq: Some(seq),
        receiver: Some(receiver.into()),
        timestamp: Some(format!("2026-12-01T19:0{seq}:00.000Z")),
        duplicate: false,
    }))
}

fn update(change: Change, by: &str, message: ChatMessage) -> Update {
    Update::Frame(ServerFrame::Update(MessageUpdate {
        seq: 9,
        receiver: message.receiver.clone(),
        change,
        by: by.into(),
        message,
    }))
}

fn picture() -> AttachmentInfo {
    AttachmentInfo {
        id: "01JXB3M2X8V0T6R4P2N0K8H6F4".into(),
        kind: AttachmentKind::Image,
        name: "plan.png".into(),
        mime: "image/png".into(),
        size: 48_213,
        width: Some(640),
        height: Some(320),
        url: "/api/v1/attachments/01JXB3M2X8V0T6R4P2N0K8H6F4".into(),
        thumbnail_url: None,
    }
}

#[test]
fn updates_redraw_edited_deleted_and_reacted_messages() {
    let mut app = App::default();
    app.on_update(ready());
    app.on_update(Update::Frame(ServerFrame::History(History {
        reply_to: None,
        receiver: "#general".into(),
        messages: vec![
            message(1, "bob", "#general", "frist"),
            message(2, "carol", "#general", "secret"),
            message(3, "bob", "#general", "ship it"),
        ],
        has_more: false,
    })));
    let mut edited = message(1, "bob", "#general", "first");
    edited.edited = Some("2026-12-01T19:04:00.000Z".into());
    app.on_update(update(Change::Edited, "bob", edited));
    let mut gone = message(2, "carol", "#general", "");
    gone.deleted = true;
    app.on_update(update(Change::Deleted, "carol", gone));
    let mut liked = message(3, "bob", "#general", "ship it");
    liked.reactions = vec![Reaction {
        emoji: "👍".into(),
        count: 2,
        users: vec!["alice".into(), "carol".into()],
    }];
    app.on_update(update(Change::Reactions, "carol", liked));
    let shown = screen(&app);
    assert!(shown.contains("<bob> first (edited)"), "{shown}");
    assert!(
        !shown.contains("frist") && !shown.contains("secret"),
        "{shown}"
    );
    assert!(shown.contains("<carol> message deleted"), "{shown}");
    // A wide emoji takes two cells; the test backend shows the second as a space.
    assert!(shown.contains("<bob> ship it  👍  2"), "{shown}");
}

#[test]
fn your_own_edits_deletes_and_reactions_show_once_acknowledged() {
    let mut app = App::default();
    app.on_update(ready());
    let frames = type_line(&mut app, "teh plan");
    let line = frames.last().and_then(ClientFrame::id).unwrap().to_owned();
    app.on_update(ack(&line, "01MINE", 3, "#general"));
    let frames = type_line(&mut app, "/edit the plan");
    let Some(ClientFrame::Edit(edit)) = frames.last() else {
        panic!("{frames:?}")
    };
    assert_eq!(edit.message, "01MINE");
    assert!(
        screen(&app).contains("<alice> teh plan"),
        "not before the ack"
    );
    app.on_update(ack(edit.id.as_ref().unwrap(), "01UPD", 4, "#general"));
    assert!(screen(&app).contains("<alice> the plan (edited)"));

    let frames = type_line(&mut app, "/react 🎉");
    let Some(ClientFrame::React(react)) = frames.last() else {
        panic!("{frames:?}")
    };
    app.on_update(ack(react.id.as_ref().unwrap(), "01UPD2", 5, "#general"));
    assert!(screen(&app).contains("the plan (edited)  🎉  1"));

    let frames = type_line(&mut app, "/delete");
    let Some(ClientFrame::Delete(delete)) = frames.last() else {
        panic!("{frames:?}")
    };
    let refused = ServerFrame::error(
        ErrorCode::Forbidden,
        "only the sender may delete",
        delete.id.clone(),
    );
    app.on_update(Update::Frame(refused));
    assert!(app.notice.contains("forbidden"), "{}", app.notice);
    assert!(
        screen(&app).contains("the plan (edited)"),
        "a refusal changes nothing"
    );
    let frames = type_line(&mut app, "/delete");
    let Some(ClientFrame::Delete(delete)) = frames.last() else {
        panic!("{frames:?}")
    };
    app.on_update(ack(delete.id.as_ref().unwrap(), "01UPD3", 6, "#general"));
    let shown = screen(&app);
    assert!(shown.contains("<alice> message deleted"), "{shown}");

    // With none of yours loaded, the command looks in history first.
    let frames = type_line(&mut app, "/delete");
    assert!(
        matches!(frames.last(), Some(ClientFrame::History(h)) if h.limit == Some(100)),
        "{frames:?}"
    );
}

#[test]
fn attachments_and_locations_show_as_labels() {
    let mut app = App::default();
    app.on_update(ready());
    let mut with_file = message(3, "bob", "#general", "the plan");
    with_file.kind = MessageKind::Image;
    with_file.attachment = Some(picture());
    app.on_update(Update::Message(with_file));
    let mut here = message(4, "bob", "#general", "");
    here.kind = MessageKind::Location;
    here.location = Some(Location {
        latitude: 18.5204,
        longitude: 73.8567,
        label: Some("Pune".into()),
    });
    app.on_update(Update::Message(here));
    let shown = screen(&app);
    assert!(
        shown.contains("<bob> [image plan.png 47.1 KiB 640x320] the plan"),
        "{shown}"
    );
    assert!(
        shown.contains("<bob> [location 18.5204,73.8567 Pune]"),
        "{shown}"
    );
}

#[test]
fn uploads_show_progress_and_post_the_file() {
    let mut app = App::default();
    app.on_update(ready());
    assert!(type_line(&mut app, "/upload ~/plan.png plan").is_empty());
    let request = app.uploads.pop().expect("handed to the session");
    assert!(app.uploads.is_empty());
    assert_eq!(request.caption, "plan");
    assert_eq!(request.receiver.as_str(), "#general");
    assert!(request.path.ends_with("plan.png"));
    app.on_update(Update::Upload(UploadEvent::Progress {
        id: request.id.clone(),
        sent: 24_000,
        total: 48_213,
    }));
    assert!(
        app.notice.contains("plan.png (47.1 KiB): 49%"),
        "{}",
        app.notice
    );
    app.on_update(Update::Upload(UploadEvent::Done {
        id: request.id.clone(),
        attachment: picture(),
    }));
    assert!(app.notice.contains("uploaded"), "{}", app.notice);
    app.on_update(ack(&request.id, "01POST", 3, "#general"));
    let shown = screen(&app);
    assert!(
        shown.contains("<alice> [image plan.png 47.1 KiB 640x320] plan"),
        "{shown}"
    );

    type_line(&mut app, "/upload big.iso");
    let request = app.uploads.pop().unwrap();
    app.on_update(Update::Upload(UploadEvent::Failed {
        id: request.id,
        error: "too_large: upload is over 26214400 bytes".into(),
    }));
    assert!(
        app.notice.contains("upload of big.iso failed: too_large"),
        "{}",
        app.notice
    );
}

#[test]
fn invitations_are_shown_and_accepting_switches_to_the_room() {
    let mut app = App::default();
    app.on_update(ready());
    app.on_update(Update::Frame(ServerFrame::Invitation(Invitation {
        id: "01INV".into(),
        room: "#club".into(),
        from: "bob".into(),
        created: "2026-12-01T19:00:00.000Z".into(),
    })));
    assert!(
        screen(&app).contains("bob invites you to #club: /accept 01INV or /decline 01INV"),
        "{}",
        app.notice
    );
    let frames = type_line(&mut app, "/accept 01INV");
    assert!(
        matches!(&frames[0], ClientFrame::InviteReply(r) if r.accept && r.invitation == "01INV"),
        "{frames:?}"
    );
    assert_eq!(app.current().unwrap().name, "#club");
    let frames = type_line(&mut app, "/invite carol");
    assert!(
        matches!(&frames[0], ClientFrame::Invite(i) if i.room.as_str() == "#club" && i.user.as_str() == "carol"),
        "{frames:?}"
    );
    app.on_update(Update::Frame(ServerFrame::Ack(Ack {
        reply_to: frames[0].id().unwrap().into(),
        ..Ack::default()
    })));
    assert_eq!(app.notice, "invited carol to #club");
}

#[test]
fn an_insecure_connection_says_so_on_the_status_line_throughout() {
    let mut app = App::default();
    app.warning = Some(crate::INSECURE_BADGE.to_owned());
    assert!(screen(&app).contains(crate::INSECURE_BADGE));
    app.on_update(ready());
    let shown = screen(&app);
    assert!(shown.contains(crate::INSECURE_BADGE), "{shown}");
    assert!(shown.contains("online as alice"), "{shown}");
    assert!(!screen(&App::default()).contains("INSECURE"));
}
