#!/usr/bin/env node
// Several listeners of the lofiever page in one headless Chromium (Debian's), each in
// its own browser context (a fresh profile), some with dash.js and some with Shaka
// Player (index.html?player=shaka). Measures how closely they hear the same moment and
// prints ONE line of JSON on stdout:
//
//   node tests/browser/listeners.mjs --url http://127.0.0.1:PORT/index.html
//        [--players dashjs,shaka,dashjs,shaka] [--stagger 3] [--warmup 10] [--seconds 60]
//        [--sample-ms 500] [--pause INDEX:AT:FOR]  e.g. --pause 4:5:30
//        [--delete-dir OUT --delete-at S] [--screenshots DIR] [--trace FILE] [--timeout 240]
//
// Programme position: every --sample-ms, each page reports Date.now() and
// audio.currentTime in the same task, so its latency (station clock - heard position)
// is exact whatever the moment the sample is taken; the inter-listener skew at a round
// is max - min of the latencies of the listeners that are playing (= the spread of
// their programme positions at one common wall-clock instant). Statistics count the
// rounds from --warmup seconds after the last listener started playing.
//
// --pause I:AT:FOR   listener I presses pause AT s into the measurement and play FOR s
//                    later; reported: how long until its latency is back within the
//                    tolerance of the others. It is left out of the skew while paused
//                    and until it is back (at most 10 s).
// --delete-dir/--delete-at   AT s into the measurement, deletes the segment that will
//                    become available next but one (in every rendition folder of OUT)
//                    and reports how the listeners got past the hole.
//
// Requests to other origins are blocked (the page then loads the players from the
// same host). Exit code 0 iff the run completed (the caller judges the figures).

import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

const USAGE = 'usage: listeners.mjs --url URL [--players dashjs,shaka,...] [--stagger S] [--warmup S] [--seconds S] [--sample-ms MS] [--pause I:AT:FOR] [--delete-dir DIR --delete-at S] [--screenshots DIR] [--trace FILE] [--timeout S] [--chromium PATH]';
const TOLERANCE_MS = 30;

class UsageError extends Error {}

function parseArgs(argv) {
  const o = {
    url: null, players: ['dashjs', 'shaka', 'dashjs', 'shaka'], stagger: 3, warmup: 10, seconds: 60,
    sampleMs: 500, pause: null, deleteDir: null, deleteAt: null, screenshots: null, trace: null, timeout: 240,
    chromium: '/usr/bin/chromium',
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf('=');
    const key = arg.startsWith('--') ? (eq > 0 ? arg.slice(2, eq) : arg.slice(2)) : null;
    const value = () => (eq > 0 ? arg.slice(eq + 1) : argv[++i]);
    switch (key) {
      case 'url': o.url = value(); break;
      case 'players': o.players = value().split(',').map((s) => s.trim()).filter(Boolean); break;
      case 'stagger': o.stagger = Number(value()); break;
      case 'warmup': o.warmup = Number(value()); break;
      case 'seconds': o.seconds = Number(value()); break;
      case 'sample-ms': o.sampleMs = Number(value()); break;
      case 'pause': {
        const [i2, at, dur] = value().split(':').map(Number);
        o.pause = { index: i2, at, for: dur };
        break;
      }
      case 'delete-dir': o.deleteDir = value(); break;
      case 'delete-at': o.deleteAt = Number(value()); break;
      case 'screenshots': o.screenshots = value(); break;
      case 'trace': o.trace = value(); break;
      case 'timeout': o.timeout = Number(value()); break;
      case 'chromium': o.chromium = value(); break;
      case 'help': throw new UsageError(USAGE);
      default: throw new UsageError(`unknown argument ${arg}\n${USAGE}`);
    }
  }
  if (!o.url) throw new UsageError(`--url is required\n${USAGE}`);
  if (!o.players.length || o.players.some((p) => p !== 'dashjs' && p !== 'shaka')) throw new UsageError('--players: dashjs or shaka, comma separated');
  if (o.pause && !(o.pause.index >= 0 && o.pause.index < o.players.length && o.pause.at >= 0 && o.pause.for > 0)) throw new UsageError('--pause I:AT:FOR');
  if ((o.deleteDir === null) !== (o.deleteAt === null)) throw new UsageError('--delete-dir and --delete-at go together');
  return o;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function quantile(sorted, q) {
  if (!sorted.length) return null;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

function stats(values) {
  const s = values.filter(Number.isFinite).sort((a, b) => a - b);
  const r = (x) => (x === null ? null : Math.round(x * 10) / 10);
  return { n: s.length, p50: r(quantile(s, 0.5)), p95: r(quantile(s, 0.95)), max: r(s.length ? s[s.length - 1] : null) };
}

/** In-page probe: counts stalls (waiting while not seeking) and reads position. */
const INSTALL_PROBE = () => {
  const a = window.lofiever.audio;
  const p = { stalls: [], playingAt: null };
  a.addEventListener('playing', () => { if (p.playingAt === null) p.playingAt = Date.now(); });
  a.addEventListener('waiting', () => {
    if (p.playingAt !== null && !a.seeking) p.stalls.push({ at: Date.now(), t: a.currentTime });
  });
  window.__probe = p;
};

const READ = () => {
  const l = window.lofiever;
  const a = l.audio;
  return {
    wall: Date.now(),
    t: a.currentTime,
    paused: a.paused,
    seeking: a.seeking,
    ready: a.readyState,
    rate: a.playbackRate,
  };
};

const SNAPSHOT = () => {
  const l = window.lofiever;
  const a = l.audio;
  return {
    // Paused, the page shows what play would bring (the live point), not currentTime.
    audible: !a.paused && !a.seeking && a.readyState >= 3 && a.currentTime > 0,
    title: (document.getElementById('now-title') || {}).textContent || '',
    artist: (document.getElementById('now-artist') || {}).textContent || '',
    now_playing: l.nowPlaying(),
    programme_time_ms: l.programmeTimeMs(),
    sync: (document.getElementById('sync') || {}).textContent || '',
    status: (document.getElementById('status') || {}).textContent || '',
  };
};

async function openListener(browser, opts, index, log) {
  const engine = opts.players[index];
  const phone = index === 1;
  const context = await browser.newContext(phone
    ? { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true }
    : { viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const origin = new URL(opts.url).origin;
  const l = { index, engine, page, context, errors: [], http: [] };
  await page.route((u) => u.origin !== origin && (u.protocol === 'http:' || u.protocol === 'https:'),
    (route) => route.abort('blockedbyclient'));
  page.on('console', (msg) => {
    if (process.env.LISTENERS_VERBOSE) process.stderr.write(`  [${index} ${engine} ${msg.type()}] ${msg.text()}\n`);
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) l.errors.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => l.errors.push(`page error: ${err.message}`));
  page.on('response', (res) => {
    if (res.status() >= 400) l.http.push({ status: res.status(), url: res.url(), at: Date.now() });
  });
  const url = new URL(opts.url);
  if (engine === 'shaka') url.searchParams.set('player', 'shaka');
  await page.goto(url.href, { waitUntil: 'load' });
  await page.waitForSelector('#play:not([disabled]), #status[data-level="error"]', { timeout: 60000 });
  if (!(await page.isEnabled('#play'))) throw new Error(`listener ${index} (${engine}): the page never became ready: ${await page.textContent('#status')}`);
  await page.evaluate(INSTALL_PROBE);
  await page.click('#play');
  log(`listener ${index} (${engine}) pressed play`);
  return l;
}

function segmentOf(url) {
  const m = /\/(\d+)\.m4s(?:[?#].*)?$/.exec(url);
  return m ? Number(m[1]) : null;
}

async function run(opts) {
  const t0 = Date.now();
  const log = (m) => process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${m}\n`);
  const browser = await chromium.launch({
    executablePath: opts.chromium,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required',
      '--disable-background-timer-throttling', '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows'],
  });
  const listeners = [];
  try {
    const station = await (await fetch(new URL('station.json', opts.url))).json();
    const mpdText = await (await fetch(new URL(station.mpd, opts.url))).text();
    const codecs = (/codecs="([^"]+)"/.exec(mpdText) || [])[1] || null;
    const epochMs = Date.parse(station.epoch);
    const targetMs = station.latency.target_ms;
    const segMs = (station.segment_samples / station.sample_rate) * 1000;
    for (let i = 0; i < opts.players.length; i++) {
      if (i > 0) await sleep(opts.stagger * 1000);
      listeners.push(await openListener(browser, opts, i, log));
    }
    // Everyone playing?
    const deadline = Date.now() + 60000;
    for (const l of listeners) {
      for (;;) {
        const at = await l.page.evaluate(() => window.__probe.playingAt);
        if (at !== null) { l.playingAt = at; break; }
        if (Date.now() > deadline) throw new Error(`listener ${l.index} (${l.engine}) never started playing`);
        await sleep(200);
      }
    }
    const lastStart = Math.max(...listeners.map((l) => l.playingAt));
    const startWall = lastStart + opts.warmup * 1000;
    log(`all ${listeners.length} playing; measuring from ${opts.warmup} s after the last one started`);

    const rounds = [];
    const nowPlaying = [];
    const pause = opts.pause ? { index: opts.pause.index, pressedAt: null, resumedAt: null } : null;
    const gap = opts.deleteDir ? { segment: null, deletedAt: null, files: [] } : null;
    const endWall = startWall + opts.seconds * 1000;
    let nextNowPlaying = startWall;
    while (Date.now() < endWall) {
      const roundStart = Date.now();
      const sinceStart = (roundStart - startWall) / 1000;
      if (pause && pause.pressedAt === null && roundStart >= startWall && sinceStart >= opts.pause.at) {
        await listeners[pause.index].page.click('#play');
        pause.pressedAt = Date.now();
        log(`listener ${pause.index} paused`);
      } else if (pause && pause.pressedAt !== null && pause.resumedAt === null && Date.now() - pause.pressedAt >= opts.pause.for * 1000) {
        await listeners[pause.index].page.click('#play');
        pause.resumedAt = Date.now();
        log(`listener ${pause.index} resumed`);
      }
      if (gap && gap.deletedAt === null && roundStart >= startWall && sinceStart >= opts.deleteAt) {
        // The segment that becomes available next but one: no listener has asked for it.
        const n = Math.floor((Date.now() - epochMs) / segMs) + 1;
        for (const dir of fs.readdirSync(opts.deleteDir, { withFileTypes: true })) {
          const f = path.join(opts.deleteDir, dir.name, `${n}.m4s`);
          if (dir.isDirectory() && fs.existsSync(f)) { fs.unlinkSync(f); gap.files.push(path.join(dir.name, `${n}.m4s`)); }
        }
        gap.segment = n;
        gap.deletedAt = Date.now();
        log(`deleted segment ${n} (${gap.files.join(', ')})`);
      }
      if (gap && gap.segment !== null && opts.screenshots && !gap.shot
          && Date.now() >= epochMs + (gap.segment + 1) * segMs + targetMs + 1500) {
        // Just after the skip: what the listener is told.
        gap.shot = true;
        fs.mkdirSync(opts.screenshots, { recursive: true });
        for (const l of listeners.slice(0, 2)) {
          await l.page.screenshot({ path: path.join(opts.screenshots, l.index === 1 ? 'gap-phone.png' : 'gap-desktop.png') });
        }
      }
      const samples = await Promise.all(listeners.map((l) => l.page.evaluate(READ).catch((e) => ({ error: e.message }))));
      rounds.push({ at: roundStart, samples });
      if (roundStart >= nextNowPlaying) {
        nextNowPlaying += 5000;
        const snaps = await Promise.all(listeners.map((l) => l.page.evaluate(SNAPSHOT).catch(() => null)));
        snaps.forEach((s, i) => { if (s) nowPlaying.push({ listener: i, engine: listeners[i].engine, ...s }); });
      }
      const wait = opts.sampleMs - (Date.now() - roundStart);
      if (wait > 0) await sleep(wait);
    }

    if (opts.trace) {
      // One line per round: wall-clock ms, then per listener latency - target in ms
      // (empty while not playing), for plotting and debugging.
      const lines = rounds.map((r) => [r.at, ...r.samples.map((s) => (s && !s.error && s.t > 0
        ? `${Math.round((s.wall - (epochMs + s.t * 1000) - targetMs) * 10) / 10}${s.paused ? 'P' : ''}${s.seeking ? 'S' : ''}${s.ready < 3 ? 'W' + s.ready : ''}${s.rate !== 1 ? '@' + s.rate : ''}` : ''))].join(' '));
      fs.writeFileSync(opts.trace, lines.join('\n') + '\n');
    }

    // ---- figures
    const latencyOf = (s) => (s && !s.error && !s.paused && !s.seeking && s.ready >= 3 && s.t > 0 ? s.wall - (epochMs + s.t * 1000) : null);
    const measured = rounds.filter((r) => r.at >= startWall);
    // When is the paused listener back? First sample after resume within TOLERANCE_MS of
    // the median of the others, staying so for 2 s.
    let pauseBackAt = null;
    if (pause && pause.resumedAt) {
      let run0 = null;
      for (const r of measured) {
        if (r.at < pause.resumedAt) continue;
        const mine = latencyOf(r.samples[pause.index]);
        const others = r.samples.map(latencyOf).filter((x, i) => i !== pause.index && x !== null).sort((a, b) => a - b);
        const ok = mine !== null && others.length && Math.abs(mine - quantile(others, 0.5)) <= TOLERANCE_MS;
        if (ok && run0 === null) run0 = r.at;
        if (!ok) run0 = null;
        if (run0 !== null && r.at - run0 >= 2000) { pauseBackAt = run0; break; }
      }
    }
    const excused = (i, at) => pause && i === pause.index && pause.pressedAt !== null && at >= pause.pressedAt
      && at < (pauseBackAt !== null ? pauseBackAt : (pause.resumedAt || Infinity) + 10000);
    const skews = { all: [], dashjs: [], shaka: [] };
    const perListener = listeners.map(() => []);
    for (const r of measured) {
      const lat = r.samples.map((s, i) => (excused(i, r.at) ? null : latencyOf(s)));
      const groups = { all: lat, dashjs: lat.map((x, i) => (opts.players[i] === 'dashjs' ? x : null)), shaka: lat.map((x, i) => (opts.players[i] === 'shaka' ? x : null)) };
      for (const [k, xs] of Object.entries(groups)) {
        const v = xs.filter((x) => x !== null);
        if (v.length >= 2) skews[k].push(Math.max(...v) - Math.min(...v));
      }
      lat.forEach((x, i) => { if (x !== null) perListener[i].push(Math.abs(x - targetMs)); });
    }

    let gapReport = null;
    if (gap && gap.segment !== null) {
      // Each listener: did it play past the hole, how long was it stuck, when was it back
      // within TOLERANCE_MS of the others?
      const holeEnd = ((gap.segment + 1) * segMs) / 1000;
      const heardAt = epochMs + gap.segment * segMs + targetMs; // when the hole reaches the listeners
      gapReport = {
        segment: gap.segment, files: gap.files, deleted_at_ms: gap.deletedAt, reaches_listeners_at_ms: heardAt,
        listeners: listeners.map((l, i) => {
          const after = measured.filter((r) => r.at >= heardAt - 1000);
          const past = after.find((r) => r.samples[i] && r.samples[i].t >= holeEnd);
          let back = null;
          let run0 = null;
          for (const r of after) {
            if (r.at < heardAt) continue;
            const lat = r.samples.map(latencyOf);
            const mine = lat[i];
            const others = lat.filter((x, j) => j !== i && x !== null).sort((a, b) => a - b);
            const ok = mine !== null && Math.abs(mine - targetMs) <= TOLERANCE_MS && (!others.length || Math.abs(mine - quantile(others, 0.5)) <= TOLERANCE_MS);
            if (ok && run0 === null) run0 = r.at;
            if (!ok) run0 = null;
            if (run0 !== null && r.at - run0 >= 2000) { back = run0; break; }
          }
          const maxLate = Math.max(...after.map((r) => latencyOf(r.samples[i])).filter((x) => x !== null).map((x) => x - targetMs), -Infinity);
          return {
            played_past_hole: !!past,
            past_hole_after_s: past ? Math.round(past.at - heardAt) / 1000 : null,
            back_in_sync_after_s: back !== null ? Math.round(back - heardAt) / 1000 : null,
            max_late_ms: Number.isFinite(maxLate) ? Math.round(maxLate) : null,
          };
        }),
      };
    }

    // ---- per listener: errors, stalls, page events
    const out = [];
    for (const l of listeners) {
      const info = await l.page.evaluate(() => {
        const x = window.lofiever;
        return {
          lib_source: x.libSource, lib_version: x.libVersion, clock_trusted: x.clockTrusted,
          page_errors: x.errors.map((e) => `${e.source}${e.code != null ? ' ' + e.code : ''}: ${e.message}`),
          events: x.events.slice(), stalls: window.__probe.stalls.slice(),
          sync: document.getElementById('sync').textContent, status: document.getElementById('status').textContent,
        };
      });
      const expected = (u) => gap && gap.segment !== null && segmentOf(u) === gap.segment;
      const http = l.http.filter((h) => !/\/schedule\/\d{4}-\d\d-\d\d\.json$/.test(new URL(h.url).pathname));
      out.push({
        index: l.index, engine: l.engine, ...info,
        started_ms: l.playingAt,
        stalls_measured: info.stalls.filter((s) => s.at >= startWall && !excused(l.index, s.at)
          && !(gap && gap.segment !== null && Math.abs(s.t - (gap.segment * segMs) / 1000) < 0.5)).length,
        unexpected_http: http.filter((h) => !expected(h.url)).map((h) => `HTTP ${h.status} ${h.url}`),
        expected_http: http.filter((h) => expected(h.url)).length,
        // Player errors about the deleted segment are expected; anything else is not.
        unexpected_errors: [...l.errors, ...info.page_errors.filter((e) => !(gap && gap.segment !== null && e.includes(`/${gap.segment}.m4s`)))],
        abs_latency_error_ms: stats(perListener[l.index]),
      });
    }

    if (opts.screenshots && !gap) {
      fs.mkdirSync(opts.screenshots, { recursive: true });
      for (const l of listeners.slice(0, 2)) {
        await l.page.screenshot({ path: path.join(opts.screenshots, l.index === 1 ? 'phone.png' : 'desktop.png') });
      }
    }

    // The MPD's codecs string, as Chromium's Media Source judges it.
    const codecsSupported = await listeners[0].page.evaluate(
      (c) => MediaSource.isTypeSupported(`audio/mp4; codecs="${c}"`), codecs);
    return {
      ok: true,
      codecs,
      codecs_supported: codecsSupported,
      target_latency_ms: targetMs,
      players: opts.players,
      measured_s: measured.length ? Math.round(measured[measured.length - 1].at - measured[0].at) / 1000 : 0,
      rounds: measured.length,
      skew_ms: { all: stats(skews.all), dashjs: stats(skews.dashjs), shaka: stats(skews.shaka) },
      pause: pause ? {
        index: pause.index, engine: opts.players[pause.index], paused_s: opts.pause.for,
        back_in_sync_after_s: pause.resumedAt && pauseBackAt !== null ? Math.round(pauseBackAt - pause.resumedAt) / 1000 : null,
      } : null,
      gap: gapReport,
      listeners: out,
      now_playing: nowPlaying,
      elapsed_s: Math.round((Date.now() - t0) / 100) / 10,
    };
  } finally {
    await browser.close();
  }
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${e.message}\n`);
    process.exit(2);
  }
  let result;
  const timer = setTimeout(() => {
    process.stdout.write(JSON.stringify({ ok: false, error: `timed out after ${opts.timeout} s` }) + '\n');
    process.exit(1);
  }, opts.timeout * 1000);
  try {
    result = await run(opts);
  } catch (e) {
    result = { ok: false, error: `listeners.mjs: ${e.stack || e.message}` };
  }
  clearTimeout(timer);
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(result.ok ? 0 : 1);
}

main();
