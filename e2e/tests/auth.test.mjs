// Sign up, log in, a reload that keeps the session, errors shown in an alert, log out.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, newUserPage, username, PASSWORD, registerRest, loginUI, waitOnline,
} from '../lib/harness.mjs';

let server;
let browser;
before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

test('sign up through the form, then a reload keeps the session', async () => {
  const { context, page } = await newUserPage(browser);
  const name = username('new');
  await page.goto(server.url + '/');
  await page.locator('body[data-screen="login"]').waitFor();
  await page.getByLabel('Username').fill(name);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await waitOnline(page);
  // A new account is a member of #general: it is in the sidebar.
  await page.getByRole('navigation', { name: 'Conversations' }).locator('[data-receiver="#general"]').waitFor();
  await page.reload();
  await waitOnline(page);
  assert.equal(await page.locator('body').getAttribute('data-screen'), 'app', 'still logged in after a reload');
  assert.deepEqual(page.problems, []);
  await context.close();
});

test('a wrong password is refused with an alert and stays on the login screen', async () => {
  const name = username('wp');
  await registerRest(server.url, name);
  const { context, page } = await newUserPage(browser);
  await page.goto(server.url + '/');
  await page.locator('body[data-screen="login"]').waitFor();
  await page.getByLabel('Username').fill(name);
  await page.getByLabel('Password', { exact: true }).fill('not the password at all');
  await page.getByRole('button', { name: 'Log in' }).click();
  const alert = page.getByRole('alert').filter({ hasText: /\S/ });
  await alert.first().waitFor();
  assert.equal(await page.locator('body').getAttribute('data-screen'), 'login');
  // A taken username on sign-up is refused too.
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForFunction(() => {
    const a = [...document.querySelectorAll('[role=alert]')].map((e) => e.textContent.trim()).join('');
    return a.length > 0 && document.body.dataset.screen === 'login';
  });
  await context.close();
});

test('log in, log out: the token is revoked and a reload shows the login screen', async () => {
  const name = username('lo');
  await registerRest(server.url, name);
  const { context, page } = await newUserPage(browser);
  // The token the app gets (over REST /login or in ready.token on the socket), to check it is revoked.
  let token = null;
  page.on('response', async (r) => {
    if (r.url().endsWith('/api/v1/login') && r.status() === 200) token = (await r.json().catch(() => ({}))).token ?? token;
  });
  page.on('websocket', (ws) => ws.on('framereceived', ({ payload }) => {
    try {
      const f = JSON.parse(payload);
      if (f.type === 'ready' && f.token) token = f.token;
    } catch { /* not JSON */ }
  }));
  await loginUI(page, server.url, name);
  assert.match(token ?? '', /^[0-9a-f]{64}$/, 'the app logged in and got a token');
  const before = await fetch(`${server.url}/api/v1/profile`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(before.status, 200);
  const logout = page.getByRole('button', { name: 'Log out' });
  if (!(await logout.isVisible())) {
    // The button may live in a settings panel or menu.
    const settings = page.getByRole('button', { name: /Settings|Menu|Account/ }).first();
    await settings.click();
  }
  await logout.click();
  await page.locator('body[data-screen="login"]').waitFor();
  const revoked = await fetch(`${server.url}/api/v1/profile`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(revoked.status, 401, 'the token is revoked');
  await page.reload();
  await page.locator('body[data-screen="login"]').waitFor();
  await context.close();
});
