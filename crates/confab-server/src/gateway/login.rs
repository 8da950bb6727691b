//! The login phase every stream transport shares: until a `login` succeeds, only `login` is
//! accepted; every refused frame counts, and after [`MAX_REFUSED`] the connection closes.
//! The transport reads frames and applies the [`Step`]s; the deadline is its own.

use confab_protocol::{close, ClientFrame, FrameError, ServerFrame};

use crate::error::AppError;
use crate::hub::{Authed, ClientInfo, Credentials, Hub, Resume};

/// Refused frames (failed logins, anything else) allowed before login; then the close.
pub const MAX_REFUSED: u32 = 5;

/// What the transport does after a frame of the login phase.
pub enum Step {
    /// Logged in: open the session.
    Authenticated(Authed, Resume),
    /// Send this reply; then close with the code and reason if one is given.
    Refused(Box<ServerFrame>, Option<(u16, &'static str)>),
}

#[derive(Debug)]
pub struct LoginPhase {
    refused: u32,
    /// The client's address, for the abuse limits on password logins.
    from: std::net::IpAddr,
    /// What the transport knows of the client's software (a User-Agent), for its session
    /// list when the `login` names no `device`.
    agent: Option<String>,
}

impl LoginPhase {
    pub fn new(from: std::net::IpAddr, agent: Option<String>) -> Self {
        Self {
            refused: 0,
            from,
            agent,
        }
    }

    /// Handles one frame (or the error it failed to decode with).
    pub async fn step(&mut self, hub: &Hub, frame: Result<ClientFrame, FrameError>) -> Step {
        let reply = match frame {
            Ok(ClientFrame::Login(login)) => {
                let credentials = match (login.token, login.username, login.password) {
                    (Some(token), _, _) => Credentials::Token(token),
                    (None, Some(username), Some(password)) => Credentials::Password {
                        username,
                        password,
                        client: ClientInfo::new(
                            self.from,
                            login.device.as_deref().or(self.agent.as_deref()),
                        ),
                    },
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

pub fn error_frame(err: AppError, reply_to: Option<String>) -> ServerFrame {
    ServerFrame::error(err.code, err.message, reply_to)
}

/// The close code and reason for a session that could not be opened: 1008 when a limit
/// refused it (too many sessions), 1011 otherwise.
pub fn open_failure_close(err: &AppError) -> (u16, &'static str) {
    if err.code == confab_protocol::ErrorCode::RateLimited {
        (close::POLICY_VIOLATION, "too many sessions")
    } else {
        (close::INTERNAL_ERROR, "cannot open session")
    }
}
