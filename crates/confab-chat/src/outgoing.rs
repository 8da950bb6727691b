//! What a typed action sends, shared by the line mode and the full-screen client.

use confab_client::protocol::{
    ClientFrame, HistoryRequest, JoinRequest, MembersRequest, Receiver, RoomRequest, SendMessage,
};

use crate::commands::Action;

/// Frame ids unique to this process: `{prefix}-{n}`.
#[derive(Debug)]
pub struct Ids {
    prefix: String,
    next: u64,
}

impl Ids {
    pub fn new() -> Self {
        Self {
            prefix: format!("c{}", std::process::id()),
            next: 0,
        }
    }

    pub fn fresh(&mut self) -> String {
        self.next += 1;
        format!("{}-{}", self.prefix, self.next)
    }
}

impl Default for Ids {
    fn default() -> Self {
        Self::new()
    }
}

/// A `message` frame.
pub fn message(id: String, receiver: Receiver, content: String) -> ClientFrame {
    ClientFrame::Message(SendMessage {
        id: Some(id),
        receiver,
        content,
        attachment: None,
        location: None,
        reply_to_message: None,
        sender: None,
        timestamp: None,
    })
}

/// A `message` frame posting an upload, with `caption` as its content.
pub fn attachment_message(
    id: String,
    receiver: Receiver,
    caption: String,
    attachment: String,
) -> ClientFrame {
    let mut frame = message(id, receiver, caption);
    if let ClientFrame::Message(message) = &mut frame {
        message.attachment = Some(attachment);
    }
    frame
}

/// A `history` frame for the newest page, or the page before `before`.
pub fn history(id: String, receiver: Receiver, limit: u32, before: Option<String>) -> ClientFrame {
    ClientFrame::History(HistoryRequest {
        id: Some(id),
        receiver,
        limit: Some(limit),
        before,
        after: None,
    })
}

/// The frames an action sends from conversation `current` (which `/join` and `/msg` move).
/// `Help` and `Quit` send nothing; they are the interface's to handle. The actions on your
/// messages, invitations and uploads need what [`crate::tracker::Tracker`] remembers; here
/// they send nothing.
pub fn frames(
    action: Action,
    current: &mut Receiver,
    ids: &mut Ids,
) -> Result<Vec<ClientFrame>, String> {
    let current_room = |current: &Receiver| match current {
        Receiver::Room(room) => Some(room.clone()),
        Receiver::User(_) => None,
    };
    Ok(match action {
        Action::Say(text) => vec![message(ids.fresh(), current.clone(), text)],
        Action::Msg(user, text) => {
            *current = Receiver::User(user.clone());
            vec![message(ids.fresh(), Receiver::User(user), text)]
        }
        Action::Join(room) => {
            *current = Receiver::Room(room.clone());
            vec![ClientFrame::Join(JoinRequest {
                id: Some(ids.fresh()),
                room,
                password: None,
            })]
        }
        Action::Leave(room) => {
            let room = room
                .or_else(|| current_room(current))
                .ok_or("/leave needs a room here")?;
            vec![ClientFrame::Leave(RoomRequest {
                id: Some(ids.fresh()),
                room,
            })]
        }
        Action::Rooms => vec![ClientFrame::Rooms {
            id: Some(ids.fresh()),
        }],
        Action::Who(room) => {
            let room = room
                .or_else(|| current_room(current))
                .ok_or("/who needs a room here")?;
            vec![ClientFrame::Members(MembersRequest {
                id: Some(ids.fresh()),
                room,
            })]
        }
        Action::History(limit) => vec![history(ids.fresh(), current.clone(), limit, None)],
        Action::Help | Action::Quit => vec![],
        Action::Edit(..)
        | Action::Delete(_)
        | Action::React(..)
        | Action::Invite(..)
        | Action::Accept(_)
        | Action::Decline(_)
        | Action::Invites
        | Action::Redeem(_)
        | Action::Upload(..) => return Err("this command needs the tracker".into()),
    })
}
