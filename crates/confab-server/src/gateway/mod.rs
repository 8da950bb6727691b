//! The front doors: each turns a transport's bytes into protocol frames for the hub and the
//! hub's frames back into bytes. Only [`ws`] (WebSocket on `/ws`) for now.

pub mod ws;
