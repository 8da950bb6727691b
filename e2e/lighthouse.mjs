// Lighthouse on the served client (the login screen, the first screen a visitor gets), with the
// system Chromium: performance, accessibility, best practices and the Core Web Vitals, for
// mobile (Lighthouse's default emulation) and desktop, written to docs/web-scores.md.
// Run: node e2e/lighthouse.mjs (needs the dev dependencies: npm ci --prefix e2e).
// Not run in CI: three Lighthouse runs take a minute or two and scores vary with machine load.
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import lighthouse from 'lighthouse';
import * as chromeLauncher from 'chrome-launcher';
import { chromium } from 'playwright-core';
import {
  startServer, chromiumPath, repoRoot, launchBrowser, newUserPage, registerRest, loginUI,
} from './lib/harness.mjs';

const server = await startServer();
const profile = mkdtempSync(join(tmpdir(), 'confab-lh-'));
const chrome = await chromeLauncher.launch({
  chromePath: chromiumPath(),
  userDataDir: profile,
  chromeFlags: [
    '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage',
  ],
});
const rows = [];
// The app screen: log in once in this Chrome profile (through the login form, over the DevTools
// protocol), then let Lighthouse keep the storage so "/" opens logged in.
async function logInProfile() {
  const user = 'scorer';
  await registerRest(server.url, user);
  const cdp = await chromium.connectOverCDP(`http://127.0.0.1:${chrome.port}`);
  const page = await cdp.contexts()[0].newPage();
  await loginUI(page, server.url, user);
  await page.close();
  await cdp.close();
}
const runs = [
  ['login screen', 'mobile'], ['login screen', 'desktop'],
  ['app screen (logged in)', 'mobile'], ['app screen (logged in)', 'desktop'],
];
try {
  for (const [screen, preset] of runs) {
    const loggedIn = screen.startsWith('app');
    if (loggedIn && !rows.some((r) => r.screen === screen)) await logInProfile();
    const config = preset === 'desktop'
      ? (await import('lighthouse/core/config/desktop-config.js')).default
      : undefined;
    const result = await lighthouse(server.url + '/', {
      port: chrome.port,
      output: 'json',
      logLevel: 'error',
      onlyCategories: ['performance', 'accessibility', 'best-practices'],
      disableStorageReset: loggedIn,
    }, config);
    const { categories, audits } = result.lhr;
    const score = (c) => Math.round(categories[c].score * 100);
    // Which screen Lighthouse saw: the page's <body data-screen> in its DOM snapshot of the
    // largest element, else the element itself.
    const lcpItems = audits => audits['largest-contentful-paint-element']?.details?.items?.[0]?.items ?? [];
    const lcpNode = lcpItems(result.lhr.audits)[0]?.node;
    console.log(screen, preset, 'largest element:', lcpNode?.selector, lcpNode?.snippet?.slice(0, 80));
    rows.push({
      lcpElement: lcpNode?.selector ?? '?',
      screen,
      preset,
      performance: score('performance'),
      accessibility: score('accessibility'),
      bestPractices: score('best-practices'),
      lcp: audits['largest-contentful-paint'].displayValue,
      cls: audits['cumulative-layout-shift'].displayValue,
      tbt: audits['total-blocking-time'].displayValue,
      fcp: audits['first-contentful-paint'].displayValue,
      si: audits['speed-index'].displayValue,
      failing: Object.values(audits)
        .filter((a) => a.score !== null && a.score < 0.9 && a.scoreDisplayMode !== 'informative' && a.scoreDisplayMode !== 'manual')
        .map((a) => `${a.id} (${a.score})`),
    });
    console.log(preset, rows.at(-1));
  }
} finally {
  await chrome.kill();
  rmSync(profile, { recursive: true, force: true });
}

// The first screen's bytes: every JavaScript and CSS response the login screen loads in a real
// browser (modules, styles; not the service worker's background fetches), each compressed
// with gzip -9 on its own (the server itself sends them gzip-compressed, at the default level).
const browser = await launchBrowser();
const { context, page } = await newUserPage(browser, { serviceWorkers: 'block' });
const assets = [];
page.on('response', async (r) => {
  const type = r.request().resourceType();
  if (type === 'script' || type === 'stylesheet') assets.push(r);
});
await page.goto(server.url + '/', { waitUntil: 'networkidle' });
await page.locator('body[data-screen="login"]').waitFor();
let raw = 0;
let gz = 0;
const files = [];
for (const r of assets) {
  const b = await r.body();
  raw += b.length;
  gz += gzipSync(b, { level: 9 }).length;
  files.push(new URL(r.url()).pathname);
}
await context.close();
await browser.close();
await server.stop();

const version = (await import('lighthouse/package.json', { with: { type: 'json' } })).default.version;
const chromiumVersion = execFileSync(chromiumPath(), ['--version'], { encoding: 'utf8' }).trim();
const date = new Date().toISOString().slice(0, 10);
const md = `# Web client scores

Lighthouse ${version} on the client served by \`confab serve\` (${process.env.CONFAB_WEB_DIR ? 'files from --web-dir' : 'embedded files'}, debug build) at
\`/\`: the login screen (the first screen a visitor gets) and the app screen of a logged-in user
(the sidebar; Lighthouse keeps the profile's storage for it), ${chromiumVersion}, headless, on the
project's 2-core development machine, ${date}. Regenerate with \`node e2e/lighthouse.mjs\`
(not run in CI: it is slow and its performance score varies with the machine's load).
Targets (issue 4): accessibility 100, best practices 100, performance at least 95.

| Screen | Emulation | Performance | Accessibility | Best practices | LCP | CLS | TBT | FCP | Speed Index |
|---|---|---|---|---|---|---|---|---|---|
${rows.map((r) => `| ${r.screen} | ${r.preset} | ${r.performance} | ${r.accessibility} | ${r.bestPractices} | ${r.lcp} | ${r.cls} | ${r.tbt} | ${r.fcp} | ${r.si} |`).join('\n')}

The element that gave the LCP: ${rows.map((r) => `${r.screen}, ${r.preset}: \`${r.lcpElement}\``).join('; ')}.
(A logged-in load paints the login form first, from the static page, until the stored session is
read; on a phone that form can be the largest paint.)

Core Web Vitals: LCP (largest contentful paint) and CLS (cumulative layout shift) are measured
as above; INP needs real interaction, so Lighthouse's lab stand-in, TBT (total blocking time),
is given.

Audits scoring under 0.9: ${rows.map((r) => `${r.screen}, ${r.preset}: ${r.failing.length ? r.failing.join(', ') : 'none'}`).join('; ')}.

JavaScript and CSS of the first screen (the login screen, as loaded by Chromium: ${files.length}
files, ${files.join(', ')}): ${(raw / 1024).toFixed(1)} KB raw, ${(gz / 1024).toFixed(1)} KB with
gzip -9 (each file compressed on its own). Target: under 60 KB compressed. The server sends
text gzip-compressed (\`Content-Encoding: gzip\`) to browsers that accept it.
`;
writeFileSync(join(repoRoot, 'docs', 'web-scores.md'), md);
console.log('lighthouse: wrote docs/web-scores.md');
