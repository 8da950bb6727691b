// Runs the browser tests: every tests/*.test.mjs with Node's built-in test runner, one file at a
// time (each file starts its own confab server and Chromium). Arguments filter the files by
// name: `node run.mjs chat` runs tests/chat.test.mjs only. Bounded: each test has a timeout, and
// the whole run is killed after E2E_DEADLINE_SECS (default 600).
import { spawn, execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { confabBinary, chromiumPath } from './lib/harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
const files = readdirSync(join(here, 'tests'))
  .filter((f) => f.endsWith('.test.mjs'))
  .filter((f) => filters.length === 0 || filters.some((w) => f.includes(w)))
  .sort()
  .map((f) => join('tests', f));
if (files.length === 0) {
  console.error('no test files match', filters);
  process.exit(2);
}
// Fail early and clearly when a prerequisite is missing.
const version = (bin, ...args) => {
  try {
    return execFileSync(bin, [...args, '--version'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown version';
  }
};
console.log(`e2e: ${confabBinary()} (${version(confabBinary())}), ${chromiumPath()} (${version(chromiumPath())})`);
console.log(`e2e: client ${process.env.CONFAB_WEB_DIR ? 'from ' + process.env.CONFAB_WEB_DIR : 'embedded in the binary'}`);

const child = spawn(
  process.execPath,
  ['--test', '--test-concurrency=1', '--test-timeout=90000', ...files],
  { cwd: here, stdio: 'inherit' },
);
const deadline = Number(process.env.E2E_DEADLINE_SECS || 600);
const timer = setTimeout(() => {
  console.error(`e2e: still running after ${deadline}s, killing`);
  child.kill('SIGKILL');
}, deadline * 1000);
child.on('exit', (code, signal) => {
  clearTimeout(timer);
  process.exit(code ?? (signal ? 1 : 0));
});
