// axe-core (WCAG 2.1 A/AA and best practices) finds no violation on every main screen, in light
// and dark, at desktop and phone sizes; the theme switch cycles system/light/dark.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, newUserPage, username, registerRest, loginUI, openConversation,
  send, messageByText, axeViolations, formatViolations,
} from '../lib/harness.mjs';

let server;
let browser;
const A = username('axe');
before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  await registerRest(server.url, A);
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

async function assertClean(page, screen) {
  const vs = await axeViolations(page);
  assert.equal(vs.length, 0, `${screen}:\n${formatViolations(vs)}`);
}

for (const scheme of ['light', 'dark']) {
  for (const [size, viewport] of [['desktop', { width: 1280, height: 800 }], ['phone', { width: 375, height: 812 }]]) {
    test(`no axe violations: ${scheme}, ${size}`, async () => {
      const { context, page } = await newUserPage(browser, { viewport, colorScheme: scheme, isMobile: size === 'phone', hasTouch: size === 'phone' });
      await page.goto(server.url + '/');
      await page.locator('body[data-screen="login"]').waitFor();
      await assertClean(page, 'login screen');
      await loginUI(page, server.url, A);
      await assertClean(page, 'conversation list');
      await openConversation(page, '#general');
      await send(page, `checked in ${scheme} at ${size}`);
      await messageByText(page, `checked in ${scheme} at ${size}`).locator('[data-testid=status]:not([data-status="sending"])').waitFor();
      await assertClean(page, 'conversation');
      if (size === 'desktop') {
        for (const name of ['New room', 'Join room', 'New message', 'Invitations']) {
          const button = page.getByRole('button', { name: new RegExp(`^${name}\\b`) }).first();
          await button.click();
          const dialog = page.getByRole('dialog');
          await dialog.waitFor();
          await assertClean(page, `dialog "${name}"`);
          await page.keyboard.press('Escape');
          await dialog.waitFor({ state: 'hidden' });
        }
      }
      assert.deepEqual(page.problems, []);
      await context.close();
    });
  }
}

const luminance = (page) => page.evaluate(() => {
  const rgb = (c) => c.match(/\d+(\.\d+)?/g).slice(0, 3).map(Number);
  const l = ([r, g, b]) => 0.2126 * r + 0.7152 * g + 0.0722 * b;
  const s = getComputedStyle(document.body);
  const opaque = (c) => !/rgba\(.*,\s*0\)$/.test(c) && c !== 'transparent';
  const bg = opaque(s.backgroundColor) ? s.backgroundColor : getComputedStyle(document.documentElement).backgroundColor;
  return { bg: l(rgb(bg)), fg: l(rgb(s.color)) };
});

test('with no choice made, the theme follows the system setting', async () => {
  for (const scheme of ['light', 'dark']) {
    const { context, page } = await newUserPage(browser, { colorScheme: scheme });
    await page.goto(server.url + '/');
    await page.locator('body[data-screen="login"]').waitFor();
    assert.equal(await page.locator('html').getAttribute('data-theme'), 'system');
    const { bg, fg } = await luminance(page);
    assert.ok(scheme === 'dark' ? bg < fg : bg > fg, `${scheme}: background ${bg}, text ${fg}`);
    await context.close();
  }
});

test('the theme button cycles system, light and dark', async () => {
  const { context, page } = await newUserPage(browser);
  await loginUI(page, server.url, A);
  const theme = () => page.locator('html').getAttribute('data-theme');
  const seen = new Set([await theme()]);
  for (let i = 0; i < 3; i++) {
    await page.getByRole('button', { name: 'Theme' }).click();
    seen.add(await theme());
  }
  for (const t of ['light', 'dark']) assert.ok(seen.has(t), `theme ${t} reached (saw ${[...seen]})`);
  // Dark really is dark: the page background is darker than its text.
  while ((await theme()) !== 'dark') await page.getByRole('button', { name: 'Theme' }).click();
  const lum = await page.evaluate(() => {
    const rgb = (c) => c.match(/\d+(\.\d+)?/g).slice(0, 3).map(Number);
    const l = ([r, g, b]) => 0.2126 * r + 0.7152 * g + 0.0722 * b;
    const s = getComputedStyle(document.body);
    const opaque = (c) => !/rgba\(.*,\s*0\)$/.test(c) && c !== 'transparent';
    const bg = opaque(s.backgroundColor) ? s.backgroundColor : getComputedStyle(document.documentElement).backgroundColor;
    return { bg: l(rgb(bg)), fg: l(rgb(s.color)) };
  });
  assert.ok(lum.bg < lum.fg, `dark theme: background ${lum.bg} darker than text ${lum.fg}`);
  await assertClean(page, 'app in the dark theme');
  await context.close();
});
