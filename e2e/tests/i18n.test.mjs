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
