// A keyboard-only walk through the main flow: log in, move to a conversation, write, send,
// edit the last message with Up, open a message's actions; focus always visible.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, newUserPage, username, registerRest, PASSWORD, waitOnline, messageByText,
} from '../lib/harness.mjs';

let server;
let browser;
const A = username('keys');
before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  await registerRest(server.url, A);
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

/** What has focus: tag, label, receiver, and whether a focus indicator is drawn. */
const focused = (page) =>
  page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return null;
    const s = getComputedStyle(el);
    const visible = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none';
    return {
      tag: el.tagName.toLowerCase(),
      label: el.getAttribute('aria-label') || el.labels?.[0]?.textContent?.trim() || el.textContent.trim().slice(0, 40),
      receiver: el.closest('[data-receiver]')?.dataset.receiver ?? null,
      visible,
    };
  });

/** Presses Tab until pred(focused) holds; every stop must show a focus indicator. */
async function tabTo(page, pred, what, max = 60) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const f = await focused(page);
    if (f) assert.ok(f.visible, `focus indicator visible on ${f.tag} "${f.label}"`);
    if (f && pred(f)) return f;
  }
  assert.fail(`could not reach ${what} with Tab`);
}

test('log in, open a conversation, send, edit with Up, all by keyboard', async () => {
  const { context, page } = await newUserPage(browser);
  await page.goto(server.url + '/');
  await page.locator('body[data-screen="login"]').waitFor();
  await tabTo(page, (f) => f.tag === 'input' && /Username/.test(f.label), 'Username');
  await page.keyboard.type(A);
  await tabTo(page, (f) => f.tag === 'input' && /^Password/.test(f.label), 'Password');
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press('Enter');
  await waitOnline(page);
  await tabTo(page, (f) => f.receiver === '#general', 'the #general entry in the sidebar');
  await page.keyboard.press('Enter');
  await page.locator('[data-receiver="#general"][aria-current="page"]').waitFor();
  await tabTo(page, (f) => f.tag === 'textarea', 'the composer');
  await page.keyboard.type('typed by keyboard');
  await page.keyboard.press('Shift+Enter');
  await page.keyboard.type('second line');
  await page.keyboard.press('Enter');
  const msg = messageByText(page, 'second line');
  await msg.waitFor();
  assert.match(await msg.locator('[data-testid=content]').textContent(), /typed by keyboard\s*\n?\s*second line/);
  await msg.locator('[data-testid="status"]:not([data-status="sending"])').waitFor();
  // Up in the empty composer edits the last own message.
  await page.keyboard.press('ArrowUp');
  await page.keyboard.press('Control+A');
  await page.keyboard.type('edited by keyboard');
  await page.keyboard.press('Enter');
  const edited = messageByText(page, 'edited by keyboard');
  await edited.locator('[data-testid="edited"]').waitFor();
  // The message's actions are reachable with Tab and open with Enter.
  await tabTo(page, (f) => f.tag === 'button' && /Message actions/.test(f.label), 'a "Message actions" button');
  await page.keyboard.press('Enter');
  await page.getByRole('menuitem', { name: 'Reply' }).waitFor();
  await page.keyboard.press('Escape');
  await page.getByRole('menuitem', { name: 'Reply' }).waitFor({ state: 'hidden' });
  assert.deepEqual(page.problems, []);
  await context.close();
});
