// The sidebar: rooms and direct conversations by recency, with unread counts and presence.
import { state, orderedConvs, totalUnread } from './store.js';
import { t } from './i18n.js';
import { h, $, reconcile, initials } from './ui.js';

const items = new Map();
let onOpen = () => {};

export function initSidebar(open) {
  onOpen = open;
  $('conv-list').addEventListener('keydown', (e) => {
    if (!['ArrowDown', 'ArrowUp', 'Home', 'End'].includes(e.key)) return;
    const buttons = [...$('conv-list').querySelectorAll('button[data-receiver]')];
    const i = buttons.indexOf(document.activeElement);
    if (i < 0) return;
    e.preventDefault();
    const j = e.key === 'Home' ? 0 : e.key === 'End' ? buttons.length - 1
      : Math.max(0, Math.min(buttons.length - 1, i + (e.key === 'ArrowDown' ? 1 : -1)));
    buttons[j].focus();
  });
}

function preview(c) {
  const m = c.last_message;
  if (!m) return '';
  if (m.deleted) return t('deleted_message');
  const who = m.sender === state.me ? t('you') : m.sender;
  const what = m.content || (m.kind === 'location' ? t('location') : m.attachment ? m.attachment.name : '');
  return c.kind === 'room' || m.sender === state.me ? `${who}: ${what}` : what;
}

function item(c) {
  let it = items.get(c.receiver);
  if (!it) {
    const button = h('button', { type: 'button', class: 'conv', 'data-receiver': c.receiver, onclick: () => onOpen(c.receiver) });
    it = { li: h('li', {}, button), button, key: '' };
    items.set(c.receiver, it);
  }
  const current = state.current === c.receiver;
  const key = JSON.stringify([current, c.unread, c.online, preview(c), t('you')]);
  if (key !== it.key) {
    it.key = key;
    const b = it.button;
    if (current) b.setAttribute('aria-current', 'page'); else b.removeAttribute('aria-current');
    const parts = [h('span', { class: `avatar ${c.kind}`, 'aria-hidden': 'true' }, initials(c.receiver))];
    const text = h('span', { class: 'conv-text' }, h('span', { class: 'conv-name' }, c.receiver), h('span', { class: 'conv-preview', dir: 'auto' }, preview(c)));
    parts.push(text);
    if (c.kind === 'direct') {
      parts.push(h('span', { class: 'presence', 'data-online': String(!!c.online), title: t(c.online ? 'online' : 'offline') }),
        h('span', { class: 'sr-only' }, t(c.online ? 'online' : 'offline')));
    }
    if (c.unread > 0) {
      parts.push(h('span', { class: 'badge', 'data-testid': 'unread' }, String(c.unread)), h('span', { class: 'sr-only' }, t('unread_sr')));
    }
    b.replaceChildren(...parts);
  }
  return it.li;
}

export function renderSidebar() {
  const convs = orderedConvs();
  for (const r of [...items.keys()]) if (!state.convs.has(r)) items.delete(r);
  reconcile($('conv-list'), convs.map(item));
  $('conv-empty').hidden = convs.length > 0;
  const n = totalUnread();
  document.title = n ? `(${n}) confab` : 'confab';
  const inv = state.invitations.length;
  $('inv-count').hidden = !inv;
  $('inv-count').textContent = inv ? String(inv) : '';
}

export function invalidateSidebar() { for (const it of items.values()) it.key = ''; }
