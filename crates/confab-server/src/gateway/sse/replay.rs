//! A stream's bounded replay buffer: its events in order, numbered 1, 2, 3…, kept so that a
//! client reconnecting with `Last-Event-ID` gets what came after, even what the old connection
//! had written but the client never read.
//!
//! Three marks move through it: *handed* (the last event given to the connection), *written*
//! (the last one known to have left: the connection asked for more after it) and *counted*
//! (the last one whose message has been reported to the delivery cursor; it only moves
//! forward). A client that comes back holding event `n` restarts handed and written at `n`:
//! what follows is sent again. Only events both counted and written are ever dropped, oldest
//! first, so a delivery is never lost from the cursor and nothing the current connection has
//! yet to send goes; when no kept event may go, the buffer is full and the stream stops taking
//! from its outbox (which then fills, and the slow-consumer rule applies).

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

use crate::store::ConvId;

/// What an event counts toward the delivery cursor, if it carries a message.
pub type Mark = Option<(ConvId, u64)>;

struct Entry {
    n: u64,
    event: Bytes,
    mark: Mark,
}

pub struct Replay {
    capacity: usize,
    entries: VecDeque<Entry>,
    next: u64,
    handed: u64,
    written: u64,
    counted: u64,
}

impl Replay {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            entries: VecDeque::new(),
            next: 1,
            handed: 0,
            written: 0,
            counted: 0,
        }
    }

    /// The number the next event gets.
    pub fn next_n(&self) -> u64 {
        self.next
    }

    /// Whether one more event fits without dropping one that may still be needed.
    pub fn has_room(&self) -> bool {
        self.entries.len() < self.capacity || self.front_may_go()
    }

    fn front_may_go(&self) -> bool {
        self.entries
            .front()
            .is_some_and(|e| e.n <= self.counted.min(self.written))
    }

    /// Appends an event (built for number [`Replay::next_n`]); drops the oldest counted one if
    /// full. `force` appends even when there is no room (the stream's last word).
    pub fn push(&mut self, event: Bytes, mark: Mark, force: bool) -> u64 {
        debug_assert!(force || self.has_room());
        if self.entries.len() >= self.capacity && self.front_may_go() {
            self.entries.pop_front();
        }
        let n = self.next;
        self.next += 1;
        self.entries.push_back(Entry { n, event, mark });
        n
    }

    /// The events after `after`, joined into one chunk of at most `max_events`, and the
    /// number of the last; marks them handed. `None` when there is nothing after it.
    pub fn take_after(&mut self, after: u64, max_events: usize) -> Option<(Bytes, u64)> {
        let start = self.entries.partition_point(|e| e.n <= after);
        let events = self.entries.range(start..).take(max_events);
        let mut chunk = BytesMut::new();
        let mut last = None;
        for entry in events {
            chunk.extend_from_slice(&entry.event);
            last = Some(entry.n);
        }
        let last = last?;
        self.handed = self.handed.max(last);
        Some((chunk.freeze(), last))
    }

    /// Whether a client that holds everything up to `last` can be given the rest: it names an
    /// event that was handed out, and every event after it is still kept.
    pub fn covers(&self, last: u64) -> bool {
        if last > self.handed {
            return false;
        }
        match self.entries.front() {
            Some(first) => first.n <= last + 1,
            None => last + 1 == self.next,
        }
    }

    /// Whether every event was written.
    pub fn all_written(&self) -> bool {
        self.written + 1 >= self.next
    }

    /// Everything up to `n` has left the server.
    pub fn written(&mut self, n: u64) {
        self.written = self.written.max(n.min(self.handed));
    }

    /// A client holding everything up to `last` (which [`Replay::covers`]) is back: what
    /// follows is handed again from the start.
    pub fn restart_from(&mut self, last: u64) {
        self.handed = last;
        self.written = last;
    }

    /// The marks of the events written since the last call; they count from now on.
    pub fn take_marks(&mut self) -> Vec<(ConvId, u64)> {
        if self.counted >= self.written {
            return Vec::new();
        }
        let (from, to) = (self.counted, self.written);
        self.counted = to;
        self.entries
            .iter()
            .filter(|e| e.n > from && e.n <= to)
            .filter_map(|e| e.mark)
            .collect()
    }

    /// Drops every event (the stream is over).
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: u64) -> Bytes {
        Bytes::from(format!("e{n};"))
    }

    fn fill(replay: &mut Replay, count: u64) {
        for _ in 0..count {
            let n = replay.next_n();
            replay.push(event(n), Some((1, n)), false);
        }
    }

    #[test]
    fn events_are_handed_in_batches_from_any_point() {
        let mut replay = Replay::new(10);
        assert_eq!(replay.take_after(0, 10), None);
        fill(&mut replay, 5);
        let (chunk, last) = replay.take_after(0, 2).unwrap();
        assert_eq!((&chunk[..], last), (&b"e1;e2;"[..], 2));
        let (chunk, last) = replay.take_after(2, 10).unwrap();
        assert_eq!((&chunk[..], last), (&b"e3;e4;e5;"[..], 5));
        assert_eq!(replay.take_after(5, 10), None);
        // A client that read only up to 3 gets 4 and 5 again.
        assert!(replay.covers(3));
        let (chunk, _) = replay.take_after(3, 10).unwrap();
        assert_eq!(&chunk[..], b"e4;e5;");
    }

    #[test]
    fn only_counted_events_make_room() {
        let mut replay = Replay::new(3);
        fill(&mut replay, 3);
        assert!(!replay.has_room(), "three events nobody has written");
        replay.take_after(0, 10);
        assert!(!replay.has_room(), "handed is not written");
        replay.written(2);
        assert!(!replay.has_room(), "written is not counted yet");
        let marks = replay.take_marks();
        assert_eq!(marks, vec![(1, 1), (1, 2)]);
        assert!(replay.take_marks().is_empty(), "each mark counts once");
        assert!(replay.has_room());
        fill(&mut replay, 1);
        assert!(replay.has_room(), "2 can go too");
        fill(&mut replay, 1);
        assert!(!replay.has_room());
        // 1 and 2 were dropped: a client that read nothing cannot be given the rest.
        assert!(!replay.covers(0));
        assert!(!replay.covers(1));
        assert!(replay.covers(2));
        // The last word goes in regardless.
        replay.push(event(6), None, true);
        assert_eq!(replay.take_after(2, 10).unwrap().1, 6);
    }

    #[test]
    fn covers_only_what_was_handed() {
        let mut replay = Replay::new(4);
        assert!(replay.covers(0), "a fresh stream, nothing missed");
        assert!(!replay.covers(1), "no such event yet");
        fill(&mut replay, 2);
        assert!(
            !replay.covers(2),
            "never handed out: the client cannot hold it"
        );
        replay.take_after(0, 1);
        assert!(replay.covers(1));
        assert!(replay.covers(0));
        assert!(!replay.covers(2));
        replay.written(7);
        assert_eq!(replay.take_marks(), vec![(1, 1)], "written stops at handed");
    }

    #[test]
    fn a_returning_client_gets_again_what_it_missed_and_nothing_it_needs_is_dropped() {
        let mut replay = Replay::new(3);
        fill(&mut replay, 3);
        replay.take_after(0, 10);
        replay.written(3);
        assert_eq!(replay.take_marks().len(), 3);
        // The client read only event 1 before its connection died.
        assert!(replay.covers(1));
        replay.restart_from(1);
        assert!(replay.has_room(), "1 may go: the client holds it");
        fill(&mut replay, 1);
        assert!(
            !replay.has_room(),
            "2 and 3 were counted but must be sent again"
        );
        let (chunk, last) = replay.take_after(1, 10).unwrap();
        assert_eq!((&chunk[..], last), (&b"e2;e3;e4;"[..], 4));
        replay.written(3);
        assert!(replay.take_marks().is_empty(), "counted once only");
        assert!(replay.has_room());
        replay.written(4);
        assert_eq!(replay.take_marks(), vec![(1, 4)]);
    }
}
