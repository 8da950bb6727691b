//! The scenarios, one per file, and what they share: a clock every task reads (one process,
//! one clock, so send and receive times compare directly) and the message body that carries
//! the intended send time.

pub mod connections;
pub mod dm;
pub mod durable;
pub mod fanout;
mod fanout_peer;
pub mod history;
pub mod login_flood;
pub mod reconnect;
pub mod slow_consumer;
mod sweep;

use std::time::{Duration, Instant};

use confab_client::protocol::{ClientFrame, JoinRequest, Receiver, RoomName, SendMessage};
use confab_client::{Connection, Endpoint, Transport};

use crate::users::BenchUser;

/// The run's clock: microseconds since the run began.
#[derive(Debug, Clone, Copy)]
pub struct Clock(Instant);

impl Clock {
    pub fn start() -> Self {
        Self(Instant::now())
    }

    pub fn micros(&self) -> u64 {
        self.0.elapsed().as_micros() as u64
    }

    /// The instant `micros` after the start.
    pub fn at(&self, micros: u64) -> Instant {
        self.0 + Duration::from_micros(micros)
    }
}

/// A message body `k:intended_us:` padded with `x` to `size` bytes.
pub fn body(k: u64, intended_us: u64, size: usize) -> String {
    let mut text = format!("{k}:{intended_us}:");
    while text.len() < size {
        text.push('x');
    }
    text
}

/// Reads `(k, intended_us)` back from a body.
pub fn parse_body(content: &str) -> Option<(u64, u64)> {
    let mut parts = content.splitn(3, ':');
    let k = parts.next()?.parse().ok()?;
    let at = parts.next()?.parse().ok()?;
    Some((k, at))
}

/// The figures every fan-out run reports: offered, sent and delivered rates, and the latency
/// of all recipients' histograms merged.
pub fn fanout_figures<'a>(
    report: &mut crate::Report,
    offered: f64,
    (sent_name, sent): (&str, u64),
    histograms: impl Iterator<Item = &'a hdrhistogram::Histogram<u64>>,
    seconds: f64,
) {
    let mut all = crate::latency::histogram();
    for histogram in histograms {
        all.add(histogram).ok();
    }
    report.figure("offered_msgs_per_sec", offered);
    report.figure(sent_name, sent as f64 / seconds);
    report.figure("deliveries_per_sec", all.len() as f64 / seconds);
    report
        .latency
        .push(("send_to_receipt".into(), crate::latency::percentiles(&all)));
}

/// A `message` frame.
pub fn message(id: String, receiver: &Receiver, content: String) -> ClientFrame {
    ClientFrame::Message(SendMessage {
        id: Some(id),
        receiver: receiver.clone(),
        content,
        attachment: None,
        location: None,
        reply_to_message: None,
        sender: None,
        timestamp: None,
    })
}

/// Connects a user over `transport` and joins `room` (waiting for the ack).
pub async fn connect_in_room(
    endpoint: &Endpoint,
    user: &BenchUser,
    room: &RoomName,
    transport: Transport,
) -> anyhow::Result<Connection> {
    let (mut connection, _) = Connection::connect_via(endpoint, &user.token, transport).await?;
    connection
        .send(&ClientFrame::Join(JoinRequest {
            id: Some("join".into()),
            room: room.clone(),
            password: None,
        }))
        .await?;
    loop {
        match connection.recv().await? {
            Some(confab_client::protocol::ServerFrame::Ack(ack)) if ack.reply_to == "join" => {
                return Ok(connection)
            }
            Some(confab_client::protocol::ServerFrame::Error(err)) => {
                anyhow::bail!("join {room} failed: {}", err.message)
            }
            Some(_) => continue,
            None => anyhow::bail!("closed while joining {room}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_round_trip_and_pad() {
        let text = body(7, 123_456, 40);
        assert_eq!(text.len(), 40);
        assert_eq!(parse_body(&text), Some((7, 123_456)));
        assert_eq!(parse_body(&body(1, 2, 0)), Some((1, 2)));
        assert_eq!(parse_body("nonsense"), None);
    }
}
