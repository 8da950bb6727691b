// Boot: language, theme, session (token in IndexedDB), screens and wiring of views to state.
import { setLanguage, pickLanguage, t, lang } from './i18n.js';
import { state, on, conv, restore, reset, totalUnread } from './store.js';
import * as db from './db.js';
import * as conn from './connection.js';
import * as outbox from './outbox.js';
import { api, setToken } from './api.js';
import { $, toast, announce } from './ui.js';
import { initLogin } from './login.js';
import { initSidebar, renderSidebar, invalidateSidebar } from './sidebar.js';
import { initConversation, renderHeader, renderMessages, renderTyping, forgetConversationView } from './conversation.js';
import { initComposer, switchDraft } from './composer.js';
import * as dialogs from './dialogs.js';

const THEMES = ['system', 'light', 'dark'];
const phone = () => matchMedia('(max-width: 700px)').matches;

function applyTheme() {
  const th = localStorage.getItem('confab.theme') || 'system';
  document.documentElement.dataset.theme = th;
  $('theme-btn').textContent = `${t('theme')}: ${t(`theme_${th}`)}`;
}

let tick = null;
function showConnection() {
  const el = $('connection');
  el.dataset.state = state.connection;
  const wait = Math.ceil((conn.retryAt - Date.now()) / 1000);
  el.querySelector('.conn-text').textContent = t(`conn_${state.connection}`);
  // Discreet: a short note, and the reason on hover, only while on the fallback.
  const fallback = state.transport === 'sse';
  el.dataset.transport = state.transport;
  el.querySelector('.conn-via').textContent = fallback ? ` ${t('conn_via_sse')}` : '';
  if (fallback) el.title = t('conn_via_sse_title'); else el.removeAttribute('title');
  // The countdown is for the eyes only: the status region is not re-announced every second.
  el.querySelector('.conn-wait').textContent = state.connection === 'reconnecting' && wait >= 1 ? ` ${t('conn_retry_in', { s: wait })}` : '';
  clearTimeout(tick);
  if (state.connection === 'reconnecting' && wait >= 1) tick = setTimeout(showConnection, 1000);
}

let pending = new Set();
let scheduled = false;
function schedule(what) {
  pending.add(what);
  if (scheduled) return;
  scheduled = true;
  setTimeout(() => {
    scheduled = false;
    const p = pending;
    pending = new Set();
    if (p.has('sidebar')) renderSidebar();
    if (p.has('header')) renderHeader();
    if (p.has('older')) renderMessages('older');
    else if (p.has('messages')) renderMessages();
    if (p.has('typing')) renderTyping();
  }, 0);
}
const renderAll = () => ['sidebar', 'header', 'messages', 'typing'].forEach(schedule);

function openConversation(r) {
  const prev = state.current;
  state.current = r;
  $('app-screen').dataset.view = r ? 'conv' : 'list';
  if (prev !== r) switchDraft(prev, r);
  renderAll();
  if (r) localStorage.setItem('confab.current', r); else localStorage.removeItem('confab.current');
  if (!r) return;
  // On a phone the conversation is its own view: the browser's back button returns to the list.
  if (!prev && phone()) history.pushState({ conv: r }, '', '/');
  else history.replaceState(history.state, '', '/');
  const c = conv(r);
  conn.loadConversation(c);
  setTimeout(() => $('composer-input').focus(), 0);
}

function showLogin() {
  document.body.dataset.screen = 'login';
  $('login-screen').hidden = false;
  $('app-screen').hidden = true;
  for (const el of document.querySelectorAll('.app-only')) el.hidden = true;
  setTimeout(() => $('login-username').focus(), 0);
}

async function enterApp(token, me) {
  setToken(token);
  state.me = me;
  await restore();
  await outbox.load();
  document.body.dataset.screen = 'app';
  $('login-screen').hidden = true;
  $('app-screen').hidden = false;
  $('logout-btn').hidden = false;
  $('notify-btn').hidden = !('Notification' in window) || Notification.permission !== 'default';
  renderAll();
  const last = localStorage.getItem('confab.current');
  if (last && state.convs.has(last) && matchMedia('(min-width: 701px)').matches) openConversation(last);
  conn.start(token);
}

async function onToken(token, me) {
  await db.set('session', { token, me });
  await enterApp(token, me);
}

async function logout(revoke = true) {
  if (revoke) {
    try { await conn.request({ type: 'logout' }, 3000); } catch { await api('/logout', { method: 'POST' }).catch(() => {}); }
  }
  conn.stop();
  await db.clearAll();
  localStorage.removeItem('confab.current');
  reset();
  forgetConversationView();
  setToken(null);
  renderAll();
  showLogin();
}

function notify(c, m) {
  if (!document.hidden || !('Notification' in window) || Notification.permission !== 'granted') return;
  const body = m.content || (m.kind === 'location' ? t('location') : m.attachment?.name || '');
  try {
    const n = new Notification(c.kind === 'room' ? `${m.sender} · ${c.receiver}` : m.sender, { body, tag: c.receiver, icon: '/icons/icon-192.png' });
    n.onclick = () => { window.focus(); openConversation(c.receiver); n.close(); };
  } catch { /* notifications unavailable */ }
}

async function boot() {
  await setLanguage(pickLanguage());
  $('lang-select').value = lang;
  applyTheme();
  showConnection();

  const m = location.pathname.match(/^\/invite\/([A-Za-z0-9_-]{1,64})$/);
  if (m) {
    sessionStorage.setItem('confab.invite', m[1]);
    history.replaceState(null, '', '/');
  }
  const invite = sessionStorage.getItem('confab.invite');
  if (invite) { $('invite-note').hidden = false; $('invite-note').textContent = t('invite_note'); }

  initLogin(onToken);
  initSidebar(openConversation);
  initConversation();
  initComposer();
  dialogs.initDialogs(openConversation);

  $('lang-select').addEventListener('change', async (e) => {
    await setLanguage(e.target.value, true);
    applyTheme();
    showConnection();
    invalidateSidebar();
    forgetConversationView();
    renderAll();
  });
  $('theme-btn').addEventListener('click', () => {
    const cur = localStorage.getItem('confab.theme') || 'system';
    localStorage.setItem('confab.theme', THEMES[(THEMES.indexOf(cur) + 1) % THEMES.length]);
    applyTheme();
  });
  $('notify-btn').addEventListener('click', async () => {
    await Notification.requestPermission();
    $('notify-btn').hidden = Notification.permission !== 'default';
  });
  $('logout-btn').addEventListener('click', () => logout(true));
  $('new-room-btn').addEventListener('click', () => dialogs.newRoom());
  $('join-room-btn').addEventListener('click', () => dialogs.joinRoom());
  $('new-dm-btn').addEventListener('click', () => dialogs.newMessage());
  $('invitations-btn').addEventListener('click', () => dialogs.invitations());
  $('invite-btn').addEventListener('click', () => dialogs.invitePeople(state.current));
  $('search-btn').addEventListener('click', () => dialogs.search(state.current));
  $('leave-btn').addEventListener('click', () => dialogs.leaveRoom(state.current).catch((e) => toast(e.message)));
  const backToList = () => {
    const r = state.current;
    openConversation(null);
    document.querySelector(`#conv-list button[data-receiver="${CSS.escape(r || '')}"]`)?.focus();
  };
  $('back-btn').addEventListener('click', () => { if (history.state?.conv) history.back(); else backToList(); });
  addEventListener('popstate', () => { if (state.current && phone()) backToList(); });
  document.addEventListener('keydown', (e) => {
    if (document.body.dataset.screen !== 'app' || !e.altKey || !['ArrowUp', 'ArrowDown'].includes(e.key)) return;
    const list = [...document.querySelectorAll('#conv-list button[data-receiver]')].map((b) => b.dataset.receiver);
    if (!list.length) return;
    e.preventDefault();
    const i = list.indexOf(state.current);
    const j = i < 0 ? 0 : (i + (e.key === 'ArrowDown' ? 1 : -1) + list.length) % list.length;
    openConversation(list[j]);
  });
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && state.current) conn.markRead(conv(state.current));
  });

  on('change', () => { schedule('sidebar'); schedule('header'); });
  on('messages', (r) => { if (r === state.current) schedule('messages'); schedule('sidebar'); });
  on('older', (r) => { if (r === state.current) schedule('older'); });
  on('typing', (r) => { if (r === state.current) schedule('typing'); });
  on('current', () => openConversation(state.current));
  on('invitations', () => schedule('sidebar'));
  on('connection', showConnection);
  on('retry', showConnection);
  on('toast', (text) => toast(text));
  on('revoked', () => logout(false));
  on('synced', () => {
    if (state.current) conn.loadConversation(conv(state.current));
    const code = sessionStorage.getItem('confab.invite');
    if (code) { sessionStorage.removeItem('confab.invite'); dialogs.redeemLink(code); }
  });
  on('incoming', (c, msg, live) => {
    const here = c.receiver === state.current && document.visibilityState === 'visible';
    if (!here) c.unread = (c.unread || 0) + 1;
    if (!live) return;
    notify(c, msg);
    const text = msg.content || msg.attachment?.name || t('location');
    announce(here ? t('announce_here', { name: msg.sender, text }) : t('announce_other', { name: msg.sender, room: c.receiver, count: totalUnread() }));
  });
  on('announce', (kind, f) => { if (kind === 'invited') announce(t('invited_by', { room: f.room, name: f.from })); });

  if ('serviceWorker' in navigator) {
    const reg = () => navigator.serviceWorker.register('/sw.js').catch(() => {});
    if (document.readyState === 'complete') reg(); else addEventListener('load', reg);
  }

  const session = await db.get('session');
  if (session?.token) await enterApp(session.token, session.me);
  else showLogin();
}

boot();
