// The connection: a WebSocket (link-ws.js) or, where WebSockets are blocked, Server-Sent
// Events with POSTs (link-sse.js); login with cursors, backoff with jitter, ping, catch-up and
// the gap rule (docs/protocol.md section 6), and the frames that change the state. WebSocket is
// tried first; after two WebSocket attempts in a row that never reached `ready` while plain
// HTTP answered, the fallback takes over, and WebSocket is tried again now and then (after
// 30 s, doubling to 10 min).
import { state, emit, conv, convOf, putMessage, isRoom, saveSoon } from './store.js';
import * as outbox from './outbox.js';
import { openWs, wsReachable } from './link-ws.js';
import { openSse, forgetStream } from './link-sse.js';

let link = null;
let token = null;
let attempt = 0;
let retryTimer = null;
let pingTimer = null;
let stopped = true;
let synced = false;
let counter = 0;
let readied = false;
// Which transport the next connection uses, and how the WebSocket has been doing.
let transport = 'ws';
let wsFailures = 0;
let wsRetryTimer = null;
let wsRetryDelay = 0;
const WS_FAILURES_BEFORE_FALLBACK = 2;
const WS_RETRY_FIRST_MS = 30000;
const WS_RETRY_MAX_MS = 600000;
export let retryAt = 0;
const waiting = new Map();

export const isSynced = () => synced && link && link.isOpen();

function setState(s) {
  if (state.connection !== s) {
    state.connection = s;
    emit('connection', s);
  }
}

function setTransport(kind) {
  if (state.transport !== kind) {
    state.transport = kind;
    emit('connection', state.connection);
  }
}

export function start(t) {
  token = t;
  stopped = false;
  attempt = 0;
  connect();
}

export function stop() {
  stopped = true;
  clearTimeout(retryTimer);
  clearTimeout(wsRetryTimer);
  clearInterval(pingTimer);
  if (link) {
    const l = link;
    link = null;
    l.close();
  }
  forgetStream();
  transport = 'ws';
  wsFailures = 0;
  failWaiting();
}

export function connectNow() {
  if (stopped || link) return;
  attempt = 0;
  connect();
}

function heldCursors() {
  const cursors = {};
  let n = 0;
  for (const c of state.convs.values()) {
    if (c.loaded && c.held > 0 && n < 1000) { cursors[c.receiver] = c.held; n++; }
  }
  return cursors;
}

function connect() {
  clearTimeout(retryTimer);
  if (stopped) return;
  setState(attempt ? 'reconnecting' : 'connecting');
  synced = false;
  readied = false;
  const open = transport === 'sse' ? openSse : openWs;
  const l = open({
    token,
    cursors: heldCursors(),
    onFrame: (f) => { if (l === link) onFrame(f); },
    onEnd: (code) => closed(l, code),
  });
  link = l;
}

function failWaiting() {
  for (const [, w] of waiting) { clearTimeout(w.timer); w.reject({ code: 'closed', message: 'connection closed' }); }
  waiting.clear();
}

function closed(l, code) {
  if (l !== link) return;
  link = null;
  synced = false;
  clearInterval(pingTimer);
  failWaiting();
  outbox.resetInflight();
  if (stopped) return;
  if (code === 1000 || code === 4001) { stopped = true; emit('revoked'); return; }
  if (l.kind === 'ws' && !readied) { wsFailed(); return; }
  scheduleRetry();
}

// A WebSocket that never reached `ready` counts against WebSockets only if plain HTTP works
// now (a server restart or a lost network is no reason to fall back). Enough of them in a
// row: switch to the event stream at once.
async function wsFailed() {
  let http = false;
  try { http = (await fetch('/healthz', { cache: 'no-store' })).ok; } catch { /* offline */ }
  if (stopped || link) return;
  wsFailures = http ? wsFailures + 1 : 0;
  if (wsFailures < WS_FAILURES_BEFORE_FALLBACK) { scheduleRetry(); return; }
  transport = 'sse';
  attempt = 0;
  wsRetryDelay = WS_RETRY_FIRST_MS;
  scheduleWsRetry();
  connect();
}

// On the fallback, see now and then whether WebSockets work again; if so, move back.
function scheduleWsRetry() {
  clearTimeout(wsRetryTimer);
  wsRetryTimer = setTimeout(async () => {
    if (stopped || transport !== 'sse') return;
    if (await wsReachable()) {
      if (stopped || transport !== 'sse') return;
      // The next connection is a WebSocket; the fallback's session ends with its grace.
      transport = 'ws';
      wsFailures = 0;
      if (link) abandon(); else connectNow();
      return;
    }
    wsRetryDelay = Math.min(WS_RETRY_MAX_MS, wsRetryDelay * 2);
    scheduleWsRetry();
  }, wsRetryDelay);
}

function scheduleRetry() {
  const base = Math.min(30000, 500 * 2 ** attempt);
  const delay = base / 2 + Math.random() * base / 2;
  attempt++;
  retryAt = Date.now() + delay;
  setState(navigator.onLine === false ? 'offline' : 'reconnecting');
  emit('retry');
  retryTimer = setTimeout(connect, delay);
}

// Give up on a connection that stopped answering: treat it as closed now.
function abandon() {
  const l = link;
  if (!l) return;
  l.close();
  closed(l, 1006);
}

export function probe() {
  if (!link || !link.isOpen()) return;
  request({ type: 'ping' }, 5000).catch(() => abandon());
}

export function send(frame) {
  return !!link && link.send(frame);
}

// Send a frame with an id; resolves with its answer, rejects with the error (or 'closed').
export function request(frame, timeout = 15000) {
  const id = frame.id || `r${++counter}-${Date.now().toString(36)}`;
  frame.id = id;
  return new Promise((resolve, reject) => {
    if (!send(frame)) { reject({ code: 'offline', message: 'offline' }); return; }
    const w = { resolve, reject, timer: null };
    if (timeout) w.timer = setTimeout(() => { waiting.delete(id); reject({ code: 'timeout', message: 'timeout' }); }, timeout);
    waiting.set(id, w);
  });
}

function onFrame(f) {
  if (f.type === 'ready') return onReady(f);
  if (f.reply_to === 'login' && f.type === 'error') {
    if (f.code === 'unauthorized') { stopped = true; abandon(); emit('revoked'); }
    return;
  }
  if (f.reply_to && waiting.has(f.reply_to)) {
    const w = waiting.get(f.reply_to);
    waiting.delete(f.reply_to);
    clearTimeout(w.timer);
    if (f.type === 'error') w.reject(f); else w.resolve(f);
    return;
  }
  switch (f.type) {
    case 'message': applyEntry(f); break;
    case 'update': applyEntry(f); break;
    case 'typing': onTyping(f); break;
    case 'presence': onPresence(f); break;
    case 'membership': onMembership(f); break;
    case 'receipt': onReceipt(f); break;
    case 'invitation': state.invitations.push(f); emit('invitations'); emit('announce', 'invited', f); break;
    case 'invitation_answered':
      state.invitations = state.invitations.filter((i) => i.id !== f.id); emit('invitations'); break;
    case 'room_event': onRoomEvent(f); break;
    case 'error': if (!f.reply_to) emit('toast', f.message); break;
    default: break;
  }
}

function onReady(f) {
  attempt = 0;
  readied = true;
  if (link && link.kind === 'ws') wsFailures = 0;
  setTransport(link ? link.kind : transport);
  state.me = f.user.username;
  const names = new Set();
  for (const r of [...f.rooms, ...f.direct]) {
    const c = conv(r.receiver);
    c.last_seq = Math.max(c.last_seq, r.last_seq);
    names.add(r.receiver);
  }
  for (const r of [...state.convs.keys()]) if (!names.has(r)) state.convs.delete(r);
  if (state.current && !state.convs.has(state.current)) state.current = null;
  clearInterval(pingTimer);
  pingTimer = setInterval(probe, 25000);
  request({ type: 'ping', id: 'sync' }, 0).then(afterSync, () => {});
  emit('change');
}

async function afterSync() {
  synced = true;
  setState('online');
  outbox.flush();
  request({ type: 'chats' }).then(onChats, () => {});
  request({ type: 'invitations' }).then((f) => { state.invitations = f.invitations; emit('invitations'); }, () => {});
  for (const c of state.convs.values()) {
    if (c.loaded && c.last_seq > c.held) fill(c, c.heldId);
  }
  emit('synced');
}

function onChats(f) {
  for (const ch of f.chats) {
    const c = conv(ch.receiver);
    c.unread = ch.unread;
    c.read_seq = ch.read_seq;
    c.last_seq = Math.max(c.last_seq, ch.last_seq);
    c.last_activity = ch.last_activity;
    if (ch.kind === 'direct') c.online = !!ch.online;
    if (ch.last_message) c.last_message = ch.last_message;
  }
  emit('change');
  emit('chats');
}

// Page forward with history `after` from `afterId` (or the newest page) and merge.
export async function fill(c, afterId) {
  if (c.filling) return;
  c.filling = true;
  try {
    let after = afterId;
    for (let i = 0; i < 50; i++) {
      const frame = { type: 'history', receiver: c.receiver, limit: 100 };
      if (after) frame.after = after;
      const h = await request(frame);
      for (const m of h.messages) mergeHistory(c, m);
      emit('messages', c.receiver);
      if (!after || !h.has_more || !h.messages.length) break;
      after = h.messages[h.messages.length - 1].id;
    }
  } catch { /* retried at the next sync */ } finally {
    c.filling = false;
    saveSoon();
  }
}

export function mergeHistory(c, m) {
  putMessage(c, m);
  if (m.seq > c.held) { c.held = m.seq; c.heldId = m.id; }
  if (m.seq >= c.held && !c.heldId) c.heldId = m.id;
  c.last_seq = Math.max(c.last_seq, m.seq);
}

// Open a conversation: the newest page if nothing is held, else catch up after the newest.
export async function loadConversation(c) {
  if (!isSynced()) return;
  if (!c.loaded) {
    try {
      const h = await request({ type: 'history', receiver: c.receiver, limit: 50 });
      for (const m of h.messages) mergeHistory(c, m);
      c.hasMore = h.has_more;
      c.loaded = true;
      emit('messages', c.receiver);
      saveSoon();
    } catch (e) { emit('toast', e.message); }
  }
  if (c.kind === 'direct') refreshPresence(c);
  request({ type: 'receipts', receiver: c.receiver }).then((r) => {
    for (const mk of r.members) c.marks.set(mk.user, { read_seq: mk.read_seq, delivered_seq: mk.delivered_seq });
    emit('messages', c.receiver);
  }, () => {});
}

export async function loadOlder(c) {
  if (c.loadingOlder || !c.hasMore || !isSynced()) return;
  const oldest = [...c.messages.values()].sort((a, b) => a.seq - b.seq)[0];
  if (!oldest) return;
  c.loadingOlder = true;
  try {
    const h = await request({ type: 'history', receiver: c.receiver, limit: 50, before: oldest.id });
    for (const m of h.messages) putMessage(c, m);
    c.hasMore = h.has_more;
    emit('older', c.receiver);
  } catch { /* try again on the next scroll */ } finally { c.loadingOlder = false; }
}

function refreshPresence(c) {
  request({ type: 'profile', user: c.receiver }).then((p) => {
    c.online = !!p.online;
    emit('change');
  }, () => {});
}

function updateConv(f) {
  const m = f.message;
  if (isRoom(f.receiver)) return f.receiver;
  return m.sender === state.me ? m.receiver : m.sender;
}

// A message, an update or an ack (as a message) for one conversation: the seq rule.
export function applyEntry(f, own = false) {
  const isUpdate = f.type === 'update';
  const receiver = isUpdate ? updateConv(f) : convOf(f);
  const known = state.convs.has(receiver);
  const c = conv(receiver);
  if (!known && c.kind === 'direct') refreshPresence(c);
  const seq = f.seq;
  if (c.loaded && seq <= c.held && !own) return;
  const gapFrom = c.loaded && seq > c.held + 1 ? c.heldId || '' : null;
  if (isUpdate) {
    if (c.messages.has(f.message.id)) putMessage(c, f.message);
  } else {
    const { type, reply_to: _r, ...msg } = f;
    const fresh = putMessage(c, msg);
    if (seq > c.held) c.heldId = msg.id;
    if (fresh && msg.sender !== state.me) emit('incoming', c, msg, synced);
  }
  if (seq > c.held) c.held = seq;
  c.last_seq = Math.max(c.last_seq, seq);
  if (gapFrom !== null) fill(c, gapFrom || null);
  emit('messages', receiver);
  emit('change');
  saveSoon();
}

export function markRead(c) {
  if (!c || !isSynced()) return;
  const top = Math.max(c.held, c.last_seq);
  if (c.unread || top > c.read_seq) {
    c.read_seq = top;
    c.unread = 0;
    send({ type: 'read', receiver: c.receiver, seq: top });
    emit('change');
  }
}

function onTyping(f) {
  const receiver = isRoom(f.receiver) ? f.receiver : f.sender;
  const c = conv(receiver, false);
  if (!c) return;
  c.typing.set(f.sender, Date.now() + 6000);
  emit('typing', receiver);
  setTimeout(() => emit('typing', receiver), 6100);
}

function onPresence(f) {
  const c = conv(f.user, false);
  if (c) c.online = f.status === 'online';
  emit('change');
}

function onMembership(f) {
  if (f.user !== state.me) return;
  if (f.change === 'joined') {
    conv(f.room);
  } else {
    state.convs.delete(f.room);
    if (state.current === f.room) { state.current = null; emit('current'); }
  }
  emit('change');
  saveSoon();
}

function onReceipt(f) {
  const c = conv(f.receiver, false);
  if (!c) return;
  const mk = c.marks.get(f.user) || { read_seq: 0, delivered_seq: 0 };
  if (f.read_seq != null) mk.read_seq = Math.max(mk.read_seq || 0, f.read_seq);
  if (f.delivered_seq != null) mk.delivered_seq = Math.max(mk.delivered_seq || 0, f.delivered_seq);
  c.marks.set(f.user, mk);
  if (f.user === state.me && f.read_seq != null && f.read_seq > c.read_seq) {
    c.read_seq = f.read_seq;
    if (c.read_seq >= c.last_seq) c.unread = 0;
    emit('change');
  }
  emit('messages', c.receiver);
}

function onRoomEvent(f) {
  const c = conv(f.room, false);
  if (!c) return;
  if (f.action === 'topic_changed' || f.action === 'created') c.topic = f.topic || '';
  emit('messages', f.room);
}

addEventListener('online', () => connectNow());
addEventListener('offline', () => { if (link) probe(); else setState('offline'); });

// An edit, delete or reaction of ours: the acting session gets only the ack (with the
// update's seq), so apply the change here unless the update itself already arrived.
export async function change(frame, m, mutate) {
  const ack = await request(frame);
  const c = conv(convOf(m), false);
  if (!c || !ack.seq || ack.seq <= c.held) return ack;
  const cur = c.messages.get(m.id);
  if (cur) putMessage(c, mutate({ ...cur }, ack));
  if (c.loaded && ack.seq > c.held + 1) fill(c, c.heldId);
  c.held = Math.max(c.held, ack.seq);
  c.last_seq = Math.max(c.last_seq, ack.seq);
  emit('messages', c.receiver);
  saveSoon();
  return ack;
}

export const edits = {
  edit: (content) => (m, ack) => ({ ...m, content, edited: ack.timestamp || new Date().toISOString() }),
  delete: () => (m) => ({ ...m, content: '', deleted: true, attachment: undefined, location: undefined, reactions: undefined, kind: undefined }),
  react: (emoji, me) => (m) => {
    const rs = (m.reactions || []).map((r) => ({ ...r, users: [...r.users] }));
    const r = rs.find((x) => x.emoji === emoji);
    if (!r) rs.push({ emoji, count: 1, users: [me] });
    else if (r.users.includes(me)) { r.users = r.users.filter((u) => u !== me); r.count = r.users.length; } else { r.users.push(me); r.count = r.users.length; }
    return { ...m, reactions: rs.filter((x) => x.count > 0) };
  },
};
