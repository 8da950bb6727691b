//! Drawing: the sidebar of conversations (unread counts, presence), the conversation (time,
//! sender in a colour of their own, text), the status line (connection, typing, the last
//! notice) and the input line. Reads the [`App`]; changes nothing.

use std::time::Instant;

use ratatui::layout::{Constraint, Layout, Position};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, List, ListItem, ListState, Paragraph, Wrap};
use ratatui::Frame;

use confab_client::protocol::ChatMessage;

use super::app::{App, Connection};
use crate::format;

const SENDER_COLOURS: [Color; 6] = [
    Color::Cyan,
    Color::Green,
    Color::Yellow,
    Color::Magenta,
    Color::Blue,
    Color::LightRed,
];

fn colour_of(name: &str) -> Color {
    let hash = name
        .bytes()
        .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    SENDER_COLOURS[hash as usize % SENDER_COLOURS.len()]
}

/// One message: time, sender, then what it holds. Attachments and locations show as a label
/// (kind, name, size; coordinates), never their bytes; a deleted message as a tombstone.
fn message_line(m: &ChatMessage) -> Line<'static> {
    let dim = Style::default().fg(Color::DarkGray);
    let time = m.timestamp.get(11..16).unwrap_or("");
    let mut spans = vec![
        Span::styled(format!("{time} "), dim),
        Span::styled(
            format!("<{}> ", m.sender),
            Style::default().fg(colour_of(&m.sender)),
        ),
    ];
    if m.deleted {
        spans.push(Span::styled(
            "message deleted",
            dim.add_modifier(Modifier::ITALIC),
        ));
        return Line::from(spans);
    }
    if let Some(reply) = &m.reply_to_message {
        let excerpt = if reply.deleted {
            "message deleted"
        } else {
            reply.excerpt.as_str()
        };
        spans.push(Span::styled(
            format!("↪ {}: {excerpt} │ ", reply.sender),
            dim,
        ));
    }
    let label = Style::default().fg(Color::LightBlue);
    if let Some(attachment) = &m.attachment {
        let text = format::attachment_label(attachment, false);
        spans.push(Span::styled(format!("[{text}] "), label));
    }
    if let Some(location) = &m.location {
        let text = format::location_label(location);
        spans.push(Span::styled(format!("[{text}] "), label));
    }
    spans.push(Span::raw(m.content.clone()));
    if m.edited.is_some() {
        spans.push(Span::styled(" (edited)", dim));
    }
    if !m.reactions.is_empty() {
        let text = format::reactions_label(&m.reactions);
        spans.push(Span::styled(format!("  {text}"), dim));
    }
    Line::from(spans)
}

pub fn draw(frame: &mut Frame, app: &App) {
    let [main, status, input] = Layout::vertical([
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(3),
    ])
    .areas(frame.area());
    let [sidebar, conversation] =
        Layout::horizontal([Constraint::Length(24), Constraint::Min(10)]).areas(main);

    let items: Vec<ListItem> = app
        .conversations
        .iter()
        .map(|c| {
            let marker = if c.name.starts_with('#') {
                Span::raw("  ")
            } else if app.online.contains(&c.name) {
                Span::styled("● ", Style::default().fg(Color::Green))
            } else {
                Span::styled("○ ", Style::default().fg(Color::DarkGray))
            };
            let label = if c.name.starts_with('#') {
                c.name.clone()
            } else {
                format!("@{}", c.name)
            };
            let mut spans = vec![marker, Span::raw(label)];
            if c.unread > 0 {
                spans.push(Span::styled(
                    format!(" ({})", c.unread),
                    Style::default().add_modifier(Modifier::BOLD),
                ));
            }
            ListItem::new(Line::from(spans))
        })
        .collect();
    let mut state = ListState::default().with_selected(Some(app.current));
    let list = List::new(items)
        .block(Block::default().borders(Borders::ALL).title(" confab "))
        .highlight_style(Style::default().add_modifier(Modifier::REVERSED));
    frame.render_stateful_widget(list, sidebar, &mut state);

    let (title, lines) = match app.current() {
        Some(c) => {
            let mut lines: Vec<Line> = Vec::new();
            if c.more_before {
                lines.push(Line::styled(
                    "… PgUp for older messages",
                    Style::default().fg(Color::DarkGray),
                ));
            }
            for m in &c.messages {
                lines.push(message_line(m));
            }
            (format!(" {} ", c.name), lines)
        }
        None => (" no conversation ".to_owned(), vec![]),
    };
    let height = conversation.height.saturating_sub(2) as usize;
    let bottom = lines.len().saturating_sub(app.scroll);
    let top = bottom.saturating_sub(height);
    let shown: Vec<Line> = lines[top..bottom].to_vec();
    frame.render_widget(
        Paragraph::new(shown)
            .wrap(Wrap { trim: false })
            .block(Block::default().borders(Borders::ALL).title(title)),
        conversation,
    );

    let (state_text, state_colour) = match &app.connection {
        Connection::Connecting => ("connecting".to_owned(), Color::Yellow),
        Connection::Online if app.over_sse => {
            (format!("online as {} · over SSE", app.me), Color::Green)
        }
        Connection::Online => (format!("online as {}", app.me), Color::Green),
        Connection::Reconnecting(why) => (format!("reconnecting: {why}"), Color::Yellow),
        Connection::Offline(why) => (format!("offline: {why}"), Color::Red),
    };
    let mut status_spans = Vec::new();
    if let Some(warning) = &app.warning {
        status_spans.push(Span::styled(
            format!("{warning}  "),
            Style::default().fg(Color::White).bg(Color::Red),
        ));
    }
    status_spans.push(Span::styled(state_text, Style::default().fg(state_colour)));
    if let Some(who) = app.typing_here(Instant::now()) {
        status_spans.push(Span::raw(format!("  {who} is typing…")));
    }
    status_spans.push(Span::styled(
        format!("  {}", app.notice),
        Style::default().fg(Color::DarkGray),
    ));
    frame.render_widget(Paragraph::new(Line::from(status_spans)), status);

    frame.render_widget(
        Paragraph::new(app.input.as_str()).block(Block::default().borders(Borders::ALL)),
        input,
    );
    let before_cursor: usize = app
        .input
        .chars()
        .take(app.cursor)
        .map(|c| if c.is_ascii() { 1 } else { 2 })
        .sum();
    frame.set_cursor_position(Position::new(
        input.x + 1 + before_cursor.min(input.width.saturating_sub(3) as usize) as u16,
        input.y + 1,
    ));
}
