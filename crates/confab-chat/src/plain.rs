//! `confab chat --plain`: line mode for scripts and pipes. Lines from standard input are sent
//! to the current conversation (slash commands work); every message received is printed as
//! one line ([`crate::format`]), and so is every change to a message (edit, delete,
//! reactions) and every invitation; with `--json` every frame is printed as its JSON instead.
//! At the end of input it waits until every frame it sent is answered (and every upload is
//! posted), then exits: 0 if all were accepted, 1 if any was refused (the errors go to
//! standard error, like the progress of uploads).

use std::collections::HashSet;
use std::io::Write;

use confab_client::protocol::{ClientFrame, JoinRequest, Receiver, ServerFrame};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::commands::{self, Action};
use crate::session::{Command, Update, UploadEvent, UploadRequest};
use crate::tracker::{Effect, Tracker};
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
    tracker: Tracker,
    waiting: HashSet<String>,
    refused: u32,
    joined_initial: bool,
    /// Input waits for the first `ready` (and the join of `--room`) so lines go in order.
    ready: bool,
    /// The upload under way (its message's frame id and the file's name): input waits for
    /// it, so the lines after it are posted after it.
    uploading: Option<(String, String)>,
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
        tracker: Tracker::new(),
        waiting: HashSet::new(),
        refused: 0,
        joined_initial: false,
        ready: false,
        uploading: None,
    };
    let mut input = BufReader::new(tokio::io::stdin()).lines();
    let mut input_open = true;
    loop {
        if !input_open && plain.waiting.is_empty() && !plain.options.stay {
            let _ = commands.send(Command::Close).await;
            return Ok(if plain.refused > 0 { 1 } else { 0 });
        }
        tokio::select! {
            line = input.next_line(), if input_open && plain.ready && plain.uploading.is_none() => {
                match line? {
                    Some(line) if line.trim().is_empty() => {}
                    Some(line) => match commands::parse(&line) {
                        Ok(Action::Quit) => input_open = false,
                        Ok(action) => {
                            for command in plain.commands(action) {
                                if commands.send(command).await.is_err() {
                                    return Ok(1);
                                }
                            }
                        }
                        Err(problem) => eprintln!("confab: {problem}"),
                    },
                    None => input_open = false,
                }
            }
            update = updates.recv() => match update {
                None => return Ok(1),
                Some(Update::Stopped(reason)) => {
                    eprintln!("confab: {reason}");
                    return Ok(1);
                }
                Some(update) => {
                    for frame in plain.show(update) {
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
    /// What an action asks of the session; the ids of its frames are awaited before exiting.
    fn commands(&mut self, action: Action) -> Vec<Command> {
        match action {
            Action::Help => {
                for (command, help) in commands::COMMANDS {
                    eprintln!("{command} {help}");
                }
                vec![]
            }
            Action::Upload(path, caption) => {
                let id = self.ids.fresh();
                let name = path.display().to_string();
                self.tracker.sent_message(&id, &self.current);
                self.waiting.insert(id.clone());
                self.uploading = Some((id.clone(), name));
                vec![Command::Upload(UploadRequest {
                    id,
                    path,
                    caption,
                    receiver: self.current.clone(),
                })]
            }
            action => match self
                .tracker
                .frames(action, &mut self.current, &mut self.ids)
            {
                Ok(frames) => {
                    self.waiting
                        .extend(frames.iter().filter_map(|f| f.id().map(str::to_owned)));
                    frames.into_iter().map(Command::Send).collect()
                }
                Err(problem) => {
                    eprintln!("confab: {problem}");
                    vec![]
                }
            },
        }
    }

    /// Prints an update; returns frames to send when some are due (joining `--room`, a
    /// command that waited for history).
    fn show(&mut self, update: Update) -> Vec<ClientFrame> {
        let mut out = std::io::stdout().lock();
        let mut send = Vec::new();
        match update {
            Update::Ready(ready) => {
                self.me = ready.user.username.clone();
                self.tracker.set_me(&self.me);
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
                    send.push(ClientFrame::Join(JoinRequest {
                        id: None,
                        room: room.clone(),
                        password: None,
                    }));
                }
            }
            Update::Message(message) => {
                self.tracker.on_message(&message);
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
                // Effects first: a command that waited for this page is awaited from now on.
                for effect in self.tracker.on_frame(&frame, &mut self.ids) {
                    match effect {
                        Effect::Send(frame) => {
                            self.waiting.extend(frame.id().map(str::to_owned));
                            send.push(frame);
                        }
                        Effect::Notice(notice) => eprintln!("confab: {notice}"),
                        Effect::Problem(problem) => {
                            eprintln!("confab: {problem}");
                            self.refused += 1;
                        }
                        Effect::Changed { .. } | Effect::Joined(_) => {}
                    }
                }
                self.answer(&frame, &mut out);
            }
            Update::Upload(event) => self.upload(event),
            Update::Reconnecting {
                reason,
                delay,
                server,
            } => {
                eprintln!(
                    "confab: {reason}; reconnecting to {server} in {:.1}s",
                    delay.as_secs_f64()
                );
            }
            Update::Stopped(_) => {}
        }
        let _ = out.flush();
        send
    }

    fn upload(&mut self, event: UploadEvent) {
        let name = self
            .uploading
            .as_ref()
            .map_or_else(String::new, |(_, name)| name.clone());
        match event {
            UploadEvent::Progress { sent: 0, total, .. } => {
                eprintln!("confab: uploading {name} ({})...", format::size(total));
            }
            UploadEvent::Progress { .. } => {}
            UploadEvent::Done { attachment, .. } => {
                self.uploading = None;
                eprintln!(
                    "confab: uploaded {name}: {} {}",
                    format::attachment_label(&attachment, false),
                    attachment.mime
                );
            }
            UploadEvent::Failed { id, error } => {
                self.uploading = None;
                eprintln!("confab: upload of {name} failed: {error}");
                if self.waiting.remove(&id) {
                    self.refused += 1;
                }
            }
        }
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
            ServerFrame::Update(update) if !self.options.json => {
                let line = format::update_line(update, &self.me, &format::now());
                let _ = writeln!(out, "{line}");
            }
            ServerFrame::Invitation(invitation) if !self.options.json => {
                let _ = writeln!(out, "{}", format::invitation_line(invitation));
            }
            ServerFrame::InvitationAnswered(answered) if !self.options.json => {
                let line = format::answered_line(answered, &format::now());
                let _ = writeln!(out, "{line}");
            }
            ServerFrame::Invitations(list) => {
                if let Some(id) = &list.reply_to {
                    self.waiting.remove(id);
                }
                if !self.options.json {
                    for invitation in &list.invitations {
                        let _ = writeln!(out, "{}", format::invitation_line(invitation));
                    }
                    if list.invitations.is_empty() {
                        eprintln!("confab: no invitations");
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
