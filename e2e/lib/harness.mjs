// Test harness: a real `confab serve` on a free port of 127.0.0.1 with a temporary data dir, a
// TCP proxy the tests can cut (a real disconnection: emulated offline does not close an open
// WebSocket), the system Chromium driven by playwright-core, and helpers that work through the
// UI contract of docs/web.md (roles, labels, data-* hooks).
import { spawn, execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import https from 'node:https';
import { mkdtempSync, rmSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir, homedir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import http from 'node:http';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = join(here, '..', '..');
const require = createRequire(import.meta.url);

/** The confab binary: $CONFAB_BIN, else the debug build in $CARGO_TARGET_DIR (or ./target). */
export function confabBinary() {
  if (process.env.CONFAB_BIN) return process.env.CONFAB_BIN;
  const target = process.env.CARGO_TARGET_DIR || join(homedir(), '.cache', 'confab-target');
  for (const dir of [target, join(repoRoot, 'target')]) {
    const bin = join(dir, 'debug', 'confab');
    if (existsSync(bin)) return bin;
  }
  throw new Error('no confab binary: build it with `cargo build -p confab` or set CONFAB_BIN');
}

/** The system Chromium (never a downloaded one). */
export function chromiumPath() {
  for (const p of [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (p && existsSync(p)) return p;
  }
  throw new Error('no chromium: apt-get install -y --no-install-recommends chromium');
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * A request from Node that trusts `ca` (a PEM certificate) for https URLs; resolves to
 * { status, headers, body }. fetch() cannot be given a root, so TLS tests use this.
 */
export function request(url, { method = 'GET', headers = {}, body, ca } = {}) {
  if (!url.startsWith('https:')) {
    return fetch(url, { method, headers, body }).then(async (r) => ({
      status: r.status,
      headers: Object.fromEntries(r.headers),
      body: await r.text(),
    }));
  }
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, headers, ca, timeout: 10000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end(body);
  });
}

/** The base64 SHA-256 of a PEM certificate's public key (Chromium's SPKI pin format). */
export function spkiHash(pem) {
  const spki = new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

async function waitUntilUp(url, proc, deadlineMs, ca) {
  const end = Date.now() + deadlineMs;
  let last;
  while (Date.now() < end) {
    if (proc.exitCode !== null) throw new Error(`confab exited with ${proc.exitCode}`);
    try {
      const res = await request(url + '/api/v1/openapi.json', { ca });
      if (res.status === 200) return;
      last = new Error(`status ${res.status}`);
    } catch (e) {
      last = e;
    }
    await sleep(50);
  }
  throw new Error(`confab did not come up at ${url}: ${last}`);
}

/**
 * Starts `confab serve`. By default it serves the embedded client (what CI checks); with
 * CONFAB_WEB_DIR set (or webDir given) it serves the files from disk. With `tls`, it first
 * makes a development certificate (`confab cert dev`) in the data dir and serves https.
 * Returns { url, port, cert (PEM, with tls), stop(), restart() }; restart() keeps the port
 * and the data dir.
 */
export async function startServer({ webDir = process.env.CONFAB_WEB_DIR, env = {}, config, tls = false } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'confab-e2e-'));
  let cert = null;
  if (tls) {
    execFileSync(confabBinary(), ['cert', 'dev', '--data-dir', dataDir], { stdio: 'ignore' });
    cert = readFileSync(join(dataDir, 'dev-cert.pem'), 'utf8');
  }
  const configFile = join(dataDir, 'e2e.toml');
  // Rate limits high enough for seeding history quickly; everything else the defaults.
  writeFileSync(
    configFile,
    config ??
      '[rate]\nframes_per_sec = 1000.0\nframes_burst = 2000.0\nmessages_per_sec = 1000.0\nmessages_burst = 2000.0\n' +
        '[abuse]\nattempts_per_ip_per_min = 10000.0\nattempts_per_ip_burst = 10000.0\nhandshakes_per_ip_per_sec = 1000.0\nhandshakes_per_ip_burst = 1000.0\n',
  );
  const port = await freePort();
  const url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  let proc;
  let log = '';
  const launch = async () => {
    const args = ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--config', configFile];
    if (webDir) args.push('--web-dir', webDir);
    if (tls) args.push('--tls-cert', join(dataDir, 'dev-cert.pem'), '--tls-key', join(dataDir, 'dev-key.pem'));
    proc = spawn(confabBinary(), args, {
      env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout.on('data', (d) => (log += d));
    proc.stderr.on('data', (d) => (log += d));
    await waitUntilUp(url, proc, 20000, cert ?? undefined);
  };
  const kill = async () => {
    if (!proc || proc.exitCode !== null) return;
    const done = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await done;
    clearTimeout(t);
  };
  await launch();
  return {
    url,
    port,
    dataDir,
    cert,
    log: () => log,
    async restart() {
      await kill();
      await launch();
    },
    async stop() {
      await kill();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A TCP proxy on its own port in front of the server. cut() destroys every open connection and
 * refuses new ones (the browser sees a real close, then connection refused); restore() listens
 * again on the same port.
 */
export async function startProxy(targetPort) {
  const port = await freePort();
  const sockets = new Set();
  let server;
  const listen = () =>
    new Promise((resolve, reject) => {
      server = net.createServer((client) => {
        const upstream = net.connect(targetPort, '127.0.0.1');
        sockets.add(client);
        sockets.add(upstream);
        const drop = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
        client.pipe(upstream);
        upstream.pipe(client);
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
  await listen();
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    async cut() {
      await new Promise((r) => {
        server.close(() => r());
        for (const s of sockets) s.destroy();
        sockets.clear();
      });
    },
    async restore() {
      await listen();
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(() => r()));
    },
  };
}

/**
 * An HTTP proxy in front of the server that passes plain requests through (streaming, so
 * Server-Sent Events arrive as they are sent) and, like the proxies of some corporate and hotel
 * networks, refuses every WebSocket upgrade with 403 while `blocking`. allow() lets upgrades
 * through from then on; dropAll() cuts every open connection but keeps listening. `refused`
 * counts the upgrades refused.
 */
export async function startUpgradeBlockingProxy(targetPort) {
  const port = await freePort();
  const sockets = new Set();
  const proxy = { url: `http://127.0.0.1:${port}`, port, refused: 0, blocking: true };
  const server = http.createServer((req, res) => {
    const upstream = http.request(
      { host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        res.flushHeaders();
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('upgrade', (req, socket, head) => {
    if (proxy.blocking) {
      proxy.refused += 1;
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    const upstream = net.connect(targetPort, '127.0.0.1', () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length) upstream.write(head);
      socket.pipe(upstream);
      upstream.pipe(socket);
    });
    const drop = () => { socket.destroy(); upstream.destroy(); };
    socket.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  proxy.allow = () => { proxy.blocking = false; };
  proxy.dropAll = () => { for (const s of sockets) s.destroy(); };
  proxy.stop = async () => {
    proxy.dropAll();
    await new Promise((r) => server.close(() => r()));
  };
  return proxy;
}

/**
 * Headless system Chromium, flags as docs/web.md says. `trust` is a PEM certificate the
 * browser accepts as valid (pinned by its public key), for a server with a development
 * certificate.
 */
export async function launchBrowser({ trust } = {}) {
  const pins = trust ? [`--ignore-certificate-errors-spki-list=${spkiHash(trust)}`] : [];
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-dev-shm-usage',
      ...pins,
    ],
  });
}

/**
 * A fresh browser context (its own storage: one "user") and a page in it. Collects page errors
 * and Content-Security-Policy violations in page.problems so tests can assert there are none.
 */
export async function newUserPage(browser, { viewport = { width: 1280, height: 800 }, ...opts } = {}) {
  const context = await browser.newContext({ viewport, locale: 'en-US', ...opts });
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    const text = m.text();
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(text)) {
      page.problems.push(`csp: ${text}`);
    }
  });
  page.setDefaultTimeout(10000);
  return { context, page };
}

let counter = 0;
/** A unique, valid username (letters, digits). */
export function username(prefix = 'u') {
  counter += 1;
  return `${prefix}${process.pid % 10000}${counter}${Math.floor(Math.random() * 1000)}`;
}
export const PASSWORD = 'correct horse battery';

/** Registers over REST (faster than the form when the form is not what is under test). */
export async function registerRest(baseUrl, name, password = PASSWORD) {
  const res = await fetch(`${baseUrl}/api/v1/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: name, password }),
  });
  if (res.status !== 201) throw new Error(`register ${name}: ${res.status} ${await res.text()}`);
  return (await res.json()).token;
}

export async function rest(baseUrl, token, method, path, body) {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Logs in through the login screen and waits for the app screen and an online connection. */
export async function loginUI(page, baseUrl, name, password = PASSWORD) {
  await page.goto(baseUrl + '/');
  await page.locator('body[data-screen="login"]').waitFor();
  await page.getByLabel('Username').fill(name);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await waitOnline(page);
}

export async function waitOnline(page, timeout = 15000) {
  await page.locator('body[data-screen="app"]').waitFor({ timeout });
  await page.locator('[data-testid="connection"][data-state="online"]').waitFor({ timeout });
}

// These locators do not depend on the UI language (the i18n test switches it); the English
// accessible names of the contract are checked in the chat test.
export function sidebar(page) {
  return page.locator('nav').filter({ has: page.locator('[data-receiver]') });
}

/** Opens a conversation from the sidebar by its receiver ("#general" or "bob"). */
export async function openConversation(page, receiver) {
  await sidebar(page).locator(`[data-receiver="${receiver}"]`).click();
  // On a phone the list is hidden once the conversation shows: attached, not visible.
  await page.locator(`[data-receiver="${receiver}"][aria-current="page"]`).waitFor({ state: 'attached' });
  await messageLog(page).waitFor();
}

export function messageLog(page) {
  return page.locator('[role=log]').filter({ visible: true }).first();
}

export function composer(page) {
  return page.locator('textarea').filter({ visible: true }).first();
}

/** Types a message and presses Enter. */
export async function send(page, text) {
  const box = composer(page);
  await box.fill(text);
  await box.press('Enter');
}

/** The article of the (last) message whose content is exactly `text`. */
export function messageByText(page, text) {
  return messageLog(page)
    .locator('article')
    .filter({ has: page.locator('[data-testid="content"]', { hasText: text }) })
    .last();
}

const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/**
 * Runs axe-core in the page (evaluated over the DevTools protocol, so the page's strict CSP
 * stays in force) and returns its violations, WCAG 2.x A/AA plus best practices.
 */
export async function axeViolations(page) {
  const hasAxe = await page.evaluate(() => typeof window.axe !== 'undefined');
  if (!hasAxe) await page.evaluate(axeSource);
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
      resultTypes: ['violations'],
    });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => `${n.target.join(' ')}: ${n.failureSummary}`),
    }));
  });
  return result;
}

export function formatViolations(vs) {
  return vs.map((v) => `${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.join('\n    ')}`).join('\n');
}

/** A small valid PNG (solid colour, w x h) made here, so no fixture file is needed. */
export function makePng(w = 64, h = 48, rgb = [40, 120, 200]) {
  const zlib = require('node:zlib');
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: w }, () => rgb).flat())]);
  const raw = Buffer.concat(Array.from({ length: h }, () => row));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/**
 * Sends messages as `token`'s user over a WebSocket opened inside `page` (same origin, so the
 * server's Origin check passes), one after the other, each waiting for its ack. For seeding
 * history and for a second party that is not under test.
 */
export async function sendOverSocket(page, token, receiver, texts) {
  return page.evaluate(
    async ({ token, receiver, texts }) => {
      const ws = new WebSocket(`${location.origin.replace(/^http/, 'ws')}/ws?token=${token}`);
      const frames = [];
      let waiter = null;
      ws.onmessage = (e) => {
        const f = JSON.parse(e.data);
        frames.push(f);
        if (waiter) waiter();
      };
      const next = (pred) =>
        new Promise((resolve, reject) => {
          const t = setTimeout(() => reject(new Error('socket: no answer')), 10000);
          const check = () => {
            const i = frames.findIndex(pred);
            if (i >= 0) {
              clearTimeout(t);
              waiter = null;
              resolve(frames.splice(i, 1)[0]);
            } else waiter = check;
          };
          check();
        });
      await next((f) => f.type === 'ready');
      const acks = [];
      // Ids are unique per call: the server treats a repeated id as a resend (a duplicate).
      const run = Math.random().toString(36).slice(2);
      for (let i = 0; i < texts.length; i++) {
        ws.send(JSON.stringify({ type: 'message', id: `seed-${run}-${i}`, receiver, content: texts[i] }));
        const a = await next((f) => f.reply_to === `seed-${run}-${i}`);
        if (a.type !== 'ack') throw new Error(`send ${i}: ${JSON.stringify(a)}`);
        acks.push({ id: a.id, seq: a.seq });
      }
      ws.close();
      return acks;
    },
    { token, receiver, texts },
  );
}
