/*
 * lofiever station clock: what time it is at the host, to a few milliseconds, from
 * nothing but what a static host or CDN serves.
 *
 * Why: every listener plays the sample of (now - target latency), so "now" must be
 * the same instant on every device. Device clocks are not: laptops drift by seconds
 * between time syncs, phones sit tens to hundreds of ms off, some are set by hand.
 *
 * How (the idea behind htpdate): an HTTP `Date` header has one-second resolution,
 * but the instant it ticks over is sharp. A request sent at monotonic time s whose
 * response arrives at r was stamped by the host at some instant u in [s, r]; a
 * `Date` of D says the host's clock read [D, D + 1 s) then. So the offset
 * theta = host clock - monotonic clock lies in [D - r, D + 1000 - s). Every answer
 * adds such an interval; their intersection is a bound that is never wrong, only
 * wide. Requests timed so that the host stamps them just around a second boundary
 * make it narrow: the first burst spreads over a second and finds the boundary to
 * a fraction of it, each later burst is aimed at the next boundary inside what is
 * left, so the bound shrinks to about the round-trip time within a few seconds.
 * The estimate is the middle of the bound; the half-width is its guaranteed error
 * (the middle is right when the quickest trips there and back took equally long).
 * A station's own millisecond time service (DASH UTCTiming http-iso / http-xsdate)
 * gives the same kind of interval with a 1 ms "second", and is used first when the
 * station configures one and it is reachable.
 *
 * Assumptions: the host's clock is NTP-synced (S3, CDNs and web servers are); a CDN
 * passes the origin's Date through or stamps its own synced clock; the object asked
 * is never answered from a cache (published with Cache-Control: no-store, asked with
 * a fresh query string and cache: 'no-store'; an answer with an `Age` header is a
 * cached one, whose Date is when it was cached, and is refused).
 *
 * Everything is measured on the monotonic clock (performance.now()), so a device
 * clock that is stepped while the page plays changes nothing here; the players,
 * which read Date.now(), are given (station - Date.now()) afresh whenever asked.
 * Between answers the bound widens by 100 ppm of the time elapsed, the most that a
 * working device clock drifts; slow background probes keep it narrow.
 *
 * Failures are reported, not hidden: no `Date` visible (a cross-origin host without
 * Access-Control-Expose-Headers: Date), cached answers, a host clock that jumps, or
 * no answer at all each set `problem` with words for the listener, and the page then
 * uses the best clock it has and says how unsure it is.
 *
 * Plain script: defines globalThis.LofieverClock = { Estimator, ClockSync, probeHttp }.
 * The Estimator is pure (no I/O) so that tests can drive it with a simulated network.
 */
(function (root) {
  'use strict';

  /** A working device clock drifts at most this much against the host's (100 ppm). */
  const DRIFT = 1e-4;
  /**
   * Intervals that miss each other by less than this are taken to touch: the browser
   * coarsens performance.now() and Resource Timing (to 0.1 ms in Chromium, 1 ms in
   * Firefox and Safari), and a host's Date may be stamped a hair after its tick.
   */
  const SLACK_MS = 2;
  /** Recent round-trip times kept, for aiming requests. */
  const RTT_KEPT = 16;
  /**
   * A device clock within this of the bound's middle (and inside the bound) is
   * kept as it is: what an NTP-synced device is right to.
   */
  const KEEP_DEVICE_MS = 10;
  /** Requests in the first burst, spread over one second. */
  const FIRST_BURST = 10;
  /** Start-up bursts, one per second, while the bound keeps shrinking. */
  const FAST_BURSTS_MAX = 20;
  /** After start-up: a few requests this often, for this long. */
  const REFINE_EVERY_MS = 4000;
  const REFINE_FOR_MS = 120000;
  /** Then two requests this often, against drift. */
  const KEEP_EVERY_MS = 15000;
  /** After a burst that got nothing usable. */
  const RETRY_MS = 5000;
  /** After every source failed, start again from the first this much later. */
  const ALL_FAILED_RETRY_MS = 60000;
  /** Host clock jumps counted over this window. */
  const JUMPS_WINDOW_MS = 60000;
  /** Two host readings that disagree by more than this (after the bound) are a jump. */
  const JUMP_REPORT_MS = 5;

  function median(xs) {
    if (!xs.length) return NaN;
    const s = xs.slice().sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  }

  /**
   * The bound on theta = host clock - monotonic clock, from timed readings of the
   * host's clock. Pure: give it readings, ask it where to aim the next ones.
   */
  class Estimator {
    constructor() {
      /** The bound [lo, hi] on theta (ms), valid at monotonic time `at`. */
      this.lo = -Infinity;
      this.hi = Infinity;
      this.at = 0;
      this.readings = 0;
      /** Round-trip times of the last readings (ms). */
      this.rtts = [];
      /** Host clock jumps seen: { at, byMs (the gap between the bounds), spanMs (their far ends) }. */
      this.jumps = [];
      /** The resolution of the readings (ms): 1000 for Date, 1 for a ms time service. */
      this.resolution = 1000;
    }

    /** True once at least one reading is in. */
    get known() {
      return Number.isFinite(this.lo) && Number.isFinite(this.hi);
    }

    /** The bound widened for drift up to monotonic time t. */
    boundAt(t) {
      if (!this.known) return { lo: -Infinity, hi: Infinity };
      const w = Math.max(0, t - this.at) * DRIFT;
      return { lo: this.lo - w, hi: this.hi + w };
    }

    /**
     * Adds a reading: a request sent at monotonic s, answered at r, says the host's
     * clock read `host` (ms, rounded down to `resolution`) at some instant between.
     * Returns 'narrowed', 'same' or 'jump' (the reading contradicts the bound: the host's
     * clock was stepped, or another server with another clock answered; the new reading
     * wins).
     */
    add(s, r, host, resolution) {
      if (!(r >= s) || !Number.isFinite(host)) return 'same';
      this.resolution = resolution;
      const lower = host - r;
      const upper = host + resolution - s;
      this.readings += 1;
      this.rtts.push(r - s);
      if (this.rtts.length > RTT_KEPT) this.rtts.shift();
      const old = this.boundAt(r);
      let lo = Math.max(old.lo, lower);
      let hi = Math.min(old.hi, upper);
      let outcome = hi - lo < old.hi - old.lo - 1e-6 ? 'narrowed' : 'same';
      if (lo > hi) {
        if (lo - hi <= SLACK_MS) {
          lo = hi = (lo + hi) / 2;
        } else {
          const byMs = lower > old.hi ? lower - old.hi : upper - old.lo;
          // How far apart the two clocks can be, at most: from the far end of one
          // bound to the far end of the other.
          const spanMs = Math.max(upper - old.lo, old.hi - lower);
          if (Math.abs(byMs) > JUMP_REPORT_MS) this.jumps.push({ at: r, byMs, spanMs });
          lo = lower;
          hi = upper;
          outcome = 'jump';
        }
      }
      this.lo = lo;
      this.hi = hi;
      this.at = r;
      return outcome;
    }

    /** Forgets everything (after the host's clock proved unreliable). */
    reset() {
      this.lo = -Infinity;
      this.hi = Infinity;
      this.readings = 0;
    }

    /**
     * theta at monotonic time t (the middle of the bound) and its guaranteed error
     * (half the bound's width). The middle is right when the quickest trips there and
     * back take equally long, as on most paths (the assumption NTP makes too); a
     * path slower one way than the other shifts it by half the difference, always
     * within the stated error.
     */
    estimate(t) {
      const b = this.boundAt(t);
      if (!Number.isFinite(b.lo) || !Number.isFinite(b.hi)) return null;
      return { theta: (b.lo + b.hi) / 2, errorMs: (b.hi - b.lo) / 2 };
    }

    /** The typical round trip (ms), 0 before any. */
    rtt() {
      const m = median(this.rtts);
      return Number.isFinite(m) ? m : 0;
    }

    /**
     * When to send the next `n` requests (monotonic ms, ascending), aimed so that the
     * host stamps them spread over where its next clock tick can be. Before the first
     * tick is found, that is anywhere in one `resolution`.
     */
    aim(now, n, leadMs) {
      const res = this.resolution;
      const up = this.rtt() / 2; // a request reaches the host about half a round trip after it leaves
      const b = this.boundAt(now);
      const times = [];
      if (!(b.hi - b.lo < res)) {
        for (let i = 0; i < n; i++) times.push(now + leadMs + (i * res) / n);
        return times;
      }
      // Host tick k*res happens at monotonic k*res - theta, theta in [lo, hi].
      const k = Math.ceil((now + leadMs + up + b.hi) / res);
      const first = k * res - b.hi;
      const last = k * res - b.lo;
      for (let i = 0; i < n; i++) times.push(first + ((i + 0.5) * (last - first)) / n - up);
      return times;
    }
  }

  /**
   * One timed reading of the host's clock over HTTP. `source`: { url, kind: 'date' |
   * 'iso' }. For 'date' a HEAD request's Date header is read (resolution 1 s); for
   * 'iso' the body of a GET is an ISO 8601 time with milliseconds (DASH UTCTiming
   * http-iso / http-xsdate). Uses the Resource Timing entry of the request, when the
   * browser gives one, for the instants the request left and the answer began.
   * Resolves to { s, r, host, resolution } or { s, r, problem, detail }.
   */
  async function probeHttp(source, seq) {
    const perf = root.performance;
    const sep = source.url.indexOf('?') >= 0 ? '&' : '?';
    const url = new URL(`${source.url}${sep}lofiever-clock=${Date.now().toString(36)}-${seq}`, root.document ? root.document.baseURI : undefined).href;
    const s0 = perf.now();
    let res;
    let body = null;
    try {
      res = await root.fetch(url, { method: source.kind === 'date' ? 'HEAD' : 'GET', cache: 'no-store', credentials: 'omit' });
      if (source.kind !== 'date') body = await res.text();
    } catch (e) {
      return { s: s0, r: perf.now(), problem: 'unreachable', detail: e && e.message ? e.message : String(e) };
    }
    const r0 = perf.now();
    let s = s0;
    let r = r0;
    const entry = await resourceTiming(url);
    if (entry && entry.requestStart > 0 && entry.responseStart >= entry.requestStart
        && entry.requestStart >= s0 - 1 && entry.responseStart <= r0 + 1) {
      s = entry.requestStart;
      r = entry.responseStart;
    }
    const timed = s !== s0;
    if (!res.ok) return { s, r, problem: 'http', detail: `HTTP ${res.status}`, status: res.status };
    const age = res.headers.get('Age');
    if (age !== null && age.trim() !== '' && Number(age) > 0) {
      return { s, r, problem: 'cached', detail: `Age: ${age.trim()}` };
    }
    if (source.kind === 'date') {
      const date = res.headers.get('Date');
      if (date === null) return { s, r, problem: 'no-date' };
      const host = Date.parse(date);
      if (!Number.isFinite(host)) return { s, r, problem: 'bad-date', detail: date };
      return { s, r, host, resolution: 1000, timed };
    }
    const text = (body || '').trim();
    const m = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.(\d+))?(?:Z|[+-]\d\d:?\d\d)$/.exec(text);
    const host = m ? Date.parse(text) : NaN;
    if (!Number.isFinite(host)) return { s, r, problem: 'bad-date', detail: text.slice(0, 60) };
    const digits = m[1] ? Math.min(3, m[1].length) : 0;
    return { s, r, host, resolution: Math.pow(10, 3 - digits), timed };
  }

  /** The Resource Timing entry of a just-finished request, if the browser keeps one. */
  const timingEntries = new Map();
  let observer = null;
  function watchTimings() {
    if (observer || typeof root.PerformanceObserver !== 'function') return;
    try {
      observer = new root.PerformanceObserver((list) => {
        for (const e of list.getEntries()) {
          if (e.name.indexOf('lofiever-clock=') >= 0) timingEntries.set(e.name, e);
        }
        if (timingEntries.size > 64) timingEntries.delete(timingEntries.keys().next().value);
      });
      // An observer gets entries even once the performance timeline's buffer is full.
      observer.observe({ type: 'resource', buffered: false });
    } catch (e) {
      observer = null;
    }
  }
  async function resourceTiming(url) {
    if (!observer) return null;
    for (let i = 0; i < 4; i++) {
      const e = timingEntries.get(url);
      if (e) {
        timingEntries.delete(url);
        return e;
      }
      await new Promise((ok) => setTimeout(ok, i === 0 ? 0 : 10));
    }
    return null;
  }

  /** Words for the listener about a problem kind. */
  const PROBLEM_TEXT = {
    'no-date': 'the host does not let this page read its clock (the Date header is not exposed)',
    cached: 'the host\u2019s time comes from a cache',
    unreachable: 'the host\u2019s clock could not be reached',
    http: 'the host\u2019s clock could not be read',
    'bad-date': 'the host sent a time that is not one',
    jumps: 'the host\u2019s clock jumps (its servers disagree)',
  };

  /**
   * Keeps the station clock: measures at start (a burst over one second, then bursts
   * aimed at the next ticks until the error stops shrinking) and refines quietly
   * while the page is open.
   *
   * options: { sources: [{ url, kind: 'date'|'iso', label }], probe?, now?, wall?,
   *            onChange?(status) }
   */
  class ClockSync {
    constructor(options) {
      this.sources = options.sources.filter((x) => x && x.url);
      this.probe = options.probe || probeHttp;
      this.mono = options.now || (() => root.performance.now());
      this.wall = options.wall || (() => Date.now());
      this.sleep = options.sleep || ((ms) => new Promise((ok) => setTimeout(ok, Math.max(0, ms))));
      this.onChange = options.onChange || (() => {});
      this.est = new Estimator();
      this.sourceIndex = 0;
      this.seq = 0;
      /** Per-kind counts of refused answers since the last good one. */
      this.refused = {};
      this.lastProblem = null;
      this.failed = false;
      this.stopped = false;
      this.readyWaiters = [];
      this.burstsDone = 0;
      /** Readings whose instants came from Resource Timing rather than around fetch(). */
      this.timedReadings = 0;
      /** With options.log, every reading is kept here (for debugging and tests). */
      this.log = options.log ? [] : null;
    }

    /** The source being measured against, or null once every one failed. */
    get source() {
      return this.sources[this.sourceIndex] || null;
    }

    /** Starts measuring; returns at once. */
    start() {
      if (typeof root.PerformanceObserver === 'function') watchTimings();
      this.loop().catch((e) => {
        this.fail('unreachable', e && e.message ? e.message : String(e));
      });
      return this;
    }

    stop() {
      this.stopped = true;
    }

    /**
     * Resolves when the first burst is in (about a second), the clock is known to
     * within `goodMs`, every source failed, or `timeoutMs` passed: start-up never
     * waits longer for the clock; it goes on being refined while the music plays.
     */
    ready(goodMs, timeoutMs) {
      if (this.settled(goodMs)) return Promise.resolve(this.status());
      return new Promise((ok) => {
        const w = { goodMs, ok };
        this.readyWaiters.push(w);
        this.sleep(timeoutMs).then(() => {
          if (!this.readyWaiters.includes(w)) return;
          this.readyWaiters = this.readyWaiters.filter((x) => x !== w);
          ok(this.status());
        });
      });
    }

    wake() {
      const waiting = this.readyWaiters;
      this.readyWaiters = [];
      for (const w of waiting) {
        if (this.settled(w.goodMs)) w.ok(this.status());
        else this.readyWaiters.push(w);
      }
    }

    settled(goodMs) {
      return this.failed || this.burstsDone > 0 || this.errorMs() <= goodMs;
    }

    errorMs() {
      const p = this.pick(this.mono());
      return p ? p.errorMs : Infinity;
    }

    /**
     * Station time now (ms since 1970). The device's clock when nothing is known,
     * and also when it lies inside the bound and within KEEP_DEVICE_MS of its
     * middle: a device synced by NTP is right to a few ms, as good as or better than
     * the middle, which is only as good as the assumption that the quickest trips
     * took as long each way. Otherwise the middle is used.
     */
    now() {
      const t = this.mono();
      const p = this.pick(t);
      return p ? t + p.theta : this.wall();
    }

    /**
     * The theta used at monotonic t (see now()) and its guaranteed error: the
     * distance to the far end of the bound. Null when nothing is known.
     */
    pick(t) {
      if (!this.est.known) return null;
      const b = this.est.boundAt(t);
      const device = this.wall() - t;
      const middle = (b.lo + b.hi) / 2;
      const keep = b.lo <= device && device <= b.hi && Math.abs(device - middle) <= KEEP_DEVICE_MS && !this.unsteady(t);
      const theta = keep ? device : middle;
      return { theta, errorMs: Math.max(theta - b.lo, b.hi - theta), device: theta === device };
    }

    /** Whether the host's clock has jumped more than once lately (see status()). */
    unsteady(t) {
      return this.est.jumps.filter((j) => t - j.at < JUMPS_WINDOW_MS).length >= 2;
    }

    /** (station - device clock) in ms now: what to give a player that reads Date.now(). */
    deviceOffsetMs() {
      return this.now() - this.wall();
    }

    /**
     * What the page shows and tests read: { state: 'measuring'|'ok'|'unknown', source,
     * offsetMs (station - device), errorMs (guaranteed, Infinity when unknown),
     * problem, problemText, readings, rttMs, jumps }.
     */
    status() {
      const t = this.mono();
      const e = this.pick(t);
      const src = this.source;
      let state = 'measuring';
      let errorMs = e ? e.errorMs : Infinity;
      if (e && (this.burstsDone > 0 || e.errorMs < 50)) state = 'ok';
      if (!e && (this.failed || this.burstsDone > 0)) state = 'unknown';
      const jumps = this.est.jumps.filter((j) => t - j.at < JUMPS_WINDOW_MS);
      if (e && jumps.length >= 2) {
        // Servers whose clocks disagree answer by turns: the bound holds only until
        // the next turn, so the error is as large as their disagreement.
        state = 'unsure';
        errorMs = Math.max(errorMs, ...jumps.map((j) => j.spanMs));
      }
      const problem = this.lastProblem;
      return {
        state,
        source: src ? src.label || src.url : null,
        offsetMs: e ? t + e.theta - this.wall() : 0,
        deviceClockKept: e ? e.device : false,
        errorMs,
        problem: problem ? problem.kind : null,
        problemText: problem ? PROBLEM_TEXT[problem.kind] + (problem.detail ? ` (${problem.detail})` : '') : null,
        readings: this.est.readings,
        timedReadings: this.timedReadings,
        rttMs: Math.round(this.est.rtt() * 10) / 10,
        jumps: this.est.jumps.length,
      };
    }

    fail(kind, detail) {
      this.lastProblem = { kind, detail };
      this.failed = !this.est.known;
      this.wake();
      this.onChange(this.status());
    }

    /** Takes one reading; returns the outcome or the problem kind. */
    async read() {
      const src = this.source;
      const p = await this.probe(src, ++this.seq);
      if (this.stopped) return 'stopped';
      if (p.problem) {
        this.refused[p.problem] = (this.refused[p.problem] || 0) + 1;
        if (!this.est.known || p.problem !== 'unreachable') this.lastProblem = { kind: p.problem, detail: p.detail };
        return p.problem;
      }
      this.refused = {};
      if (p.timed) this.timedReadings += 1;
      if (this.log) this.log.push({ s: p.s, r: p.r, host: p.host, timed: !!p.timed, lo: this.est.lo, hi: this.est.hi });
      const outcome = this.est.add(p.s, p.r, p.host, p.resolution);
      if (this.lastProblem && this.lastProblem.kind !== 'jumps') this.lastProblem = null;
      return outcome;
    }

    /** Sends requests at the given monotonic instants, all in flight together. */
    async burst(times) {
      const pending = [];
      for (const at of times) {
        const wait = at - this.mono();
        if (wait > 1) await this.sleep(wait);
        if (this.stopped) break;
        pending.push(this.read());
      }
      return Promise.all(pending);
    }

    /**
     * How many requests the next burst sends, and how long to wait after it: a
     * first burst over one second to find the tick; then a burst at each following
     * tick while the bound keeps shrinking (start-up, a few seconds); then a few
     * every REFINE_EVERY_MS for the first minutes (long, uneven round trips need many
     * tries to catch a quick one near a tick); then two every KEEP_EVERY_MS against
     * drift. Returns { n, pauseMs }.
     */
    pace(stale, sinceStartMs) {
      if (!this.est.known || this.errorMs() >= this.est.resolution / 2) return { n: FIRST_BURST, pauseMs: 0 };
      if (this.burstsDone < 3 || (stale < 2 && this.burstsDone < FAST_BURSTS_MAX)) return { n: 6, pauseMs: 0 };
      if (sinceStartMs < REFINE_FOR_MS && this.errorMs() > 3) return { n: 4, pauseMs: REFINE_EVERY_MS };
      return { n: 2, pauseMs: KEEP_EVERY_MS };
    }

    async loop() {
      const started = this.mono();
      let lastError = Infinity;
      let stale = 0;
      while (!this.stopped) {
        if (!this.source) {
          // Every source failed: say so, use the device clock, and try again later.
          this.fail(this.lastProblem ? this.lastProblem.kind : 'unreachable', this.lastProblem && this.lastProblem.detail);
          await this.sleep(ALL_FAILED_RETRY_MS);
          this.sourceIndex = 0;
          continue;
        }
        const { n, pauseMs } = this.pace(stale, this.mono() - started);
        const outcomes = await this.burst(this.est.aim(this.mono(), n, 5));
        this.burstsDone += 1;
        if (this.stopped) return;
        const good = outcomes.some((o) => o === 'narrowed' || o === 'same' || o === 'jump');
        if (!good && !this.est.known) {
          // Nothing usable from this source: try the next one. (A source that worked
          // before keeps its bound through an outage and is asked again later.)
          this.sourceIndex += 1;
          this.burstsDone = 0;
          continue;
        }
        const recentJumps = this.est.jumps.filter((j) => this.mono() - j.at < JUMPS_WINDOW_MS).length;
        if (recentJumps >= 2) {
          // Answers from servers whose clocks disagree: no bound holds for long.
          this.lastProblem = { kind: 'jumps', detail: `${recentJumps} in the last minute` };
        }
        const err = this.errorMs();
        stale = err < lastError - 0.5 ? 0 : stale + 1;
        lastError = Math.min(lastError, err);
        this.wake();
        this.onChange(this.status());
        const wait = good ? pauseMs : RETRY_MS;
        if (wait > 0) await this.sleep(wait);
      }
    }
  }

  root.LofieverClock = { Estimator, ClockSync, probeHttp, PROBLEM_TEXT };
})(typeof globalThis !== 'undefined' ? globalThis : window);
