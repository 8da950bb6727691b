//! The full-screen client: [`app`] holds the state and rules, [`view`] draws it, and [`run`]
//! is the loop: terminal events and session updates in, frames out, a redraw after each.
//! Drawing never waits on the network: the session task owns the socket.

pub mod app;
pub mod view;

use std::time::Duration;

use crossterm::event::{Event, EventStream, KeyEventKind};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::session::{Command, Update};
use app::App;

/// Runs the full-screen client; `warning` (if any) stays on the status line throughout.
pub async fn run(
    commands: mpsc::Sender<Command>,
    mut updates: mpsc::Receiver<Update>,
    warning: Option<&str>,
) -> anyhow::Result<i32> {
    let mut terminal = ratatui::init();
    let mut app = App::default();
    app.warning = warning.map(str::to_owned);
    let mut events = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let result = loop {
        if let Err(err) = terminal.draw(|frame| view::draw(frame, &app)) {
            break Err(err.into());
        }
        if app.quit {
            break Ok(0);
        }
        let frames = tokio::select! {
            event = events.next() => match event {
                Some(Ok(Event::Key(key))) if key.kind != KeyEventKind::Release => app.on_key(key),
                Some(Ok(_)) => vec![],
                Some(Err(err)) => break Err(err.into()),
                None => break Ok(0),
            },
            update = updates.recv() => match update {
                Some(update) => app.on_update(update),
                None => break Ok(1),
            },
            _ = tick.tick() => vec![],
        };
        let uploads = std::mem::take(&mut app.uploads)
            .into_iter()
            .map(Command::Upload);
        for command in frames.into_iter().map(Command::Send).chain(uploads) {
            if commands.send(command).await.is_err() {
                break;
            }
        }
    };
    let _ = commands.send(Command::Close).await;
    ratatui::restore();
    result
}

#[cfg(test)]
mod tests;
