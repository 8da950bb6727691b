// Responsive layout: on a phone (375 px) the list and the conversation are separate views with
// a way back, touch targets are at least 44 px, and nothing scrolls sideways; on a tablet and
// a desktop both show side by side.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, newUserPage, username, registerRest, loginUI, openConversation,
  send, messageByText, sidebar, messageLog,
} from '../lib/harness.mjs';

let server;
let browser;
const A = username('lay');
before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  await registerRest(server.url, A);
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

/** Visible controls smaller than 44x44 (links inside message text excepted: they are text). */
const smallTargets = (page) =>
  page.evaluate(() => [...document.querySelectorAll('button, a[href], input:not([type=hidden]), select, textarea, label[for], [role=button], [tabindex="0"]')]
    .filter((el) => {
      const r = el.getBoundingClientRect();
      const s = getComputedStyle(el);
      if (r.width === 0 || r.height === 0 || s.visibility === 'hidden') return false;
      if (r.bottom <= 0 || r.right <= 0 || r.left >= innerWidth) return false; // off-screen until focused (skip link)
      if (el.closest('[data-testid=content]')) return false;
      if (el.tagName === 'ARTICLE') return false; // a focusable message, not a control
      if (el.classList.contains('sr-only') || (r.width <= 1 && r.height <= 1)) return false;
      // A label is a target only when it stands in for a hidden control (e.g. "Attach file").
      if (el.tagName === 'LABEL') {
        const c = el.control?.getBoundingClientRect();
        if (c && c.width > 1 && c.height > 1) return false;
      }
      if (el.tagName === 'INPUT' && el.labels?.length && (r.width <= 1 || r.height <= 1)) return false;
      return r.width < 44 || r.height < 44;
    })
    .map((el) => `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}${el.className ? '.' + String(el.className).split(' ').join('.') : ''} "${(el.getAttribute('aria-label') || el.textContent).trim().slice(0, 30)}" ${Math.round(el.getBoundingClientRect().width)}x${Math.round(el.getBoundingClientRect().height)}`));

const noSideScroll = (page) => page.evaluate(() => document.scrollingElement.scrollWidth <= window.innerWidth + 1);

test('phone: list and conversation are separate views, no sideways scrolling', async () => {
  const { context, page } = await newUserPage(browser, { viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true });
  await page.goto(server.url + '/');
  await page.locator('body[data-screen="login"]').waitFor();
  await loginUI(page, server.url, A);
  assert.ok(await sidebar(page).isVisible(), 'the list shows first');
  assert.equal(await messageLog(page).isVisible(), false, 'no conversation beside it');
  assert.ok(await noSideScroll(page), 'no sideways scrolling (list)');
  await openConversation(page, '#general');
  assert.equal(await sidebar(page).isVisible(), false, 'the list is gone');
  await send(page, 'a message from a phone with a rather long line of text that must wrap nicely');
  await messageByText(page, 'from a phone').locator('[data-testid=status]:not([data-status="sending"])').waitFor();
  assert.ok(await noSideScroll(page), 'no sideways scrolling (conversation)');
  await page.getByRole('button', { name: 'Back' }).click();
  await sidebar(page).waitFor();
  assert.equal(await messageLog(page).isVisible(), false);
  await context.close();
});

test('phone: every touch target is at least 44 px', async () => {
  const { context, page } = await newUserPage(browser, { viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true });
  await page.goto(server.url + '/');
  await page.locator('body[data-screen="login"]').waitFor();
  const small = [];
  small.push(...(await smallTargets(page)).map((s) => `login: ${s}`));
  await loginUI(page, server.url, A);
  small.push(...(await smallTargets(page)).map((s) => `list: ${s}`));
  await openConversation(page, '#general');
  await send(page, 'checking targets');
  await messageByText(page, 'checking targets').locator('[data-testid=status]:not([data-status="sending"])').waitFor();
  small.push(...(await smallTargets(page)).map((s) => `conversation: ${s}`));
  assert.deepEqual(small, []);
  await context.close();
});

for (const [size, viewport] of [['tablet', { width: 768, height: 1024 }], ['desktop', { width: 1280, height: 800 }]]) {
  test(`${size}: the list and the conversation side by side`, async () => {
    const { context, page } = await newUserPage(browser, { viewport });
    await loginUI(page, server.url, A);
    await openConversation(page, '#general');
    assert.ok(await sidebar(page).isVisible(), 'list visible');
    assert.ok(await messageLog(page).isVisible(), 'conversation visible');
    const nav = await sidebar(page).boundingBox();
    const log = await messageLog(page).boundingBox();
    assert.ok(nav.x + nav.width <= log.x + 1, 'list left of the conversation');
    assert.ok(await noSideScroll(page));
    await context.close();
  });
}
