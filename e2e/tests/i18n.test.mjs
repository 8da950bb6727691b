// Language switching: every visible string follows the switcher, <html lang> and dir follow it,
// the choice survives a reload; the browser's language picks the first one; RTL text in a
// message gets dir="auto".
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, newUserPage, username, registerRest, loginUI, openConversation,
  send, messageByText,
} from '../lib/harness.mjs';

let server;
let browser;
const A = username('lang');
before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  await registerRest(server.url, A);
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

// The select keeps its options' values whatever the language; its label is translated.
const languageSelect = (page) => page.locator('select:has(option[value="hi"]):has(option[value="es"])');

test('switching the language changes the UI strings, lang and dir, and survives a reload', async () => {
  const { context, page } = await newUserPage(browser);
  await loginUI(page, server.url, A);
  await openConversation(page, '#general');
  assert.equal(await page.locator('html').getAttribute('lang'), 'en');
  await page.getByRole('button', { name: 'Send' }).waitFor();
  const english = await page.locator('[data-testid=connection]').textContent();
  for (const lang of ['es', 'hi']) {
    await languageSelect(page).selectOption(lang);
    await page.waitForFunction((l) => document.documentElement.lang === l, lang);
    assert.equal(await page.locator('html').getAttribute('dir'), 'ltr');
    assert.equal(await page.getByRole('button', { name: 'Send', exact: true }).count(), 0, `${lang}: no English "Send" left`);
    assert.notEqual(await page.locator('[data-testid=connection]').textContent(), english, `${lang}: connection text translated`);
    const label = await page.getByRole('textbox').filter({ has: page.locator('xpath=self::textarea') }).first().getAttribute('aria-label')
      .catch(() => null);
    if (label) assert.notEqual(label, 'Message', `${lang}: composer label translated`);
  }
  await page.reload();
  await page.locator('body[data-screen="app"]').waitFor();
  await page.waitForFunction(() => document.documentElement.lang === 'hi', null, { timeout: 5000 }).catch(() => {});
  assert.equal(await page.locator('html').getAttribute('lang'), 'hi', 'kept after a reload');
  await openConversation(page, '#general');
  await languageSelect(page).selectOption('en');
  await page.waitForFunction(() => document.documentElement.lang === 'en');
  await page.getByRole('button', { name: 'Send' }).waitFor();
  assert.deepEqual(page.problems, []);
  await context.close();
});

/** Visible text and labels of the page that are exactly an English string of the UI. */
async function englishLeft(page, lang) {
  return page.evaluate(async (lang) => {
    const en = await (await fetch('/i18n/en.json')).json();
    const other = await (await fetch(`/i18n/${lang}.json`)).json();
    // English strings without placeholders that the other language translates differently.
    const english = new Set(Object.keys(en).filter((k) => !/[{}]/.test(en[k]) && other[k] !== en[k]).map((k) => en[k].trim()));
    const left = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      if (!el || el.closest('[data-testid=content], [data-receiver] .conv-name, script, style, option')) continue;
      if (!el.checkVisibility?.() && !el.closest('.sr-only')) continue;
      const t = n.textContent.trim();
      if (english.has(t)) left.push(`text "${t}" in <${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}>`);
    }
    for (const el of document.querySelectorAll('[aria-label], [placeholder], [title]')) {
      for (const a of ['aria-label', 'placeholder', 'title']) {
        const v = el.getAttribute(a)?.trim();
        if (v && english.has(v)) left.push(`${a} "${v}" on <${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}>`);
      }
    }
    return left;
  }, lang);
}

test('no English UI string is left on the main screens in Spanish and Hindi', async () => {
  const { context, page } = await newUserPage(browser);
  await page.goto(server.url + '/');
  await page.locator('body[data-screen="login"]').waitFor();
  for (const lang of ['es', 'hi']) {
    await languageSelect(page).selectOption(lang);
    await page.waitForFunction((l) => document.documentElement.lang === l, lang);
    assert.deepEqual(await englishLeft(page, lang), [], `login screen in ${lang}`);
  }
  await languageSelect(page).selectOption('en');
  await loginUI(page, server.url, A);
  await openConversation(page, '#general');
  await send(page, 'a message to translate around');
  await messageByText(page, 'a message to translate around').locator('[data-testid=status]:not([data-status="sending"])').waitFor();
  for (const lang of ['es', 'hi']) {
    await languageSelect(page).selectOption(lang);
    await page.waitForFunction((l) => document.documentElement.lang === l, lang);
    await page.waitForTimeout(200);
    assert.deepEqual(await englishLeft(page, lang), [], `conversation in ${lang}`);
  }
  await languageSelect(page).selectOption('en');
  await context.close();
});

test("the browser's language is picked on first load", async () => {
  const { context, page } = await newUserPage(browser, { locale: 'es-ES' });
  await page.goto(server.url + '/');
  await page.locator('body[data-screen="login"]').waitFor();
  await page.waitForFunction(() => document.documentElement.lang === 'es', null, { timeout: 5000 }).catch(() => {});
  assert.equal(await page.locator('html').getAttribute('lang'), 'es');
  assert.equal(await page.getByRole('button', { name: 'Log in', exact: true }).count(), 0, 'login screen in Spanish');
  await context.close();
});

test('right-to-left text in a message is shown with dir="auto"', async () => {
  const { context, page } = await newUserPage(browser);
  await loginUI(page, server.url, A);
  await openConversation(page, '#general');
  await send(page, 'שלום עולם');
  const content = messageByText(page, 'שלום עולם').locator('[data-testid=content]');
  await content.waitFor();
  assert.equal(await content.getAttribute('dir'), 'auto');
  assert.equal(await content.evaluate((el) => getComputedStyle(el).direction), 'rtl');
  await context.close();
});
