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

test('arrow keys move between conversations and between messages; Enter opens the actions', async () => {
  const { context, page } = await newUserPage(browser);
  const { loginUI, openConversation, send, registerRest: reg, rest } = await import('../lib/harness.mjs');
  await loginUI(page, server.url, A);
  // A second conversation: a room of our own.
  const token = await (await fetch(`${server.url}/api/v1/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: A, password: PASSWORD }),
  })).json().then((j) => j.token);
  await rest(server.url, token, 'POST', '/api/v1/rooms', { room: 'second' });
  void reg;
  await page.locator('nav [data-receiver="#second"]').waitFor({ timeout: 10000 }).catch(async () => {
    await page.reload();
    await page.locator('nav [data-receiver="#second"]').waitFor();
  });
  const receivers = await page.locator('nav [data-receiver]').evaluateAll((els) => els.map((e) => e.dataset.receiver));
  assert.ok(receivers.length >= 2);
  await page.locator(`nav [data-receiver="${receivers[0]}"]`).focus();
  await page.keyboard.press('ArrowDown');
  assert.equal((await focused(page)).receiver, receivers[1], 'ArrowDown: the next conversation');
  await page.keyboard.press('ArrowUp');
  assert.equal((await focused(page)).receiver, receivers[0], 'ArrowUp: back');
  await openConversation(page, '#general');
  for (const t of ['first of two', 'second of two']) await send(page, t);
  await messageByText(page, 'second of two').locator('[data-testid=status]:not([data-status="sending"])').waitFor();
  await messageByText(page, 'second of two').focus();
  await page.keyboard.press('ArrowUp');
  const text = await page.evaluate(() => document.activeElement.closest('article')?.querySelector('[data-testid=content]')?.textContent);
  assert.equal(text, 'first of two', 'ArrowUp: the previous message');
  await page.keyboard.press('Enter');
  await page.getByRole('menuitem', { name: 'Reply' }).waitFor();
  await page.keyboard.press('Escape');
  await context.close();
});
