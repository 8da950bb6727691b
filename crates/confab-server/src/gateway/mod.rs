//! The front doors: each turns a transport's bytes into protocol frames for the hub and the
//! hub's frames back into bytes: [`ws`] (WebSocket on `/ws`), [`sse`] (Server-Sent Events
//! down and HTTP POSTs up, for networks that block WebSockets), [`tcp`] (newline-delimited
//! JSON) and [`udp`] (JSON datagrams). [`login`] and [`writer`] are the login phase and the
//! writing loop the stream transports share; [`admission`] counts their connections per IP. [`conformance`] is the test-only WebSocket echo.

pub mod admission;
pub mod conformance;
pub mod login;
pub mod sse;
pub mod tcp;
pub mod udp;
pub mod writer;
pub mod ws;
