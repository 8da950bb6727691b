// The composer: Enter sends, Shift+Enter is a newline, Up edits your last message, Escape
// cancels; replies; attachments by picker, drag and drop or paste, with progress; location.
import { state, conv, sortedMessages } from './store.js';
import * as conn from './connection.js';
import * as outbox from './outbox.js';
import { upload } from './api.js';
import { t } from './i18n.js';
import { $, toast, errorText } from './ui.js';

let mode = null; // {kind: 'reply'|'edit', m}
let lastTyping = 0;
const drafts = new Map();

export function initComposer() {
  const input = $('composer-input');
  $('composer').addEventListener('submit', (e) => { e.preventDefault(); submit(); });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); submit(); } else if (e.key === 'ArrowUp' && !input.value && !mode) {
      const mine = sortedMessages(conv(state.current)).filter((m) => m.sender === state.me && !m.deleted && !m.attachment && !m.location);
      if (mine.length) { e.preventDefault(); startEdit(mine[mine.length - 1]); }
    } else if (e.key === 'Escape' && mode) { e.preventDefault(); cancel(); }
  });
  input.addEventListener('input', () => {
    grow();
    if (state.current) drafts.set(state.current, input.value);
    const now = Date.now();
    if (input.value && now - lastTyping > 3000 && conn.isSynced() && mode?.kind !== 'edit') {
      lastTyping = now;
      conn.send({ type: 'typing', receiver: state.current });
    }
  });
  input.addEventListener('paste', (e) => {
    const files = [...(e.clipboardData?.files || [])];
    if (files.length) { e.preventDefault(); sendFiles(files); }
  });
  $('composer-cancel').addEventListener('click', cancel);
  $('file-input').addEventListener('change', (e) => { sendFiles([...e.target.files]); e.target.value = ''; });
  $('location-btn').addEventListener('click', shareLocation);
  const area = $('conversation');
  area.addEventListener('dragover', (e) => { if (state.current && e.dataTransfer?.types.includes('Files')) { e.preventDefault(); area.classList.add('drop'); } });
  area.addEventListener('dragleave', () => area.classList.remove('drop'));
  area.addEventListener('drop', (e) => {
    area.classList.remove('drop');
    if (!state.current || !e.dataTransfer?.files.length) return;
    e.preventDefault();
    sendFiles([...e.dataTransfer.files]);
  });
}

function grow() {
  const input = $('composer-input');
  input.style.height = 'auto';
  input.style.height = `${Math.min(input.scrollHeight, 200)}px`;
}

export function switchDraft(from, to) {
  const input = $('composer-input');
  if (from) drafts.set(from, input.value);
  cancel();
  input.value = drafts.get(to) || '';
  grow();
}

function setContext(text) {
  $('composer-context').hidden = !text;
  $('composer-context-text').textContent = text || '';
}

export function startReply(m) {
  mode = { kind: 'reply', m };
  setContext(t('replying_to', { name: m.sender, text: (m.content || '').slice(0, 80) }));
  $('composer-input').focus();
}

export function startEdit(m) {
  mode = { kind: 'edit', m };
  setContext(t('editing'));
  const input = $('composer-input');
  input.value = m.content;
  grow();
  input.focus();
  input.setSelectionRange(input.value.length, input.value.length);
}

function cancel() {
  const wasEdit = mode?.kind === 'edit';
  mode = null;
  setContext('');
  if (wasEdit) { $('composer-input').value = ''; grow(); }
}

async function submit() {
  const input = $('composer-input');
  const text = input.value;
  const r = state.current;
  if (!r) return;
  if (mode?.kind === 'edit') {
    const m = mode.m;
    if (!text.trim()) return;
    if (!conn.isSynced()) { toast(t('err_offline_action')); return; }
    try {
      await conn.change({ type: 'edit', message: m.id, content: text }, m, conn.edits.edit(text));
      cancel();
      input.value = '';
      drafts.delete(r);
      grow();
    } catch (e) { toast(errorText(e)); }
    return;
  }
  if (!text.trim()) return;
  const entry = { receiver: r, content: text };
  if (mode?.kind === 'reply') entry.reply = { id: mode.m.id, sender: mode.m.sender, excerpt: (mode.m.content || '').slice(0, 100) };
  input.value = '';
  drafts.delete(r);
  cancel();
  grow();
  await outbox.add(entry);
}

async function sendFiles(files) {
  const r = state.current;
  for (const file of files) {
    if (!conn.isSynced()) { toast(t('err_offline_action')); return; }
    $('upload-progress').hidden = false;
    $('upload-name').textContent = t('uploading', { name: file.name });
    $('upload-bar').value = 0;
    try {
      const info = await upload(file, (p) => { $('upload-bar').value = Math.round(p * 100); });
      await outbox.add({ receiver: r, content: '', attachment: info });
    } catch (e) {
      toast(errorText(e));
    } finally {
      $('upload-progress').hidden = true;
    }
  }
}

function shareLocation() {
  const r = state.current;
  if (!navigator.geolocation) { toast(t('err_location')); return; }
  navigator.geolocation.getCurrentPosition((pos) => {
    outbox.add({ receiver: r, content: '', location: { latitude: pos.coords.latitude, longitude: pos.coords.longitude } });
  }, () => toast(t('err_location')), { enableHighAccuracy: false, timeout: 15000 });
}
