// The open conversation: header, the message log (grouped by sender, day separators, infinite
// scroll back), typing, receipts, message actions.
import { state, conv, sortedMessages, ownStatus } from './store.js';
import * as conn from './connection.js';
import { t, timeOf, fullTime, dayOf, lang } from './i18n.js';
import { h, $, reconcile, linkify, toast, errorText, formatSize } from './ui.js';
import { mediaUrl } from './api.js';
import { startReply, startEdit } from './composer.js';

const EMOJI = ['👍', '❤️', '😂', '🎉', '😮', '😢', '🙏', '👀'];
const els = new Map(); // key (client id or server id) -> article
const days = new Map();
let shown = null;
let roving = null;

export function initConversation() {
  const log = $('messages');
  log.addEventListener('scroll', () => {
    if (log.scrollTop < 150 && shown && log.scrollHeight > log.clientHeight + 10) conn.loadOlder(conv(shown));
  });
  log.addEventListener('keydown', onLogKey);
  log.addEventListener('focusin', (e) => {
    const a = e.target.closest('article');
    if (a) setRoving(a);
  });
  document.addEventListener('click', (e) => {
    if (!$('msg-menu')?.contains(e.target) && !e.target.closest('.actions-btn')) closeMenu();
  });
}

function keyOf(m) { return m.cid || m.id; }

function statusOf(c, m) {
  if (m.pending) return ['sending', 0];
  return ownStatus(c, m);
}

function messageKey(c, m, cont) {
  return JSON.stringify([m.id, m.seq, m.content, m.edited, m.deleted, m.reactions, m.pending,
    m.sender === state.me ? statusOf(c, m) : 0, cont, lang]);
}

function attachmentNode(a) {
  const url = mediaUrl(a.url);
  if (a.kind === 'image' && a.thumbnail_url) {
    const scale = a.width && a.height ? Math.min(1, 320 / Math.max(a.width, a.height)) : 1;
    const img = h('img', {
      'data-testid': 'thumbnail', src: mediaUrl(a.thumbnail_url), alt: a.name, loading: 'lazy',
      width: a.width ? Math.round(a.width * scale) : null, height: a.height ? Math.round(a.height * scale) : null,
    });
    return h('button', { type: 'button', class: 'thumb', 'aria-label': t('open_image', { name: a.name }), onclick: () => openViewer(url, a.name) }, img);
  }
  if (a.kind === 'audio') return h('audio', { controls: true, preload: 'none', src: url, 'aria-label': a.name });
  if (a.kind === 'video') return h('video', { controls: true, preload: 'metadata', src: url, 'aria-label': a.name });
  return h('a', { 'data-testid': 'file', class: 'file', href: url, download: a.name, rel: 'noopener noreferrer' },
    h('span', { 'aria-hidden': 'true' }, '📄 '), a.name, ` (${formatSize(a.size || 0)})`);
}

function locationNode(l) {
  const lat = Number(l.latitude).toFixed(5);
  const lon = Number(l.longitude).toFixed(5);
  const href = `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=16/${lat}/${lon}`;
  return h('div', { 'data-testid': 'location', class: 'location' },
    h('span', { 'aria-hidden': 'true' }, '📍 '), l.label ? `${l.label} ` : '', `${lat}, ${lon} `,
    h('a', { href, rel: 'noopener noreferrer', target: '_blank' }, t('open_map')));
}

function fillArticle(a, c, m, cont) {
  const own = m.sender === state.me;
  a.className = `msg${own ? ' own' : ''}${cont ? ' cont' : ''}`;
  if (m.id && !m.pending) { a.dataset.id = m.id; a.dataset.seq = String(m.seq); } else { delete a.dataset.id; delete a.dataset.seq; }
  a.dataset.sender = m.sender;
  if (m.pending) a.dataset.pending = 'true'; else delete a.dataset.pending;
  if (m.deleted) a.dataset.deleted = 'true'; else delete a.dataset.deleted;
  const when = new Date(m.timestamp);
  const parts = [h('header', { class: 'msg-head' },
    h('span', { class: 'sender' }, m.sender), ' ',
    h('time', { datetime: m.timestamp, title: fullTime(when) }, timeOf(when)))];
  if (m.reply_to_message) {
    const r = m.reply_to_message;
    parts.push(h('div', { 'data-testid': 'reply-preview', class: 'reply-preview', dir: 'auto' },
      h('span', { class: 'sender' }, r.sender), ' ', r.deleted ? t('deleted_message') : r.excerpt));
  }
  if (m.attachment && !m.deleted) parts.push(attachmentNode(m.attachment));
  if (m.location && !m.deleted) parts.push(locationNode(m.location));
  if (own) {
    const [st, n] = statusOf(c, m);
    const label = c.kind === 'room' && st === 'read' ? t('status_read_by', { count: n }) : t(`status_${st}`);
    parts.push(h('span', { 'data-testid': 'status', 'data-status': st, class: 'status small muted' }, label));
  }
  const content = h('div', { 'data-testid': 'content', class: 'content', dir: 'auto' });
  if (!m.deleted && m.content) content.append(linkify(m.content));
  parts.push(content);
  if (m.deleted) parts.push(h('div', { class: 'tombstone muted' }, t('deleted_message')));
  if (m.edited && !m.deleted) parts.push(h('span', { 'data-testid': 'edited', class: 'edited muted small', title: fullTime(new Date(m.edited)) }, t('edited')));
  if (m.reactions?.length && !m.deleted) {
    parts.push(h('div', { class: 'reactions' }, m.reactions.map((r) => h('button', {
      type: 'button', class: 'reaction', 'data-testid': 'reaction', 'data-emoji': r.emoji,
      'aria-pressed': String(r.users.includes(state.me)), title: r.users.join(', '),
      'aria-label': t('reaction_label', { emoji: r.emoji, count: r.count }),
      tabindex: '-1', onclick: () => react(m, r.emoji),
    }, `${r.emoji} ${r.count}`))));
  }
  if (!m.pending) {
    parts.push(h('button', {
      type: 'button', class: 'actions-btn', 'aria-label': t('message_actions'), 'aria-haspopup': 'menu',
      tabindex: a === roving ? '0' : '-1', onclick: (e) => openMenu(m, e.currentTarget),
    }, '⋯'));
  }
  a.replaceChildren(...parts);
  a._msg = m;
}

function article(c, m, cont) {
  const key = keyOf(m);
  let a = els.get(key);
  if (!a) {
    a = h('article', { tabindex: '-1' });
    els.set(key, a);
  }
  const k = messageKey(c, m, cont);
  if (a._key !== k) { a._key = k; fillArticle(a, c, m, cont); }
  a._msg = m;
  return a;
}

function dayNode(d) {
  const key = `${d.toDateString()}|${lang}`;
  if (!days.has(key)) days.set(key, h('div', { 'data-testid': 'day', class: 'day', role: 'separator' }, h('span', {}, dayOf(d))));
  return days.get(key);
}

export function renderHeader() {
  const r = state.current;
  $('app-screen').classList.toggle('has-conv', !!r);
  $('empty-state').hidden = !!r;
  $('conv-head').hidden = !r;
  $('messages').hidden = !r;
  $('composer').hidden = !r;
  $('typing').hidden = !r;
  if (!r) { $('conv-title').textContent = ''; $('conv-sub').textContent = ''; $('invite-btn').hidden = true; $('leave-btn').hidden = true; return; }
  const c = conv(r);
  $('conv-title').textContent = r;
  $('conv-sub').textContent = c.kind === 'room' ? c.topic || '' : t(c.online ? 'online' : 'offline');
  $('invite-btn').hidden = c.kind !== 'room';
  $('leave-btn').hidden = c.kind !== 'room';
}

export function renderMessages(mode) {
  const r = state.current;
  const log = $('messages');
  if (!r) { reconcile(log, []); shown = null; return; }
  const c = conv(r);
  const switched = shown !== r;
  const fromBottom = log.scrollHeight - log.scrollTop;
  const atBottom = switched || log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  shown = r;
  const list = sortedMessages(c);
  const acked = new Set(list.map((m) => m.cid).filter(Boolean));
  for (const p of state.pending) if (p.receiver === r && !acked.has(p.id)) list.push(p);
  const nodes = [];
  let prev = null;
  for (const m of list) {
    const d = new Date(m.timestamp);
    if (!prev || new Date(prev.timestamp).toDateString() !== d.toDateString()) { nodes.push(dayNode(d)); prev = null; }
    const cont = !!prev && prev.sender === m.sender && d - new Date(prev.timestamp) < 300000 && !m.reply_to_message;
    nodes.push(article(c, m, cont));
    prev = m;
  }
  const focused = log.contains(document.activeElement) ? document.activeElement : null;
  reconcile(log, nodes);
  if (focused && focused.isConnected && document.activeElement !== focused) focused.focus({ preventScroll: true });
  const arts = log.querySelectorAll('article');
  if (!roving || !roving.isConnected) setRoving(arts[arts.length - 1] || null);
  if (mode === 'older') log.scrollTop = log.scrollHeight - fromBottom;
  else if (atBottom) log.scrollTop = log.scrollHeight;
  // Not enough to scroll: fetch older pages until there is (only when laid out and shown).
  if (log.clientHeight > 100 && log.scrollHeight <= log.clientHeight + 10 && c.hasMore && c.loaded) conn.loadOlder(c);
  if (document.visibilityState === 'visible') conn.markRead(c);
}

export function renderTyping() {
  const r = state.current;
  const el = $('typing');
  if (!r) { el.textContent = ''; return; }
  const c = conv(r);
  const now = Date.now();
  const who = [...c.typing].filter(([u, until]) => until > now && u !== state.me).map(([u]) => u);
  el.textContent = who.length === 0 ? '' : who.length === 1 ? t('typing_one', { name: who[0] })
    : who.length === 2 ? t('typing_two', { a: who[0], b: who[1] }) : t('typing_many');
}

export function forgetConversationView() { els.clear(); days.clear(); shown = null; roving = null; }

function setRoving(a) {
  if (roving === a) return;
  if (roving) {
    roving.tabIndex = -1;
    roving.querySelector('.actions-btn')?.setAttribute('tabindex', '-1');
  }
  roving = a;
  if (a) {
    a.tabIndex = 0;
    a.querySelector('.actions-btn')?.setAttribute('tabindex', '0');
  }
}

function onLogKey(e) {
  const a = e.target.closest('article');
  if (!a || e.target.closest('#msg-menu')) return;
  const arts = [...$('messages').querySelectorAll('article')];
  const i = arts.indexOf(a);
  let next = null;
  if (e.key === 'ArrowDown') next = arts[i + 1];
  else if (e.key === 'ArrowUp') next = arts[i - 1];
  else if (e.key === 'Home') next = arts[0];
  else if (e.key === 'End') next = arts[arts.length - 1];
  else if ((e.key === 'Enter' || e.key === 'ContextMenu' || (e.shiftKey && e.key === 'F10')) && e.target === a) {
    e.preventDefault();
    if (a._msg && !a._msg.pending) openMenu(a._msg, a.querySelector('.actions-btn') || a);
    return;
  } else return;
  e.preventDefault();
  if (next) { setRoving(next); next.focus(); }
}

async function react(m, emoji) {
  try { await conn.change({ type: 'react', message: m.id, emoji }, m, conn.edits.react(emoji, state.me)); } catch (e) { toast(errorText(e)); }
}

function closeMenu(restore = false) {
  const menu = $('msg-menu');
  if (!menu) return;
  const back = menu._back;
  menu.remove();
  if (restore && back?.isConnected) back.focus();
}

function openMenu(m, anchor) {
  closeMenu();
  const own = m.sender === state.me;
  const items = [];
  const item = (label, fn, extra = {}) => h('button', {
    type: 'button', role: 'menuitem', tabindex: '-1', ...extra,
    onclick: (e) => { e.stopPropagation(); fn(); },
  }, label);
  if (!m.deleted) {
    items.push(item(t('reply'), () => { closeMenu(); startReply(m); }));
    items.push(item(t('react'), () => showEmoji()));
    if (own) {
      items.push(item(t('edit'), () => { closeMenu(); startEdit(m); }));
      items.push(item(t('delete'), async () => {
        closeMenu(true);
        try { await conn.change({ type: 'delete', message: m.id }, m, conn.edits.delete()); } catch (e) { toast(errorText(e)); }
      }));
    }
  }
  if (!items.length) return;
  const menu = h('div', { id: 'msg-menu', role: 'menu', class: 'menu', 'aria-label': t('message_actions') }, items);
  menu._back = anchor;
  function showEmoji() {
    menu.setAttribute('aria-label', t('react'));
    menu.replaceChildren(...EMOJI.map((em) => item(em, () => { closeMenu(true); react(m, em); }, { 'data-emoji': em, class: 'emoji' })));
    menu.firstChild.focus();
  }
  menu.addEventListener('keydown', (e) => {
    const list = [...menu.querySelectorAll('[role=menuitem]')];
    const i = list.indexOf(document.activeElement);
    if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); closeMenu(true); } else if (e.key === 'ArrowDown' || e.key === 'ArrowRight') { e.preventDefault(); list[(i + 1) % list.length].focus(); } else if (e.key === 'ArrowUp' || e.key === 'ArrowLeft') { e.preventDefault(); list[(i - 1 + list.length) % list.length].focus(); } else if (e.key === 'Tab') { closeMenu(true); }
  });
  const art = anchor.closest('article') || anchor;
  art.append(menu);
  menu.firstChild.focus();
}

function openViewer(url, name) {
  const v = $('viewer');
  const img = $('viewer-img');
  img.src = url;
  img.alt = name;
  v.showModal();
}
