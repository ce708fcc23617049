#!/usr/bin/env node
// Drives the page's station clock (src/page/clock.js) against simulated hosts and
// networks, in virtual time, and prints ONE line of JSON with what it measured:
//
//   node tests/browser/clock-sim.mjs [--runs 200] [--seed 1] [--scenario NAME,...]
//
// Each run: a host whose clock is theta ms ahead of the device's monotonic clock
// (theta drawn anew each run, over +-1 h), a Date header rounded down to whole
// seconds, and a network with the scenario's one-way delays. The ClockSync is started
// at a random phase of the host's second and its estimate read at fixed times. For
// every reading we check the claim the page relies on: the true offset lies within
// the estimate's stated error (plus the browsers' 2 ms timer coarsening), and report
// the distribution of |estimate - truth| and of the stated error.
//
// Scenarios (one-way delays, ms):
//   lan        0.2-1.5 uniform each way (a local host, a preview server)
//   internet   8 + exponential(mean 4) each way (a CDN edge nearby)
//   proxy      25-125 uniform, each way drawn on its own (the delaying proxy of the
//              browser tests: round trips of 50-250 ms with jitter)
//   asymmetric 3 up, 40 down, +-2 jitter (a path much slower one way)
//   cached     every answer carries Age: 30 and a Date 30 s old (must be refused)
//   hidden     no Date visible (cross-origin without Access-Control-Expose-Headers)
//   flaky      10 % of requests fail, otherwise as internet
//   jumping    two servers behind one name whose clocks differ by 700 ms
//   synced     as internet, on a device whose own clock is right to +-5 ms (NTP): the
//              page keeps it where it lies inside the bound
//
// Exit code 0 iff every run completed (the caller judges the figures).

import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const CLOCK_JS = path.join(here, '..', '..', 'src', 'page', 'clock.js');

function parseArgs(argv) {
  const o = { runs: 200, seed: 1, scenarios: ['lan', 'internet', 'proxy', 'asymmetric', 'cached', 'hidden', 'flaky', 'jumping', 'synced'] };
  for (let i = 0; i < argv.length; i++) {
    const [k, v0] = argv[i].split('=');
    const v = v0 !== undefined ? v0 : argv[++i];
    if (k === '--runs') o.runs = Number(v);
    else if (k === '--seed') o.seed = Number(v);
    else if (k === '--scenario') o.scenarios = v.split(',');
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  return o;
}

/** splitmix32-style PRNG: reproducible runs from a seed. */
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
  };
}

const SCENARIOS = {
  lan: (r) => ({ up: () => 0.2 + 1.3 * r(), down: () => 0.2 + 1.3 * r() }),
  internet: (r) => ({ up: () => 8 - 4 * Math.log(1 - r()), down: () => 8 - 4 * Math.log(1 - r()) }),
  proxy: (r) => ({ up: () => 25 + 100 * r(), down: () => 25 + 100 * r() }),
  asymmetric: (r) => ({ up: () => 3 + 4 * r() - 2, down: () => 40 + 4 * r() - 2 }),
  cached: (r) => ({ up: () => 5 + r(), down: () => 5 + r(), cached: 30000 }),
  hidden: (r) => ({ up: () => 5 + r(), down: () => 5 + r(), hidden: true }),
  flaky: (r) => ({ up: () => 8 - 4 * Math.log(1 - r()), down: () => 8 - 4 * Math.log(1 - r()), fail: 0.1 }),
  jumping: (r) => ({ up: () => 5 + r(), down: () => 5 + r(), second: 700 }),
  synced: (r) => ({ up: () => 8 - 4 * Math.log(1 - r()), down: () => 8 - 4 * Math.log(1 - r()), device: (r() - 0.5) * 10 }),
};

/** Reading times (s after start) at which the estimate is checked. */
const CHECKPOINTS = [1.2, 3, 5, 10, 30, 60];

function loadClock() {
  const ctx = { performance: { now: () => 0 }, setTimeout, console, URL, Date, Math, Map, Promise };
  ctx.globalThis = ctx;
  vm.createContext(ctx);
  vm.runInContext(fs.readFileSync(CLOCK_JS, 'utf8'), ctx, { filename: CLOCK_JS });
  return ctx.LofieverClock;
}

/** A discrete-event scheduler in virtual ms. */
class VirtualTime {
  constructor() { this.now = 0; this.queue = []; }
  at(t, fn) { this.queue.push({ t, fn }); this.queue.sort((a, b) => a.t - b.t); }
  sleep(ms) { return new Promise((ok) => this.at(this.now + Math.max(0, ms), ok)); }
  async runUntil(t) {
    for (;;) {
      await new Promise((ok) => setImmediate(ok)); // let promise chains settle
      if (!this.queue.length || this.queue[0].t > t) break;
      const e = this.queue.shift();
      this.now = Math.max(this.now, e.t);
      e.fn();
    }
    this.now = t;
  }
}

async function oneRun(Clock, scenario, seed) {
  const r = rng(seed);
  const net = SCENARIOS[scenario](r);
  const vt = new VirtualTime();
  const theta = (r() - 0.5) * 7200000; // host - monotonic, +-1 h
  const start = r() * 1000; // phase of the start within the host's second
  vt.now = start;
  const hostAt = (u, which) => theta + u + (which ? net.second : 0);
  let served = 0;
  const probe = (source, seq) => new Promise((ok) => {
    const s = vt.now;
    if (net.fail && r() < net.fail) { vt.at(s + 30, () => ok({ s, r: vt.now, problem: 'unreachable', detail: 'simulated' })); return; }
    const u = s + net.up();
    const rr = u + net.down();
    const which = net.second && (served++ % 2 === 1);
    vt.at(rr, () => {
      if (net.hidden) { ok({ s, r: rr, problem: 'no-date' }); return; }
      if (net.cached) { ok({ s, r: rr, problem: 'cached', detail: 'Age: 30' }); return; }
      const host = Math.floor(hostAt(u, which) / 1000) * 1000;
      ok({ s, r: rr, host, resolution: 1000 });
    });
  });
  const sync = new Clock.ClockSync({
    sources: [{ url: 'clock.txt', kind: 'date', label: 'host' }],
    probe,
    now: () => vt.now,
    // The device's wall clock: the monotonic clock (so offsetMs is theta itself), or
    // for 'synced' the host's time give or take a few ms.
    wall: () => (net.device !== undefined ? vt.now + theta + net.device : vt.now),
    sleep: (ms) => vt.sleep(ms),
  });
  sync.start();
  const readyAt = { t: null };
  sync.ready(50, 1200).then(() => { readyAt.t = vt.now - start; });
  const out = [];
  for (const c of CHECKPOINTS) {
    await vt.runUntil(start + c * 1000);
    const st = sync.status();
    const wallOff = net.device !== undefined ? theta + net.device : 0; // wall - monotonic
    const err = Math.abs(st.offsetMs + wallOff - theta);
    out.push({ at_s: c, state: st.state, err_ms: st.state === 'ok' ? err : null, stated_ms: st.errorMs,
      contained: st.state === "unknown" || err <= st.errorMs + 2, problem: st.problem, readings: st.readings });
  }
  sync.stop();
  return { out, ready_ms: readyAt.t, requests: sync.seq };
}

function q(xs, p) {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (!s.length) return null;
  const i = Math.min(s.length - 1, Math.floor(p * (s.length - 1) + 0.5));
  return Math.round(s[i] * 100) / 100;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const Clock = loadClock();
  const report = { ok: true, runs: o.runs, seed: o.seed, scenarios: {} };
  for (const name of o.scenarios) {
    if (!SCENARIOS[name]) throw new Error(`unknown scenario ${name}`);
    const runs = [];
    for (let i = 0; i < o.runs; i++) runs.push(await oneRun(Clock, name, o.seed * 100003 + i * 7919));
    const at = {};
    CHECKPOINTS.forEach((c, k) => {
      const rows = runs.map((x) => x.out[k]);
      at[`${c}s`] = {
        ok_share: rows.filter((x) => x.state === 'ok').length / rows.length,
        err_p50: q(rows.map((x) => x.err_ms), 0.5),
        err_p95: q(rows.map((x) => x.err_ms), 0.95),
        err_max: q(rows.map((x) => x.err_ms), 1),
        stated_p50: q(rows.map((x) => x.stated_ms), 0.5),
        stated_p95: q(rows.map((x) => x.stated_ms), 0.95),
        not_contained: rows.filter((x) => !x.contained).length,
        problems: [...new Set(rows.map((x) => x.problem).filter(Boolean))],
      };
    });
    report.scenarios[name] = {
      at,
      ready_ms_p95: q(runs.map((x) => x.ready_ms), 0.95),
      requests_per_minute_p50: q(runs.map((x) => x.requests), 0.5),
    };
  }
  process.stdout.write(JSON.stringify(report) + '\n');
}

main().catch((e) => {
  process.stdout.write(JSON.stringify({ ok: false, error: e.stack || String(e) }) + '\n');
  process.exit(1);
});
