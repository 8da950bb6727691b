// Rooms from the sidebar's dialogs: create (with a password), join (wrong password refused,
// right one admitted), invite someone who accepts from Invitations, an invite link opened by a
// third user, and leaving. Labels beyond the contract are the English strings of i18n/en.json.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, newUserPage, username, registerRest, loginUI, openConversation,
  send, messageByText, sidebar,
} from '../lib/harness.mjs';

let server;
let browser;
let alice;
let bob;
let carol;
const A = username('alice');
const B = username('bob');
const C = username('carol');
const ROOM_PASSWORD = 'open sesame please';

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  for (const u of [A, B, C]) await registerRest(server.url, u);
  alice = await newUserPage(browser);
  bob = await newUserPage(browser);
  carol = await newUserPage(browser);
  await loginUI(alice.page, server.url, A);
  await loginUI(bob.page, server.url, B);
  await loginUI(carol.page, server.url, C);
});
after(async () => {
  for (const u of [alice, bob, carol]) assert.deepEqual(u?.page.problems ?? [], []);
  await browser?.close();
  await server?.stop();
});

async function dialogFor(page, buttonName) {
  // The name may carry a count after it ("Invitations 1").
  await page.getByRole('button', { name: new RegExp(`^${buttonName}\\b`) }).first().click();
  const dialog = page.getByRole('dialog');
  await dialog.waitFor();
  return dialog;
}

test('create a room with a password; joining needs it', async () => {
  const d = await dialogFor(alice.page, 'New room');
  await d.getByLabel(/^Room name/).fill('den');
  await d.getByLabel(/^Room password/).fill(ROOM_PASSWORD);
  await d.getByRole('button', { name: 'Create', exact: true }).click();
  await d.waitFor({ state: 'hidden' });
  await alice.page.locator('[data-receiver="#den"][aria-current="page"]').waitFor({ state: 'attached' });
  await alice.page.getByRole('heading', { name: '#den' }).waitFor();
  await send(alice.page, 'welcome to the den');

  const j = await dialogFor(bob.page, 'Join room');
  await j.getByLabel(/^Room name/).fill('den');
  await j.getByLabel(/^Room password/).fill('not the password');
  await j.getByRole('button', { name: 'Join', exact: true }).click();
  await j.getByRole('alert').filter({ hasText: /\S/ }).waitFor();
  assert.equal(await sidebar(bob.page).locator('[data-receiver="#den"]').count(), 0, 'not joined');
  await j.getByLabel(/^Room password/).fill(ROOM_PASSWORD);
  await j.getByRole('button', { name: 'Join', exact: true }).click();
  await j.waitFor({ state: 'hidden' });
  await bob.page.locator('[data-receiver="#den"][aria-current="page"]').waitFor({ state: 'attached' });
  await messageByText(bob.page, 'welcome to the den').waitFor();
  await send(bob.page, 'glad to be here');
  await messageByText(alice.page, 'glad to be here').waitFor();
});

test('invite someone to a private room; they accept from Invitations', async () => {
  const d = await dialogFor(alice.page, 'New room');
  await d.getByLabel(/^Room name/).fill('secret');
  await d.getByLabel(/^Private/).check();
  await d.getByRole('button', { name: 'Create', exact: true }).click();
  await d.waitFor({ state: 'hidden' });
  await alice.page.locator('[data-receiver="#secret"][aria-current="page"]').waitFor({ state: 'attached' });
  const inv = await dialogFor(alice.page, 'Invite');
  await inv.getByLabel(/^(Username|Invite)/).first().fill(B);
  await inv.getByRole('button', { name: 'Invite', exact: true }).click();
  await inv.getByRole('alert').filter({ hasText: /\S/ }).waitFor(); // "sent", or an error
  await alice.page.keyboard.press('Escape');
  await inv.waitFor({ state: 'hidden' });
  const list = await dialogFor(bob.page, 'Invitations');
  await list.getByText('#secret').waitFor();
  await list.getByRole('button', { name: 'Accept' }).first().click();
  await bob.page.locator('[data-receiver="#secret"][aria-current="page"]').waitFor({ state: 'attached' });
  await send(bob.page, 'thanks for the invite');
  await messageByText(alice.page, 'thanks for the invite').waitFor();
});

test('an invite link opened by a third user lets them join', async () => {
  await openConversation(alice.page, '#secret');
  const inv = await dialogFor(alice.page, 'Invite');
  await inv.getByRole('button', { name: /invite link/i }).click();
  const field = inv.locator('input[readonly]');
  await field.waitFor();
  const url = await field.inputValue();
  assert.match(url, /\/invite\/[A-Za-z0-9_-]+$/);
  await alice.page.keyboard.press('Escape');
  await carol.page.goto(url);
  const join = carol.page.getByRole('dialog');
  await join.getByText('#secret').first().waitFor();
  await join.getByRole('button', { name: 'Join', exact: true }).click();
  await carol.page.locator('[data-receiver="#secret"][aria-current="page"]').waitFor({ state: 'attached' });
  await messageByText(carol.page, 'thanks for the invite').waitFor();
});

test('leaving a room removes it from the sidebar', async () => {
  await openConversation(bob.page, '#den');
  await bob.page.getByRole('button', { name: 'Leave room' }).click();
  const confirm = bob.page.getByRole('dialog').getByRole('button', { name: /Leave/ });
  if (await confirm.isVisible().catch(() => false)) await confirm.click();
  await sidebar(bob.page).locator('[data-receiver="#den"]').waitFor({ state: 'detached' });
  await bob.page.reload();
  await bob.page.locator('body[data-screen="app"]').waitFor();
  await sidebar(bob.page).locator('[data-receiver="#general"]').waitFor({ state: 'attached' });
  assert.equal(await sidebar(bob.page).locator('[data-receiver="#den"]').count(), 0, 'still gone after a reload');
});
