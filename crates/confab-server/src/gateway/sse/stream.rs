//! One stream: a hub session that outlives the HTTP connections reading it. Two tasks serve
//! it, as the reader and the writer serve a WebSocket:
//!
//! - the **reader** owns the [`Session`]: it hands the frames that POSTs bring to the hub, in
//!   the order they came, and when the session ends it closes it;
//! - the **pump** owns the [`Outbox`]: every frame that answers a pending POST (by its
//!   `reply_to`) goes to that POST; every other frame becomes an event in the [`Replay`]. It
//!   reports to the delivery cursor what the connection wrote, and closes the session when no
//!   connection came back within the grace period.
//!
//! A [`Feed`] is one connection's view: the response body of one `GET /api/v1/events`. A new
//! connection replaces the one before it. When the session ends, the last event is `close`.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use confab_protocol::{close, ClientFrame, FrameError, ServerFrame};
use dashmap::DashMap;
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::event::{self, EventId};
use super::replay::{Mark, Replay};
use crate::auth::TokenHash;
use crate::gateway::admission::IpSlot;
use crate::hub::sessions::SessionControl;
use crate::hub::{Hub, Next, Outbox, Session};
use crate::store::User;

/// Events written to a connection in one chunk, at most.
const CHUNK_EVENTS: usize = 64;
/// Frames the pump takes from the outbox before it wakes the connection, at most.
const BATCH: usize = 64;
/// Batches of frames waiting for the reader, per stream; more POSTs wait their turn.
const BATCHES: usize = 16;
/// How long the end of a stream waits for its connection to write what is left.
const GOODBYE_WAIT: Duration = Duration::from_secs(1);

/// Every open stream, by id.
#[derive(Clone, Default)]
pub struct Streams(Arc<DashMap<String, Arc<Stream>>>);

impl Streams {
    pub fn get(&self, id: &str) -> Option<Arc<Stream>> {
        self.0.get(id).map(|s| s.clone())
    }

    fn insert(&self, stream: Arc<Stream>) {
        self.0.insert(stream.id.clone(), stream);
    }

    fn remove(&self, id: &str) {
        self.0.remove(id);
    }

    /// How many streams are open.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The frames of one POST, for the reader; `done` says they were all handled.
struct Batch {
    frames: Vec<Result<ClientFrame, FrameError>>,
    done: oneshot::Sender<()>,
}

/// Where the reply to one frame of a pending POST goes: the frame's place in the POST.
struct Route {
    post: u64,
    index: usize,
    tx: mpsc::UnboundedSender<(usize, Bytes)>,
}

pub struct Stream {
    pub id: String,
    pub user: User,
    /// The token the session runs on (a revoked token closes the session).
    pub token: TokenHash,
    session: u64,
    pub control: Arc<SessionControl>,
    batches: mpsc::Sender<Batch>,
    shared: Mutex<Shared>,
    /// New events, a new connection, or the end: wakes the connection.
    wake: Notify,
    /// The connection wrote, came or went: wakes the pump.
    progress: Notify,
    heartbeat: Duration,
}

struct Shared {
    replay: Replay,
    /// The attached connection's number; 0 when there is none.
    attached: u64,
    connections: u64,
    detached_since: Option<Instant>,
    routes: HashMap<String, VecDeque<Route>>,
    posts: u64,
    ended: bool,
}

/// What a stream needs from the server around it.
pub struct Context {
    pub hub: Hub,
    pub streams: Streams,
    pub tasks: TaskTracker,
    pub shutdown: CancellationToken,
}

impl Stream {
    /// Starts a stream on a freshly opened session whose outbox has yielded `ready` (the
    /// first event, given to the returned connection).
    pub fn start(
        context: &Context,
        session: Session,
        outbox: Outbox,
        ready: &ServerFrame,
        slot: IpSlot,
    ) -> (Arc<Self>, Feed) {
        let config = context.hub.config();
        let (batches, batch_rx) = mpsc::channel(BATCHES);
        let stream = Arc::new(Self {
            id: event::new_stream_id(),
            user: session.user.clone(),
            token: session.handle.token,
            session: session.handle.id,
            control: session.handle.control.clone(),
            batches,
            shared: Mutex::new(Shared {
                replay: Replay::new(config.sse.replay_events),
                attached: 0,
                connections: 0,
                detached_since: None,
                routes: HashMap::new(),
                posts: 0,
                ended: false,
            }),
            wake: Notify::new(),
            progress: Notify::new(),
            heartbeat: config.sse.heartbeat(),
        });
        let first = stream.first_event(ready, 0);
        let feed = stream.attach(0, first);
        context.streams.insert(stream.clone());
        let pump = context.tasks.spawn(pump(
            stream.clone(),
            outbox,
            context.shutdown.clone(),
            config.sse.resume_grace(),
        ));
        context.tasks.spawn(read(
            stream.clone(),
            context.hub.clone(),
            session,
            batch_rx,
            pump,
            (context.streams.clone(), slot),
        ));
        (stream, feed)
    }

    /// Attaches a connection whose client holds every event up to `last`, if the stream
    /// still has all that came after: it gets a new `ready`, then those events, then the rest.
    pub fn resume(self: &Arc<Self>, hub: &Hub, last: u64) -> Option<Feed> {
        let first = self.first_event(&hub.ready_again(&self.user, self.session), last);
        let mut shared = self.lock();
        if shared.ended || self.control.is_closed() || !shared.replay.covers(last) {
            return None;
        }
        shared.replay.restart_from(last);
        drop(shared);
        Some(self.attach(last, first))
    }

    /// The reconnection delay and `ready` (with this stream's id) as event `last`.
    fn first_event(&self, ready: &ServerFrame, last: u64) -> Bytes {
        let mut ready = ready.clone();
        if let ServerFrame::Ready(ready) = &mut ready {
            ready.stream = Some(self.id.clone());
        }
        let id = EventId {
            stream: self.id.clone(),
            n: last,
        };
        event::encode_first(ready.to_json().as_bytes(), &id)
    }

    fn attach(self: &Arc<Self>, last: u64, first: Bytes) -> Feed {
        let mut shared = self.lock();
        shared.connections += 1;
        shared.attached = shared.connections;
        shared.detached_since = None;
        let generation = shared.attached;
        drop(shared);
        // The connection it replaces, if any, sees it is no longer attached and ends.
        self.wake.notify_waiters();
        self.progress.notify_one();
        let mut heartbeat =
            tokio::time::interval_at(Instant::now() + self.heartbeat, self.heartbeat);
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Feed {
            stream: self.clone(),
            generation,
            after: last,
            first: Some(first),
            unreported: None,
            heartbeat,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().expect("stream lock")
    }

    /// Routes the replies to frames with these ids (by their place in the POST) to the POST.
    pub fn expect_replies(self: &Arc<Self>, ids: &[Option<String>]) -> Replies {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut shared = self.lock();
        shared.posts += 1;
        let post = shared.posts;
        let mut expected = 0;
        for (index, id) in ids.iter().enumerate() {
            if let Some(id) = id {
                let tx = tx.clone();
                let route = Route { post, index, tx };
                shared
                    .routes
                    .entry(id.clone())
                    .or_default()
                    .push_back(route);
                expected += 1;
            }
        }
        Replies {
            stream: self.clone(),
            post,
            rx,
            expected,
        }
    }

    fn forget_post(&self, post: u64) {
        let mut shared = self.lock();
        shared.routes.retain(|_, routes| {
            routes.retain(|r| r.post != post);
            !routes.is_empty()
        });
    }

    /// Hands frames to the reader, in order; the receiver resolves once they were handled
    /// and fails if the stream ended first.
    pub async fn submit(
        &self,
        frames: Vec<Result<ClientFrame, FrameError>>,
    ) -> Result<oneshot::Receiver<()>, ()> {
        let (done, handled) = oneshot::channel();
        self.batches
            .send(Batch { frames, done })
            .await
            .map_err(|_| ())?;
        Ok(handled)
    }

    /// A frame from the outbox: to the POST waiting for it, or onto the stream (the connection
    /// is woken once per batch, by the caller). Returns whether it went to a POST.
    fn deliver(&self, frame: Bytes, mark: Mark, force: bool) -> bool {
        let mut shared = self.lock();
        if !shared.routes.is_empty() {
            if let Some(reply_to) = event::reply_to(&frame) {
                if let Some(routes) = shared.routes.get_mut(&reply_to) {
                    // Sent under the lock, so a POST that stops waiting either got it or
                    // left it for the stream.
                    while let Some(route) = routes.pop_front() {
                        if route.tx.send((route.index, frame.clone())).is_ok() {
                            if routes.is_empty() {
                                shared.routes.remove(&reply_to);
                            }
                            return true;
                        }
                    }
                    shared.routes.remove(&reply_to);
                }
            }
        }
        let id = EventId {
            stream: self.id.clone(),
            n: shared.replay.next_n(),
        };
        shared.replay.push(event::encode(&frame, &id), mark, force);
        false
    }

    /// The last event: `close` with the session's close code.
    fn finish(&self, code: u16, reason: &'static str) {
        let mut shared = self.lock();
        if shared.ended {
            return;
        }
        let frame = ServerFrame::Close {
            code,
            reason: reason.to_owned(),
        };
        let id = EventId {
            stream: self.id.clone(),
            n: shared.replay.next_n(),
        };
        let event = event::encode(frame.to_json().as_bytes(), &id);
        shared.replay.push(event, None, true);
        shared.ended = true;
        drop(shared);
        self.wake.notify_waiters();
    }

    fn has_room(&self) -> bool {
        self.lock().replay.has_room()
    }

    fn take_marks(&self) -> Vec<(crate::store::ConvId, u64)> {
        self.lock().replay.take_marks()
    }

    /// When the grace period of a connectionless stream runs out.
    fn grace_end(&self, grace: Duration) -> Option<Instant> {
        self.lock().detached_since.map(|since| since + grace)
    }

    /// Whether the connection has everything (or there is none to wait for).
    fn drained(&self) -> bool {
        let shared = self.lock();
        shared.attached == 0 || shared.replay.all_written()
    }
}

/// The replies a POST waits for.
pub struct Replies {
    stream: Arc<Stream>,
    post: u64,
    rx: mpsc::UnboundedReceiver<(usize, Bytes)>,
    expected: usize,
}

impl Replies {
    /// Waits until every expected reply came, the stream ended, or `deadline`; returns the
    /// replies that came, in the order of their frames. Later ones go on the stream.
    pub async fn collect(mut self, deadline: Instant) -> Vec<Bytes> {
        let mut got: Vec<Option<Bytes>> = Vec::new();
        let mut count = 0;
        while count < self.expected {
            let next = tokio::select! {
                next = tokio::time::timeout_at(deadline, self.rx.recv()) => next,
                () = self.stream.control.closed() => break,
            };
            match next {
                Ok(Some((index, frame))) => {
                    place(&mut got, index, frame);
                    count += 1;
                }
                Ok(None) | Err(_) => break,
            }
        }
        // No more routing to this POST; what was routed before is in the channel.
        self.stream.forget_post(self.post);
        while let Ok((index, frame)) = self.rx.try_recv() {
            place(&mut got, index, frame);
        }
        got.into_iter().flatten().collect()
    }
}

impl Drop for Replies {
    fn drop(&mut self) {
        self.stream.forget_post(self.post);
    }
}

fn place(got: &mut Vec<Option<Bytes>>, index: usize, frame: Bytes) {
    if got.len() <= index {
        got.resize(index + 1, None);
    }
    got[index] = Some(frame);
}

/// The reader: frames from POSTs to the hub, in order, until the session ends; then the
/// end of the session (and of its place in the per-address count).
async fn read(
    stream: Arc<Stream>,
    hub: Hub,
    mut session: Session,
    mut batches: mpsc::Receiver<Batch>,
    pump: JoinHandle<()>,
    (streams, _slot): (Streams, IpSlot),
) {
    // Counted for as long as the session lives, reconnects of its stream included.
    let _counted = hub.metrics().connection("sse");
    loop {
        let batch = tokio::select! {
            biased;
            () = stream.control.closed() => break,
            batch = batches.recv() => batch,
        };
        let Some(batch) = batch else { break };
        for frame in batch.frames {
            hub.handle(&mut session, frame).await;
        }
        let _ = batch.done.send(());
    }
    stream.control.close(close::NORMAL, "connection closed");
    let _ = pump.await;
    streams.remove(&stream.id);
    batches.close();
    hub.close_session(session);
}

/// The pump: the outbox to POSTs and the replay, until the session ends.
async fn pump(
    stream: Arc<Stream>,
    mut outbox: Outbox,
    shutdown: CancellationToken,
    grace: Duration,
) {
    loop {
        for (conv, seq) in stream.take_marks() {
            outbox.written(conv, seq);
        }
        let room = stream.has_room();
        let grace_end = stream.grace_end(grace);
        tokio::select! {
            biased;
            () = shutdown.cancelled() => {
                // What is queued already still goes out, then the goodbye.
                while let Some(Next::Send(frame, mark)) = outbox.try_next() {
                    stream.deliver(frame, mark, true);
                }
                stream.wake.notify_waiters();
                stream.finish(close::GOING_AWAY, "server shutting down");
                stream.control.close(close::GOING_AWAY, "server shutting down");
                break;
            }
            () = sleep_until(grace_end) => {
                if stream.grace_end(grace).is_some_and(|end| end <= Instant::now()) {
                    tracing::info!(stream = %stream.id, "stream not resumed in time");
                    stream.control.close(close::NORMAL, "connection closed");
                    stream.finish(close::NORMAL, "connection closed");
                    break;
                }
            }
            () = stream.progress.notified() => {}
            next = outbox.next(), if room => {
                // Everything ready goes in one batch, and the connection is woken once for it.
                let mut next = Some(next);
                let mut taken = 0;
                let mut closing = None;
                while let Some(item) = next.take() {
                    match item {
                        Next::Send(frame, mark) => {
                            if stream.deliver(frame, mark, false) {
                                if let Some((conv, seq)) = mark {
                                    outbox.written(conv, seq);
                                }
                            }
                        }
                        Next::Close(code, reason) => {
                            closing = Some((code, reason));
                            break;
                        }
                    }
                    taken += 1;
                    if taken < BATCH && stream.has_room() {
                        next = outbox.try_next();
                    }
                }
                stream.wake.notify_waiters();
                if let Some((code, reason)) = closing {
                    stream.finish(code, reason);
                    break;
                }
            }
            () = stream.control.closed(), if !room => {
                let (code, reason) = stream
                    .control
                    .requested()
                    .unwrap_or((close::GOING_AWAY, "session ended"));
                stream.finish(code, reason);
                break;
            }
        }
    }
    // Let the connection write what is left, counting it as it goes.
    let deadline = Instant::now() + GOODBYE_WAIT;
    while !stream.drained() && Instant::now() < deadline {
        let _ = tokio::time::timeout_at(deadline, stream.progress.notified()).await;
        for (conv, seq) in stream.take_marks() {
            outbox.written(conv, seq);
        }
    }
    for (conv, seq) in stream.take_marks() {
        outbox.written(conv, seq);
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// One connection's events: the response body of one `GET /api/v1/events`.
pub struct Feed {
    stream: Arc<Stream>,
    generation: u64,
    /// The last event given to this connection.
    after: u64,
    first: Option<Bytes>,
    /// The last event of the chunk before, known written once the next chunk is asked for.
    unreported: Option<u64>,
    heartbeat: tokio::time::Interval,
}

enum Take {
    Chunk(Bytes, u64),
    Nothing,
    End,
}

impl Feed {
    /// The response body.
    pub fn into_body(self) -> Body {
        let chunks = futures_util::stream::unfold(self, |mut feed| async move {
            let chunk = feed.next_chunk().await?;
            Some((Ok::<_, Infallible>(chunk), feed))
        });
        Body::from_stream(chunks)
    }

    async fn next_chunk(&mut self) -> Option<Bytes> {
        if let Some(first) = self.first.take() {
            return Some(first);
        }
        if let Some(n) = self.unreported.take() {
            self.report_written(n);
        }
        loop {
            let notified = self.stream.wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.take() {
                Take::Chunk(chunk, last) => {
                    self.after = last;
                    self.unreported = Some(last);
                    self.heartbeat.reset();
                    return Some(chunk);
                }
                Take::End => return None,
                Take::Nothing => {}
            }
            tokio::select! {
                () = &mut notified => {}
                _ = self.heartbeat.tick() => return Some(Bytes::from_static(event::HEARTBEAT)),
            }
        }
    }

    fn take(&self) -> Take {
        let mut shared = self.stream.lock();
        if shared.attached != self.generation {
            return Take::End;
        }
        match shared.replay.take_after(self.after, CHUNK_EVENTS) {
            Some((chunk, last)) => Take::Chunk(chunk, last),
            None if shared.ended => Take::End,
            None => Take::Nothing,
        }
    }

    fn report_written(&self, n: u64) {
        let mut shared = self.stream.lock();
        if shared.attached == self.generation {
            shared.replay.written(n);
        }
        drop(shared);
        self.stream.progress.notify_one();
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        let mut shared = self.stream.lock();
        if shared.attached == self.generation {
            shared.attached = 0;
            shared.detached_since = Some(Instant::now());
        }
        drop(shared);
        self.stream.progress.notify_one();
    }
}
