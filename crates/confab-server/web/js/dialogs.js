// Dialogs: new room, join room, new message (contacts), invitations, invite people, invite links.
import { state, conv } from './store.js';
import * as conn from './connection.js';
import { t } from './i18n.js';
import { h, $, errorText } from './ui.js';

let openConv = () => {};
export function initDialogs(open) { openConv = open; }

let seq = 0;
function field(label, attrs = {}) {
  const id = `f${++seq}`;
  const input = h('input', { id, ...attrs });
  return { input, node: h('div', { class: 'field' }, h('label', { for: id }, label), input) };
}
function checkbox(label) {
  const id = `f${++seq}`;
  const input = h('input', { id, type: 'checkbox' });
  return { input, node: h('div', { class: 'field check' }, input, h('label', { for: id }, label)) };
}

// buttons: [{label, primary, run: async () => true to close}]
export function openDialog(title, body, buttons) {
  const d = $('dialog');
  const alert = h('div', { role: 'alert', class: 'error' });
  $('dialog-title').textContent = title;
  $('dialog-body').replaceChildren(...body, alert);
  const btns = buttons.map((b) => h('button', {
    type: b.primary ? 'submit' : 'button', class: `btn${b.primary ? ' primary' : ''}`,
    onclick: async (e) => {
      e.preventDefault();
      alert.textContent = '';
      if (!b.run) { d.close(); return; }
      try { if (await b.run()) d.close(); } catch (err) { alert.textContent = errorText(err); }
    },
  }, b.label));
  btns.push(h('button', { type: 'button', class: 'btn', onclick: () => d.close() }, t('cancel')));
  $('dialog-buttons').replaceChildren(...btns);
  if (!d.open) d.showModal();
  d.querySelector('#dialog-body input, #dialog-body button')?.focus();
  return { alert, close: () => d.close() };
}

function roomName(v) {
  const s = v.trim().toLowerCase();
  return s.startsWith('#') ? s : `#${s}`;
}

export function newRoom() {
  const name = field(t('room_name'), { autocomplete: 'off', required: true, maxlength: 65 });
  const priv = checkbox(t('private_room'));
  const pw = field(t('room_password_optional'), { type: 'password', autocomplete: 'new-password' });
  const topic = field(t('topic_optional'), { maxlength: 512 });
  openDialog(t('new_room'), [name.node, priv.node, pw.node, topic.node], [{
    label: t('create'), primary: true, run: async () => {
      const frame = { type: 'create_room', room: roomName(name.input.value), visibility: priv.input.checked ? 'private' : 'public' };
      if (pw.input.value) frame.password = pw.input.value;
      if (topic.input.value.trim()) frame.topic = topic.input.value.trim();
      await conn.request(frame);
      conv(frame.room).topic = frame.topic || '';
      openConv(frame.room);
      return true;
    },
  }]);
}

export async function joinRoom(prefill = '') {
  const name = field(t('room_name'), { autocomplete: 'off', value: prefill });
  const pw = field(t('room_password_if_any'), { type: 'password', autocomplete: 'off' });
  const list = h('ul', { class: 'pick-list', 'aria-label': t('public_rooms') });
  const join = async () => {
    const room = roomName(name.input.value);
    const frame = { type: 'join', room };
    if (pw.input.value) frame.password = pw.input.value;
    await conn.request(frame);
    conv(room);
    openConv(room);
    return true;
  };
  const dlg = openDialog(t('join_room'), [name.node, pw.node, h('h3', {}, t('public_rooms')), list], [{ label: t('join'), primary: true, run: join }]);
  try {
    const r = await conn.request({ type: 'rooms' });
    list.replaceChildren(...r.rooms.filter((x) => !x.joined).map((x) => h('li', {}, h('button', {
      type: 'button', class: 'btn pick', onclick: () => { name.input.value = x.name; (x.has_password ? pw.input : name.input).focus(); },
    }, `${x.name} · ${t('members_count', { count: x.members })}${x.has_password ? ' 🔒' : ''}${x.topic ? ` — ${x.topic}` : ''}`))));
    if (!list.children.length) list.append(h('li', { class: 'muted' }, t('no_public_rooms')));
  } catch (e) { dlg.alert.textContent = errorText(e); }
}

export async function newMessage() {
  const user = field(t('dm_user'), { autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', maxlength: 32 });
  const add = checkbox(t('add_to_contacts'));
  const list = h('ul', { class: 'pick-list', 'aria-label': t('contacts') });
  const start = async (name) => {
    const u = (name || user.input.value).trim().toLowerCase();
    await conn.request({ type: 'profile', user: u });
    if (add.input.checked) await conn.request({ type: 'add_contact', user: u });
    conv(u);
    openConv(u);
    return true;
  };
  const dlg = openDialog(t('new_message'), [user.node, add.node, h('h3', {}, t('contacts')), list], [{ label: t('start_chat'), primary: true, run: () => start() }]);
  try {
    const r = await conn.request({ type: 'contacts' });
    list.replaceChildren(...r.contacts.map((c) => h('li', {}, h('button', {
      type: 'button', class: 'btn pick', onclick: () => start(c.username).then(dlg.close, (e) => { dlg.alert.textContent = errorText(e); }),
    }, c.display_name ? `${c.display_name} (${c.username})` : c.username, ' ', h('span', { class: 'presence', 'data-online': String(!!c.online) }), h('span', { class: 'sr-only' }, t(c.online ? 'online' : 'offline'))))));
    if (!list.children.length) list.append(h('li', { class: 'muted' }, t('no_contacts')));
  } catch (e) { dlg.alert.textContent = errorText(e); }
}

export function invitations() {
  const list = h('ul', { class: 'pick-list' });
  const render = () => {
    list.replaceChildren(...state.invitations.map((inv) => h('li', { class: 'inv' },
      h('span', {}, t('invited_by', { room: inv.room, name: inv.from })), ' ',
      h('button', { type: 'button', class: 'btn primary', onclick: () => answer(inv, true) }, t('accept')),
      h('button', { type: 'button', class: 'btn', onclick: () => answer(inv, false) }, t('decline')))));
    if (!state.invitations.length) list.append(h('li', { class: 'muted' }, t('no_invitations')));
  };
  const dlg = openDialog(t('invitations'), [list], []);
  const answer = async (inv, accept) => {
    try {
      await conn.request({ type: 'invite_reply', invitation: inv.id, accept });
      state.invitations = state.invitations.filter((i) => i.id !== inv.id);
      if (accept) { conv(inv.room); dlg.close(); openConv(inv.room); } else render();
    } catch (e) { dlg.alert.textContent = errorText(e); }
  };
  render();
}

export function invitePeople(room) {
  const user = field(t('invite_user'), { autocomplete: 'off', autocapitalize: 'none', maxlength: 32 });
  const out = h('div', { class: 'field' });
  const makeLink = h('button', {
    type: 'button', class: 'btn', onclick: async () => {
      try {
        const l = await conn.request({ type: 'create_invite', room });
        const url = `${location.origin}${l.url_path}`;
        const f = field(t('invite_link'), { value: url, readonly: true });
        const copy = h('button', { type: 'button', class: 'btn', onclick: () => navigator.clipboard?.writeText(url) }, t('copy'));
        out.replaceChildren(f.node, copy);
        f.input.select();
      } catch (e) { dlg.alert.textContent = errorText(e); }
    },
  }, t('create_invite_link'));
  const dlg = openDialog(t('invite_to', { room }), [user.node, makeLink, out], [{
    label: t('invite'), primary: true, run: async () => {
      await conn.request({ type: 'invite', room, user: user.input.value.trim().toLowerCase() });
      dlg.alert.textContent = t('invite_sent');
      user.input.value = '';
      return false;
    },
  }]);
}

export async function redeemLink(code) {
  try {
    const info = await conn.request({ type: 'invite_info', code });
    if (info.member) { openConv(info.room); return; }
    if (!info.valid) { openDialog(t('invite_link'), [h('p', {}, t(`invite_${info.reason}`, { room: info.room }))], []); return; }
    openDialog(t('join_room'), [h('p', {}, t('join_question', { room: info.room }))], [{
      label: t('join'), primary: true, run: async () => {
        const a = await conn.request({ type: 'redeem_invite', code });
        conv(a.receiver);
        openConv(a.receiver);
        return true;
      },
    }]);
  } catch (e) {
    openDialog(t('invite_link'), [h('p', {}, errorText(e))], []);
  }
}

export async function leaveRoom(room) {
  await conn.request({ type: 'leave', room });
  state.convs.delete(room);
  if (state.current === room) openConv(null);
}


// Search the messages you can see (all conversations, or the open one); pieces are text.
export function search(current) {
  const q = field(t('search_query'), { type: 'search', autocomplete: 'off', maxlength: 256 });
  const only = current ? checkbox(t('search_only', { name: current })) : null;
  const list = h('ul', { class: 'pick-list results', 'aria-live': 'polite' });
  const run = async () => {
    const query = q.input.value.trim();
    if (!query) return false;
    const frame = { type: 'search', query, limit: 20 };
    if (only?.input.checked) frame.receiver = current;
    const r = await conn.request(frame);
    list.replaceChildren(...r.results.map((res) => {
      const m = res.message;
      const where = m.receiver.startsWith('#') ? m.receiver : m.sender === state.me ? m.receiver : m.sender;
      const text = h('span', { dir: 'auto' }, res.highlight.map((p) => (p.match ? h('mark', {}, p.text) : p.text)));
      return h('li', {}, h('button', {
        type: 'button', class: 'btn pick', onclick: () => { $('dialog').close(); openConv(where); },
      }, h('span', {}, h('strong', {}, `${where} · ${m.sender}: `), text)));
    }));
    if (!r.results.length) list.append(h('li', { class: 'muted' }, t('search_none')));
    return false;
  };
  openDialog(t('search'), [q.node, ...(only ? [only.node] : []), list], [{ label: t('search'), primary: true, run }]);
}
