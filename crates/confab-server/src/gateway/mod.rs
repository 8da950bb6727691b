//! The front doors: each turns a transport's bytes into protocol frames for the hub and the
//! hub's frames back into bytes: [`ws`] (WebSocket on `/ws`) and [`tcp`] (newline-delimited
//! JSON). [`login`] is the login phase they share.

pub mod login;
pub mod tcp;
pub mod ws;
