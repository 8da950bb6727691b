//! The hub: sessions, users, rooms and the rules between them. It knows nothing about sockets,
//! SQL or which transport a frame came from: a transport authenticates through
//! [`Hub::authenticate`], opens a [`Session`] with [`Hub::open_session`], hands it decoded
//! frames with [`Hub::handle`] and sends what the session's [`Outbox`] yields.
//!
//! One handler per frame type lives in its own module ([`accounts`], [`messages`], [`rooms`],
//! [`history`]); [`dispatch`] delivers bus events to local sessions.

pub mod abuse;
pub mod accounts;
mod attachments;
mod chats;
mod cursors;
mod directory;
mod dispatch;
pub mod health;
mod history;
mod invites;
pub mod logins;
mod messages;
pub mod outbox;
mod powers;
mod presence;
mod profiles;
pub mod queue;
pub mod ratelimit;
mod receipts;
mod room_state;
mod rooms;
mod search;
pub mod sessions;
mod social;
mod updates;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use confab_protocol::messaging::Update;
use confab_protocol::{
    ChatMessage, ClientFrame, ConversationInfo, ErrorCode, FrameError, Ready, Receiver,
    ServerFrame, UserInfo, PROTOCOL_VERSION,
};
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::{PasswordHasher, Token, TokenHash};
use crate::bus::{Bus, Event};
use crate::config::Config;
use crate::error::AppError;
use crate::metrics::Metrics;
use crate::store::{Store, StoredMessage, Unread, User, UserId};
pub use accounts::Credentials;
use cursors::Cursors;
use directory::Directory;
pub use logins::ClientInfo;
pub use outbox::{Next, Outbox};
use ratelimit::TokenBucket;
use room_state::RoomStates;
use sessions::{Outbound, Registry, SessionHandle};

/// The room every new user joins.
pub const DEFAULT_ROOM: &str = "#general";

/// How often moved delivery cursors are written to the store.
const CURSOR_FLUSH: Duration = Duration::from_millis(500);
/// Token last-seen times are written every this many cursor flushes (30 s).
const TOUCH_FLUSH_TICKS: u64 = 60;

/// The hub; cheap to clone.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    store: Arc<dyn Store>,
    bus: Arc<dyn Bus>,
    directory: Directory,
    rooms: RoomStates,
    sessions: Registry,
    /// Who is online on the other nodes.
    presence: presence::RemotePresence,
    cursors: Cursors,
    hasher: PasswordHasher,
    writes: Arc<Semaphore>,
    next_session: AtomicU64,
    tasks: TaskTracker,
    stop: CancellationToken,
    metrics: Arc<Metrics>,
    health: health::HealthCache,
    abuse: abuse::Abuse,
    jwt: Option<crate::auth::jwt::JwtVerifier>,
    touches: logins::Touches,
    attachments: crate::attachments::Attachments,
}

/// A user who proved who they are, with the token their session runs on.
#[derive(Debug, Clone)]
pub struct Authed {
    pub user: User,
    pub token: TokenHash,
    /// Set when authentication minted a token (password login); shown once in `ready`.
    pub new_token: Option<Token>,
    /// When the credential expires (a JWT's `exp`, Unix seconds): the session closes then with
    /// 4003 unless a `refresh` moves it. `None` for confab's own tokens.
    pub expires_at: Option<i64>,
}

/// How a session resumes: the `login` frame's id and the client's own cursors.
#[derive(Debug, Clone, Default)]
pub struct Resume {
    pub reply_to: Option<String>,
    pub cursors: BTreeMap<Receiver, u64>,
}

/// One open session, owned by its transport's task.
pub struct Session {
    pub handle: SessionHandle,
    pub user: User,
    frames: TokenBucket,
}

impl Session {
    /// Queues a frame for this session.
    pub fn send(&self, frame: &ServerFrame) {
        self.handle
            .push(Outbound::Frame(Bytes::from(frame.to_json())));
    }

    /// Queues the error for a frame that failed to decode.
    pub fn send_frame_error(&self, err: FrameError) {
        self.send(&ServerFrame::error(err.code, err.message, err.reply_to));
    }

    fn send_error(&self, err: AppError, reply_to: Option<&str>) {
        self.send(&ServerFrame::error(
            err.code,
            err.message,
            reply_to.map(str::to_owned),
        ));
    }

    fn ack(&self, reply_to: Option<&str>) {
        if let Some(id) = reply_to {
            self.send(&ServerFrame::Ack(confab_protocol::Ack {
                reply_to: id.to_owned(),
                ..Default::default()
            }));
        }
    }
}

impl Hub {
    /// A hub over `store`, delivering what `bus` hands to `events`. Loads the directory and
    /// starts the dispatcher and the cursor flusher.
    pub async fn new(
        config: Config,
        store: Arc<dyn Store>,
        bus: Arc<dyn Bus>,
        events: mpsc::UnboundedReceiver<Event>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, AppError> {
        let jwt = match &config.jwt.key_file {
            Some(path) => Some(
                crate::auth::jwt::JwtVerifier::from_file(
                    path,
                    config.jwt.issuer.as_deref(),
                    config.jwt.audience.as_deref(),
                )
                .map_err(AppError::bad_request)?,
            ),
            None => None,
        };
        let general = store.room(DEFAULT_ROOM).await?;
        let mut snapshot = store.directory().await?;
        let rooms = store.room_snapshot().await?;
        let deleted: std::collections::HashSet<_> = rooms.deleted.iter().copied().collect();
        snapshot
            .conversations
            .retain(|conv| !deleted.contains(&conv.id));
        let leftovers = store.sweep_deleted_rooms().await?;
        let directory = Directory::load(snapshot);
        directory.add_conversation(&general);
        let attachments =
            crate::attachments::Attachments::open(&config.data_dir, &config.attachments).map_err(
                |err| {
                    tracing::error!(%err, "cannot open the blob store");
                    AppError::internal()
                },
            )?;
        for (user, contact) in store.contact_pairs().await? {
            directory.add_contact(user, contact);
        }
        let rooms = RoomStates::load(rooms, config.rooms);
        let hasher = PasswordHasher::new(config.abuse.hash_threads());
        let inner = Arc::new(Inner {
            writes: Arc::new(Semaphore::new(config.store.max_pending_writes)),
            abuse: abuse::Abuse::new(&config.abuse),
            jwt,
            touches: logins::Touches::default(),
            config,
            store,
            bus,
            directory,
            rooms,
            sessions: Registry::default(),
            presence: presence::RemotePresence::default(),
            cursors: Cursors::default(),
            hasher,
            next_session: AtomicU64::new(1),
            tasks: TaskTracker::new(),
            stop: CancellationToken::new(),
            metrics,
            health: health::HealthCache::default(),
            attachments,
        });
        let hub = Self { inner };
        for id in leftovers {
            if let Err(err) = hub.erase_attachment(&id).await {
                tracing::warn!(%err, attachment = %id, "cannot erase an attachment of a deleted room");
            }
        }
        hub.inner.tasks.spawn(dispatch::run(hub.clone(), events));
        hub.inner.tasks.spawn(hub.clone().flush_cursors_forever());
        hub.inner
            .tasks
            .spawn(hub.clone().collect_attachments_forever());
        Ok(hub)
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Counts a WebSocket handshake from `from` against the abuse limits.
    pub fn admit_handshake(&self, from: std::net::IpAddr) -> Result<(), AppError> {
        self.inner.abuse.handshake(from)?;
        self.sync(crate::bus::CacheSync::Hit {
            limit: abuse::Limit::Handshake,
            key: abuse::address_key(from).to_string(),
        });
        Ok(())
    }

    /// Counts a password attempt from `from` against the abuse limits, on every node.
    fn attempt(&self, from: std::net::IpAddr) -> Result<(), AppError> {
        self.inner.abuse.attempt(from)?;
        self.sync(crate::bus::CacheSync::Hit {
            limit: abuse::Limit::Attempts,
            key: abuse::address_key(from).to_string(),
        });
        Ok(())
    }

    /// The server's counters.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub(crate) fn store(&self) -> &dyn Store {
        self.inner.store.as_ref()
    }

    fn directory(&self) -> &Directory {
        &self.inner.directory
    }

    fn rooms(&self) -> &RoomStates {
        &self.inner.rooms
    }

    fn cursors(&self) -> &Cursors {
        &self.inner.cursors
    }

    fn publish(&self, event: Event) {
        self.inner.bus.publish(event);
    }

    /// Tells the other nodes about a change to what this node caches.
    fn sync(&self, change: crate::bus::CacheSync) {
        self.publish(Event::Sync(change));
    }

    /// Whether the user has a session on this node or any other.
    fn is_online(&self, user: UserId) -> bool {
        self.inner.sessions.is_online(user) || self.inner.presence.is_online(user)
    }

    /// Opens a session: registers it (announcing presence if it is the user's first), and
    /// returns its outbox, which starts with `ready` and the catch-up of missed messages.
    pub async fn open_session(
        &self,
        authed: Authed,
        resume: Resume,
    ) -> Result<(Session, Outbox), AppError> {
        let config = &self.inner.config;
        let id = self.inner.next_session.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(config.session.outbound_queue);
        // Bounded below the outbound queue, so pending acks can never overflow it.
        let in_flight = (config.session.outbound_queue / 4).max(1);
        let queue = queue::QueueBytes::new(
            config.session.outbound_queue_bytes,
            config.session.slow_consumer_grace(),
            self.metrics().queue_bytes(),
        );
        let handle = SessionHandle::new(id, authed.user.id, authed.token, tx, in_flight, queue);
        if let Some(expires_at) = authed.expires_at {
            handle.expire_at(expires_at);
        }
        let rate = config.rate;
        let max = config.abuse.max_sessions_per_user;
        let added = self.inner.sessions.add(
            handle.clone(),
            max,
            || TokenBucket::new(rate.messages_per_sec, rate.messages_burst),
            || {
                self.publish(Event::Presence {
                    user: authed.user.id,
                    online: true,
                })
            },
        );
        if !added {
            return Err(AppError::new(
                ErrorCode::RateLimited,
                format!("too many open sessions (at most {max}); close one first"),
            ));
        }
        // Registered before reading what was missed, so nothing falls between the two.
        let mut unread = match self.store().unread(authed.user.id).await {
            Ok(unread) => unread,
            Err(err) => {
                self.close_session_handle(&handle);
                return Err(err.into());
            }
        };
        for entry in &mut unread {
            if let Some(seen) = self.cursors().get(authed.user.id, entry.conv) {
                entry.cursor = entry.cursor.max(seen);
            }
        }
        self.apply_client_cursors(authed.user.id, &resume.cursors, &mut unread);
        let ready = self.ready_frame(&authed, id, resume.reply_to);
        self.metrics().session_opened();
        tracing::info!(session = id, user = %authed.user.username, catch_up = unread.iter().filter(|u| u.cursor < u.last_seq).count(), "session open");
        let outbox = Outbox::new(
            self.clone(),
            &handle,
            rx,
            Bytes::from(ready.to_json()),
            unread,
        );
        let session = Session {
            handle,
            user: authed.user,
            frames: TokenBucket::new(rate.frames_per_sec, rate.frames_burst),
        };
        Ok((session, outbox))
    }

    /// Where the client said how far it got, its word wins over the server's cursor.
    fn apply_client_cursors(
        &self,
        user: UserId,
        cursors: &BTreeMap<Receiver, u64>,
        unread: &mut Vec<Unread>,
    ) {
        for (receiver, &seq) in cursors {
            let conv = match receiver {
                Receiver::Room(room) => self.directory().room(room.as_str()),
                Receiver::User(peer) => self
                    .directory()
                    .user_id(peer.as_str())
                    .and_then(|peer| self.directory().direct(user, peer)),
            };
            let Some(conv) = conv.filter(|&conv| self.directory().is_member(conv, user)) else {
                continue;
            };
            match unread.iter_mut().find(|entry| entry.conv == conv) {
                Some(entry) => entry.cursor = seq,
                None => unread.push(Unread {
                    conv,
                    cursor: seq,
                    last_seq: self.directory().last_seq(conv),
                }),
            }
        }
    }

    fn ready_frame(&self, authed: &Authed, session: u64, reply_to: Option<String>) -> ServerFrame {
        let mut frame = self.ready_again(&authed.user, session);
        if let ServerFrame::Ready(ready) = &mut frame {
            ready.token = authed.new_token.as_ref().map(|t| t.reveal().to_owned());
            ready.reply_to = reply_to;
        }
        frame
    }

    /// The `ready` frame of an open session as it stands now (no token, no `reply_to`), for a
    /// transport that attaches a new connection to a session it kept open.
    pub fn ready_again(&self, user: &User, session: u64) -> ServerFrame {
        let info =
            |(_, receiver, last_seq): (_, String, u64)| ConversationInfo { receiver, last_seq };
        let (rooms, direct) = self.directory().conversations_of(user.id);
        ServerFrame::Ready(Ready {
            protocol: PROTOCOL_VERSION,
            session: session.to_string(),
            user: UserInfo {
                username: user.username.clone(),
            },
            rooms: rooms.into_iter().map(info).collect(),
            direct: direct.into_iter().map(info).collect(),
            limits: self.inner.config.limits,
            token: None,
            reply_to: None,
            stream: None,
        })
    }

    /// Handles one frame from a session, as its transport decoded it. Frames that failed to
    /// decode count toward the rate limit like any other.
    pub async fn handle(&self, session: &mut Session, frame: Result<ClientFrame, FrameError>) {
        self.metrics().frame_received(match &frame {
            Ok(frame) => frame.kind(),
            Err(_) => "invalid",
        });
        let id = match &frame {
            Ok(frame) => frame.id().map(str::to_owned),
            Err(err) => err.reply_to.clone(),
        };
        if !session.frames.try_take() {
            self.metrics().error_sent(ErrorCode::RateLimited);
            self.metrics().rate_limited("frames");
            session.send_error(
                AppError::new(ErrorCode::RateLimited, "too many frames; slow down"),
                id.as_deref(),
            );
            return;
        }
        let frame = match frame {
            Ok(frame) => frame,
            Err(err) => {
                self.metrics().error_sent(err.code);
                return session.send_frame_error(err);
            }
        };
        let reply_to = id.as_deref();
        let result = match frame {
            ClientFrame::Login(_) => Err(AppError::bad_request("already logged in")),
            ClientFrame::Logout { .. } => self.logout(session, reply_to).await,
            ClientFrame::Message(message) => self.send_message(session, message).await,
            ClientFrame::Join(r) => self
                .join_room(&session.user, &r.room, r.password.as_deref())
                .await
                .map(|()| session.ack(reply_to)),
            ClientFrame::Leave(r) => self
                .leave_room(&session.user, &r.room)
                .await
                .map(|()| session.ack(reply_to)),
            ClientFrame::History(request) => self.history(session, request).await,
            ClientFrame::Typing(typing) => self
                .typing(session, &typing.receiver)
                .map(|()| session.ack(reply_to)),
            ClientFrame::Rooms { .. } => {
                session.send(&self.rooms_frame(session.user.id, id.clone()));
                Ok(())
            }
            ClientFrame::Members(request) => self
                .members_frame(session.user.id, &request.room, id.clone())
                .map(|frame| session.send(&frame)),
            ClientFrame::Edit(edit) => self.edit(session, edit).await,
            ClientFrame::Delete(delete) => self.delete(session, delete).await,
            ClientFrame::React(react) => self.react(session, react).await,
            ClientFrame::Read(read) => self.read(session, read).await,
            ClientFrame::Receipts(request) => self.receipts(session, request).await,
            ClientFrame::Chats { .. } => self
                .chats_frame(session.user.id, id.clone())
                .await
                .map(|frame| session.send(&frame)),
            ClientFrame::DeleteChat(request) => self.delete_chat(session, request).await,
            ClientFrame::Search(request) => self
                .search_frame(&session.user, request)
                .await
                .map(|frame| session.send(&frame)),
            ClientFrame::Refresh(refresh) => self
                .refresh(session, &refresh.token)
                .await
                .map(|()| session.ack(reply_to)),
            ClientFrame::Ping { .. } => {
                session.send(&ServerFrame::Pong {
                    reply_to: id.clone(),
                });
                Ok(())
            }
            frame @ (ClientFrame::Profile(_)
            | ClientFrame::SetProfile(_)
            | ClientFrame::Contacts { .. }
            | ClientFrame::AddContact(_)
            | ClientFrame::RemoveContact(_)
            | ClientFrame::Invite(_)
            | ClientFrame::Invitations { .. }
            | ClientFrame::InviteReply(_)
            | ClientFrame::CreateInvite(_)
            | ClientFrame::InviteLinks(_)
            | ClientFrame::RevokeInvite(_)
            | ClientFrame::RedeemInvite(_)
            | ClientFrame::InviteInfo(_)) => self.social(session, frame, reply_to).await,
            room @ (ClientFrame::CreateRoom(_)
            | ClientFrame::RoomInfo(_)
            | ClientFrame::Kick(_)
            | ClientFrame::Ban(_)
            | ClientFrame::Unban(_)
            | ClientFrame::Mute(_)
            | ClientFrame::Unmute(_)
            | ClientFrame::SetTopic(_)
            | ClientFrame::SetPassword(_)
            | ClientFrame::SetRole(_)
            | ClientFrame::Transfer(_)
            | ClientFrame::DeleteRoom(_)) => self.room_frame(session, room, reply_to).await,
        };
        if let Err(err) = result {
            self.metrics().error_sent(err.code);
            session.send_error(err, reply_to);
        }
    }

    /// Ends a session: unregisters it and announces the user offline if it was the last one.
    pub fn close_session(&self, session: Session) {
        let (code, reason) = session
            .handle
            .control
            .requested()
            .unwrap_or((confab_protocol::close::NORMAL, "connection closed"));
        self.close_session_handle(&session.handle);
        self.metrics().session_closed(code);
        tracing::info!(session = session.handle.id, user = %session.user.username, code, reason, "session closed");
    }

    fn close_session_handle(&self, handle: &SessionHandle) {
        handle
            .control
            .close(confab_protocol::close::GOING_AWAY, "session ended");
        self.inner.sessions.remove(handle.user, handle.id, || {
            self.publish(Event::Presence {
                user: handle.user,
                online: false,
            })
        });
    }

    /// Stops background work and commits what is pending: call after every session closed.
    pub async fn shutdown(&self) {
        for session in self.inner.sessions.all() {
            session
                .control
                .close(confab_protocol::close::GOING_AWAY, "server shutting down");
        }
        self.inner.stop.cancel();
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
        if let Err(err) = self.cursors().flush(self.store()).await {
            tracing::error!(%err, "final cursor flush failed");
        }
        self.store().close().await;
    }

    async fn flush_cursors_forever(self) {
        let mut tick = tokio::time::interval(CURSOR_FLUSH);
        let mut ticks: u64 = 0;
        let mut failing = false;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = self.inner.stop.cancelled() => return,
            }
            ticks += 1;
            if ticks.is_multiple_of(TOUCH_FLUSH_TICKS) {
                self.flush_touches().await;
            }
            match self.cursors().flush(self.store()).await {
                Ok(moved) => {
                    if std::mem::take(&mut failing) {
                        tracing::info!("cursor flushes work again");
                    }
                    self.announce_deliveries(&moved)
                }
                // Once per outage: the cursors stay in memory and go out with the next flush.
                Err(err) if !failing => {
                    failing = true;
                    tracing::error!(%err, "cursor flush failed; retrying every 0.5 s");
                }
                Err(err) => tracing::debug!(%err, "cursor flush failed again"),
            }
        }
    }
}

/// The protocol's view of a stored message.
pub(crate) fn chat_message(message: &StoredMessage) -> ChatMessage {
    ChatMessage {
        id: message.id.clone(),
        seq: message.seq,
        sender: message.sender.clone(),
        receiver: message.receiver.clone(),
        content: message.content.clone(),
        timestamp: crate::clock::rfc3339(message.created_ms),
        kind: message.kind,
        attachment: message.attachment.clone(),
        location: message.location.clone(),
        reply_to_message: message.reply.clone(),
        edited: message.edited_ms.map(crate::clock::rfc3339),
        deleted: message.deleted,
        reactions: message.reactions.clone(),
    }
}

/// The frame for a conversation entry: `message`, or `update` with the message's state now.
pub(crate) fn entry_frame(entry: &StoredMessage) -> ServerFrame {
    match &entry.update {
        None => ServerFrame::Message(chat_message(entry)),
        Some((change, target)) => ServerFrame::Update(Update {
            seq: entry.seq,
            receiver: entry.receiver.clone(),
            change: *change,
            by: entry.sender.clone(),
            message: chat_message(target),
        }),
    }
}
