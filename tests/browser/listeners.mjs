#!/usr/bin/env node
// Several listeners of the lofiever page, each in a fresh profile of its own, in one
// or more browser engines (Debian's Chromium, Firefox ESR, WebKitGTK; engines.mjs),
// some with dash.js and some with Shaka Player (index.html?player=shaka). Measures
// how closely they hear the same moment and prints ONE line of JSON on stdout:
//
//   node tests/browser/listeners.mjs --url http://127.0.0.1:PORT/index.html
//        [--players dashjs,shaka,firefox:dashjs,webkit:dashjs] [--stagger 3] [--warmup 10] [--seconds 60]
//        [--sample-ms 500] [--pause INDEX:AT:FOR]  e.g. --pause 4:5:30
//        [--delete-dir OUT --delete-at S] [--screenshots DIR] [--trace FILE] [--timeout 240]
//        [--clock-offsets 0,-700,400,...] [--delay-ms MIN:MAX] [--cached-age S]
//        [--host-offset-ms N] [--open-first]
//
// --players: one entry per listener, BROWSER:PLAYER or PLAYER (Chromium), with
// BROWSER chromium, firefox or webkit and PLAYER dashjs, shaka, hlsjs or native (HLS). Each browser
// that is named is started once; every listener is a fresh profile in it.
//
// Programme position: every --sample-ms, each page reports the true time (this
// machine's clock, whatever the page's own Date says) and audio.currentTime in the
// same task, at the moment currentTime moves (see READ), so its latency (true
// clock - heard position) is exact whatever the moment the sample is taken; the
// inter-listener skew at a round is max - min of the latencies of the listeners
// that are playing (= the spread of their programme positions at one common
// wall-clock instant). Statistics count the rounds from
// --warmup seconds after the last listener started playing; rounds start at the
// first press of play, so each listener's report also says how soon after its
// first sound it was within 20 ms of the target for 2 s (on_target_after_s).
//
// --clock-offsets A,B,...  listener i's device clock is wrong by the i-th value (ms,
//                    + = fast): Date.now(), new Date(), Date() and
//                    performance.timeOrigin are shifted in its page by an init script,
//                    while the host's Date header stays true.
// --delay-ms MIN:MAX the pages reach the host through a proxy that delays every piece
//                    of data, each way, by MIN..MAX ms drawn anew (uniform, order
//                    kept): round trips of 2*MIN..2*MAX ms with jitter.
// --cached-age S     every answer looks like a cache's: `Age: S` and a Date S seconds
//                    old (what a CDN that caches everything sends). Not with Firefox
//                    listeners (puppeteer cannot rewrite answers there).
// --host-offset-ms N the host's clock runs N ms ahead of this machine's (a preview
//                    served at another moment, e.g. `lofiever preview --at`):
//                    latencies are measured against the host's clock.
//
// --open-first      open every listener's page (and launch its browser) before the
//                    first press of play; then press play --stagger s apart. Six
//                    listeners share two cores here: without it, a browser being
//                    launched (a WebKitGTK MiniBrowser takes seconds of CPU) slows the
//                    listeners that have just started, which listeners on their own
//                    devices never see.
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

import fs from 'node:fs';
import path from 'node:path';
import { BROWSERS, SUPPORTS, launch } from './engines.mjs';

const USAGE = 'usage: listeners.mjs --url URL [--players [BROWSER:]PLAYER,...] (BROWSER chromium|firefox|webkit, default chromium; PLAYER dashjs|shaka|hlsjs|native) [--stagger S] [--warmup S] [--seconds S] [--sample-ms MS] [--pause I:AT:FOR] [--delete-dir DIR --delete-at S] [--screenshots DIR] [--trace FILE] [--timeout S] [--chromium PATH] [--clock-offsets MS,...] [--delay-ms MIN:MAX] [--cached-age S (not with firefox)] [--host-offset-ms N] [--open-first]';
const TOLERANCE_MS = 30;
/** "On target": within this of the target latency (the issue's ±20 ms). */
const ON_TARGET_MS = 20;

class UsageError extends Error {}

function parseArgs(argv) {
  const o = {
    url: null, players: ['dashjs', 'shaka', 'dashjs', 'shaka'], stagger: 3, warmup: 10, seconds: 60,
    sampleMs: 500, pause: null, deleteDir: null, deleteAt: null, screenshots: null, trace: process.env.LISTENERS_TRACE || null, timeout: 240,
    chromium: null, clockOffsets: [], delay: null, cachedAge: null, hostOffsetMs: 0, openFirst: false,
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
      case 'clock-offsets': o.clockOffsets = value().split(',').map(Number); break;
      case 'delay-ms': {
        const [lo, hi] = value().split(':').map(Number);
        o.delay = { lo, hi };
        break;
      }
      case 'cached-age': o.cachedAge = Number(value()); break;
      case 'host-offset-ms': o.hostOffsetMs = Number(value()); break;
      case 'open-first': o.openFirst = true; break;
      case 'help': throw new UsageError(USAGE);
      default: throw new UsageError(`unknown argument ${arg}\n${USAGE}`);
    }
  }
  if (!o.url) throw new UsageError(`--url is required\n${USAGE}`);
  o.listeners = o.players.map(parseListener);
  if (!o.listeners.length || o.listeners.some((l) => !l)) throw new UsageError(`--players: [BROWSER:]PLAYER, comma separated, BROWSER one of ${BROWSERS.join(', ')}, PLAYER one of ${PLAYERS.join(', ')}`);
  if (o.pause && !(o.pause.index >= 0 && o.pause.index < o.players.length && o.pause.at >= 0 && o.pause.for > 0)) throw new UsageError('--pause I:AT:FOR');
  if ((o.deleteDir === null) !== (o.deleteAt === null)) throw new UsageError('--delete-dir and --delete-at go together');
  if (o.clockOffsets.some((x) => !Number.isFinite(x))) throw new UsageError('--clock-offsets: numbers (ms), comma separated');
  if (o.delay && !(o.delay.lo >= 0 && o.delay.hi >= o.delay.lo)) throw new UsageError('--delay-ms MIN:MAX');
  if (!Number.isFinite(o.hostOffsetMs)) throw new UsageError('--host-offset-ms: a number of ms');
  if (o.cachedAge !== null && !(o.cachedAge > 0)) throw new UsageError('--cached-age: seconds > 0');
  const cannot = (what) => o.listeners.map((l) => l.browser).filter((b) => !SUPPORTS[b][what]);
  if (o.cachedAge !== null && cannot('rewriteResponses').length) throw new UsageError(`--cached-age: not with ${cannot('rewriteResponses')[0]} listeners`);
  if (o.clockOffsets.length && cannot('initScripts').length) throw new UsageError(`--clock-offsets: not with ${cannot('initScripts')[0]} listeners`);
  return o;
}

/** 'firefox:shaka' -> { browser: 'firefox', player: 'shaka' }; 'dashjs' is Chromium's; null if neither. */
/** The page's players: index.html?player=… (dashjs is the default). */
const PLAYERS = ['dashjs', 'shaka', 'hlsjs', 'native'];

function parseListener(spec) {
  const [browser, player] = spec.includes(':') ? spec.split(':', 2) : ['chromium', spec];
  if (!BROWSERS.includes(browser) || !PLAYERS.includes(player)) return null;
  return { browser, player };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Init script: this page's device clock is `offset` ms wrong (+ = fast). Shifts
 * Date.now(), new Date(), Date() and performance.timeOrigin; keeps the true clock as
 * window.__trueNow for the measurements (the page under test never reads it).
 */
const WRONG_CLOCK = (offset) => {
  const RealDate = Date;
  const realNow = RealDate.now.bind(RealDate);
  Object.defineProperty(window, '__trueNow', { value: realNow });
  function FakeDate(...args) {
    if (!new.target) return new RealDate(realNow() + offset).toString();
    return args.length ? new RealDate(...args) : new RealDate(realNow() + offset);
  }
  FakeDate.prototype = RealDate.prototype;
  FakeDate.now = () => realNow() + offset;
  FakeDate.parse = RealDate.parse;
  FakeDate.UTC = RealDate.UTC;
  window.Date = FakeDate;
  const origin = performance.timeOrigin;
  try {
    Object.defineProperty(performance, 'timeOrigin', { get: () => origin + offset });
  } catch (e) { /* read-only here: the monotonic clock is all the page needs anyway */ }
};

/**
 * Starts tests/browser/delay-proxy.mjs (its own process, so that the delays it keeps
 * do not wait on this one's event loop) in front of `target`; returns { port, close }.
 */
async function delayProxy(target, lo, hi) {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, [new URL('./delay-proxy.mjs', import.meta.url).pathname, '--to', target.host, '--delay-ms', `${lo}:${hi}`],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((ok, fail) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /^listening (\d+)$/m.exec(out);
      if (m) ok(Number(m[1]));
    });
    child.on('exit', (code) => fail(new Error(`delay-proxy.mjs exited with ${code}`)));
  });
  return { port, close: () => child.kill() };
}

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

/**
 * The position and the true time at the moment the position moves. Engines update
 * currentTime in steps: Chromium and WebKitGTK about every 4 ms, Firefox every
 * 40 ms (measured here), so a reading taken at a random moment is on average half a
 * step old, 20 ms in Firefox, and would count that much latency the listener does
 * not have. Polls (1 ms timers, at most 100 ms) until currentTime changes, and reads
 * the clock in the same task as the new position; a position that does not move
 * (paused, stalled, seeking) is read as it is.
 */
const READ = () => new Promise((done) => {
  const l = window.lofiever;
  const a = l.audio;
  const trueNow = () => (window.__trueNow ? window.__trueNow() : Date.now());
  const read = () => ({
    wall: trueNow(),
    // Programme seconds since the epoch: media time for DASH, plus where the day's
    // playlist starts for HLS.
    t: a.currentTime + (l.mediaOffsetS || 0),
    paused: a.paused,
    seeking: a.seeking,
    ready: a.readyState,
    rate: a.playbackRate,
  });
  const first = read();
  if (first.paused || first.seeking || first.ready < 3) { done(first); return; }
  const until = performance.now() + 100;
  const poll = () => {
    const r = read();
    if (r.t !== first.t || performance.now() > until) done(r);
    else setTimeout(poll, 1);
  };
  poll();
});

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

async function openListener(browsers, opts, index, log) {
  const { browser: browserName, player: engine } = opts.listeners[index];
  const who = `listener ${index} (${browserName}:${engine})`;
  const origin = new URL(opts.url).origin;
  const page = await (await browsers.get(browserName)).newPage(index === 1
    ? { width: 390, height: 844, mobile: true, allowOrigin: origin }
    : { width: 1280, height: 800, allowOrigin: origin });
  const clockOffset = opts.clockOffsets.length ? opts.clockOffsets[index % opts.clockOffsets.length] : 0;
  if (opts.clockOffsets.length) await page.addInitScript(WRONG_CLOCK, clockOffset);
  const l = { index, engine, browser: browserName, page, errors: [], http: [], clockOffset };
  if (opts.cachedAge !== null) {
    // Every same-origin answer as a cache would give it: Age, and the Date it was cached.
    await page.rewriteResponses(origin, (headers) => {
      const date = Date.parse(headers.date || '') || Date.now();
      return {
        ...headers,
        date: new Date(date - opts.cachedAge * 1000).toUTCString(),
        age: String(opts.cachedAge),
        'access-control-expose-headers': 'Date, Age',
      };
    });
  }
  page.onConsole(({ type, text }) => {
    if (process.env.LISTENERS_VERBOSE) process.stderr.write(`  [${index} ${browserName}:${engine} ${type}] ${text}\n`);
    if (type === 'error' && !text.startsWith('Failed to load resource')) l.errors.push(`console: ${text}`);
  });
  page.onPageError((message) => l.errors.push(`page error: ${message}`));
  page.onResponse(({ url, status }) => {
    if (status >= 400) l.http.push({ status, url, at: Date.now() });
  });
  const url = new URL(opts.url);
  if (engine !== 'dashjs') url.searchParams.set('player', engine);
  // Requests still open, named in the error if the page never loads.
  const open = new Map();
  page.onRequest((r) => open.set(r, `${r.method} ${r.url} (${Date.now()})`));
  page.onRequestDone((r) => open.delete(r));
  try {
    await page.goto(url.href, { waitUntil: 'domcontentloaded' });
  } catch (e) {
    throw new Error(`${who}: ${e.message.split('\n')[0]}; requests still open at ${Date.now()}: ${[...open.values()].join(', ') || 'none'}`);
  }
  await page.waitFor('#play:not([disabled]), #status[data-level="error"]', 60000);
  if (!(await page.isEnabled('#play'))) throw new Error(`${who}: the page never became ready: ${await page.textContent('#status')}`);
  await page.evaluate(INSTALL_PROBE);
  l.who = who;
  return l;
}

async function pressPlay(l, log) {
  await l.page.click('#play');
  log(`${l.who} pressed play`);
}

function segmentOf(url) {
  const m = /\/(\d+)\.m4s(?:[?#].*)?$/.exec(url);
  return m ? Number(m[1]) : null;
}

async function run(opts) {
  const t0 = Date.now();
  const log = (m) => process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${m}\n`);
  // Each browser named in --players, started once, on first use.
  const browsers = new Map();
  const started = [];
  for (const name of new Set(opts.listeners.map((l) => l.browser))) {
    const b = launch(name, { executablePath: name === 'chromium' ? opts.chromium : null }).then((b) => {
      started.push(b);
      log(`${name} started (${b.version})`);
      return b;
    });
    b.catch(() => {}); // reported where a listener needs it
    browsers.set(name, b);
  }
  const listeners = [];
  let proxy = null;
  try {
    if (opts.delay) {
      const u = new URL(opts.url);
      proxy = await delayProxy(u, opts.delay.lo, opts.delay.hi);
      u.port = String(proxy.port);
      opts.url = u.href;
      log(`pages reach the host through a proxy delaying each way by ${opts.delay.lo}-${opts.delay.hi} ms`);
    }
    const station = await (await fetch(new URL('station.json', opts.url))).json();
    const mpdText = await (await fetch(new URL(station.mpd, opts.url))).text();
    const codecs = (/codecs="([^"]+)"/.exec(mpdText) || [])[1] || null;
    const epochMs = Date.parse(station.epoch);
    const targetMs = station.latency.target_ms;
    const segMs = (station.segment_samples / station.sample_rate) * 1000;
    // Rounds of samples from the first press of play on (listeners join the rounds
    // as they open), so that how soon each one reaches the target is seen too.
    const rounds = [];
    const sampleRound = async () => {
      const roundStart = Date.now();
      const present = listeners.slice();
      const samples = await Promise.all(present.map((l) => l.page.evaluate(READ).catch((e) => ({ error: e.message }))));
      rounds.push({ at: roundStart, samples });
      return roundStart;
    };
    let opening = true;
    const earlySampler = (async () => {
      while (opening) {
        const roundStart = listeners.length ? await sampleRound() : Date.now();
        await sleep(Math.max(1, opts.sampleMs - (Date.now() - roundStart)));
      }
    })();
    const audibleNow = (i) => {
      const last = rounds.length ? rounds[rounds.length - 1].samples[i] : null;
      return !!last && !last.error && !last.paused && last.ready >= 3 && last.t > 0;
    };
    try {
      // With --open-first every page is open (its browser launched) before the
      // first press; otherwise each opens just before its press. Pages are
      // sampled only once pressed (an open page is not yet a listener).
      const opened = [];
      if (opts.openFirst) {
        for (let i = 0; i < opts.players.length; i++) opened.push(await openListener(browsers, opts, i, log));
        log(`all ${opened.length} pages open`);
      }
      for (let i = 0; i < opts.players.length; i++) {
        if (i > 0) await sleep(opts.stagger * 1000);
        const l = opened[i] || await openListener(browsers, opts, i, log);
        await pressPlay(l, log);
        listeners.push(l);
      }
      // Everyone playing?
      const deadline = Date.now() + 60000;
      for (const l of listeners) {
        while (!audibleNow(l.index)) {
          if (Date.now() > deadline) throw new Error(`listener ${l.index} (${l.browser}:${l.engine}) never started playing`);
          await sleep(100);
        }
      }
    } finally {
      opening = false;
      await earlySampler;
    }
    for (const l of listeners) {
      l.playingAt = await l.page.evaluate(() => window.__probe.playingAt);
      if (l.playingAt === null) throw new Error(`listener ${l.index} (${l.browser}:${l.engine}) never fired 'playing'`);
    }
    const lastStart = Math.max(...listeners.map((l) => l.playingAt));
    const startWall = lastStart + opts.warmup * 1000;
    log(`all ${listeners.length} playing; measuring from ${opts.warmup} s after the last one started`);

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
          await l.page.screenshot(path.join(opts.screenshots, l.index === 1 ? 'gap-phone.png' : 'gap-desktop.png'));
        }
      }
      await sampleRound();
      if (roundStart >= nextNowPlaying) {
        nextNowPlaying += 5000;
        const snaps = await Promise.all(listeners.map((l) => l.page.evaluate(SNAPSHOT).catch(() => null)));
        snaps.forEach((s, i) => { if (s) nowPlaying.push({ listener: i, engine: listeners[i].engine, browser: listeners[i].browser, ...s }); });
      }
      const wait = opts.sampleMs - (Date.now() - roundStart);
      if (wait > 0) await sleep(wait);
    }

    if (opts.trace) {
      // One line per round: wall-clock ms, then per listener latency - target in ms
      // (empty while not playing), for plotting and debugging.
      const lines = rounds.map((r) => [r.at, ...r.samples.map((s) => (s && !s.error && s.t > 0
        ? `${Math.round((s.wall + opts.hostOffsetMs - (epochMs + s.t * 1000) - targetMs) * 10) / 10}${s.paused ? 'P' : ''}${s.seeking ? 'S' : ''}${s.ready < 3 ? 'W' + s.ready : ''}${s.rate !== 1 ? '@' + s.rate : ''}` : ''))].join(' '));
      fs.writeFileSync(opts.trace, lines.join('\n') + '\n');
    }

    // ---- figures
    const latencyOf = (s) => (s && !s.error && !s.paused && !s.seeking && s.ready >= 3 && s.t > 0 ? s.wall + opts.hostOffsetMs - (epochMs + s.t * 1000) : null);
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
    // Skew among all listeners, per player, and per browser when there are several.
    const browserNames = [...new Set(listeners.map((l) => l.browser))];
    const groupOf = {
      all: () => true,
      dashjs: (l) => l.engine === 'dashjs',
      shaka: (l) => l.engine === 'shaka',
      hls: (l) => l.engine === 'hlsjs' || l.engine === 'native',
    };
    if (browserNames.length > 1) for (const b of browserNames) groupOf[b] = (l) => l.browser === b;
    const skews = Object.fromEntries(Object.keys(groupOf).map((k) => [k, []]));
    const perListener = listeners.map(() => []);
    for (const r of measured) {
      const lat = r.samples.map((s, i) => (excused(i, r.at) ? null : latencyOf(s)));
      const groups = Object.fromEntries(Object.entries(groupOf).map(([k, inGroup]) => [k, lat.map((x, i) => (inGroup(listeners[i]) ? x : null))]));
      for (const [k, xs] of Object.entries(groups)) {
        const v = xs.filter((x) => x !== null);
        if (v.length >= 2) skews[k].push(Math.max(...v) - Math.min(...v));
      }
      lat.forEach((x, i) => { if (x !== null) perListener[i].push(Math.abs(x - targetMs)); });
    }

    // How soon after its first sound each listener is within ON_TARGET_MS of the
    // target latency and stays so for 2 s (null: never, in the run).
    const onTargetAfterS = (i) => {
      let first = null;
      let run0 = null;
      for (const r of rounds) {
        const lat = latencyOf(r.samples[i]);
        if (first === null) {
          if (lat === null) continue;
          first = r.at;
        }
        const ok = lat !== null && Math.abs(lat - targetMs) <= ON_TARGET_MS;
        if (ok && run0 === null) run0 = r.at;
        if (!ok) run0 = null;
        if (run0 !== null && r.at - run0 >= 2000) return Math.round(run0 - first) / 1000;
      }
      return null;
    };

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
    // A listener whose page no longer answers (its browser or driver ended, as
    // WebKitGTK's WebDriver session did once in about thirty runs): say which,
    // and since when.
    const gone = (l, e) => {
      const failed = rounds.find((r) => r.samples[l.index] && r.samples[l.index].error);
      const since = failed ? ` Its page stopped answering ${((failed.at - t0) / 1000).toFixed(1)} s into the run (${failed.samples[l.index].error.split('\n')[0]}).` : '';
      const what = String(e.message || e).split('\n')[0];
      const why = e.name && !what.startsWith(e.name) ? `${e.name}: ${what}` : what;
      return `listener ${l.index} (${l.browser}:${l.engine}) is gone: its page no longer answers (${why}).${since} The browser or its driver ended during the run; its figures are lost.`;
    };
    const out = [];
    for (const l of listeners) {
      const info = await l.page.evaluate((c) => {
        const x = window.lofiever;
        return {
          codecs_supported: typeof MediaSource !== 'undefined' && MediaSource.isTypeSupported(`audio/mp4; codecs="${c}"`),
          lib_source: x.libSource, lib_version: x.libVersion, clock: x.clock, player_clock_offset_ms: x.playerClockOffsetMs,
          device_offset_ms: x.clock ? x.clock.offsetMs : null,
          page_errors: x.errors.map((e) => `${e.source}${e.code != null ? ' ' + e.code : ''}: ${e.message}`),
          events: x.events.slice(), stalls: window.__probe.stalls.slice(),
          sync: document.getElementById('sync').textContent, status: document.getElementById('status').textContent,
        };
      }, codecs).catch((e) => { throw new Error(gone(l, e)); });
      const expected = (u) => gap && gap.segment !== null && segmentOf(u) === gap.segment;
      const http = l.http.filter((h) => !/\/schedule\/\d{4}-\d\d-\d\d\.json$/.test(new URL(h.url).pathname));
      out.push({
        index: l.index, engine: l.engine, browser: l.browser, clock_wrong_by_ms: l.clockOffset, ...info,
        started_ms: l.playingAt,
        stalls_measured: info.stalls.filter((s) => s.at >= startWall && !excused(l.index, s.at)
          && !(gap && gap.segment !== null && Math.abs(s.t - (gap.segment * segMs) / 1000) < 0.5)).length,
        unexpected_http: http.filter((h) => !expected(h.url)).map((h) => `HTTP ${h.status} ${h.url}`),
        expected_http: http.filter((h) => expected(h.url)).length,
        // Player errors about the deleted segment are expected; anything else is not.
        unexpected_errors: [...l.errors, ...info.page_errors.filter((e) => !(gap && gap.segment !== null && e.includes(`/${gap.segment}.m4s`)))],
        abs_latency_error_ms: stats(perListener[l.index]),
        on_target_after_s: onTargetAfterS(l.index),
      });
    }

    if (opts.screenshots && !gap) {
      fs.mkdirSync(opts.screenshots, { recursive: true });
      for (const l of listeners.slice(0, 2)) {
        await l.page.screenshot(path.join(opts.screenshots, l.index === 1 ? 'phone.png' : 'desktop.png'));
      }
    }

    return {
      ok: true,
      codecs,
      // The MPD's codecs string, as the first listener's browser's Media Source
      // judges it (each listener's own judgement is in its report).
      codecs_supported: out[0].codecs_supported,
      target_latency_ms: targetMs,
      players: opts.players,
      measured_s: measured.length ? Math.round(measured[measured.length - 1].at - measured[0].at) / 1000 : 0,
      rounds: measured.length,
      skew_ms: Object.fromEntries(Object.entries(skews).map(([k, v]) => [k, stats(v)])),
      pause: pause ? {
        index: pause.index, engine: listeners[pause.index].engine, browser: listeners[pause.index].browser, paused_s: opts.pause.for,
        back_in_sync_after_s: pause.resumedAt && pauseBackAt !== null ? Math.round(pauseBackAt - pause.resumedAt) / 1000 : null,
      } : null,
      gap: gapReport,
      listeners: out,
      now_playing: nowPlaying,
      elapsed_s: Math.round((Date.now() - t0) / 100) / 10,
    };
  } finally {
    // Every browser that was asked for, also one still starting when something failed.
    await Promise.allSettled([...browsers.values()]);
    await Promise.allSettled(started.map((b) => b.close()));
    if (proxy) proxy.close();
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
