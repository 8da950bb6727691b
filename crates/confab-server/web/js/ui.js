// DOM helpers. User text only ever goes in with textContent / text nodes.
import { t } from './i18n.js';

// h('button', {class: 'x', onclick}, 'text', child) — attributes set as attributes, except
// on* (listeners) and properties listed in PROPS.
const PROPS = new Set(['value', 'checked', 'disabled', 'hidden', 'tabIndex']);
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (PROPS.has(k)) el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c != null && c !== false) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

export const $ = (id) => document.getElementById(id);

// Keep `parent`'s children equal to `nodes` with as few moves as possible (focus survives).
export function reconcile(parent, nodes) {
  let cur = parent.firstChild;
  for (const n of nodes) {
    if (n === cur) cur = cur.nextSibling;
    else parent.insertBefore(n, cur);
  }
  while (cur) { const next = cur.nextSibling; cur.remove(); cur = next; }
}

// Text with http(s) links made clickable, safely.
const URL_RE = /\bhttps?:\/\/[^\s<>"']+/gi;
export function linkify(text) {
  const frag = document.createDocumentFragment();
  let at = 0;
  for (const m of text.matchAll(URL_RE)) {
    let url = m[0].replace(/[.,;:!?)\]]+$/, '');
    if (m.index > at) frag.append(document.createTextNode(text.slice(at, m.index)));
    let ok = false;
    try { ok = ['http:', 'https:'].includes(new URL(url).protocol); } catch { ok = false; }
    frag.append(ok ? h('a', { href: url, rel: 'noopener noreferrer', target: '_blank' }, url) : document.createTextNode(url));
    at = m.index + url.length;
  }
  if (at < text.length) frag.append(document.createTextNode(text.slice(at)));
  return frag;
}

export function toast(text) {
  const box = $('toasts');
  const el = h('div', { class: 'toast' }, text);
  box.append(el);
  setTimeout(() => el.remove(), 6000);
}

export function announce(text) {
  const a = $('announcer');
  a.textContent = '';
  setTimeout(() => { a.textContent = text; }, 50);
}

export function errorText(e) {
  const key = `err_${e?.code}`;
  const s = t(key);
  return s === key ? (e?.message || t('err_internal')) : s;
}

export function initials(name) { return (name.replace(/^#/, '')[0] || '?').toUpperCase(); }

export function formatSize(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1048576) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1048576).toFixed(1)} MB`;
}
