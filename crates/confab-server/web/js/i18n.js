// Translations: every visible string and aria-label comes from i18n/<lang>.json.
export const LANGS = ['en', 'hi', 'es'];
const RTL = new Set(['ar', 'he', 'fa', 'ur']);
let strings = {};
let fallback = {};
export let lang = 'en';

async function load(code) {
  const res = await fetch(`/i18n/${code}.json`);
  if (!res.ok) throw new Error(`no translations for ${code}`);
  return res.json();
}

export function pickLanguage() {
  const saved = localStorage.getItem('confab.lang');
  if (saved && LANGS.includes(saved)) return saved;
  for (const l of navigator.languages || [navigator.language || 'en']) {
    const base = String(l).toLowerCase().split('-')[0];
    if (LANGS.includes(base)) return base;
  }
  return 'en';
}

export async function setLanguage(code, save = false) {
  if (!LANGS.includes(code)) code = 'en';
  if (!Object.keys(fallback).length) fallback = await load('en');
  strings = code === 'en' ? fallback : await load(code).catch(() => fallback);
  lang = code;
  if (save) localStorage.setItem('confab.lang', code);
  document.documentElement.lang = code;
  document.documentElement.dir = RTL.has(code) ? 'rtl' : 'ltr';
  translate(document);
}

// t('key', {name: 'x'}) with {name} placeholders.
export function t(key, vars) {
  let s = strings[key] ?? fallback[key] ?? key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return s;
}

export function translate(root) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-label]')) el.setAttribute('aria-label', t(el.dataset.i18nLabel));
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
}

const cache = new Map();
function fmt(kind, opts) {
  const key = lang + kind;
  if (!cache.has(key)) cache.set(key, new Intl.DateTimeFormat(lang, opts));
  return cache.get(key);
}
export const timeOf = (d) => fmt('t', { hour: '2-digit', minute: '2-digit' }).format(d);
export const fullTime = (d) => fmt('f', { dateStyle: 'full', timeStyle: 'short' }).format(d);
export function dayOf(d) {
  const start = (x) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
  const diff = Math.round((start(d) - start(new Date())) / 86400000);
  if (diff >= -1 && diff <= 0) {
    const s = new Intl.RelativeTimeFormat(lang, { numeric: 'auto' }).format(diff, 'day');
    return s.charAt(0).toLocaleUpperCase(lang) + s.slice(1);
  }
  return fmt('d', { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' }).format(d);
}
