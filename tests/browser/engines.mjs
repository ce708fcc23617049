// One interface to open the lofiever page in three browser engines, each from
// Debian and each driven by its own protocol; the scripts (play.mjs,
// listeners.mjs) see no difference but what an engine cannot do:
//
//   const b = await launch('firefox');              // chromium | firefox | webkit
//   const p = await b.newPage({ width: 390, height: 844, mobile: true, allowOrigin });
//   p.onConsole(({ type, text }) => …);  p.onPageError((message) => …);
//   p.onRequest((r) => …);  p.onResponse(({ url, status }) => …);
//   p.onRequestDone((r, { error, aborted, blocked }) => …);
//   await p.addInitScript(fn, arg);                  // before goto
//   await p.goto(url);  await p.waitFor('#play:not([disabled])');
//   await p.evaluate(fn, arg);  await p.click('#play');  await p.screenshot('x.png');
//   await b.close();
//
// chromium  Debian's Chromium through playwright-core (CDP), headless, with the
//           launch flags the tests have always used. Every feature.
// firefox   Debian's Firefox ESR through puppeteer-core over WebDriver BiDi,
//           headless, audio into a private PulseAudio daemon with a null sink
//           (without an audio device, Firefox fails to play: dash.js reports
//           OnMediaSinkAudioError). Autoplay allowed by prefs. Other origins are
//           blocked by request interception. No response rewriting.
// webkit    WebKitGTK's MiniBrowser driven by WebKitWebDriver (W3C WebDriver,
//           classic: no events), on a private Xvfb display, audio into the same
//           kind of PulseAudio null sink. W3C WebDriver cannot watch or change
//           the network, so every page's traffic goes through a small HTTP proxy
//           of this module (the `proxy` capability): it reports requests and
//           answers, blocks other origins, rewrites headers, and puts a script at
//           the top of each HTML document it passes, which gives init scripts and
//           the console and uncaught errors of the page (drained at each
//           evaluate/click/waitFor, so a message shows up at the next call).
//           Media may play without a gesture (MiniBrowser --autoplay-policy=allow).
//           No touch or device pixel ratio emulation: `mobile` only sizes the
//           viewport, and no narrower than MiniBrowser's toolbar (447 px with
//           WebKitGTK 2.50). Each page is its own WebKitWebDriver and session
//           (a fresh profile).
//
// Everything started here (browsers, drivers, Xvfb, PulseAudio, proxies,
// temporary folders) is stopped by close(), and also when the process exits or
// is interrupted, so a failed run leaves nothing behind.

import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const BROWSERS = ['chromium', 'firefox', 'webkit'];

/** Debian's multiarch folder for this machine (MiniBrowser lives under it). */
const MULTIARCH = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' }[process.arch] || 'x86_64-linux-gnu';

/** Standard Debian install paths. */
export const DEFAULT_PATHS = {
  chromium: '/usr/bin/chromium',
  firefox: '/usr/bin/firefox-esr',
  webkit: `/usr/lib/${MULTIARCH}/webkit2gtk-4.1/MiniBrowser`,
  webkitDriver: '/usr/bin/WebKitWebDriver',
};

/** Chromium's flags, as the tests have always launched it. */
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required',
  '--disable-background-timer-throttling', '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows'];

/** Firefox prefs: media may play without a gesture, background pages are not held back. */
const FIREFOX_PREFS = {
  'media.autoplay.default': 0,
  'media.autoplay.blocking_policy': 0,
  'media.block-autoplay-until-in-foreground': false,
  'dom.min_background_timeout_value': 4,
  'dom.min_background_timeout_value_without_budget_throttling': 4,
  'dom.timeout.enable_budget_timer_throttling': false,
  // Firefox asks PulseAudio for a long output buffer by default; with the null sink
  // its media clock then advances in steps of about a second, which no sync
  // measurement (nor the page) can see through. A short buffer, as on a desktop.
  'media.cubeb_latency_playback_ms': 40,
};

/**
 * What each engine's pages can do beyond the common interface: init scripts
 * (before the page's own scripts) and rewriting the headers of responses.
 */
export const SUPPORTS = {
  chromium: { initScripts: true, rewriteResponses: true, mobileEmulation: true, holdAudioOutput: false },
  firefox: { initScripts: true, rewriteResponses: false, mobileEmulation: true, holdAudioOutput: true },
  webkit: { initScripts: true, rewriteResponses: true, mobileEmulation: false, holdAudioOutput: true },
};

/** What an engine cannot do: the message says which engine and what. */
export class Unsupported extends Error {}

// ---- cleanup on exit -------------------------------------------------------------

/** Synchronous last-resort cleanups (kill a process group, remove a folder). */
const onExit = new Set();
let exitHooked = false;
function atExit(fn) {
  if (!exitHooked) {
    exitHooked = true;
    const runAll = () => {
      for (const f of [...onExit].reverse()) {
        try { f(); } catch (e) { /* best effort */ }
      }
      onExit.clear();
    };
    process.on('exit', runAll);
    for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]]) {
      process.once(sig, () => { runAll(); process.exit(code); });
    }
  }
  onExit.add(fn);
  return () => onExit.delete(fn);
}

/**
 * Starts a process in its own process group (so that whatever it starts goes with
 * it); `stop()` ends the group (SIGTERM, then SIGKILL after `graceMs`).
 */
function start(cmd, args, { env, stdio = ['ignore', 'ignore', 'pipe'], graceMs = 3000 } = {}) {
  const child = spawn(cmd, args, { env, stdio, detached: true });
  let exited = child.exitCode !== null;
  const exitedP = new Promise((resolve) => child.once('exit', () => { exited = true; resolve(); }));
  child.once('error', () => { exited = true; });
  const tail = [];
  if (child.stderr) {
    child.stderr.on('data', (d) => {
      tail.push(String(d));
      if (tail.length > 40) tail.shift();
    });
  }
  const kill = (sig) => {
    try { process.kill(-child.pid, sig); } catch (e) { /* gone */ }
  };
  const forget = atExit(() => kill('SIGKILL'));
  return {
    child,
    exitedP,
    output: () => tail.join('').trim().split('\n').slice(-8).join('\n'),
    async stop() {
      forget();
      if (child.pid === undefined) return;
      kill('SIGTERM');
      const timer = setTimeout(() => kill('SIGKILL'), graceMs);
      await exitedP;
      clearTimeout(timer);
      kill('SIGKILL'); // anything left in its group
    },
    get exited() { return exited; },
  };
}

function tempDir(prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const forget = atExit(() => fs.rmSync(dir, { recursive: true, force: true }));
  return { dir, remove() { forget(); fs.rmSync(dir, { recursive: true, force: true }); } };
}

/** A TCP port free on 127.0.0.1 just now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, timeoutMs, check) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** A stack of async cleanups, run in reverse, each once, errors collected. */
class Resources {
  constructor() { this.stack = []; }
  add(fn) { this.stack.push(fn); }
  /**
   * Releases in reverse order. A step that does not finish within 15 s (a
   * WebDriver `quit` to a browser that stopped answering) is given up on, so
   * that the steps after it (ending the driver's process group) still run.
   */
  async release() {
    const errors = [];
    while (this.stack.length) {
      const step = this.stack.pop();
      try { await within(15000, Promise.resolve().then(step)); } catch (e) { errors.push(e); }
    }
    return errors;
  }
}

/** `promise`, or a rejection once it has taken over `ms`. */
function within(ms, promise) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`gave up after ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

// ---- PulseAudio and Xvfb ---------------------------------------------------------

/**
 * A private PulseAudio daemon whose only sink is a null sink: the browser has an
 * audio device that consumes samples in real time, and nothing is heard. Returns
 * the environment that sends a browser's audio there ({ PULSE_SERVER }); `res`
 * stops the daemon.
 *
 * A null sink with no client idles in blocks of 2 s (`pactl list sinks`:
 * "configured 2000000 usec"), and a stream that joins waits for the block in hand
 * to end: up to 2 s of silence while the element says it plays. Firefox opens a
 * new stream after every seek, WebKitGTK's GStreamer after every seek and start,
 * so each of their seeks lost a random 0-2 s here, which a sound card, running
 * all the time in periods of a few ms, never does. A silent client holding a
 * short latency keeps the sink running in short periods, as a sound card does.
 */
async function startPulse(res) {
  const tmp = tempDir('lofiever-pulse-');
  res.add(() => tmp.remove());
  const socket = path.join(tmp.dir, 'native');
  const env = { ...process.env, HOME: tmp.dir, XDG_RUNTIME_DIR: tmp.dir, PULSE_RUNTIME_PATH: tmp.dir, XDG_CONFIG_HOME: tmp.dir };
  delete env.PULSE_SERVER;
  const p = start('pulseaudio', ['--daemonize=no', '-n', '--use-pid-file=no', '--exit-idle-time=-1', '--disallow-exit',
    '--log-target=stderr', '--load=module-null-sink',
    `--load=module-native-protocol-unix socket=${socket} auth-anonymous=1`], { env });
  res.add(() => p.stop());
  await until('PulseAudio to listen', 10000, () => {
    if (p.exited) throw new Error(`pulseaudio exited: ${p.output()}`);
    return fs.existsSync(socket);
  });
  const server = `unix:${socket}`;
  const keeper = start('pacat', ['--playback', '--raw', `--latency-msec=${SINK_PERIOD_MS}`, '/dev/zero'],
    { env: { ...env, PULSE_SERVER: server } });
  res.add(() => keeper.stop());
  await until('the silent client to hold the sink', 10000, () => {
    if (keeper.exited) throw new Error(`pacat exited: ${keeper.output()}`);
    return sinkRunning(env, server);
  });
  return {
    env: { PULSE_SERVER: server },
    /** Stops the audio server for `ms` (SIGSTOP, then SIGCONT): the output stands still. */
    async hold(ms) {
      process.kill(p.child.pid, 'SIGSTOP');
      try {
        await new Promise((r) => setTimeout(r, ms));
      } finally {
        process.kill(p.child.pid, 'SIGCONT');
      }
    },
  };
}

/** The null sink's period while the silent client holds it (ms), as a sound card's. */
const SINK_PERIOD_MS = 10;

/** Whether the daemon's sink is RUNNING (a client is playing into it). */
function sinkRunning(env, server) {
  try {
    const out = execFileSync('pactl', ['list', 'short', 'sinks'], { env: { ...env, PULSE_SERVER: server }, encoding: 'utf8' });
    return /\tRUNNING\s*$/m.test(out);
  } catch (e) {
    return false;
  }
}

/** Xvfb on a display it picks itself (-displayfd); returns ':N'. */
async function startXvfb(res) {
  const p = start('Xvfb', ['-displayfd', '3', '-screen', '0', '1920x1200x24', '-nolisten', 'tcp'],
    { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
  res.add(() => p.stop());
  const display = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`Xvfb did not start: ${p.output()}`)), 10000);
    p.child.stdio[3].on('data', (d) => {
      out += d;
      const m = /^(\d+)\n/.exec(out);
      if (m) { clearTimeout(timer); resolve(`:${m[1]}`); }
    });
    p.child.once('exit', () => { clearTimeout(timer); reject(new Error(`Xvfb exited: ${p.output()}`)); });
  });
  return display;
}

// ---- the interface ---------------------------------------------------------------

/**
 * Launches `name` (one of BROWSERS). opts: { executablePath, driverPath, log }.
 */
export async function launch(name, opts = {}) {
  const make = { chromium: ChromiumBrowser, firefox: FirefoxBrowser, webkit: WebKitBrowser }[name];
  if (!make) throw new Unsupported(`unknown browser ${name} (one of ${BROWSERS.join(', ')})`);
  const b = new make(opts);
  try {
    await b.start();
  } catch (e) {
    await b.close();
    throw e;
  }
  return b;
}

class Browser {
  constructor(opts) {
    this.opts = opts;
    this.res = new Resources();
    this.pages = [];
    this.version = null;
    /** The rig's audio server, where this engine plays through it (startPulse). */
    this.pulse = null;
  }

  /** { width, height, mobile, allowOrigin, userAgent (Chromium only) }: a page in a fresh profile. */
  async newPage(o = {}) {
    const page = await this.openPage({ width: 1280, height: 800, mobile: false, allowOrigin: null, ...o });
    this.pages.push(page);
    return page;
  }

  /**
   * The audio output stands still for `ms` while the pages think they play (an
   * audio server that hangs, a Bluetooth device that drops out): Firefox and
   * WebKitGTK play through the rig's PulseAudio, which is stopped that long.
   */
  async holdAudioOutput(ms) {
    if (!this.pulse) throw new Unsupported(`${this.name}: its audio output cannot be held here (it does not play through the rig's audio server)`);
    await this.pulse.hold(ms);
  }

  async close() {
    const pages = this.pages.splice(0);
    await Promise.all(pages.map((p) => p.close().catch(() => {})));
    await this.res.release();
  }
}

/** What every page offers; the engines fill in the protocol calls. */
class Page {
  constructor(browser) {
    this.browser = browser;
    this.handlers = { console: [], pageerror: [], request: [], response: [], requestdone: [] };
    this.closed = false;
  }

  get name() { return this.browser.name; }
  onConsole(cb) { this.handlers.console.push(cb); }
  onPageError(cb) { this.handlers.pageerror.push(cb); }
  onRequest(cb) { this.handlers.request.push(cb); }
  onResponse(cb) { this.handlers.response.push(cb); }
  onRequestDone(cb) { this.handlers.requestdone.push(cb); }
  emit(kind, ...args) {
    for (const cb of this.handlers[kind]) {
      try { cb(...args); } catch (e) { process.stderr.write(`engines: ${kind} handler: ${e.message}\n`); }
    }
  }

  /** Waits until `selector` matches an element (attached), polling. */
  async waitFor(selector, timeoutMs = 30000) {
    await until(`${selector} on the page`, timeoutMs, () => this.evaluate((s) => !!document.querySelector(s), selector));
  }

  isEnabled(selector) {
    return this.evaluate((s) => { const e = document.querySelector(s); return !!e && !e.disabled; }, selector);
  }

  textContent(selector) {
    return this.evaluate((s) => { const e = document.querySelector(s); return e ? e.textContent : null; }, selector);
  }

  /** `fn(headers) -> headers` for every answer from `origin` (a cache, say). */
  async rewriteResponses() { throw new Unsupported(`${this.name}: rewriting responses is not supported`); }
}

function isOtherOrigin(url, origin) {
  try {
    const u = new URL(url);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.origin !== origin;
  } catch (e) {
    return false;
  }
}

// ---- Chromium (playwright-core) --------------------------------------------------

class ChromiumBrowser extends Browser {
  get name() { return 'chromium'; }

  async start() {
    const { chromium } = await import('playwright-core');
    this.browser = await chromium.launch({
      executablePath: this.opts.executablePath || DEFAULT_PATHS.chromium,
      headless: true,
      args: CHROMIUM_ARGS,
    });
    this.res.add(() => this.browser.close());
    this.version = `chromium/${this.browser.version()}`;
  }

  async openPage(o) {
    const context = await this.browser.newContext({
      ...(o.mobile
        ? { viewport: { width: o.width, height: o.height }, deviceScaleFactor: 2, isMobile: true, hasTouch: true }
        : { viewport: { width: o.width, height: o.height }, deviceScaleFactor: 1 }),
      ...(o.userAgent ? { userAgent: o.userAgent } : {}),
    });
    const page = new ChromiumPage(this, context, await context.newPage());
    if (o.allowOrigin) await page.block(o.allowOrigin);
    return page;
  }
}

class ChromiumPage extends Page {
  constructor(browser, context, page) {
    super(browser);
    this.context = context;
    this.page = page;
    this.blocked = new Set();
    const reqs = new Map();
    const info = (r) => {
      if (!reqs.has(r)) reqs.set(r, { url: r.url(), method: r.method() });
      return reqs.get(r);
    };
    page.on('console', (m) => this.emit('console', { type: m.type(), text: m.text() }));
    page.on('pageerror', (e) => this.emit('pageerror', e.message));
    page.on('request', (r) => this.emit('request', info(r)));
    page.on('response', (r) => this.emit('response', { url: r.url(), status: r.status() }));
    page.on('requestfinished', (r) => {
      this.emit('requestdone', info(r), { error: null, aborted: false, blocked: false });
      reqs.delete(r);
    });
    page.on('requestfailed', (r) => {
      const error = (r.failure() && r.failure().errorText) || 'failed';
      this.emit('requestdone', info(r), { error, aborted: error === 'net::ERR_ABORTED', blocked: this.blocked.has(r.url()) });
      reqs.delete(r);
    });
  }

  async block(origin) {
    await this.page.route((u) => isOtherOrigin(u.href, origin), (route) => {
      this.blocked.add(route.request().url());
      return route.abort('blockedbyclient');
    });
  }

  addInitScript(fn, arg) { return this.context.addInitScript(fn, arg); }

  async rewriteResponses(origin, fn) {
    await this.page.route((u) => u.origin === origin, async (route) => {
      const res = await route.fetch();
      await route.fulfill({ response: res, headers: fn({ ...res.headers() }) });
    });
  }

  goto(url, { timeout = 60000, waitUntil = 'load' } = {}) { return this.page.goto(url, { timeout, waitUntil }); }
  evaluate(fn, arg) { return this.page.evaluate(fn, arg); }
  click(selector) { return this.page.click(selector); }
  screenshot(file) { return this.page.screenshot({ path: file }); }
  async close() {
    if (this.closed) return;
    this.closed = true;
    await this.context.close();
  }
}

// ---- Firefox (puppeteer-core, WebDriver BiDi) ------------------------------------

class FirefoxBrowser extends Browser {
  get name() { return 'firefox'; }

  async start() {
    this.pulse = await startPulse(this.res);
    // The profile is ours, not puppeteer's, so that it goes even when this process
    // is interrupted (puppeteer removes its own only on a clean close).
    const profile = tempDir('lofiever-firefox-');
    this.res.add(() => profile.remove());
    const { default: puppeteer } = await import('puppeteer-core');
    this.browser = await puppeteer.launch({
      browser: 'firefox',
      executablePath: this.opts.executablePath || DEFAULT_PATHS.firefox,
      userDataDir: profile.dir,
      headless: true,
      env: { ...process.env, ...this.pulse.env },
      extraPrefsFirefox: FIREFOX_PREFS,
    });
    this.res.add(() => this.browser.close());
    // puppeteer stops Firefox at exit too; this covers a kill of this process.
    const pid = this.browser.process() && this.browser.process().pid;
    if (pid) this.res.add(atExit(() => { try { process.kill(pid, 'SIGKILL'); } catch (e) { /* gone */ } }));
    this.version = await this.browser.version();
  }

  async openPage(o) {
    const context = await this.browser.createBrowserContext();
    const page = new FirefoxPage(this, context, await context.newPage());
    try {
      await page.page.setViewport({ width: o.width, height: o.height, deviceScaleFactor: o.mobile ? 2 : 1, isMobile: o.mobile, hasTouch: o.mobile });
    } catch (e) {
      // Touch emulation is Chromium's; the size and the pixel ratio are what matter.
      await page.page.setViewport({ width: o.width, height: o.height, deviceScaleFactor: o.mobile ? 2 : 1 });
    }
    if (o.allowOrigin) await page.block(o.allowOrigin);
    return page;
  }
}

class FirefoxPage extends Page {
  constructor(browser, context, page) {
    super(browser);
    this.context = context;
    this.page = page;
    const reqs = new Map();
    const info = (r) => {
      if (!reqs.has(r)) reqs.set(r, { url: r.url(), method: r.method() });
      return reqs.get(r);
    };
    page.on('console', (m) => this.emit('console', { type: m.type() === 'warn' ? 'warning' : m.type(), text: m.text() }));
    page.on('pageerror', (e) => this.emit('pageerror', e && e.message ? e.message : String(e)));
    page.on('request', (r) => this.emit('request', info(r)));
    page.on('response', (r) => this.emit('response', { url: r.url(), status: r.status() }));
    page.on('requestfinished', (r) => {
      this.emit('requestdone', info(r), { error: null, aborted: false, blocked: false });
      reqs.delete(r);
    });
    page.on('requestfailed', (r) => {
      const error = (r.failure() && r.failure().errorText) || 'failed';
      const blocked = !!(this.blockedUrls && this.blockedUrls.has(r.url()));
      this.emit('requestdone', info(r), { error, aborted: !blocked && /ABORT/i.test(error), blocked });
      reqs.delete(r);
    });
  }

  async block(origin) {
    this.blockedUrls = new Set();
    await this.page.setRequestInterception(true);
    this.page.on('request', (r) => {
      if (r.isInterceptResolutionHandled()) return;
      if (isOtherOrigin(r.url(), origin)) {
        this.blockedUrls.add(r.url());
        r.abort('blockedbyclient').catch(() => {});
      } else {
        r.continue().catch(() => {});
      }
    });
  }

  addInitScript(fn, arg) { return this.page.evaluateOnNewDocument(fn, arg); }
  goto(url, { timeout = 60000, waitUntil = 'load' } = {}) { return this.page.goto(url, { timeout, waitUntil }); }
  evaluate(fn, arg) { return this.page.evaluate(fn, arg); }
  click(selector) { return this.page.click(selector); }
  screenshot(file) { return this.page.screenshot({ path: file }); }
  async close() {
    if (this.closed) return;
    this.closed = true;
    await this.context.close();
  }
}

// ---- WebKitGTK (WebKitWebDriver, W3C WebDriver) ----------------------------------

class WebKitBrowser extends Browser {
  get name() { return 'webkit'; }

  async start() {
    this.display = await startXvfb(this.res);
    this.pulse = await startPulse(this.res);
    const binary = this.opts.executablePath || DEFAULT_PATHS.webkit;
    const out = execFileSync(binary, ['--version'], { env: { ...process.env, DISPLAY: this.display }, timeout: 10000 });
    this.version = String(out).trim().replace(/^WebKitGTK /, 'webkitgtk/');
  }

  async openPage(o) {
    const res = new Resources();
    try {
      // One driver per page: its own session, browser process and profile.
      const port = await freePort();
      // WebKitGTK plays HLS by itself (as Safari does) only when asked to: its
      // GStreamer backend leaves hlsdemux out unless WEBKIT_GST_ENABLE_HLS_SUPPORT=1.
      const driverProc = start(this.opts.driverPath || DEFAULT_PATHS.webkitDriver, [`--port=${port}`], {
        env: { ...process.env, ...this.pulse.env, DISPLAY: this.display, WEBKIT_GST_ENABLE_HLS_SUPPORT: '1' },
      });
      res.add(() => driverProc.stop());
      await until('WebKitWebDriver to listen', 10000, async () => {
        if (driverProc.exited) throw new Error(`WebKitWebDriver exited: ${driverProc.output()}`);
        return canConnect(port);
      });
      const page = new WebKitPage(this, res, o);
      const proxy = await startProxy(page);
      res.add(() => proxy.close());
      const { Builder } = await import('selenium-webdriver');
      const driver = await new Builder()
        .usingServer(`http://127.0.0.1:${port}`)
        .withCapabilities({
          browserName: 'MiniBrowser',
          pageLoadStrategy: 'normal',
          proxy: { proxyType: 'manual', httpProxy: `127.0.0.1:${proxy.port}`, sslProxy: `127.0.0.1:${proxy.port}`, noProxy: [] },
          'webkitgtk:browserOptions': {
            binary: this.opts.executablePath || DEFAULT_PATHS.webkit,
            args: ['--automation', '--autoplay-policy=allow'],
          },
        })
        .build();
      res.add(() => driver.quit());
      page.driver = driver;
      await driver.manage().setTimeouts({ script: 60000, pageLoad: 60000 });
      await page.resize(o.width, o.height);
      return page;
    } catch (e) {
      await res.release();
      throw e;
    }
  }
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/**
 * Put at the top of every HTML document the proxy passes to a WebKit page: keeps
 * the console messages and uncaught errors for the harness to drain.
 */
const PAGE_HOOK = () => {
  const log = [];
  Object.defineProperty(window, '__enginesDrain', { value: () => log.splice(0) });
  const text = (args) => args.map((a) => {
    if (a instanceof Error) return a.message;
    if (typeof a === 'object') { try { return JSON.stringify(a); } catch (e) { return String(a); } }
    return String(a);
  }).join(' ');
  for (const [method, type] of [['log', 'log'], ['info', 'info'], ['warn', 'warning'], ['error', 'error'], ['debug', 'debug']]) {
    const orig = console[method].bind(console);
    console[method] = (...args) => { log.push({ kind: 'console', type, text: text(args) }); orig(...args); };
  }
  window.addEventListener('error', (e) => log.push({ kind: 'pageerror', text: e.message || String(e.error) }));
  window.addEventListener('unhandledrejection', (e) => log.push({ kind: 'pageerror', text: `unhandled rejection: ${e.reason && e.reason.message ? e.reason.message : String(e.reason)}` }));
};

class WebKitPage extends Page {
  constructor(browser, res, o) {
    super(browser);
    this.res = res;
    this.allowOrigin = o.allowOrigin;
    this.initScripts = [`(${PAGE_HOOK})();`];
    this.rewrite = null;
  }

  /** Sets the viewport (not the window) to width x height. */
  async resize(width, height) {
    const win = this.driver.manage().window();
    await win.setRect({ x: 0, y: 0, width, height });
    const inner = await this.driver.executeScript('return [window.innerWidth, window.innerHeight];');
    if (inner[0] !== width || inner[1] !== height) {
      await win.setRect({ width: width + (width - inner[0]), height: height + (height - inner[1]) });
    }
  }

  // Init scripts reach documents through the proxy, in the order added.
  async addInitScript(fn, arg) {
    this.initScripts.push(`(${fn})(${JSON.stringify(arg === undefined ? null : arg)});`);
  }

  async rewriteResponses(origin, fn) { this.rewrite = { origin, fn }; }

  async goto(url, { timeout = 60000 } = {}) {
    await this.driver.manage().setTimeouts({ pageLoad: timeout });
    await this.driver.get(url);
    await this.drain();
  }

  /** Runs fn(arg) in the page (awaiting a promise), then hands on the page's log. */
  async evaluate(fn, arg) {
    const script = `const done = arguments[arguments.length - 1]; const arg = arguments[0];
      const drain = () => (window.__enginesDrain ? window.__enginesDrain() : []);
      Promise.resolve().then(() => (${fn})(arg)).then(
        (value) => done({ ok: true, value: value === undefined ? null : value, log: drain() }),
        (e) => done({ ok: false, error: String(e && e.message ? e.message : e), log: drain() }));`;
    const r = await this.driver.executeAsyncScript(script, arg === undefined ? null : arg);
    this.deliver(r.log);
    if (!r.ok) throw new Error(`evaluate: ${r.error}`);
    return r.value;
  }

  async drain() {
    this.deliver(await this.driver.executeScript('return window.__enginesDrain ? window.__enginesDrain() : [];'));
  }

  deliver(log) {
    for (const m of log || []) {
      if (m.kind === 'pageerror') this.emit('pageerror', m.text);
      else this.emit('console', { type: m.type, text: m.text });
    }
  }

  async click(selector) {
    const { By } = await import('selenium-webdriver');
    await this.driver.findElement(By.css(selector)).click();
    await this.drain();
  }

  async screenshot(file) {
    fs.writeFileSync(file, Buffer.from(await this.driver.takeScreenshot(), 'base64'));
  }

  async close() {
    if (this.closed) return;
    this.closed = true;
    // The last console lines, unless the browser no longer answers.
    if (this.driver) await within(5000, this.drain()).catch(() => {});
    const errors = await this.res.release();
    if (errors.length) throw errors[0];
  }
}

// ---- the WebKit pages' proxy -----------------------------------------------------

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade'];

/**
 * An HTTP proxy on a free port of 127.0.0.1 for one WebKit page: forwards its
 * requests, reporting each (request, response, done) as the other engines do;
 * refuses other origins when the page has allowOrigin; rewrites headers; puts the
 * page's init scripts at the top of HTML documents. HTTPS is tunnelled (to allowed
 * hosts), so neither seen nor changed. Returns { port, close }.
 */
async function startProxy(page) {
  const agent = new http.Agent({ keepAlive: true });
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    const info = { url: req.url, method: req.method };
    page.emit('request', info);
    let target;
    try {
      target = new URL(req.url);
    } catch (e) {
      res.writeHead(400).end();
      page.emit('requestdone', info, { error: 'not a proxy request', aborted: false, blocked: false });
      return;
    }
    if (page.allowOrigin && isOtherOrigin(target.href, page.allowOrigin)) {
      // A network error, as a browser's blocker gives, not an HTTP answer.
      req.socket.destroy();
      page.emit('requestdone', info, { error: 'blocked', aborted: false, blocked: true });
      return;
    }
    const headers = { ...req.headers };
    for (const h of HOP_BY_HOP) delete headers[h];
    const isDocument = /text\/html/.test(req.headers.accept || '');
    if (isDocument) delete headers['accept-encoding']; // the document is rewritten below
    let done = false;
    const finish = (error, aborted) => {
      if (done) return;
      done = true;
      page.emit('requestdone', info, { error, aborted, blocked: false });
    };
    const upstream = http.request(target, { method: req.method, headers, agent }, (up) => {
      page.emit('response', { url: req.url, status: up.statusCode });
      let outHeaders = { ...up.headers };
      for (const h of HOP_BY_HOP) delete outHeaders[h];
      if (page.rewrite && target.origin === page.rewrite.origin) outHeaders = page.rewrite.fn(outHeaders);
      const html = isDocument && /text\/html/.test(up.headers['content-type'] || '') && !up.headers['content-encoding'];
      if (html) {
        const chunks = [];
        up.on('data', (c) => chunks.push(c));
        up.on('end', () => {
          const body = injectScripts(Buffer.concat(chunks).toString('utf8'), page.initScripts);
          outHeaders['content-length'] = String(Buffer.byteLength(body));
          res.writeHead(up.statusCode, outHeaders);
          res.end(body, () => finish(null, false));
        });
      } else {
        res.writeHead(up.statusCode, outHeaders);
        up.pipe(res);
        res.on('finish', () => finish(null, false));
      }
      up.on('error', (e) => { finish(e.message, false); res.destroy(); });
    });
    upstream.on('error', (e) => { finish(e.message, false); req.socket.destroy(); });
    res.on('close', () => { if (!res.writableFinished) { upstream.destroy(); finish('aborted', true); } });
    req.pipe(upstream);
  });
  server.on('connect', (req, client, head) => {
    const url = `https://${req.url}/`;
    const info = { url, method: 'CONNECT' };
    page.emit('request', info);
    if (page.allowOrigin && isOtherOrigin(url, page.allowOrigin)) {
      client.destroy();
      page.emit('requestdone', info, { error: 'blocked', aborted: false, blocked: true });
      return;
    }
    const [host, port] = [req.url.slice(0, req.url.lastIndexOf(':')), Number(req.url.slice(req.url.lastIndexOf(':') + 1))];
    const up = net.connect(port || 443, host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      up.write(head);
      up.pipe(client);
      client.pipe(up);
    });
    const end = (e) => { up.destroy(); client.destroy(); page.emit('requestdone', info, { error: e ? e.message : null, aborted: false, blocked: false }); };
    up.once('error', end);
    client.once('error', () => up.destroy());
    up.once('close', () => client.destroy());
  });
  server.on('connection', (s) => { sockets.add(s); s.once('close', () => sockets.delete(s)); });
  await new Promise((resolve, reject) => server.listen(0, '127.0.0.1', resolve).once('error', reject));
  return {
    port: server.address().port,
    close: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      agent.destroy();
      server.close(() => resolve());
    }),
  };
}

/** The scripts, each in its own <script>, first thing in the document's <head>. */
function injectScripts(html, scripts) {
  const tags = scripts.map((s) => `<script>${s.replace(/<\/script/gi, '<\\/script')}</script>`).join('');
  const head = /<head[^>]*>/i.exec(html);
  if (head) return html.slice(0, head.index + head[0].length) + tags + html.slice(head.index + head[0].length);
  const doctype = /^\s*<!doctype[^>]*>/i.exec(html);
  const at = doctype ? doctype[0].length : 0;
  return html.slice(0, at) + tags + html.slice(at);
}
