//! The front doors: each turns a transport's bytes into protocol frames for the hub and the
//! hub's frames back into bytes: [`ws`] (WebSocket on `/ws`), [`tcp`] (newline-delimited
//! JSON) and [`udp`] (JSON datagrams). [`login`] is the login phase the stream transports share.

pub mod login;
pub mod tcp;
pub mod udp;
pub mod ws;
