//! The login phase every stream transport shares: until a `login` succeeds, only `login` is
//! accepted; every refused frame counts, and after [`MAX_REFUSED`] the connection closes.
//! The transport reads frames and applies the [`Step`]s; the deadline is its own.

use confab_protocol::{close, ClientFrame, FrameError, ServerFrame};

use crate::error::AppError;
use crate::hub::{Authed, Credentials, Hub, Resume};

/// Refused frames (failed logins, anything else) allowed before login; then the close.
pub const MAX_REFUSED: u32 = 5;

/// What the transport does after a frame of the login phase.
pub enum Step {
    /// Logged in: open the session.
    Authenticated(Authed, Resume),
    /// Send this reply; then close with the code and reason if one is given.
    Refused(Box<ServerFrame>, Option<(u16, &'static str)>),
}

#[derive(Debug, Default)]
pub struct LoginPhase {
    refused: u32,
}

impl LoginPhase {
    /// Handles one frame (or the error it failed to decode with).
    pub async fn step(&mut self, hub: &Hub, frame: Result<ClientFrame, FrameError>) -> Step {
        let reply = match frame {
            Ok(ClientFrame::Login(login)) => {
                let credentials = match (login.token, login.username, login.password) {
                    (Some(token), _, _) => Credentials::Token(token),
                    (None, Some(username), Some(password)) => {
                        Credentials::Password { username, password }
                    }
                    _ => unreachable!("decode checks the login shape"),
                };
                match hub.authenticate(credentials).await {
                    Ok(authed) => {
                        let resume = Resume {
                            reply_to: login.id,
                            cursors: login.cursors,
                        };
                        return Step::Authenticated(authed, resume);
                    }
                    Err(err) => error_frame(err, login.id),
                }
            }
            Ok(other) => error_frame(
                AppError::unauthorized("log in first: send a login frame"),
                other.id().map(str::to_owned),
            ),
            Err(err) => ServerFrame::error(err.code, err.message, err.reply_to),
        };
        self.refused += 1;
        let close = (self.refused >= MAX_REFUSED)
            .then_some((close::POLICY_VIOLATION, "too many refused frames"));
        Step::Refused(Box::new(reply), close)
    }
}

/// The close that follows a session that could not be opened: a limit is a policy, anything
/// else the server's failure.
pub fn open_failed_close(err: &AppError) -> (u16, &'static str) {
    match err.code {
        confab_protocol::ErrorCode::RateLimited => (close::POLICY_VIOLATION, "too many sessions"),
        _ => (close::INTERNAL_ERROR, "cannot open session"),
    }
}

pub fn error_frame(err: AppError, reply_to: Option<String>) -> ServerFrame {
    ServerFrame::error(err.code, err.message, reply_to)
}
