#!/usr/bin/env node
// Plays the lofiever listening page in one browser engine (fresh profile) and
// reports, as ONE line of JSON on stdout, whether audio really played:
//
//   node tests/browser/play.mjs --url http://127.0.0.1:PORT/index.html [--seconds 8]
//        [--browser chromium|firefox|webkit] [--timeout 60]
//        [--screenshot out.png --width 390 --height 844]
//        [--external block|allow] [--chromium /usr/bin/chromium]
//        [--hold-audio-at S --hold-audio-ms MS]   (firefox, webkit)
//
//   {"ok": bool, "advanced_s": n, "now_playing": {...}|null, "errors": [...],
//    "programme_time_ms": n, "browser": "firefox", ...}
//
// --hold-audio-at/--hold-audio-ms: once S s of media have played, the audio output
// stands still for MS ms (the rig's audio server is stopped) while the page thinks
// it plays; reported as audio_held.
//
// --browser: Debian's Chromium (default), Firefox ESR or WebKitGTK's MiniBrowser,
// started and driven by engines.mjs (which says what each engine can do). Every
// option works in every engine; in WebKit the viewport cannot be narrower than
// MiniBrowser's toolbar.
//
// ok is true iff the audio element played at least --seconds of media and nothing
// went wrong: no console error, no uncaught page error, no media element error, no
// dash.js ERROR event, no failed same-origin request. Exit code 0 iff ok.
//
// Requests to other origins are blocked by default (--external block), so a run
// never depends on the network: the page then loads dash.js from its fallback URL
// on the same host. Blocked requests (and the browser's messages about them) and
// missing schedule days (HTTP 404 for schedule/*.json, which the page handles) are
// listed under "ignored".

import { BROWSERS, SUPPORTS, launch } from './engines.mjs';

const USAGE = 'usage: play.mjs --url URL [--browser chromium|firefox|webkit] [--seconds N] [--timeout S] [--screenshot FILE] [--width W] [--height H] [--external block|allow] [--no-mse] [--no-native-hls] [--metadata] [--media-keys] [--hold-clock-ms MS] [--hold-audio-at S --hold-audio-ms MS] [--hide-at S --hide-for S] [--lose-settle-events] [--chromium PATH]';

function parseArgs(argv) {
  const opts = {
    url: null,
    seconds: 8,
    timeout: 60,
    screenshot: null,
    width: 1280,
    height: 800,
    external: 'block',
    noMse: false,
    noNativeHls: false,
    metadata: false,
    mediaKeys: false,
    holdClockMs: 0,
    holdAudioAt: null,
    holdAudioMs: 0,
    hideAt: null,
    hideFor: 0,
    loseSettleEvents: false,
    browser: 'chromium',
    chromium: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf('=');
    const key = arg.startsWith('--') ? (eq > 0 ? arg.slice(2, eq) : arg.slice(2)) : null;
    const value = () => (eq > 0 ? arg.slice(eq + 1) : argv[++i]);
    switch (key) {
      case 'url': opts.url = value(); break;
      case 'seconds': opts.seconds = Number(value()); break;
      case 'timeout': opts.timeout = Number(value()); break;
      case 'screenshot': opts.screenshot = value(); break;
      case 'width': opts.width = Number(value()); break;
      case 'height': opts.height = Number(value()); break;
      case 'external': opts.external = value(); break;
      case 'browser': opts.browser = value(); break;
      case 'chromium': opts.chromium = value(); break;
      case 'no-mse': opts.noMse = true; break;
      case 'no-native-hls': opts.noNativeHls = true; break;
      case 'metadata': opts.metadata = true; break;
      case 'media-keys': opts.mediaKeys = true; break;
      case 'hold-clock-ms': opts.holdClockMs = Number(value()); break;
      case 'hold-audio-at': opts.holdAudioAt = Number(value()); break;
      case 'hold-audio-ms': opts.holdAudioMs = Number(value()); break;
      case 'hide-at': opts.hideAt = Number(value()); break;
      case 'hide-for': opts.hideFor = Number(value()); break;
      case 'lose-settle-events': opts.loseSettleEvents = true; break;
      case 'help': throw new UsageError(USAGE);
      default: throw new UsageError(`unknown argument ${arg}\n${USAGE}`);
    }
  }
  if (!opts.url) throw new UsageError(`--url is required\n${USAGE}`);
  for (const k of ['seconds', 'timeout', 'width', 'height']) {
    if (!Number.isFinite(opts[k]) || opts[k] <= 0) throw new UsageError(`--${k} must be a positive number`);
  }
  if (!Number.isFinite(opts.holdClockMs) || opts.holdClockMs < 0) throw new UsageError('--hold-clock-ms must be a number of ms, 0 or more');
  if ((opts.holdAudioAt === null) !== (opts.holdAudioMs === 0)) throw new UsageError('--hold-audio-at and --hold-audio-ms go together');
  if (opts.holdAudioAt !== null && !(opts.holdAudioAt >= 0 && opts.holdAudioMs > 0)) throw new UsageError('--hold-audio-at: seconds of media, 0 or more; --hold-audio-ms: ms, more than 0');
  if ((opts.hideAt === null) !== (opts.hideFor === 0)) throw new UsageError('--hide-at and --hide-for go together');
  if (opts.hideAt !== null && !(opts.hideAt >= 0 && opts.hideFor > 0)) throw new UsageError('--hide-at: seconds of media, 0 or more; --hide-for: seconds, more than 0');
  if (opts.loseSettleEvents && !opts.mediaKeys) throw new UsageError('--lose-settle-events needs --media-keys (it applies from the presses on)');
  if (!['block', 'allow'].includes(opts.external)) throw new UsageError('--external must be block or allow');
  if (!BROWSERS.includes(opts.browser)) throw new UsageError(`--browser must be one of ${BROWSERS.join(', ')}`);
  if (opts.holdAudioAt !== null && !SUPPORTS[opts.browser].holdAudioOutput) throw new UsageError(`--hold-audio-at: not with ${opts.browser} (it does not play through the rig's audio server)`);
  return opts;
}

class UsageError extends Error {}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A browser without Media Source Extensions (older iPhones, some TVs). */
const NO_MSE = () => {
  for (const name of ['MediaSource', 'ManagedMediaSource', 'WebKitMediaSource']) delete window[name];
};

// A slow first answer to the page's clock requests (lofiever-clock=...): they
// are sent only `ms` after the listener pressed play, so start-up stops waiting
// for the clock (about a second) and attaches on the device clock; the page must
// correct itself once the measurement is in.
const HOLD_CLOCK = (ms) => {
  const fetch = window.fetch;
  let release;
  const released = new Promise((ok) => { release = ok; });
  document.addEventListener('click', () => setTimeout(release, ms), { capture: true, once: true });
  window.fetch = function (input, init) {
    const url = typeof input === 'string' ? input : (input && input.url) || '';
    if (!url.includes('lofiever-clock=')) return fetch.call(this, input, init);
    return released.then(() => fetch.call(this, input, init));
  };
};

// The page as a phone's screen turned off or another tab brought to the front
// leaves it: document.hidden, visibilityState 'hidden' and a visibilitychange
// event (window.__setHidden(true/false)); and every change to what the page
// shows of the programme (the texts, the bar, the sync line), with its time,
// in window.__paints.
const VISIBILITY = () => {
  let hidden = false;
  Object.defineProperty(document, 'hidden', { configurable: true, get: () => hidden });
  Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (hidden ? 'hidden' : 'visible') });
  window.__setHidden = (h) => {
    hidden = h;
    document.dispatchEvent(new Event('visibilitychange'));
    return performance.now();
  };
  window.__paints = [];
  const watch = () => {
    const ids = ['now-title', 'now-artist', 'progress-fill', 'elapsed', 'duration', 'next-title', 'next-artist', 'next-at', 'sync'];
    const of = (node) => {
      for (let n = node; n; n = n.parentNode) if (n.id && ids.includes(n.id)) return n.id;
      return null;
    };
    new MutationObserver((records) => {
      const at = performance.now();
      for (const r of records) {
        const id = of(r.target);
        if (id) window.__paints.push({ at, id });
      }
    }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
  };
  if (document.body) watch();
  else document.addEventListener('DOMContentLoaded', watch);
};

// Once window.__loseSettleEvents is true, the audio element's 'playing' and
// 'seeked' events reach no listener (stopped at the window, in the capture
// phase): an engine that sends neither after a seek, as a Firefox starved of
// CPU did. The page and the player are both left without them.
const LOSE_SETTLE_EVENTS = () => {
  window.__loseSettleEvents = false;
  for (const type of ['playing', 'seeked']) {
    window.addEventListener(type, (e) => {
      if (window.__loseSettleEvents && e.target instanceof HTMLMediaElement) e.stopImmediatePropagation();
    }, { capture: true });
  }
};

// Records every Media Session metadata the page sets (what a lock screen or
// a media-key overlay would show), in order.
const MEDIA_SESSION_LOG = () => {
  window.__mediaSession = [];
  window.__mediaActions = {};
  const proto = window.MediaSession && MediaSession.prototype;
  // The action handlers the page registers (what a lock screen's buttons or
  // a media key would call), kept so that --media-keys can press them.
  if (proto && typeof proto.setActionHandler === 'function') {
    const set = proto.setActionHandler;
    proto.setActionHandler = function (action, fn) {
      window.__mediaActions[action] = fn;
      return set.call(this, action, fn);
    };
  }
  const desc = proto && Object.getOwnPropertyDescriptor(proto, 'metadata');
  if (!desc || !desc.set) return;
  Object.defineProperty(proto, 'metadata', {
    configurable: true,
    get() { return desc.get.call(this); },
    set(m) {
      if (m) {
        const artwork = Array.from(m.artwork || [], (a) => ({ src: a.src, sizes: a.sizes, type: a.type }));
        window.__mediaSession.push({ title: m.title, artist: m.artist, album: m.album, artwork });
      }
      desc.set.call(this, m);
    },
  });
};

// A browser that does not play HLS by itself either (current Chromium
// answers "maybe" for HLS): canPlayType says no to the HLS types.
const NO_NATIVE_HLS = () => {
  const canPlayType = HTMLMediaElement.prototype.canPlayType;
  HTMLMediaElement.prototype.canPlayType = function (type) {
    return /mpegurl/i.test(String(type)) ? '' : canPlayType.call(this, type);
  };
};

async function run(opts) {
  const errors = [];
  const ignored = [];
  const pageOrigin = new URL(opts.url).origin;
  const blocked = [];

  const browser = await launch(opts.browser, { executablePath: opts.browser === 'chromium' ? opts.chromium : null });
  try {
    // A new page is a fresh profile: no cache, no storage from earlier runs.
    const page = await browser.newPage({
      width: Math.round(opts.width),
      height: Math.round(opts.height),
      allowOrigin: opts.external === 'block' ? pageOrigin : null,
    });
    await page.addInitScript(MEDIA_SESSION_LOG);
    if (opts.noMse) await page.addInitScript(NO_MSE);
    if (opts.noNativeHls) await page.addInitScript(NO_NATIVE_HLS);
    if (opts.holdClockMs > 0) await page.addInitScript(HOLD_CLOCK, opts.holdClockMs);
    if (opts.hideAt !== null) await page.addInitScript(VISIBILITY);
    if (opts.loseSettleEvents) await page.addInitScript(LOSE_SETTLE_EVENTS);

    page.onConsole(({ type, text }) => {
      if (type !== 'error') return;
      // Failed loads are reported (with their URL and status) by the handlers below.
      if (text.startsWith('Failed to load resource')) return;
      errors.push(`console: ${text}`);
    });
    page.onPageError((message) => errors.push(`page error: ${message}`));
    page.onResponse(({ url, status }) => {
      if (status < 400) return;
      const entry = `HTTP ${status} ${url}`;
      if (isScheduleUrl(url, pageOrigin)) ignored.push(entry);
      else errors.push(entry);
    });
    page.onRequestDone(({ url }, { error, aborted, blocked: wasBlocked }) => {
      if (!error) return;
      if (wasBlocked) {
        blocked.push(url);
        ignored.push(`blocked external request ${url}`);
        return;
      }
      // Media requests cancelled by the player itself (abandoned, or at the end of the run).
      if (aborted) return;
      errors.push(`request failed: ${url} (${error})`);
    });

    await page.goto(opts.url, { waitUntil: 'load', timeout: opts.timeout * 1000 });

    const deadline = Date.now() + opts.timeout * 1000;
    const done = (advanced) => finish(browser, page, opts, unrelatedTo(blocked, errors, ignored), ignored, advanced);
    // The page enables the button once station.json, the MPD and dash.js are there,
    // or shows an error status when one of them is missing.
    let ready = false;
    try {
      await page.waitFor('#play:not([disabled]), #status[data-level="error"]', Math.max(1000, deadline - Date.now()));
      ready = await page.isEnabled('#play');
    } catch (e) {
      /* timed out: reported below */
    }
    if (!ready) {
      errors.push(`the page never became ready to play: ${await statusText(page)}`);
      return await done(0);
    }
    if (opts.metadata) {
      // Timed metadata the player itself reads from the segments: Shaka's
      // 'metadata' events (one per ID3 frame, as the playhead reaches it),
      // or dash.js's events for the scheme, as each event starts.
      await page.evaluate(() => {
        window.__metadata = [];
        const p = window.lofiever && window.lofiever.player;
        if (!p) return;
        if (typeof p.on === 'function' && typeof p.addEventListener !== 'function') {
          // dash.js: inband events arrive under their scheme's URI; the
          // message is the ID3 tag itself, so read its text frames here.
          const id3Frames = (bytes) => {
            const out = [];
            if (!bytes || bytes.length < 10 || bytes[0] !== 0x49 || bytes[1] !== 0x44 || bytes[2] !== 0x33) return out;
            const syncsafe = (i) => (bytes[i] << 21) | (bytes[i + 1] << 14) | (bytes[i + 2] << 7) | bytes[i + 3];
            const end = 10 + syncsafe(6);
            let i = 10;
            while (i + 10 <= end && i + 10 <= bytes.length) {
              const key = String.fromCharCode(bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]);
              const size = syncsafe(i + 4);
              const body = bytes.subarray(i + 10, i + 10 + size);
              if (key.startsWith('T') && body.length > 0) {
                // Encoding 3 = UTF-8; text up to the first NUL.
                let text = new TextDecoder('utf-8').decode(body.subarray(1));
                text = text.split('\u0000')[0];
                out.push({ key, data: text });
              }
              i += 10 + size;
            }
            return out;
          };
          p.on('https://aomedia.org/emsg/ID3', (e) => {
            const ev = e.event || {};
            const data = ev.messageData instanceof Uint8Array ? ev.messageData : new Uint8Array(ev.messageData || []);
            for (const f of id3Frames(data)) {
              window.__metadata.push({
                start_s: ev.calculatedPresentationTime,
                key: f.key,
                data: f.data,
                heard_s: window.lofiever.audio.currentTime,
              });
            }
          }, null, { mode: 'eventModeOnStart' });
          return;
        }
        if (typeof p.addEventListener !== 'function') return;
        p.addEventListener('metadata', (e) => {
          const f = e.payload || {};
          window.__metadata.push({
            start_s: e.startTime,
            key: f.key || null,
            data: typeof f.data === 'string' ? f.data : null,
            heard_s: window.lofiever.audio.currentTime,
          });
        });
      });
    }
    await page.click('#play');

    // Media played = the sum of forward steps of currentTime between polls, each at
    // most what the wall clock allows at the fastest catch-up rate (plus a little);
    // jumps (the start-up seek to the live point, catch-up seeks) do not count.
    // (audio.played is no help: Chromium counts the start-up seek from 0 as played.)
    let advanced = 0;
    let prev = null;
    const animations = new Set();
    let held = null;
    let holding = null;
    const hide = opts.hideAt === null ? null : { at: null, shownAt: null };
    while (Date.now() < deadline) {
      if (opts.holdAudioAt !== null && !held && advanced >= opts.holdAudioAt) {
        held = { at_media_s: advanced, ms: opts.holdAudioMs, at: Date.now() };
        holding = browser.holdAudioOutput(opts.holdAudioMs);
      }
      if (hide && hide.at === null && advanced >= opts.hideAt) {
        hide.at = await page.evaluate(() => window.__setHidden(true));
        hide.atWall = Date.now();
      } else if (hide && hide.at !== null && hide.shownAt === null && Date.now() - hide.atWall >= opts.hideFor * 1000) {
        hide.shownAt = await page.evaluate(() => window.__setHidden(false));
      }
      const probe = await page.evaluate(() => {
        const a = window.lofiever && window.lofiever.audio;
        if (!a) return null;
        const playing = !a.paused && a.readyState >= 3 && a.currentTime > 0;
        return {
          t: a.currentTime,
          seeking: a.seeking,
          wall: performance.now(),
          error: a.error ? `media error ${a.error.code}: ${a.error.message}` : null,
          // CSS animations and transitions running while the music plays: each one
          // repaints at the display's rate, for hours if it never ends.
          animations: playing && typeof document.getAnimations === 'function'
            ? document.getAnimations().filter((x) => x.playState === 'running')
              .map((x) => x.animationName || x.transitionProperty || 'animation')
            : [],
        };
      });
      if (probe && probe.error) break; // the page's own error list has it
      // From the second second of media on (a press of the button starts its own
      // short transitions).
      if (probe && advanced >= 1) for (const name of probe.animations) animations.add(name);
      if (probe && prev && !probe.seeking && !prev.seeking) {
        const step = probe.t - prev.t;
        const allowed = ((probe.wall - prev.wall) / 1000) * 1.1 + 0.05;
        if (step > 0 && step <= allowed) advanced += step;
      }
      if (probe) prev = probe;
      if (advanced >= opts.seconds) break;
      await sleep(250);
    }
    if (holding) await holding;
    if (hide && hide.shownAt === null && hide.at !== null) hide.shownAt = await page.evaluate(() => window.__setHidden(false));
    if (advanced < opts.seconds) {
      errors.push(`audio advanced only ${advanced.toFixed(2)} s of the ${opts.seconds} s wanted within ${opts.timeout} s`);
    }
    if (opts.loseSettleEvents) await page.evaluate(() => { window.__loseSettleEvents = true; });
    const keys = opts.mediaKeys && advanced >= opts.seconds ? await pressMediaKeys(page) : null;
    const report = await done(advanced);
    report.animations_while_playing = [...animations];
    if (held) report.audio_held = held;
    if (hide) report.hidden = await visibilityReport(page, hide);
    if (keys) report.media_keys = keys;
    return report;
  } finally {
    await browser.close();
  }
}

/**
 * Presses the lock screen's buttons the way the system would, by calling the
 * Media Session action handlers the page registered: pause (the audio must
 * stop), then play after 4 s (the page must rejoin the live moment, not go on
 * 4 s late), then stop. Reports the registered actions, whether each press
 * did what it should and the latency after rejoining.
 */
async function pressMediaKeys(page) {
  const press = (action) => page.evaluate((a) => {
    const fn = window.__mediaActions && window.__mediaActions[a];
    if (typeof fn !== 'function') return false;
    fn({ action: a });
    return true;
  }, action);
  const state = () => page.evaluate(() => {
    const l = window.lofiever;
    return {
      paused: l.audio.paused,
      latency_ms: Math.round(Date.now() - l.programmeTimeMs()),
      playback_state: navigator.mediaSession.playbackState,
    };
  });
  const actions = await page.evaluate(() =>
    Object.entries(window.__mediaActions || {}).filter(([, fn]) => typeof fn === 'function').map(([a]) => a).sort());
  const out = { actions };
  out.pause_pressed = await press('pause');
  await sleep(4000);
  out.after_pause = await state();
  out.play_pressed = await press('play');
  // The page seeks to the live moment and holds the target latency: give it
  // the same few seconds a listener pressing play would wait.
  await sleep(5000);
  out.after_play = await state();
  out.stop_pressed = await press('stop');
  await sleep(1000);
  out.after_stop = await state();
  return out;
}

function isScheduleUrl(url, origin) {
  try {
    const u = new URL(url);
    return u.origin === origin && /\/schedule\/\d{4}-\d\d-\d\d\.json$/.test(u.pathname);
  } catch (e) {
    return false;
  }
}

/**
 * The errors that are not the browser's own words about a request it was told to
 * block (Firefox, for one, reports a blocked fetch as an error of the page); those
 * move to `ignored`.
 */
function unrelatedTo(blocked, errors, ignored) {
  return errors.filter((e) => {
    const about = blocked.some((url) => e.includes(url) || e.includes(new URL(url).host));
    if (about) ignored.push(`about a blocked request: ${e}`);
    return !about;
  });
}

async function statusText(page) {
  try {
    return (await page.textContent('#status')) || '(no status shown)';
  } catch (e) {
    return '(no status element)';
  }
}

async function finish(browser, page, opts, errors, ignored, advanced) {
  const snap = await page.evaluate(() => {
    const l = window.lofiever;
    if (!l) return null;
    const a = l.audio;
    return {
      nowPlaying: l.nowPlaying(),
      programmeTimeMs: l.programmeTimeMs(),
      wallClockMs: Date.now(),
      pageErrors: (l.errors || []).map((e) => `${e.source}${e.code != null ? ' ' + e.code : ''}: ${e.message}`),
      engine: l.engine || null,
      libSource: l.libSource || null,
      libVersion: l.libVersion || null,
      playbackRate: a ? a.playbackRate : null,
      status: (document.getElementById('status') || {}).textContent || '',
      sync: (document.getElementById('sync') || {}).textContent || '',
      metadata: window.__metadata || null,
      mediaSession: window.__mediaSession || null,
      events: (l.events || []).slice(-20),
      channelsShown: (() => {
        // What the listener sees, not the attribute: a style can override `hidden`.
        const nav = document.getElementById('channels');
        return !!nav && getComputedStyle(nav).display !== 'none' && nav.getClientRects().length > 0;
      })(),
      channels: (() => {
        const nav = document.getElementById('channels');
        const select = document.getElementById('channel-select');
        if (!nav || nav.hidden || !select) return [];
        return Array.from(select.options, (o) => ({ title: o.textContent, page: o.value, selected: o.selected }));
      })(),
    };
  }).catch((e) => ({ evalError: e.message }));

  if (!snap) errors.push('window.lofiever is not defined by the page');
  else if (snap.evalError) errors.push(`could not read the page state: ${snap.evalError}`);
  else for (const e of snap.pageErrors) errors.push(e);

  if (opts.screenshot) {
    try {
      await page.screenshot(opts.screenshot);
    } catch (e) {
      errors.push(`screenshot failed: ${e.message}`);
    }
  }

  const ok = errors.length === 0 && advanced >= opts.seconds;
  const s = snap && !snap.evalError ? snap : {};
  const latency = Number.isFinite(s.programmeTimeMs) ? s.wallClockMs - s.programmeTimeMs : null;
  return {
    ok,
    browser: opts.browser,
    browser_version: browser.version,
    advanced_s: Math.round(advanced * 1000) / 1000,
    now_playing: s.nowPlaying || null,
    errors: [...errors],
    programme_time_ms: Number.isFinite(s.programmeTimeMs) ? Math.round(s.programmeTimeMs) : null,
    wall_clock_ms: s.wallClockMs || null,
    latency_ms: latency === null ? null : Math.round(latency),
    playback_rate: s.playbackRate ?? null,
    player: { engine: s.engine || null, source: s.libSource || null, version: s.libVersion || null },
    page_status: s.status || '',
    page_sync: s.sync || '',
    metadata: s.metadata || null,
    media_session: s.mediaSession || null,
    page_events: s.events || [],
    channels: s.channels || [],
    channels_shown: s.channelsShown === true,
    ignored: [...ignored],
  };
}

/**
 * What the page painted around --hide-at/--hide-for: the elements changed while
 * hidden, how soon after being shown again it painted, and how often it
 * changed each element per second while shown before the hide (from its first
 * paint of the elapsed time on; none when that was under 2 s).
 */
async function visibilityReport(page, hide) {
  const paints = await page.evaluate(() => window.__paints);
  if (hide.at === null) return { error: 'the page was never hidden: the audio did not reach --hide-at' };
  const during = paints.filter((p) => p.at > hide.at && p.at < hide.shownAt);
  const after = paints.find((p) => p.at >= hide.shownAt);
  // Shown: from the first paint of the elapsed time to the hide.
  const first = paints.find((p) => p.id === 'elapsed');
  const shownS = first ? (hide.at - first.at) / 1000 : 0;
  const perS = {};
  if (shownS >= 2) {
    for (const p of paints) {
      if (p.at >= first.at && p.at < hide.at) perS[p.id] = (perS[p.id] || 0) + 1;
    }
    for (const k of Object.keys(perS)) perS[k] = Math.round((perS[k] / shownS) * 100) / 100;
  }
  return {
    hidden_ms: Math.round(hide.shownAt - hide.at),
    changed_while_hidden: [...new Set(during.map((p) => p.id))],
    painted_after_shown_ms: after ? Math.round(after.at - hide.shownAt) : null,
    shown_s: Math.round(shownS * 10) / 10,
    changes_per_s_shown: perS,
  };
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${e.message}\n`);
    process.exit(2);
  }
  // A browser or driver that stops answering (a WebDriver call that never
  // returns) must end the run with a report, not hang whoever waits for it:
  // the load and the play each have --timeout, and a minute is left for
  // starting and closing the browser. Exiting stops what the run started.
  const limitS = 2 * opts.timeout + 60;
  // The report of a run that ended without one of its own.
  const failed = (error) => ({ ok: false, browser: opts.browser, advanced_s: 0, now_playing: null, errors: [`play.mjs: ${error}`], programme_time_ms: null });
  const watchdog = setTimeout(() => {
    const result = failed(`no result within ${limitS} s: the ${opts.browser} browser or its driver stopped answering`);
    process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(1));
  }, limitS * 1000);
  let result;
  try {
    result = await run(opts);
  } catch (e) {
    result = failed(e.message);
  }
  clearTimeout(watchdog);
  // The same error over and over (a player retrying a URL) is said once, with
  // its count; and the exit waits for the line to reach the pipe (a pipe
  // takes 64 KiB before a write must wait, and exit() does not wait).
  if (Array.isArray(result.errors)) {
    const counts = new Map();
    for (const e of result.errors) counts.set(e, (counts.get(e) || 0) + 1);
    result.errors = [...counts].map(([e, n]) => (n > 1 ? `${e} (${n} times)` : e));
  }
  process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(result.ok ? 0 : 1));
}

main();
