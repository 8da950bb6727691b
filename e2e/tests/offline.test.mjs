// Connection honesty and the outbox. Alice's browser reaches the server through a TCP proxy the
// test cuts for real (an emulated offline would not close the open WebSocket); Bob is direct.
// While cut: Alice's indicator leaves "online", what she writes stays pending; Bob writes too.
// Restored: Alice's outbox goes out in order and once, and she gets Bob's messages with no gap.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, startProxy, launchBrowser, newUserPage, username, registerRest, loginUI,
  openConversation, messageLog, send, messageByText, sendOverSocket, waitOnline,
} from '../lib/harness.mjs';

let server;
let proxy;
let browser;
let alice;
let bob;
const A = username('alice');
const B = username('bob');
let tokenB;

before(async () => {
  server = await startServer();
  proxy = await startProxy(server.port);
  browser = await launchBrowser();
  await registerRest(server.url, A);
  tokenB = await registerRest(server.url, B);
  alice = await newUserPage(browser);
  bob = await newUserPage(browser);
  await loginUI(alice.page, proxy.url, A);
  await loginUI(bob.page, server.url, B);
  await openConversation(alice.page, '#general');
  await openConversation(bob.page, '#general');
});
after(async () => {
  await browser?.close();
  await proxy?.stop().catch(() => {});
  await server?.stop();
});

const contents = (page) =>
  messageLog(page).locator('[data-testid=content]').evaluateAll((cs) => cs.map((c) => c.textContent));
const notOnline = (page) =>
  page.locator('[data-testid="connection"]:not([data-state="online"])').waitFor({ timeout: 15000 });

test('a cut connection shows, the outbox waits, and flushes in order once when back', async () => {
  await send(alice.page, 'before the cut');
  await messageByText(bob.page, 'before the cut').waitFor();
  // Every state the indicator shows from now on.
  await alice.page.evaluate(() => {
    const el = document.querySelector('[data-testid=connection]');
    window.__states = [];
    new MutationObserver(() => window.__states.push(el.dataset.state)).observe(el, { attributes: true, attributeFilter: ['data-state'] });
  });
  await proxy.cut();
  await notOnline(alice.page);
  const state = await alice.page.locator('[data-testid="connection"]').getAttribute('data-state');
  assert.ok(['reconnecting', 'offline', 'connecting'].includes(state), `state ${state}`);
  assert.notEqual((await alice.page.locator('[data-testid="connection"]').textContent()).trim(), '', 'visible text');
  await send(alice.page, 'outbox one');
  await send(alice.page, 'outbox two');
  await send(alice.page, 'outbox three');
  for (const t of ['outbox one', 'outbox two', 'outbox three']) {
    assert.equal(await messageByText(alice.page, t).getAttribute('data-pending'), 'true', `${t} pending`);
  }
  // Meanwhile Bob writes: Alice must catch up on it without a gap.
  await sendOverSocket(bob.page, tokenB, '#general', ['while you were away']);
  await proxy.restore();
  await waitOnline(alice.page, 30000);
  const states = await alice.page.evaluate(() => window.__states);
  assert.ok(states.includes('reconnecting'), `shown as reconnecting while cut (states: ${states})`);
  assert.equal(states.at(-1), 'online');
  await messageByText(bob.page, 'outbox three').waitFor({ timeout: 15000 });
  await messageByText(alice.page, 'while you were away').waitFor({ timeout: 15000 });
  await alice.page.waitForFunction(() => !document.querySelector('[role=log] article[data-pending="true"]'), null, { timeout: 15000 });
  // Once and in order, on both sides.
  await bob.page.waitForTimeout(500);
  for (const page of [alice.page, bob.page]) {
    const seen = (await contents(page)).filter((t) => t.startsWith('outbox '));
    assert.deepEqual(seen, ['outbox one', 'outbox two', 'outbox three']);
  }
  const away = (await contents(alice.page)).filter((t) => t === 'while you were away');
  assert.equal(away.length, 1, 'caught up once');
});

test('a server restart is survived: reconnecting, then online, no duplicates', async () => {
  const before = await contents(alice.page);
  await server.restart();
  await waitOnline(alice.page, 30000);
  await waitOnline(bob.page, 30000);
  await send(alice.page, 'after the restart');
  await messageByText(bob.page, 'after the restart').waitFor({ timeout: 15000 });
  const after = await contents(alice.page);
  assert.deepEqual(after.slice(0, before.length), before, 'nothing lost or duplicated');
  assert.equal(after.filter((t) => t === 'after the restart').length, 1);
});

test('the outbox survives a reload while offline (IndexedDB + service worker)', async () => {
  // The shell must come from the service worker: wait until one controls the page.
  const controlled = await alice.page.evaluate(async () => {
    if (!('serviceWorker' in navigator)) return false;
    await Promise.race([navigator.serviceWorker.ready, new Promise((r) => setTimeout(r, 5000))]);
    return !!navigator.serviceWorker.controller;
  });
  if (!controlled) {
    await alice.page.reload();
    await waitOnline(alice.page, 30000);
    await openConversation(alice.page, '#general');
  }
  await proxy.cut();
  await notOnline(alice.page);
  await send(alice.page, 'kept across a reload');
  await messageByText(alice.page, 'kept across a reload').waitFor();
  await alice.page.reload();
  // Offline, the app still opens, logged in, with the cached conversation and the pending message.
  await alice.page.locator('body[data-screen="app"]').waitFor({ timeout: 15000 });
  await openConversation(alice.page, '#general');
  const pending = messageByText(alice.page, 'kept across a reload');
  await pending.waitFor();
  assert.equal(await pending.getAttribute('data-pending'), 'true');
  assert.ok((await contents(alice.page)).includes('before the cut'), 'cached history shown offline');
  await proxy.restore();
  await waitOnline(alice.page, 30000);
  await messageByText(bob.page, 'kept across a reload').waitFor({ timeout: 15000 });
  await alice.page.waitForFunction(() => !document.querySelector('[role=log] article[data-pending="true"]'), null, { timeout: 15000 });
  await bob.page.waitForTimeout(500);
  assert.equal((await contents(bob.page)).filter((t) => t === 'kept across a reload').length, 1, 'sent once');
});
