#!/usr/bin/env node
// An audience that comes and goes: listeners of the lofiever page who each join
// and leave at a given wall-clock time, in Debian's Chromium (engines.mjs), each in
// a fresh profile with a user agent of its own (so that a host's access log tells
// them apart, as it would tell apart people). Prints ONE line of JSON on stdout:
//
//   node tests/browser/audience.mjs --url http://127.0.0.1:PORT/index.html
//        --plan JOIN_MS:LEAVE_MS,JOIN_MS:LEAVE_MS,... [--timeout 180]
//
//   {"ok": true, "listeners": [{"index": 0, "user_agent": "...", "joined_ms": ...,
//     "played_ms": ..., "left_ms": ..., "first_segment_ms": ..., "last_segment_ms": ...,
//     "segments": n, "errors": [...]}, ...]}
//
// JOIN_MS and LEAVE_MS are Unix milliseconds: the listener opens the page at
// JOIN_MS, presses play, and closes the page at LEAVE_MS. first/last_segment_ms
// are when its browser asked for its first and last media segment. Requests to
// other origins are blocked. Exit code 0 iff every listener played.

import { launch } from './engines.mjs';

const USAGE = 'usage: audience.mjs --url URL --plan JOIN_MS:LEAVE_MS,... [--timeout S] [--chromium PATH]';

function parseArgs(argv) {
  const o = { url: null, plan: [], timeout: 180, chromium: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => argv[++i];
    switch (arg) {
      case '--url': o.url = value(); break;
      case '--plan':
        o.plan = value().split(',').map((p) => p.split(':').map(Number)).map(([join, leave]) => ({ join, leave }));
        break;
      case '--timeout': o.timeout = Number(value()); break;
      case '--chromium': o.chromium = value(); break;
      default: throw new Error(`unknown argument ${arg}\n${USAGE}`);
    }
  }
  if (!o.url || !o.plan.length || o.plan.some((p) => !(p.leave > p.join))) throw new Error(USAGE);
  return o;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const until = (t) => sleep(Math.max(0, t - Date.now()));

async function listen(browser, opts, index) {
  const { join, leave } = opts.plan[index];
  const origin = new URL(opts.url).origin;
  const me = {
    index, user_agent: null, joined_ms: null, played_ms: null, left_ms: null,
    first_segment_ms: null, last_segment_ms: null, segments: 0, errors: [],
  };
  await until(join);
  const base = browser.version.replace('chromium/', '');
  me.user_agent = `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${base} Safari/537.36 audience/${index}`;
  const page = await browser.newPage({ width: 1280, height: 800, allowOrigin: origin, userAgent: me.user_agent });
  me.joined_ms = Date.now();
  page.onRequest((r) => {
    if (/\/\d+\.m4s(?:[?#].*)?$/.test(r.url)) {
      const now = Date.now();
      if (me.first_segment_ms === null) me.first_segment_ms = now;
      me.last_segment_ms = now;
      me.segments += 1;
    }
  });
  page.onConsole(({ type, text }) => {
    if (type === 'error' && !text.startsWith('Failed to load resource')) me.errors.push(`console: ${text}`);
  });
  page.onPageError((m) => me.errors.push(`page error: ${m}`));
  await page.goto(opts.url, { waitUntil: 'domcontentloaded' });
  await page.waitFor('#play:not([disabled]), #status[data-level="error"]', 60000);
  if (!(await page.isEnabled('#play'))) throw new Error(`listener ${index}: the page never became ready: ${await page.textContent('#status')}`);
  await page.click('#play');
  me.played_ms = Date.now();
  process.stderr.write(`[audience] listener ${index} plays (joined ${me.joined_ms}, leaves at ${leave})\n`);
  await until(leave);
  await page.close();
  me.left_ms = Date.now();
  process.stderr.write(`[audience] listener ${index} left after ${me.segments} segments\n`);
  return me;
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${e.message}\n`);
    process.exit(2);
  }
  const timer = setTimeout(() => {
    process.stdout.write(JSON.stringify({ ok: false, error: `timed out after ${opts.timeout} s` }) + '\n');
    process.exit(1);
  }, opts.timeout * 1000);
  let result;
  const browser = await launch('chromium', { executablePath: opts.chromium });
  try {
    const listeners = await Promise.all(opts.plan.map((_, i) => listen(browser, opts, i)));
    result = { ok: listeners.every((l) => l.segments > 0), listeners };
  } catch (e) {
    result = { ok: false, error: `audience.mjs: ${e.stack || e.message}` };
  } finally {
    await browser.close();
  }
  clearTimeout(timer);
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(result.ok ? 0 : 1);
}

main();
