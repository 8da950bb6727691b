// The outbox: messages wait here (and in IndexedDB, across reloads) until their ack. They are
// sent in order, once per connection, always with their original id.
import * as db from './db.js';
import { state, emit, saveSoon } from './store.js';
import * as conn from './connection.js';

const inflight = new Set();
let last = 0;

export function uid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

export async function load() {
  state.pending = (await db.outboxAll()).filter((e) => e.sender === state.me);
  for (const e of state.pending) last = Math.max(last, e.n);
}

export async function add(entry) {
  last = Math.max(Date.now(), last + 1);
  Object.assign(entry, { id: uid(), n: last, sender: state.me, timestamp: new Date().toISOString(), pending: true });
  state.pending.push(entry);
  emit('messages', entry.receiver);
  await db.outboxPut(entry);
  flush();
}

export function resetInflight() { inflight.clear(); }

export function flush() {
  if (!conn.isSynced()) return;
  for (const e of state.pending) {
    if (inflight.has(e.id)) continue;
    inflight.add(e.id);
    sendOne(e);
  }
}

function drop(e) {
  state.pending = state.pending.filter((x) => x.id !== e.id);
  db.outboxDelete(e.id);
}

function sendOne(e) {
  const frame = { type: 'message', id: e.id, receiver: e.receiver, content: e.content || '' };
  if (e.attachment) frame.attachment = e.attachment.id;
  if (e.location) frame.location = e.location;
  if (e.reply) frame.reply_to_message = e.reply.id;
  conn.request(frame, 0).then((ack) => {
    inflight.delete(e.id);
    drop(e);
    const msg = {
      type: 'message', id: ack.id, seq: ack.seq, sender: state.me, receiver: ack.receiver,
      content: e.content || '', timestamp: ack.timestamp, cid: e.id,
    };
    if (e.attachment) { msg.attachment = e.attachment; msg.kind = e.attachment.kind; }
    if (e.location) { msg.location = e.location; msg.kind = 'location'; }
    if (e.reply) msg.reply_to_message = e.reply;
    conn.applyEntry(msg, true);
    saveSoon();
  }, (err) => {
    inflight.delete(e.id);
    if (['closed', 'offline', 'timeout'].includes(err.code)) return;
    if (['rate_limited', 'internal', 'unavailable'].includes(err.code)) { setTimeout(flush, 2000); return; }
    drop(e);
    emit('messages', e.receiver);
    emit('toast', err.message);
  });
}
