//! A session's outgoing side, as its transport sees it: first `ready`, then every message the
//! user missed while offline (read from the store page by page, so a long absence never floods
//! the queue), then the live queue. Each message reaches the session once: live copies of what
//! catch-up already sent are skipped by sequence number. The transport reports what it wrote
//! ([`Outbox::written`]), which moves the user's delivery cursor.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use confab_protocol::ServerFrame;
use tokio::sync::{mpsc, Semaphore};

use super::queue::QueueBytes;
use super::sessions::{Outbound, SessionControl, SessionHandle};
use super::Hub;
use crate::store::{ConvId, Unread, UserId};

/// Messages read per catch-up page.
const CATCH_UP_PAGE: u32 = 100;

/// What the transport should do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Send this frame; when it is about a message, report it with [`Outbox::written`].
    Send(Bytes, Option<(ConvId, u64)>),
    /// Close with this code and reason.
    Close(u16, &'static str),
}

pub struct Outbox {
    hub: Hub,
    user: UserId,
    rx: mpsc::Receiver<Outbound>,
    control: Arc<SessionControl>,
    in_flight: Arc<Semaphore>,
    queue: Arc<QueueBytes>,
    ready: Option<Bytes>,
    catch_up: VecDeque<Unread>,
    buffered: VecDeque<(ConvId, u64, Bytes)>,
    sent: HashMap<ConvId, u64>,
}

impl Outbox {
    /// The outbox of `session`, whose queue `rx` reads.
    pub(super) fn new(
        hub: Hub,
        session: &SessionHandle,
        rx: mpsc::Receiver<Outbound>,
        ready: Bytes,
        mut catch_up: Vec<Unread>,
    ) -> Self {
        // What the session starts from: a live copy of anything at or below it is not sent
        // again (this node may lag behind the client's cursors, when they come from a session
        // on another node).
        let sent = catch_up
            .iter()
            .map(|entry| (entry.conv, entry.cursor))
            .collect();
        catch_up.retain(|entry| entry.cursor < entry.last_seq);
        Self {
            hub,
            user: session.user,
            rx,
            control: session.control.clone(),
            in_flight: session.in_flight.clone(),
            queue: session.queue.clone(),
            ready: Some(ready),
            catch_up: catch_up.into(),
            buffered: VecDeque::new(),
            sent,
        }
    }

    /// Waits for the next thing to do. Cancel-safe: dropping the future loses nothing.
    pub async fn next(&mut self) -> Next {
        loop {
            if let Some(next) = self.try_next_buffered() {
                return next;
            }
            if let Some(unread) = self.catch_up.front().copied() {
                let from = self
                    .sent
                    .get(&unread.conv)
                    .copied()
                    .unwrap_or(unread.cursor);
                let page = tokio::select! {
                    page = self.hub.store().changes(unread.conv, from, CATCH_UP_PAGE) => page,
                    () = self.control.closed() => continue,
                };
                match page {
                    Ok(messages) if !messages.is_empty() => {
                        for message in messages {
                            let frame = Bytes::from(super::entry_frame(&message).to_json());
                            self.buffered.push_back((message.conv, message.seq, frame));
                        }
                        if let Some(&(conv, seq, _)) = self.buffered.back() {
                            self.sent.insert(conv, seq);
                        }
                    }
                    Ok(_) => {
                        self.catch_up.pop_front();
                    }
                    Err(err) => {
                        tracing::error!(%err, "catch-up read failed");
                        self.control
                            .close(confab_protocol::close::INTERNAL_ERROR, "catch-up failed");
                    }
                }
                continue;
            }
            let item = tokio::select! {
                biased;
                () = self.control.closed() => return self.closing(),
                item = self.rx.recv() => item,
            };
            match item {
                Some(item) => {
                    if let Some(next) = self.accept(item) {
                        return next;
                    }
                }
                None => return self.closing(),
            }
        }
    }

    /// The next thing to do if it is ready now, for writing several frames in one go.
    pub fn try_next(&mut self) -> Option<Next> {
        if let Some(next) = self.try_next_buffered() {
            return Some(next);
        }
        if !self.catch_up.is_empty() {
            return None;
        }
        while let Ok(item) = self.rx.try_recv() {
            if let Some(next) = self.accept(item) {
                return Some(next);
            }
        }
        None
    }

    /// Reports that a message frame was written to the peer.
    pub fn written(&self, conv: ConvId, seq: u64) {
        self.hub.cursors().advance(self.user, conv, seq);
    }

    fn try_next_buffered(&mut self) -> Option<Next> {
        if self.control.is_closed() {
            return Some(self.closing());
        }
        if let Some(ready) = self.ready.take() {
            self.hub.metrics().frame_sent("ready");
            return Some(Next::Send(ready, None));
        }
        let (conv, seq, frame) = self.buffered.pop_front()?;
        self.hub
            .metrics()
            .frame_sent(ServerFrame::kind_of_json(&frame));
        Some(Next::Send(frame, Some((conv, seq))))
    }

    fn accept(&mut self, item: Outbound) -> Option<Next> {
        self.queue.remove(item.size());
        let metrics = self.hub.metrics();
        match item {
            Outbound::Frame(frame) => {
                metrics.frame_sent(ServerFrame::kind_of_json(&frame));
                Some(Next::Send(frame, None))
            }
            Outbound::Message { conv, seq, frame } => {
                let sent = self.sent.entry(conv).or_insert(0);
                if seq <= *sent {
                    return None;
                }
                *sent = seq;
                metrics.frame_sent(ServerFrame::kind_of_json(&frame));
                Some(Next::Send(frame, Some((conv, seq))))
            }
            Outbound::Ack { conv, seq, frame } => {
                // The entry's in-flight permit, kept since it was sent, comes back now.
                self.in_flight.add_permits(1);
                let sent = self.sent.entry(conv).or_insert(0);
                let frame = if seq <= *sent {
                    // The session has the entry already, as a `message` (catch-up read it
                    // from the store, or a gap fill got there first): the ack still answers
                    // the frame, marked as not new.
                    as_duplicate(&frame)
                } else {
                    *sent = seq;
                    frame
                };
                metrics.frame_sent("ack");
                Some(Next::Send(frame, Some((conv, seq))))
            }
            Outbound::Close { code, reason } => {
                self.control.close(code, reason);
                Some(Next::Close(code, reason))
            }
        }
    }

    fn closing(&self) -> Next {
        let (code, reason) = self
            .control
            .requested()
            .unwrap_or((confab_protocol::close::GOING_AWAY, "session ended"));
        Next::Close(code, reason)
    }
}

/// `ack` as the answer to an entry the session already holds: `"duplicate": true`.
fn as_duplicate(frame: &Bytes) -> Bytes {
    match serde_json::from_slice::<ServerFrame>(frame) {
        Ok(ServerFrame::Ack(mut ack)) => {
            ack.duplicate = true;
            Bytes::from(ServerFrame::Ack(ack).to_json())
        }
        _ => frame.clone(),
    }
}
