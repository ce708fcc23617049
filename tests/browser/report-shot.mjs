#!/usr/bin/env node
// Opens a self-contained report page (lofiever listeners --html, schedule --report
// --html) in Debian's Chromium, takes a full-page screenshot, and prints ONE line of
// JSON on stdout: {"ok": bool, "title": "...", "svgs": n, "errors": [...],
// "requests": [...]}. ok is true iff the page loaded with no console error, no
// page error, and asked for nothing but itself (the page must need no other file).
//
//   node tests/browser/report-shot.mjs --file REPORT.html --screenshot OUT.png [--width 1100]

import fs from 'node:fs';
import { launch } from './engines.mjs';

function parseArgs(argv) {
  const o = { file: null, screenshot: null, width: 1100 };
  for (let i = 0; i < argv.length; i++) {
    const value = () => argv[++i];
    switch (argv[i]) {
      case '--file': o.file = value(); break;
      case '--screenshot': o.screenshot = value(); break;
      case '--width': o.width = Number(value()); break;
      default: throw new Error(`unknown argument ${argv[i]}`);
    }
  }
  if (!o.file || !o.screenshot) throw new Error('usage: report-shot.mjs --file REPORT.html --screenshot OUT.png [--width W]');
  return o;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const url = `file://${fs.realpathSync(opts.file)}`;
  const errors = [];
  const requests = [];
  const browser = await launch('chromium');
  let result;
  try {
    const page = await browser.newPage({ width: opts.width, height: 900 });
    page.onConsole(({ type, text }) => { if (type === 'error' || type === 'warning') errors.push(`console ${type}: ${text}`); });
    page.onPageError((m) => errors.push(`page error: ${m}`));
    page.onRequest((r) => { if (r.url !== url) requests.push(r.url); });
    await page.goto(url, { waitUntil: 'load' });
    const info = await page.evaluate(() => ({
      title: document.title,
      svgs: document.querySelectorAll('svg').length,
      height: document.documentElement.scrollHeight,
    }));
    // The whole page in one picture.
    await page.page.setViewportSize({ width: opts.width, height: Math.min(info.height, 6000) });
    await page.screenshot(opts.screenshot);
    result = { ok: errors.length === 0 && requests.length === 0, ...info, errors, requests };
  } catch (e) {
    result = { ok: false, error: e.stack || e.message, errors, requests };
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(result.ok ? 0 : 1);
}

main();
