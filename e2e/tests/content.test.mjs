// What a message can hold and how it is shown: text is never HTML and only http(s) links are
// clickable; day separators and times; audio and file attachments; a shared location with a
// map link; the live region announcing new messages; notifications asked only after a click;
// the installable manifest.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, newUserPage, username, registerRest, loginUI, openConversation,
  send, messageByText, messageLog, makePng,
} from '../lib/harness.mjs';

let server;
let browser;
let alice;
let bob;
const A = username('alice');
const B = username('bob');

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  await registerRest(server.url, A);
  await registerRest(server.url, B);
  alice = await newUserPage(browser, { permissions: ['geolocation'], geolocation: { latitude: 48.8584, longitude: 2.2945 } });
  bob = await newUserPage(browser);
  // Count permission requests from the page (notifications must be asked after a user action).
  await bob.context.addInitScript(() => {
    window.__notificationAsks = 0;
    if ('Notification' in window) {
      const ask = Notification.requestPermission.bind(Notification);
      Notification.requestPermission = (...a) => { window.__notificationAsks += 1; return ask(...a); };
    }
  });
  await loginUI(alice.page, server.url, A);
  await loginUI(bob.page, server.url, B);
  await openConversation(alice.page, '#general');
  await openConversation(bob.page, '#general');
});
after(async () => {
  for (const u of [alice, bob]) assert.deepEqual(u?.page.problems ?? [], []);
  await browser?.close();
  await server?.stop();
});

/** A short valid WAV (mono, 8 kHz, 16-bit, silence). */
function makeWav(ms = 200) {
  const samples = Math.round(8 * ms);
  const data = Buffer.alloc(samples * 2);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0); h.writeUInt32LE(36 + data.length, 4); h.write('WAVE', 8);
  h.write('fmt ', 12); h.writeUInt32LE(16, 16); h.writeUInt16LE(1, 20); h.writeUInt16LE(1, 22);
  h.writeUInt32LE(8000, 24); h.writeUInt32LE(16000, 28); h.writeUInt16LE(2, 32); h.writeUInt16LE(16, 34);
  h.write('data', 36); h.writeUInt32LE(data.length, 40);
  return Buffer.concat([h, data]);
}

async function attach(page, file) {
  await page.getByLabel('Attach file').setInputFiles(file);
}

test('text is shown as text, never as HTML; only http(s) links are clickable', async () => {
  const evil = '<img src=x onerror="window.__pwned=1"><b>bold</b> javascript:alert(1) https://example.com/a?b=c';
  await send(alice.page, evil);
  const msg = messageByText(bob.page, 'javascript:alert(1)');
  await msg.waitFor();
  const content = msg.locator('[data-testid=content]');
  assert.equal((await content.textContent()).trim(), evil, 'the exact text');
  assert.equal(await content.locator('img, b, script').count(), 0, 'no markup from the text');
  const links = await content.locator('a').evaluateAll((as) => as.map((a) => ({ href: a.href, rel: a.rel, target: a.target, text: a.textContent })));
  assert.deepEqual(links, [{ href: 'https://example.com/a?b=c', rel: 'noopener noreferrer', target: '_blank', text: 'https://example.com/a?b=c' }]);
  assert.equal(await bob.page.evaluate(() => window.__pwned), undefined);
});

test('messages have a day separator and a local time', async () => {
  await messageLog(bob.page).locator('[data-testid=day]').first().waitFor();
  const time = messageLog(bob.page).locator('article time').first();
  const datetime = await time.getAttribute('datetime');
  assert.ok(!Number.isNaN(Date.parse(datetime)), `datetime ${datetime}`);
  assert.match(await time.textContent(), /\d/);
});

test('an audio file plays in an audio player and a plain file is a download link', async () => {
  await attach(alice.page, { name: 'beep.wav', mimeType: 'audio/wav', buffer: makeWav() });
  const audio = messageLog(bob.page).locator('audio[controls]').last();
  await audio.waitFor({ state: 'attached', timeout: 15000 });
  await attach(alice.page, { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('plain notes\n') });
  const file = messageLog(bob.page).locator('[data-testid=file]', { hasText: 'notes.txt' }).last();
  await file.waitFor({ timeout: 15000 });
  const href = await file.getAttribute('href');
  const body = await bob.page.evaluate(async (u) => (await fetch(u)).text(), href);
  assert.equal(body, 'plain notes\n', 'the link downloads the file');
});

test('files dropped on the conversation or pasted into the composer are sent', async () => {
  const png = makePng(40, 30, [200, 60, 60]).toString('base64');
  const drop = async (page, how, name) => page.evaluate(async ({ png, how, name }) => {
    const bytes = Uint8Array.from(atob(png), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], name, { type: 'image/png' }));
    if (how === 'drop') {
      const target = document.querySelector('[role=log]');
      for (const type of ['dragenter', 'dragover', 'drop']) {
        target.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: dt }));
      }
    } else {
      document.querySelector('textarea').dispatchEvent(new ClipboardEvent('paste', { bubbles: true, cancelable: true, clipboardData: dt }));
    }
  }, { png, how, name });
  const before = await messageLog(bob.page).locator('img[data-testid=thumbnail]').count();
  await drop(alice.page, 'drop', 'dropped.png');
  await bob.page.waitForFunction((n) => document.querySelectorAll('[role=log] img[data-testid=thumbnail]').length >= n + 1, before, { timeout: 15000 });
  await drop(alice.page, 'paste', 'pasted.png');
  await bob.page.waitForFunction((n) => document.querySelectorAll('[role=log] img[data-testid=thumbnail]').length >= n + 2, before, { timeout: 15000 });
});

test('a video plays in a video player in the other browser', async () => {
  // A short WebM recorded by Chromium itself from a canvas, put into the file picker.
  await alice.page.evaluate(async () => {
    const canvas = document.createElement('canvas');
    canvas.width = 64;
    canvas.height = 48;
    const g = canvas.getContext('2d');
    const stream = canvas.captureStream(10);
    const rec = new MediaRecorder(stream, { mimeType: 'video/webm' });
    const chunks = [];
    rec.ondataavailable = (e) => chunks.push(e.data);
    const done = new Promise((r) => { rec.onstop = r; });
    rec.start();
    for (let i = 0; i < 6; i++) {
      g.fillStyle = `hsl(${i * 60}, 70%, 50%)`;
      g.fillRect(0, 0, 64, 48);
      await new Promise((r) => setTimeout(r, 100));
    }
    rec.stop();
    await done;
    const file = new File(chunks, 'clip.webm', { type: 'video/webm' });
    const input = document.querySelector('input[type=file]');
    const dt = new DataTransfer();
    dt.items.add(file);
    input.files = dt.files;
    input.dispatchEvent(new Event('change', { bubbles: true }));
  });
  const video = messageLog(bob.page).locator('video[controls]').last();
  await video.waitFor({ state: 'attached', timeout: 15000 });
  assert.ok(await video.getAttribute('src'), 'the video has a source');
  await bob.page.waitForFunction(() => {
    const vs = document.querySelectorAll('[role=log] video');
    return vs[vs.length - 1].readyState >= 1;
  }, null, { timeout: 10000 });
});

test('sharing a location shows coordinates with a map link in the other browser', async () => {
  await alice.page.getByRole('button', { name: 'Share location' }).click();
  const loc = messageLog(bob.page).locator('[data-testid=location]').last();
  await loc.waitFor({ timeout: 15000 });
  assert.match(await loc.textContent(), /48\.85\d*.*2\.29\d*/s);
  const href = await loc.locator('a').first().getAttribute('href');
  assert.match(href, /^https:\/\/.*48\.85.*2\.29/);
});

test('a live region announces a new message from someone else', async () => {
  await send(alice.page, 'announce me please');
  await bob.page.waitForFunction(() => [...document.querySelectorAll('[aria-live]')]
    .some((r) => r.textContent.includes('announce me please')), null, { timeout: 10000 });
});

test('notifications are asked for only after a click', async () => {
  await bob.page.reload();
  await bob.page.locator('body[data-screen="app"]').waitFor();
  await bob.page.waitForTimeout(500);
  assert.equal(await bob.page.evaluate(() => window.__notificationAsks), 0, 'not asked on load');
  const button = bob.page.getByRole('button', { name: 'Enable notifications' });
  await button.click();
  await bob.page.waitForFunction(() => window.__notificationAsks === 1);
});

test('the app is installable: a manifest with PNG icons', async () => {
  const href = await bob.page.locator('link[rel=manifest]').getAttribute('href');
  const res = await fetch(new URL(href, server.url));
  assert.equal(res.status, 200);
  const m = await res.json();
  assert.ok(m.name && m.start_url, 'name and start_url');
  assert.ok(['standalone', 'fullscreen', 'minimal-ui'].includes(m.display), `display ${m.display}`);
  const sizes = m.icons.filter((i) => i.type === 'image/png').map((i) => i.sizes);
  for (const s of ['192x192', '512x512']) assert.ok(sizes.includes(s), `a ${s} PNG icon`);
  for (const i of m.icons) assert.equal((await fetch(new URL(i.src, server.url))).status, 200, i.src);
});
