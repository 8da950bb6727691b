// Two users in two browser contexts: a room and a DM, typing, delivered/read state, unread
// badges and the title, edit/delete/reply/react seen live, an image upload shown as a thumbnail
// in the other browser, and scrolling back through history.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, newUserPage, username, registerRest, loginUI, openConversation,
  messageLog, composer, send, messageByText, sidebar, sendOverSocket, makePng,
} from '../lib/harness.mjs';

let server;
let browser;
let alice;
let bob;
const A = username('alice');
const B = username('bob');
let tokenA;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  tokenA = await registerRest(server.url, A);
  await registerRest(server.url, B);
  alice = await newUserPage(browser);
  bob = await newUserPage(browser);
  await loginUI(alice.page, server.url, A);
  await loginUI(bob.page, server.url, B);
});
after(async () => {
  for (const u of [alice, bob]) assert.deepEqual(u?.page.problems ?? [], [], 'no page errors or CSP violations');
  await browser?.close();
  await server?.stop();
});

/** Opens the message's actions (button "Message actions") and picks an item. */
async function messageAction(page, article, item) {
  await article.hover();
  await article.getByRole('button', { name: 'Message actions' }).click();
  await page.getByRole('menuitem', { name: item }).click();
}

test('two users chat in a room; own messages go from pending to sent, then read', async () => {
  await openConversation(alice.page, '#general');
  await openConversation(bob.page, '#general');
  // The contract's accessible names (English).
  await alice.page.getByRole('navigation', { name: 'Conversations' }).waitFor();
  await alice.page.getByRole('log', { name: 'Messages' }).waitFor();
  await alice.page.getByRole('textbox', { name: 'Message' }).waitFor();
  await alice.page.getByRole('button', { name: 'Send' }).waitFor();
  await send(alice.page, 'hello from alice');
  const mine = messageByText(alice.page, 'hello from alice');
  await mine.waitFor();
  // Acked: a server id, no longer pending.
  await alice.page.waitForFunction(
    (t) => [...document.querySelectorAll('[role=log] article')].some(
      (a) => a.querySelector('[data-testid=content]')?.textContent.includes(t) && a.dataset.id && a.dataset.pending !== 'true'),
    'hello from alice');
  const theirs = messageByText(bob.page, 'hello from alice');
  await theirs.waitFor();
  assert.equal(await theirs.getAttribute('data-sender'), A);
  assert.equal(await theirs.getAttribute('data-id'), await mine.getAttribute('data-id'));
  assert.ok(Number(await theirs.getAttribute('data-seq')) > 0);
  // Bob has the room open and visible: alice sees her message read.
  await mine.locator('[data-testid="status"][data-status="read"]').waitFor({ timeout: 15000 });
  // Bob answers; the conversation shows both in order.
  await send(bob.page, 'hi alice');
  await messageByText(alice.page, 'hi alice').waitFor();
  const seqs = await messageLog(alice.page).locator('article').evaluateAll((as) => as.map((a) => Number(a.dataset.seq)));
  assert.deepEqual([...seqs].sort((x, y) => x - y), seqs, 'messages in seq order');
});

test('typing shows in the other browser', async () => {
  await composer(alice.page).fill('');
  await composer(alice.page).pressSequentially('I am typing', { delay: 30 });
  const typing = bob.page.locator('[data-testid="typing"]');
  await bob.page.waitForFunction((name) => {
    const t = document.querySelector('[data-testid=typing]');
    return t && t.textContent.includes(name);
  }, A);
  assert.match(await typing.textContent(), new RegExp(A));
  await composer(alice.page).fill('');
});

test('a DM from the contact list, with an unread badge, title count and presence dot', async () => {
  // Bob stays in #general; alice starts a DM with him.
  await alice.page.getByRole('button', { name: 'New message' }).click();
  const dialog = alice.page.getByRole('dialog');
  await dialog.waitFor();
  const input = dialog.getByRole('textbox').first();
  await input.fill(B);
  await input.press('Enter');
  await alice.page.locator(`[data-receiver="${B}"][aria-current="page"]`).waitFor();
  await send(alice.page, 'a private hello');
  const entry = sidebar(bob.page).locator(`[data-receiver="${A}"]`);
  await entry.waitFor();
  await entry.locator('[data-testid="unread"]', { hasText: '1' }).waitFor();
  // Bob got it but has not opened it: delivered, not read.
  await messageByText(alice.page, 'a private hello').locator('[data-testid="status"][data-status="delivered"]').waitFor({ timeout: 15000 });
  await bob.page.waitForFunction(() => /^\(\d+\) confab/.test(document.title));
  assert.match(await bob.page.title(), /^\(1\) confab/);
  // Both are online: each one's dot for the other says so.
  const dot = (page, who) => page.locator(`nav [data-receiver="${who}"] [data-online], nav [data-receiver="${who}"][data-online]`).first();
  await dot(bob.page, A).waitFor({ state: 'attached' });
  await bob.page.waitForFunction((who) => document.querySelector(`nav [data-receiver="${who}"] [data-online], nav [data-receiver="${who}"][data-online]`)?.dataset.online === 'true', A);
  await alice.page.waitForFunction((who) => document.querySelector(`nav [data-receiver="${who}"] [data-online], nav [data-receiver="${who}"][data-online]`)?.dataset.online === 'true', B);
  // Bob opens it: badge gone, title clear, alice sees it read.
  await openConversation(bob.page, A);
  await messageByText(bob.page, 'a private hello').waitFor();
  await bob.page.waitForFunction(() => document.title === 'confab');
  const badge = await entry.locator('[data-testid="unread"]').textContent().catch(() => '');
  assert.equal((badge ?? '').trim(), '', 'no unread badge');
  await messageByText(alice.page, 'a private hello').locator('[data-testid="status"][data-status="read"]').waitFor({ timeout: 15000 });
});

/** Both users in the same conversation (each test stands on its own). */
async function bothIn(receiver) {
  await openConversation(alice.page, receiver);
  await openConversation(bob.page, receiver);
}

test('edit and delete are seen live', async () => {
  await bothIn('#general');
  await send(alice.page, 'a typo here');
  const mine = messageByText(alice.page, 'a typo here');
  await messageByText(bob.page, 'a typo here').waitFor();
  await mine.locator('[data-testid="status"]:not([data-status="sending"])').waitFor();
  await messageAction(alice.page, mine, 'Edit');
  await alice.page.keyboard.press('Control+A');
  await alice.page.keyboard.type('no typo here');
  await alice.page.keyboard.press('Enter');
  const edited = messageByText(bob.page, 'no typo here');
  await edited.locator('[data-testid="edited"]').waitFor();
  const id = await edited.getAttribute('data-id');
  await messageAction(alice.page, messageByText(alice.page, 'no typo here'), 'Delete');
  // A confirmation, if the app asks for one.
  const confirm = alice.page.getByRole('dialog').getByRole('button', { name: 'Delete' });
  if (await confirm.isVisible().catch(() => false)) await confirm.click();
  await bob.page.locator(`article[data-id="${id}"][data-deleted="true"]`).waitFor();
  assert.equal(await bob.page.locator(`article[data-id="${id}"] [data-testid=content]`).textContent().then((t) => t.includes('no typo here')).catch(() => false), false,
    'the deleted text is gone');
});

test('reply and react are seen live', async () => {
  await bothIn('#general');
  await send(bob.page, 'reply to me');
  const original = messageByText(alice.page, 'reply to me');
  await original.waitFor();
  await messageAction(alice.page, original, 'Reply');
  await send(alice.page, 'this is the reply');
  const reply = messageByText(bob.page, 'this is the reply');
  await reply.locator('[data-testid="reply-preview"]', { hasText: 'reply to me' }).waitFor();
  await messageAction(alice.page, original, 'React');
  // The picker offers emoji as buttons or menu items; take the first.
  const pick = alice.page.locator('[role=dialog] [data-emoji], [role=menu] [data-emoji], [data-testid=emoji-picker] [data-emoji]').first();
  await pick.click();
  const reaction = messageByText(bob.page, 'reply to me').locator('[data-testid="reaction"]').first();
  await reaction.waitFor();
  assert.match(await reaction.textContent(), /1/);
  assert.ok(await reaction.getAttribute('data-emoji'));
});

test('an image upload shows as a thumbnail in the other browser and opens full size', async () => {
  const png = makePng(96, 64);
  await alice.page.getByLabel('Attach file').setInputFiles({ name: 'square.png', mimeType: 'image/png', buffer: png });
  // Some composers send at once, others wait for Send.
  const sendButton = alice.page.getByRole('button', { name: 'Send' });
  await alice.page.waitForTimeout(300);
  if (await sendButton.isEnabled().catch(() => false)) {
    const hasThumb = await messageLog(alice.page).locator('img[data-testid="thumbnail"]').count();
    if (hasThumb === 0) await sendButton.click();
  }
  const thumb = messageLog(bob.page).locator('img[data-testid="thumbnail"]').last();
  await thumb.waitFor({ timeout: 15000 });
  await bob.page.waitForFunction(() => {
    const imgs = document.querySelectorAll('[role=log] img[data-testid=thumbnail]');
    const img = imgs[imgs.length - 1];
    return img && img.complete && img.naturalWidth > 0;
  }, null, { timeout: 15000 });
  await thumb.click();
  // Full size: an image of the original's size somewhere outside the log.
  await bob.page.waitForFunction(() => [...document.images].some(
    (i) => !i.closest('[role=log]') && i.complete && i.naturalWidth === 96), null, { timeout: 10000 });
  await bob.page.keyboard.press('Escape');
});

test('scrolling up loads older history, in order and without duplicates', async () => {
  const room = '#general';
  const texts = Array.from({ length: 150 }, (_, i) => `history ${String(i + 1).padStart(3, '0')}`);
  // Alice's messages, sent from a socket of her own (so the UI under test is Bob's).
  await sendOverSocket(alice.page, tokenA, room, texts);
  // Bob on a new device: nothing cached, so the conversation comes from history pages.
  const fresh = await newUserPage(browser);
  const page = fresh.page;
  await loginUI(page, server.url, B);
  await openConversation(page, room);
  await messageByText(page, 'history 150').waitFor();
  const log = messageLog(page);
  const first = await log.locator('[data-testid=content]').evaluateAll((cs) => cs.filter((c) => c.textContent.startsWith('history ')).length);
  assert.ok(first < texts.length, `the first page holds only the latest messages (${first})`);
  const deadline = Date.now() + 30000;
  while (!(await messageByText(page, 'history 001').count())) {
    assert.ok(Date.now() < deadline, 'reached the oldest message');
    await log.evaluate((el) => {
      el.scrollTop = 0;
      el.dispatchEvent(new Event('scroll'));
    });
    await page.waitForTimeout(200);
  }
  const rows = await log.locator('article').evaluateAll((as) => as.map((a) => ({ id: a.dataset.id, seq: Number(a.dataset.seq) })));
  const ids = rows.map((r) => r.id);
  assert.equal(new Set(ids).size, ids.length, 'no duplicates');
  const seqs = rows.map((r) => r.seq);
  assert.deepEqual([...seqs].sort((x, y) => x - y), seqs, 'in seq order');
  const found = await log.locator('[data-testid=content]').evaluateAll((cs) => cs.map((c) => c.textContent).filter((t) => t.startsWith('history ')));
  assert.deepEqual(found, texts, 'every message once, in order');
  assert.deepEqual(page.problems, []);
  await fresh.context.close();
});
