// Client state: conversations, their messages by id, the seq each one is held to, unread
// counts, receipts and presence. Views subscribe with on('change', fn).
import * as db from './db.js';

const listeners = new Map();
export function on(ev, fn) { (listeners.get(ev) || listeners.set(ev, []).get(ev)).push(fn); }
export function emit(ev, ...args) { for (const fn of listeners.get(ev) || []) fn(...args); }

export const state = {
  me: null,
  convs: new Map(),
  current: null,
  pending: [], // outbox entries, in order
  invitations: [],
  connection: 'connecting',
  // 'ws', or 'sse' on the fallback for networks that block WebSockets.
  transport: 'ws',
};

export const isRoom = (r) => r.startsWith('#');

export function conv(receiver, create = true) {
  let c = state.convs.get(receiver);
  if (!c && create) {
    c = {
      receiver, kind: isRoom(receiver) ? 'room' : 'direct', unread: 0, read_seq: 0, last_seq: 0,
      last_activity: '', online: false, held: 0, heldId: null, messages: new Map(),
      loaded: false, hasMore: true, marks: new Map(), typing: new Map(), topic: '',
    };
    state.convs.set(receiver, c);
  }
  return c;
}

// The conversation a message belongs to (protocol.md section 5, message).
export function convOf(m) {
  if (isRoom(m.receiver)) return m.receiver;
  if (m.sender === state.me) return m.receiver;
  return m.sender;
}

export function sortedMessages(c) {
  return [...c.messages.values()].sort((a, b) => a.seq - b.seq);
}

// Store a message (from live, catch-up, history or an ack) by id; returns true if new.
export function putMessage(c, m) {
  const old = c.messages.get(m.id);
  if (old && old.cid && !m.cid) m.cid = old.cid;
  c.messages.set(m.id, { ...old, ...m });
  if (!c.last_activity || m.timestamp > c.last_activity) {
    c.last_activity = m.timestamp;
    c.last_message = m;
  }
  return !old;
}

export function ownStatus(c, m) {
  let read = 0;
  let delivered = 0;
  for (const [user, mk] of c.marks) {
    if (user === state.me) continue;
    if ((mk.read_seq || 0) >= m.seq) read++;
    if ((mk.delivered_seq || 0) >= m.seq || (mk.read_seq || 0) >= m.seq) delivered++;
  }
  return read ? ['read', read] : delivered ? ['delivered', delivered] : ['sent', 0];
}

export function totalUnread() {
  let n = 0;
  for (const c of state.convs.values()) n += c.unread || 0;
  return n;
}

export function orderedConvs() {
  return [...state.convs.values()].sort((a, b) =>
    (b.last_activity || '').localeCompare(a.last_activity || '') || a.receiver.localeCompare(b.receiver));
}

// Cache for offline opening: the list and the newest 50 messages of each conversation.
let saveTimer = null;
export function saveSoon() {
  clearTimeout(saveTimer);
  saveTimer = setTimeout(save, 500);
}
async function save() {
  if (!state.me) return;
  const convs = [];
  for (const c of state.convs.values()) {
    const msgs = sortedMessages(c).slice(-50);
    convs.push({
      receiver: c.receiver, unread: c.unread, read_seq: c.read_seq, last_seq: c.last_seq,
      last_activity: c.last_activity, online: false, held: c.loaded ? c.held : 0,
      heldId: c.loaded ? c.heldId : null, loaded: c.loaded, hasMore: c.hasMore || msgs.length >= 50,
      topic: c.topic, msgs,
    });
  }
  await db.set('cache', { me: state.me, convs });
}

export async function restore() {
  const cache = await db.get('cache');
  if (!cache || cache.me !== state.me) return;
  for (const s of cache.convs) {
    const c = conv(s.receiver);
    Object.assign(c, {
      unread: s.unread, read_seq: s.read_seq, last_seq: s.last_seq, last_activity: s.last_activity,
      held: s.held, heldId: s.heldId, loaded: s.loaded, hasMore: s.hasMore, topic: s.topic || '',
    });
    for (const m of s.msgs) c.messages.set(m.id, m);
    if (s.msgs.length) c.last_message = s.msgs[s.msgs.length - 1];
  }
}

export function reset() {
  state.me = null;
  state.convs.clear();
  state.current = null;
  state.pending = [];
  state.invitations = [];
}
