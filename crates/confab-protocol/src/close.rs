//! WebSocket close codes the server uses, with the reason each stands for. Clients decide from
//! the code whether to reconnect: everything but [`NORMAL`] and [`REVOKED`] is worth a retry.

/// The client logged out (or closed the connection itself).
pub const NORMAL: u16 = 1000;
/// The server is shutting down; reconnect (with backoff) and catch up.
pub const GOING_AWAY: u16 = 1001;
/// The peer broke the WebSocket protocol itself (a bad frame, a bad close code, a stray
/// continuation); the connection is failed.
pub const PROTOCOL_ERROR: u16 = 1002;
/// A text message was not valid UTF-8.
pub const INVALID_DATA: u16 = 1007;
/// A protocol rule was broken before authentication (for example the login timeout).
pub const POLICY_VIOLATION: u16 = 1008;
/// A frame was larger than the frame limit.
pub const TOO_BIG: u16 = 1009;
/// The server hit an internal error it could not recover the session from.
pub const INTERNAL_ERROR: u16 = 1011;
/// The client did not read its frames fast enough and its outbound queue overflowed. Nothing is
/// lost: reconnect and catch up from the last sequence number received.
pub const SLOW_CONSUMER: u16 = 4000;
/// The session's token was revoked (a logout elsewhere). Log in again before reconnecting.
pub const REVOKED: u16 = 4001;
/// The peer answered no ping within the idle timeout.
pub const IDLE_TIMEOUT: u16 = 4002;
/// The JWT the session was opened with expired and no `refresh` replaced it in time.
pub const TOKEN_EXPIRED: u16 = 4003;
