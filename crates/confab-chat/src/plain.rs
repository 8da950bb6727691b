//! `confab chat --plain`: line mode for scripts and pipes. Lines from standard input are sent
//! to the current conversation (slash commands work); every message received is printed as
//! one line ([`crate::format`]), or with `--json` every frame as its JSON. At the end of input
//! it waits until every message it sent is acknowledged, then exits: 0 if all were accepted,
//! 1 if the server refused any (the errors go to standard error).

use std::collections::HashSet;
use std::io::Write;

use confab_client::protocol::{ClientFrame, JoinRequest, Receiver, ServerFrame};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::commands::{self, Action};
use crate::session::{Command, Update};
use crate::{format, outgoing};

/// Line-mode options.
#[derive(Debug, Clone)]
pub struct PlainOptions {
    /// The conversation lines go to at first (`#room` or a username).
    pub room: String,
    /// Print every frame as JSON instead of message lines.
    pub json: bool,
    /// Keep running after the end of input.
    pub stay: bool,
}

struct Plain {
    options: PlainOptions,
    me: String,
    current: Receiver,
    ids: outgoing::Ids,
    waiting: HashSet<String>,
    refused: u32,
    joined_initial: bool,
    /// Input waits for the first `ready` (and the join of `--room`) so lines go in order.
    ready: bool,
}

pub async fn run(
    options: PlainOptions,
    commands: tokio::sync::mpsc::Sender<Command>,
    mut updates: tokio::sync::mpsc::Receiver<Update>,
) -> anyhow::Result<i32> {
    let current = commands::receiver(&options.room).map_err(anyhow::Error::msg)?;
    let mut plain = Plain {
        options,
        me: String::new(),
        current,
        ids: outgoing::Ids::new(),
        waiting: HashSet::new(),
        refused: 0,
        joined_initial: false,
        ready: false,
    };
    let mut input = BufReader::new(tokio::io::stdin()).lines();
    let mut input_open = true;
    loop {
        if !input_open && plain.waiting.is_empty() && !plain.options.stay {
            let _ = commands.send(Command::Close).await;
            return Ok(if plain.refused > 0 { 1 } else { 0 });
        }
        tokio::select! {
            line = input.next_line(), if input_open && plain.ready => match line? {
                Some(line) if line.trim().is_empty() => {}
                Some(line) => match commands::parse(&line) {
                    Ok(Action::Quit) => input_open = false,
                    Ok(action) => {
                        for frame in plain.frames(action) {
                            if commands.send(Command::Send(frame)).await.is_err() {
                                return Ok(1);
                            }
                        }
                    }
                    Err(problem) => eprintln!("confab: {problem}"),
                },
                None => input_open = false,
            },
            update = updates.recv() => match update {
                None => return Ok(1),
                Some(Update::Stopped(reason)) => {
                    eprintln!("confab: {reason}");
                    return Ok(1);
                }
                Some(update) => {
                    if let Some(frame) = plain.show(update) {
                        if commands.send(Command::Send(frame)).await.is_err() {
                            return Ok(1);
                        }
                    }
                }
            },
        }
    }
}

impl Plain {
    /// The frames an action sends; their ids are awaited before exiting.
    fn frames(&mut self, action: Action) -> Vec<ClientFrame> {
        if action == Action::Help {
            for (command, help) in commands::COMMANDS {
                eprintln!("{command} {help}");
            }
            return vec![];
        }
        match outgoing::frames(action, &mut self.current, &mut self.ids) {
            Ok(frames) => {
                self.waiting
                    .extend(frames.iter().filter_map(|f| f.id().map(str::to_owned)));
                frames
            }
            Err(problem) => {
                eprintln!("confab: {problem}");
                vec![]
            }
        }
    }

    /// Prints an update; returns a frame to send when one is due (joining `--room`).
    fn show(&mut self, update: Update) -> Option<ClientFrame> {
        let mut out = std::io::stdout().lock();
        match update {
            Update::Ready(ready) => {
                self.me = ready.user.username.clone();
                self.ready = true;
                if self.options.json {
                    let _ = writeln!(out, "{}", ServerFrame::Ready(ready.clone()).to_json());
                }
                let member = ready
                    .rooms
                    .iter()
                    .any(|r| r.receiver == self.current.as_str());
                if let (Receiver::Room(room), false, false) =
                    (&self.current, member, self.joined_initial)
                {
                    self.joined_initial = true;
                    return Some(ClientFrame::Join(JoinRequest {
                        id: None,
                        room: room.clone(),
                        password: None,
                    }));
                }
            }
            Update::Message(message) => {
                let text = if self.options.json {
                    ServerFrame::Message(message).to_json()
                } else {
                    format::line(&message, &self.me)
                };
                let _ = writeln!(out, "{text}");
            }
            Update::Frame(frame) => {
                if self.options.json {
                    let _ = writeln!(out, "{}", frame.to_json());
                }
                self.answer(&frame, &mut out);
            }
            Update::Reconnecting { reason, delay } => {
                eprintln!(
                    "confab: {reason}; reconnecting in {:.1}s",
                    delay.as_secs_f64()
                );
            }
            Update::Stopped(_) => {}
        }
        let _ = out.flush();
        None
    }

    fn answer(&mut self, frame: &ServerFrame, out: &mut impl Write) {
        match frame {
            ServerFrame::Ack(ack) => {
                self.waiting.remove(&ack.reply_to);
            }
            ServerFrame::Error(error) => {
                eprintln!("confab: {}: {}", error.code, error.message);
                if let Some(id) = &error.reply_to {
                    if self.waiting.remove(id) {
                        self.refused += 1;
                    }
                }
            }
            ServerFrame::History(history) => {
                if let Some(id) = &history.reply_to {
                    self.waiting.remove(id);
                }
                if !self.options.json {
                    for message in &history.messages {
                        let _ = writeln!(out, "{}", format::line(message, &self.me));
                    }
                }
            }
            ServerFrame::Rooms(rooms) => {
                if let Some(id) = &rooms.reply_to {
                    self.waiting.remove(id);
                }
                if !self.options.json {
                    for room in &rooms.rooms {
                        let joined = if room.joined { " (joined)" } else { "" };
                        let _ = writeln!(out, "{} {} members{joined}", room.name, room.members);
                    }
                }
            }
            ServerFrame::Members(members) => {
                if let Some(id) = &members.reply_to {
                    self.waiting.remove(id);
                }
                if !self.options.json {
                    for member in &members.members {
                        let state = if member.online { "online" } else { "offline" };
                        let _ = writeln!(out, "{} {} {state}", members.room, member.username);
                    }
                }
            }
            _ => {}
        }
    }
}
