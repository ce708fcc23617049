/*
 * lofiever listening page: plays the station's wall-clock-anchored MPEG-DASH live
 * stream with dash.js (or Shaka Player: index.html?player=shaka) and shows what is
 * playing.
 *
 * Data it reads, next to index.html (written by `lofiever render`):
 *   station.json               name, MPD path, epoch, latency and playback-rate bounds,
 *                              UTCTiming, where to load the player libraries from
 *   <mpd>                      static MPD, type="dynamic", availabilityStartTime = epoch
 *   schedule/YYYY-MM-DD.json   the items of one UTC day, sorted by start
 *   channels.json              with channels only (station.json "channels" says where):
 *                              every channel's name, title and page, listed in the header
 *
 * The time model: media time t in the MPD is seconds since the station epoch, so
 * the sample a listener hears is at UTC `epoch + audio.currentTime`. Every listener
 * is held at the same latency (latency.target_ms) behind the station clock, so all
 * of them hear the same sample at the same wall-clock moment. "Now playing" follows
 * that heard position, not the raw wall clock.
 *
 * How the latency is held, in three layers (both players):
 *   1. The player's own playback-rate catch-up, configured here with the station's
 *      target and rate bounds and a tight tolerance (SYNC_TOLERANCE_S): dash.js
 *      streaming.liveCatchup in "step" mode, Shaka streaming.liveSync.
 *   2. One exact seek to the live point (now - target) when audio starts flowing,
 *      after a pause, or when the latency is off by more than SETTLE_S: start-up
 *      takes a few hundred ms, which the rate alone would need many seconds to undo.
 *   3. Stalls: if playback is stuck (a segment that will not load: HTTP 404, a
 *      network outage), the player keeps retrying; once the live point has moved past
 *      the stuck segment, the page jumps to the live point and says so. The listener
 *      hears a gap as long as the missing audio and stays in sync.
 *
 * Clock: "now" is the host's clock, never the device's: clock.js measures the offset
 * to a few ms from the host's Date header (or the station's millisecond time
 * service) and keeps refining it while the page is open. Both players are given that
 * offset and never synchronise on their own; the sync line shows the error against
 * the corrected clock, the correction, and how sure the page is of it.
 *
 * Everything that comes from data is written with textContent, never as HTML.
 * For tests, `window.lofiever` exposes { player, engine, audio, programmeTimeMs(),
 * latencyMs(), nowPlaying(), station, errors, events, libSource, libVersion }.
 */
(function () {
  'use strict';

  const STATION_URL = 'station.json';
  const SCHEDULE_DIR = 'schedule/';
  /** How long a CDN copy of a player library may take before the local fallback is tried. */
  const LIB_CDN_TIMEOUT_MS = 8000;
  const LIB_FALLBACK_TIMEOUT_MS = 30000;
  const TICK_MS = 250;
  /** The sync line is rewritten this often; faster only makes the digits flicker. */
  const SYNC_REFRESH_MS = 1000;
  /** |offset| below this counts as "in sync". */
  const IN_SYNC_MS = 50;
  /**
   * The catch-up dead band: within this of the target latency the players play at
   * 1.0, beyond it at the station's min/max playback rate until back inside (dash.js
   * stops at a third of it). One timeupdate (250 ms) at +-4 % moves 10 ms, so the
   * band must not be narrower than that or the rate would flap.
   */
  const SYNC_TOLERANCE_S = 0.012;
  /** The most a seek aims past the live point to make up for what the engine loses. */
  const SEEK_LEAD_MAX_S = 2.5;
  /**
   * A seek's outcome is judged this long after it: Firefox plays on for a moment
   * after a seek and then waits for its new audio stream, which an output that is
   * slow to wake (a PulseAudio sink idling in long periods) delays by seconds.
   */
  const LEARN_AFTER_MS = 2500;
  /** heardPositionS advances a timeupdate's position this long at most (they come every 250 ms or sooner). */
  const HEARD_EXTRAPOLATE_S = 0.3;
  /** heardPositionS's estimate is at most this far beyond currentTime (Firefox's steps are 40 ms). */
  const HEARD_STEP_MAX_S = 0.06;
  /** After a seek without a 'playing' event (WebKit), the audio flows again by then. */
  const SEEKED_SETTLE_MS = 300;
  /** Audio flowing this long with a start or seek still unsettled is settled anyway (settleLate). */
  const SETTLE_LATE_MS = 1000;
  /** Readings (one per 100 ms) whose median holdLatency steers by. */
  const ERR_WINDOW = 9;
  /**
   * holdLatency's dead band on WebKit engines, where it changes the rate as
   * seldom as it can: the full rate until within a third of this band. A rate
   * that follows the error, as elsewhere, left WebKitGTK's hls.js listener
   * 45 ms off at p50 in two runs (why is not pinned down: a second at 1.04
   * gains 31 ms of the 40 there, but 23 in Chromium).
   */
  const WEBKIT_TOLERANCE_S = 0.018;
  /** holdLatency's catch-up: the time constant with which the rate removes an error. */
  const CATCHUP_TAU_S = 2;
  /** holdLatency's catch-up changes the playback rate in steps of this. */
  const RATE_STEP = 0.005;
  /** Where the page holds the latency itself: another seek at most this often. */
  const RESETTLE_MS = 3500;
  /**
   * Where the player holds the latency (dash.js's catch-up): how many seeks in a
   * row, each aimed by the learned lead, may follow one that lost time.
   */
  const MAX_RESEEKS = 3;
  /** Start-up, resume, a jump: a latency error beyond this is removed with one seek. */
  const SETTLE_S = 0.1;
  /** How many recent seek outcomes tell how precisely this engine seeks. */
  const SEEK_MISSES = 4;
  /**
   * Before the first sound, a clock correction larger than this (the measurement
   * came in after the start-up stopped waiting for it) attaches the stream again:
   * the player chose its start point from a clock that far off, possibly a time
   * with no segments at all.
   */
  const RETUNE_MS = 2000;
  /** At most this many such re-attaches (a clock that keeps jumping is not followed). */
  const MAX_RETUNES = 2;
  /** The playhead has not moved for this long while it should: it is stuck. */
  const STUCK_MS = 400;
  /**
   * Stuck for this long with the live point still inside the stuck segment
   * (a network outage rather than one missing segment): jump anyway.
   */
  const STALL_RESYNC_MS = 8000;
  /**
   * Stuck this long with more than STUCK_AHEAD_S of audio buffered ahead: not
   * waiting for data, the element itself stands still while it says it plays
   * (WebKitGTK's dash.js or hls.js element, right after a seek, in 3 of 20
   * six-listener runs; once, further seeks did not mend it). Longer than the
   * 0-2 s an audio output slow to wake holds a start.
   */
  const ELEMENT_STUCK_MS = 3000;
  const STUCK_AHEAD_S = 1;
  /** A playhead that stood still this long and moved on by itself is noted (events). */
  const STOOD_NOTE_MS = 1000;
  /** The stream is given to the element anew at most this often (else it jumps). */
  const REATTACH_MIN_MS = 20000;
  /** state.events keeps at most this many. */
  const MAX_EVENTS = 200;
  /** Start-up waits at most this long for the first measurement of the host's clock. */
  const CLOCK_WAIT_MS = 1500;
  /** A player is given the clock offset again when it moved by more than this. */
  const CLOCK_RESEND_MS = 0.5;
  /** Where the host's clock is read (a tiny object published with Cache-Control: no-store). */
  const CLOCK_URL = 'clock.txt';
  const DAY_MS = 86400000;
  /** Also load yesterday's schedule this long after midnight (an item may span midnight). */
  const PREV_DAY_WINDOW_MS = 3600000;
  /** Also load tomorrow's schedule this long before midnight. */
  const NEXT_DAY_WINDOW_MS = 1800000;
  /** How long a loaded / missing / failed schedule day is kept before it is fetched again. */
  const SCHEDULE_TTL_MS = { ok: 600000, missing: 120000, error: 30000 };

  const $ = (id) => document.getElementById(id);
  const audio = $('audio');
  const ui = {
    name: $('station-name'),
    channels: $('channels'),
    channelSelect: $('channel-select'),
    title: $('now-title'),
    artist: $('now-artist'),
    progress: $('progress'),
    fill: $('progress-fill'),
    elapsed: $('elapsed'),
    duration: $('duration'),
    play: $('play'),
    volume: $('volume'),
    nextTitle: $('next-title'),
    nextArtist: $('next-artist'),
    nextAt: $('next-at'),
    sync: $('sync'),
    status: $('status'),
  };

  const state = {
    station: null,
    /** The player engine (see ENGINES) once its library is loaded. */
    engine: null,
    /** The listener pressed play and has not pressed pause since. */
    wantPlaying: false,
    /** The next 'playing' event is the first since play was pressed (or a jump). */
    settlePending: false,
    /** Since when the audio flows with settlePending still set (settleLate), or null. */
    unsettledSince: null,
    /** A play() was aborted by a reload of the element; play again on canplay. */
    retryPlay: false,
    /** The engine has been given the stream (at the first press of play). */
    attached: false,
    /** Audio has flowed at least once. */
    everPlayed: false,
    /** When the status line last showed a problem (0: it does not). */
    problemShownAt: 0,
    /** When the status line last said that a hole was skipped. */
    skipShownAt: 0,
    /** Last seen playhead and when it last moved, for the stall watchdog. */
    lastHead: 0,
    lastHeadMovedAt: 0,
    /** The watchdog saw the playhead where it saw it last, while it should move. */
    headStill: false,
    /** Programme s where the watchdog's last jump put the playhead (null: none pending). */
    stallJumpToS: null,
    /** When the watchdog last gave the stream anew. */
    reattachedAt: -Infinity,
    /** Player errors and media element errors, oldest first. */
    errors: [],
    /** What the page did about problems (jumps, skips), oldest first, for tests and support (noteEvent). */
    events: [],
    /** Media segments that failed to load: { start, end, status, url } in media seconds. */
    failedSegments: [],
    /** UTC day "YYYY-MM-DD" -> { status: 'loading'|'ok'|'missing'|'error', items, fetchedAt } */
    days: new Map(),
    /** Items of all loaded days, merged, de-duplicated and sorted by start. */
    items: [],
    /** What this browser offers (capabilities()), once known. */
    caps: null,
    /** When holdLatency last seeked. */
    lastSettleAt: 0,
    /**
     * holdLatency's last readings: { errS: the latency error (> 0: ahead), atMs:
     * performance.now(), pos: audio.currentTime }, the last two to tell whether
     * audio flows.
     */
    errWindow: [],
    /** How far past the live point a seek aims (learnSeekLead), s. */
    seekLeadS: 0,
    /** The last jumpToLive seeked, and its outcome is still to be learned from. */
    learnPending: false,
    lastJumpAt: 0,
    /** Seeks in a row that a player holding the latency itself was re-seeked after. */
    reseeks: 0,
    /** How many seek outcomes learnSeekLead has learned from. */
    seeksLearned: 0,
    /** How far off the last few seeks landed (|error| once audio flowed), s. */
    seekMisses: [],
    /** The position at the last timeupdate: { pos: audio.currentTime, atMs: performance.now() }. */
    lastUpdate: null,
    /**
     * The outcome pending (learnPending) is that of the start-up, which needed no
     * seek: learned from only if the engine lost time once audio flowed.
     */
    judgingStart: false,
    /** The clock offset (deviceOffsetMs) the engine was attached with, ms. */
    attachedOffsetMs: null,
    /** Re-attaches after a large clock correction before the first sound. */
    retunes: 0,
    /** Things the listener should know that are not problems (a player fallback). */
    notes: [],
    shownKey: null,
    /** The whole second of the current item last painted (paintNowPlaying). */
    shownSecond: null,
    lastSyncPaint: 0,
  };

  /**
   * The station clock (clock.js): the host's time, measured from the page, whatever
   * the device clock says. Null until station.json is loaded; until the first
   * measurement is in, it reads the device clock.
   */
  let stationClock = null;

  function stationNowMs() {
    return stationClock ? stationClock.now() : Date.now();
  }

  /** (station - device clock) in ms: what a player that reads Date.now() must add. */
  function deviceOffsetMs() {
    return stationClock ? stationClock.deviceOffsetMs() : 0;
  }

  /**
   * Where the page reads the host's time, best first: the station's own millisecond
   * time service (a UTCTiming http-iso / http-xsdate URL, when configured), the
   * clock object, and, for a station published before the clock object existed,
   * the MPD (refused if a cache answers it).
   */
  function clockSources(station) {
    const sources = [];
    const u = station.utcTiming;
    const iso = /^urn:mpeg:dash:utc:http-(iso|xsdate):201[24]$/.test(u.scheme);
    const head = /^urn:mpeg:dash:utc:http-head:201[24]$/.test(u.scheme);
    const abs = (x) => new URL(x, station.mpdUrl).href;
    if (iso) sources.push({ url: abs(u.url), kind: 'iso', label: 'time service' });
    if (head && abs(u.url) !== abs(station.clockUrl) && abs(u.url) !== station.mpdUrl) {
      sources.push({ url: abs(u.url), kind: 'date', label: 'time host' });
    }
    sources.push({ url: new URL(station.clockUrl, document.baseURI).href, kind: 'date', label: 'host' });
    sources.push({ url: station.mpdUrl, kind: 'date', label: 'host' });
    return sources;
  }

  function startClock(station) {
    // Each new reading reaches the player in the same task (not at the next tick), so
    // the page and its player never work from two different clocks.
    stationClock = new window.LofieverClock.ClockSync({ sources: clockSources(station), onChange: () => applyClock() }).start();
  }

  /** A problem to show on the page as it is (no "Error:" prefix, no stack). */
  class PageError extends Error {}

  // ---------------------------------------------------------------- helpers

  function setStatus(level, text) {
    ui.status.textContent = text || '';
    if (level) ui.status.dataset.level = level;
    else delete ui.status.dataset.level;
  }

  function setButton(mode) {
    // mode: 'paused' | 'loading' | 'playing'
    ui.play.dataset.state = mode;
    const playing = mode !== 'paused';
    ui.play.setAttribute('aria-pressed', playing ? 'true' : 'false');
    ui.play.setAttribute('aria-label', playing ? 'Pause' : 'Play');
  }

  function pad2(n) {
    return n < 10 ? '0' + n : String(n);
  }

  /**
   * Sets an element's text only when it changes: a write of the same text is
   * still a change of the document, and a repaint on a device without a GPU.
   */
  function setText(el, text) {
    if (el.textContent !== text) el.textContent = text;
  }

  /** The progress bar at `pct` %, written only where it changes. */
  function setBar(pct) {
    const width = `${pct.toFixed(2)}%`;
    if (ui.fill.style.width !== width) ui.fill.style.width = width;
    const now = String(Math.round(pct));
    if (ui.progress.getAttribute('aria-valuenow') !== now) ui.progress.setAttribute('aria-valuenow', now);
  }

  /** Sets an element's data-state only when it changes. */
  function setState(el, value) {
    if (el.dataset.state !== value) el.dataset.state = value;
  }

  function formatDuration(ms) {
    if (!Number.isFinite(ms) || ms < 0) ms = 0;
    const s = Math.floor(ms / 1000);
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    return h > 0 ? `${h}:${pad2(m)}:${pad2(s % 60)}` : `${m}:${pad2(s % 60)}`;
  }

  function utcDay(ms) {
    return new Date(ms).toISOString().slice(0, 10);
  }

  /**
   * Parses an RFC 3339 UTC instant such as "2026-11-24T05:03:10.5Z" to epoch ms.
   * The fraction is read by hand: engines differ on fractions that are not 3 digits.
   */
  function parseInstantMs(s) {
    if (typeof s !== 'string') return NaN;
    const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$/.exec(s.trim());
    if (!m) return Date.parse(s);
    const whole = Date.parse(m[1] + m[3]);
    const frac = m[2] ? Math.round(parseFloat('0' + m[2]) * 1000) : 0;
    return whole + frac;
  }

  function finite(x, fallback) {
    return typeof x === 'number' && Number.isFinite(x) ? x : fallback;
  }

  function readPref(key) {
    try {
      return window.localStorage.getItem('lofiever.' + key);
    } catch (e) {
      return null;
    }
  }

  function writePref(key, value) {
    try {
      window.localStorage.setItem('lofiever.' + key, String(value));
    } catch (e) {
      /* private mode: the preference is simply not kept */
    }
  }

  // ---------------------------------------------------------------- station.json

  async function loadStation() {
    let res;
    try {
      res = await fetch(STATION_URL, { cache: 'no-cache' });
    } catch (e) {
      throw new PageError(`Could not reach ${STATION_URL} (${e.message}).`);
    }
    if (!res.ok) {
      throw new PageError(res.status === 404
        ? `${STATION_URL} is missing (HTTP 404): this station has not been published here yet.`
        : `${STATION_URL} could not be loaded (HTTP ${res.status}).`);
    }
    let raw;
    try {
      raw = await res.json();
    } catch (e) {
      throw new PageError(`${STATION_URL} is not valid JSON.`);
    }
    return normaliseStation(raw);
  }

  /** Validates station.json and fills defaults; unknown fields are ignored. */
  function normaliseStation(raw) {
    if (!raw || typeof raw !== 'object') throw new PageError(`${STATION_URL} is not a JSON object.`);
    const epochMs = parseInstantMs(raw.epoch);
    if (!Number.isFinite(epochMs)) throw new PageError(`${STATION_URL} has no valid "epoch".`);
    const mpd = typeof raw.mpd === 'string' && raw.mpd ? raw.mpd : 'stream.mpd';
    const lat = raw.latency || {};
    const targetMs = finite(lat.target_ms, 6000);
    const minMs = Math.min(finite(lat.min_ms, targetMs * 0.75), targetMs);
    const maxMs = Math.max(finite(lat.max_ms, targetMs * 1.5), targetMs);
    const rate = raw.playback_rate || {};
    const str = (x) => (typeof x === 'string' ? x : '');
    const sampleRate = finite(raw.sample_rate, 48000);
    const segmentSamples = finite(raw.segment_samples, 96000);
    return {
      name: typeof raw.name === 'string' && raw.name.trim() ? raw.name.trim() : 'lofiever',
      mpd,
      mpdUrl: new URL(mpd, document.baseURI).href,
      clockUrl: str(raw.clock) || CLOCK_URL,
      // Media Session artwork: [{ src, sizes, type }], src relative to the page.
      artwork: (Array.isArray(raw.artwork) ? raw.artwork : [])
        .filter((a) => a && typeof a.src === 'string' && a.src)
        .map((a) => ({ src: new URL(a.src, document.baseURI).href, sizes: str(a.sizes), type: str(a.type) })),
      epoch: raw.epoch,
      epochMs,
      sampleRate,
      segmentSamples,
      segmentS: segmentSamples / sampleRate,
      libs: {
        dashjs: [str(raw.dashjs_url), str(raw.dashjs_fallback_url)],
        shaka: [str(raw.shaka_url), str(raw.shaka_fallback_url)],
        hlsjs: [str(raw.hlsjs_url), str(raw.hlsjs_fallback_url) || 'vendor/hlsjs/hls.min.js'],
      },
      // Per-UTC-day HLS playlists over the same segments: hls/<day>.m3u8.
      hls: raw.hls === true,
      utcTiming: {
        scheme: str((raw.utc_timing || {}).scheme) || 'urn:mpeg:dash:utc:http-head:2014',
        url: str((raw.utc_timing || {}).url) || mpd,
      },
      // The channel index (channels.json) when the station is one of several.
      channelsUrl: str(raw.channels) ? new URL(str(raw.channels), document.baseURI).href : '',
      latency: { targetMs, minMs, maxMs },
      playbackRate: {
        min: Math.min(finite(rate.min, 0.96), 1),
        max: Math.max(finite(rate.max, 1.04), 1),
      },
    };
  }

  // ---------------------------------------------------------------- channels.json

  /**
   * Lists the channels of channels.json (name, title, page, mpd; paths relative to
   * the index) in the header and switches page when another is picked, keeping the
   * query (the player choice). Best effort: without the index the list stays hidden.
   */
  async function showChannels(station) {
    if (!station.channelsUrl) return;
    let list;
    try {
      const res = await fetch(station.channelsUrl, { cache: 'no-cache' });
      if (!res.ok) return;
      const raw = await res.json();
      list = Array.isArray(raw && raw.channels) ? raw.channels : [];
    } catch (e) {
      return;
    }
    const here = new URL(window.location.href);
    here.search = '';
    here.hash = '';
    const herePath = here.href.replace(/index\.html$/, '');
    const select = ui.channelSelect;
    select.textContent = '';
    let current = false;
    for (const c of list) {
      if (!c || typeof c.page !== 'string' || !c.page) continue;
      const page = new URL(c.page, station.channelsUrl).href;
      const option = document.createElement('option');
      option.value = page;
      option.textContent = typeof c.title === 'string' && c.title ? c.title : String(c.name || page);
      if (page.replace(/index\.html$/, '') === herePath) {
        option.selected = true;
        current = true;
      }
      select.appendChild(option);
    }
    if (select.options.length < 2 || !current) return;
    select.addEventListener('change', () => {
      const to = new URL(select.value);
      to.search = window.location.search;
      window.location.href = to.href;
    });
    ui.channels.hidden = false;
  }

  // ---------------------------------------------------------------- dash.js

  function loadScript(url, timeoutMs) {
    return new Promise((resolve, reject) => {
      const el = document.createElement('script');
      let done = false;
      const finish = (err) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (err) {
          el.onload = el.onerror = null;
          reject(err);
        } else {
          resolve();
        }
      };
      const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
      el.onload = () => finish(null);
      el.onerror = () => finish(new Error('failed to load'));
      el.src = url;
      document.head.appendChild(el);
    });
  }

  /** Loads dash.js from the CDN, or from the copy on this host if that fails. */

  /**
   * Loads a player library: from its configured URL (usually a CDN), else from the
   * copy on this host. `ready()` returns the library's global once it is there.
   */
  async function loadLibrary(label, urls, ready) {
    if (ready()) return { lib: ready(), source: 'preloaded' };
    const sources = [
      { url: urls[0], label: 'configured', timeout: LIB_CDN_TIMEOUT_MS },
      { url: urls[1], label: 'fallback', timeout: LIB_FALLBACK_TIMEOUT_MS },
    ];
    const failures = [];
    for (const src of sources) {
      if (!src.url) continue;
      try {
        await loadScript(src.url, src.timeout);
        if (ready()) return { lib: ready(), source: src.label };
        failures.push(`${src.url}: loaded but defined no ${label}`);
      } catch (e) {
        failures.push(`${src.url}: ${e.message}`);
        console.warn(`lofiever: ${label} from ${src.url} ${e.message}; trying the next source.`);
      }
    }
    throw new PageError(`The player library (${label}) could not be loaded (${failures.join('; ') || 'no source in station.json'}).`);
  }


  /**
   * Checks that the MPD is there and agrees with station.json before the player is
   * given it, so a missing stream is reported in words rather than as an error code.
   */
  async function checkManifest(station) {
    let res;
    try {
      res = await fetch(station.mpdUrl, { cache: 'no-cache' });
    } catch (e) {
      throw new PageError(`The stream manifest ${station.mpd} could not be reached (${e.message}).`);
    }
    if (!res.ok) {
      throw new PageError(res.status === 404
        ? `The stream manifest ${station.mpd} is missing (HTTP 404): there is nothing to play yet.`
        : `The stream manifest ${station.mpd} could not be loaded (HTTP ${res.status}).`);
    }
    const text = await res.text();
    const doc = new DOMParser().parseFromString(text, 'application/xml');
    const root = doc.documentElement;
    if (!root || root.localName !== 'MPD' || doc.getElementsByTagName('parsererror').length > 0) {
      throw new PageError(`${station.mpd} is not a valid DASH manifest.`);
    }
    if (root.getAttribute('type') !== 'dynamic') {
      setStatus('warn', `${station.mpd} is not a live (dynamic) manifest; listeners will not be in sync.`);
    }
    const ast = parseInstantMs(root.getAttribute('availabilityStartTime') || '');
    if (Number.isFinite(ast) && ast !== station.epochMs) {
      setStatus('warn', `The stream starts at ${new Date(ast).toISOString()} but ${STATION_URL} says ${station.epoch}; titles may not match the music.`);
    }
  }


  // ---------------------------------------------------------------- players

  /** Which player this page uses: ?player=shaka, else dash.js. */
  function chosenEngine() {
    const p = new URLSearchParams(window.location.search).get('player');
    return p === 'shaka' || p === 'hlsjs' || p === 'native' ? p : 'dashjs';
  }

  /**
   * dash.js v5 settings. Names and meanings are those of dash.js v5's Settings
   * (streaming.delay, streaming.liveCatchup, streaming.utcSynchronization, ...).
   * Values the MPD's ServiceDescription also carries are set here too, so no
   * default of dash.js wins by accident: explicit settings take precedence over
   * the ServiceDescription in dash.js.
   */
  function dashSettings(dashjs, station) {
    const lat = station.latency;
    const targetS = lat.targetMs / 1000;
    // dash.js takes catch-up rates as deltas from 1.0 (min in [-0.5, 0], max in [0, 1]),
    // unlike the absolute rates of the MPD's PlaybackRate and station.json.
    const rateMin = Math.round((station.playbackRate.min - 1) * 1000) / 1000;
    const rateMax = Math.round((station.playbackRate.max - 1) * 1000) / 1000;
    return {
      debug: {
        // Warnings and errors reach the console (and the browser tests); no chatter.
        logLevel: dashjs.Debug.LOG_LEVEL_WARNING,
      },
      streaming: {
        // Keep reading the MPD's ServiceDescription, so a player that only has the MPD
        // gets the same numbers; ours below are the same values and take precedence.
        applyServiceDescription: true,
        delay: {
          // The one number that makes listeners agree: everyone plays the sample of
          // (now - target). 6 s behind also leaves 2 to 3 segments of buffer, as
          // segment N becomes available only once its 2 s have passed.
          liveDelay: targetS,
          // liveDelay wins over both anyway; state them so nothing else is read.
          liveDelayFragmentCount: NaN,
          useSuggestedPresentationDelay: false,
        },
        liveCatchup: {
          // Catch-up is on by default only for low-latency (chunked) streams; ours
          // are not, so without this a listener who stalls stays late for good.
          enabled: true,
          // "Step" mode: outside +-SYNC_TOLERANCE_S of the target, play at the
          // station's min/max rate until within a third of it, then at exactly 1.0.
          // The default mode (a sigmoid of the error) never changes the rate for
          // errors under about 16 ms and corrects 50 ms only at 0.5 %, so listeners
          // would wander +-30 ms; LoL+ trades latency for buffer, which a 6 s
          // latency does not need.
          mode: 'liveCatchupModeStep',
          step: {
            start: { min: SYNC_TOLERANCE_S, max: SYNC_TOLERANCE_S },
            stop: { min: SYNC_TOLERANCE_S / 3, max: SYNC_TOLERANCE_S / 3 },
          },
          // Gentle rates (0.96 to 1.04 by default) keep the music natural and still
          // correct 10 ms per 250 ms step (2.4 s of drift a minute).
          playbackRate: { min: rateMin, max: rateMax },
          // Beyond the station's latency band, jump instead of waiting minutes for
          // the rate (after a long stall, a sleeping tab, a slow network).
          maxDrift: Math.max(0.5, (lat.maxMs - lat.targetMs) / 1000),
          // Never turn catch-up off for being too far off: we always want the target.
          liveThreshold: -1,
        },
        utcSynchronization: {
          // The page measures the host's clock itself (clock.js) and hands dash.js the
          // offset (see createDashjs); dash.js's own sync reads a whole-second Date
          // header and misjudges it by up to a second, so it must never run.
          enabled: false,
          useManifestDateHeaderTimeSource: false,
          // Never dash.js's default public time service: no third party.
          defaultTimingSource: {
            scheme: station.utcTiming.scheme,
            value: new URL(station.utcTiming.url, station.mpdUrl).href,
          },
        },
        scheduling: {
          // Paused means "radio off": no downloads in the background; on play we jump
          // back to the live point anyway, so nothing buffered while paused is used.
          scheduleWhilePaused: false,
        },
      },
    };
  }

  /**
   * dash.js engine. The stream is attached only at the first press of play (see
   * startListening): dash.js picks its start point when it attaches, and a start
   * point chosen at page load is as old as the page.
   */
  function createDashjs(dashjs, station, codec) {
    const player = dashjs.MediaPlayer().create();
    player.updateSettings(dashSettings(dashjs, station));
    // The MPD in the codecs spelling this browser accepts (dash.js asks MSE with
    // the MPD's string as it is).
    if (typeof player.addResponseInterceptor === 'function') {
      player.addResponseInterceptor((response) => {
        const req = response && response.request;
        const type = req && req.customData && req.customData.request ? req.customData.request.type : null;
        if (type === 'MPD' && response.data) {
          const text = typeof response.data === 'string' ? response.data : new TextDecoder().decode(response.data);
          response.data = rewriteManifest(text, codec, false);
        }
        return Promise.resolve(response);
      });
    }
    const ev = dashjs.MediaPlayer.events;
    player.on(ev.ERROR, (e) => {
      const err = (e && e.error) || {};
      const code = typeof err === 'object' ? err.code : undefined;
      const message = typeof err === 'object' ? String(err.message || 'unknown error') : String(err);
      reportError('dash.js', code, message, undefined, code === 27 || code === 28);
    });
    player.on(ev.FRAGMENT_LOADING_COMPLETED, (e) => {
      const req = e && e.request;
      if (e && e.error && req && req.type === 'MediaSegment') {
        const status = e.error.data && e.error.data.request ? e.error.data.request.status : null;
        noteFailedSegment(req.url, status, e.error.message);
      }
    });
    // iOS/iPadOS ManagedMediaSource tells when it wants data (dash.js follows it);
    // kept for support and tests.
    for (const [name, what] of [['MANAGED_MEDIA_SOURCE_START_STREAMING', 'mms-start'], ['MANAGED_MEDIA_SOURCE_END_STREAMING', 'mms-end']]) {
      if (ev[name]) player.on(ev[name], () => noteEvent({ at: Date.now(), what }));
    }
    player.on(ev.PLAYBACK_NOT_ALLOWED, () => {
      state.wantPlaying = false;
      setButton('paused');
      setStatus('warn', 'The browser blocked playback; press play again.');
    });
    let givenOffset = null;
    return {
      name: 'dash.js',
      player,
      version: player.getVersion(),
      attach() {
        // Again (a large clock correction before the first sound): the same player
        // takes the stream anew and chooses a new start point.
        if (player.isReady()) player.attachSource(station.mpdUrl);
        else player.initialize(audio, station.mpdUrl, true);
        // Both have reset dash.js's clock offset; the stream's start point is chosen
        // only once the MPD is in, so this offset is the one it starts from.
        givenOffset = null;
        this.setClockOffset(deviceOffsetMs());
      },
      /**
       * Gives dash.js the offset (station - Date.now()) in ms. dash.js keeps it in its
       * TimelineConverter, which takes it from the updateTimeSyncOffset event that its
       * own UTC sync raises; with that sync off, the page raises it.
       */
      setClockOffset(ms) {
        if (givenOffset !== null && Math.abs(ms - givenOffset) <= CLOCK_RESEND_MS) return;
        givenOffset = ms;
        player.trigger('updateTimeSyncOffset', { offset: ms });
      },
      /** The offset dash.js works with (ms), read back from its live latency. */
      clockOffsetMs() {
        try {
          const lat = player.getCurrentLiveLatency();
          if (!(lat > 0) || !(audio.currentTime > 0)) return null;
          return station.epochMs + (audio.currentTime + lat) * 1000 - Date.now();
        } catch (e) {
          return null;
        }
      },
    };
  }

  /**
   * Shaka Player 5 configuration. Shaka measures latency from its own live edge,
   * (now - maxSegmentDuration - presentation delay), not from "now": so the delay is
   * set to leave a little room before the target, and liveSync.targetLatency is the
   * rest (computed exactly from the parsed timeline once loaded, see createShaka).
   */
  function shakaConfig(station, targetLatencyS) {
    const l = station.latency.targetMs / 1000;
    return {
      manifest: {
        // The MPD's suggestedPresentationDelay is the whole target latency (its meaning
        // in ISO/IEC 23009-1); Shaka adds maxSegmentDuration on top, so it is replaced.
        dash: { ignoreSuggestedPresentationDelay: true },
        defaultPresentationDelay: Math.max(0.5, l - station.segmentS - 1),
      },
      streaming: {
        liveSync: {
          enabled: true,
          targetLatency: targetLatencyS,
          targetLatencyTolerance: SYNC_TOLERANCE_S,
          minPlaybackRate: station.playbackRate.min,
          maxPlaybackRate: station.playbackRate.max,
          // Slowing down after a rebuffer only makes a listener later.
          panicMode: false,
          dynamicTargetLatency: { enabled: false },
        },
        // Not a low-latency (chunked) stream; plain live behaviour.
        lowLatencyMode: false,
        // Our segment times are exact (tfdt = N*D by construction), so no "drift
        // tolerance": by default Shaka also fetches the segment before the one it
        // needs when within 2 s of its start, which after a skip would be the hole.
        inaccurateManifestTolerance: 0,
        // Paused means "radio off" (see dash.js scheduleWhilePaused).
        stopFetchingOnPause: true,
        // A segment that fails is retried a few times quickly; the page skips it once
        // the live point has passed it.
        retryParameters: { maxAttempts: 3, baseDelay: 500, backoffFactor: 2, fuzzFactor: 0.2, timeout: 10000 },
        // Do not take a rendition out of use for a failed segment: every rendition has
        // the same segments, so a hole in one is a hole in all, and with all of them
        // disabled Shaka would stop streaming rather than follow the page's skip.
        maxDisabledTime: 0,
      },
    };
  }

  /** Shaka Player engine; `codec` is the codecs spelling to give it. */
  async function createShaka(shaka, station, codec) {
    shaka.polyfill.installAll();
    if (!shaka.Player.isBrowserSupported()) {
      throw new PageError('This browser cannot play the stream with Shaka Player (no Media Source Extensions).');
    }
    const l = station.latency.targetMs / 1000;
    const player = new shaka.Player();
    let timeline = null;
    let givenOffset = null;
    await player.attach(audio);
    player.configure(shakaConfig(station, 1));
    // Shaka reads the clock offset from the MPD's UTCTiming while it parses the MPD:
    // it gets the page's measured time of that very moment, so it starts from the
    // right clock and asks no whole-second Date header; and the codecs spelling
    // this browser accepts.
    player.getNetworkingEngine().registerResponseFilter((type, response) => {
      if (type !== shaka.net.NetworkingEngine.RequestType.MANIFEST) return;
      const text = new TextDecoder().decode(response.data);
      response.data = new TextEncoder().encode(rewriteManifest(text, codec, true));
    });
    player.addEventListener('error', (ev) => {
      const err = ev.detail || {};
      const data = Array.isArray(err.data) ? err.data : [];
      if (err.code === 1001 && typeof data[0] === 'string') noteFailedSegment(data[0], data[1], `HTTP ${data[1]}`);
      const network = err.code === 1001 || err.code === 1002 || err.code === 1003;
      reportError('shaka', err.code, `Shaka error ${err.code} (category ${err.category}, severity ${err.severity})${data[0] ? ': ' + data[0] : ''}`,
        undefined, network);
    });
    return {
      name: 'shaka',
      player,
      version: shaka.Player.version,
      async attach() {
        // Start exactly at the live point (an absolute media time), whatever clock
        // offset Shaka derived from UTCTiming.
        await player.load(station.mpdUrl, (stationNowMs() - station.epochMs) / 1000 - l);
        timeline = player.getManifest().presentationTimeline;
        this.setClockOffset(deviceOffsetMs());
        const edgeLag = timeline.getMaxSegmentDuration() + timeline.getDelay();
        player.configure(shakaConfig(station, Math.max(SYNC_TOLERANCE_S, l - edgeLag)));
        const p = audio.play();
        if (p && typeof p.catch === 'function') p.catch(onPlayRejected);
      },
      /** Gives Shaka the offset (station - Date.now()) in ms. */
      setClockOffset(ms) {
        if (!timeline || (givenOffset !== null && Math.abs(ms - givenOffset) <= CLOCK_RESEND_MS)) return;
        givenOffset = ms;
        timeline.setClockOffset(ms);
      },
      clockOffsetMs() {
        return timeline ? givenOffset : null;
      },
    };
  }

  /**
   * What this browser offers for the stream, asked at run time rather than
   * assumed: engines disagree on the spelling of the codecs parameter (Chromium
   * and Firefox take both, WebKitGTK only "opus", Safari's MSE is reported to take
   * only "Opus", the sample entry's four-character code), so the page probes both
   * and hands the players an MPD in the accepted one. ManagedMediaSource is what
   * iOS/iPadOS Safari 17.1+ offers instead of MediaSource.
   */
  function capabilities() {
    const ms = window.ManagedMediaSource || window.MediaSource || window.WebKitMediaSource || null;
    const probe = (c) => {
      try {
        return !!(ms && typeof ms.isTypeSupported === 'function' && ms.isTypeSupported(`audio/mp4; codecs="${c}"`));
      } catch (e) {
        return false;
      }
    };
    const ua = navigator.userAgent || '';
    return {
      mse: !ms ? null : (window.ManagedMediaSource && ms === window.ManagedMediaSource ? 'ManagedMediaSource' : 'MediaSource'),
      /** Spellings of the Opus codecs parameter this MSE accepts, preferred first. */
      spellings: ['Opus', 'opus'].filter(probe),
      /** The browser plays HLS itself (Safari; WebKitGTK through GStreamer). */
      nativeHls: !!(audio.canPlayType && audio.canPlayType('application/vnd.apple.mpegurl')),
      /**
       * Shaka Player rewrites the codecs parameter to "Opus" on every engine it
       * takes for WebKit (its lib/util/mime_utils.js, with this very test of
       * navigator.vendor and the user agent), whatever the MPD says.
       */
      shakaAsksOpus: (navigator.vendor || '').includes('Apple') && (ua.includes('Version/') || ua.includes('OS/')),
      /**
       * dash.js takes the browser for Safari (its user-agent parser) and then
       * changes the playback rate only in steps of 0.25 (a WebKit bug workaround),
       * so its 4 % catch-up never starts: the page holds the latency instead.
       */
      dashjsCannotCatchUp: (navigator.vendor || '').includes('Apple') && ua.includes('Version/') && ua.includes('Safari/')
        && !/Chrome|Chromium|CriOS|Edg|Firefox|FxiOS/.test(ua),
    };
  }

  /**
   * Why this browser cannot play the stream, or null when it can: both players
   * feed Opus-in-MP4 segments to Media Source Extensions (or ManagedMediaSource),
   * so a browser without them, or whose MSE refuses Opus in MP4 in either
   * spelling, gets a plain message instead of a player error it cannot act on.
   */
  function unsupportedReason(station, caps) {
    const where = `Try a current Chrome, Edge, Firefox or Safari, or open ${station.mpdUrl} in a DASH player such as VLC.`;
    if ((!caps.mse || !caps.spellings.length) && caps.nativeHls && station.hls) return null;
    if (chosenEngine() === 'native') {
      return caps.nativeHls ? null : `This browser does not play HLS by itself. ${where}`;
    }
    if (!caps.mse) {
      return `This browser cannot play the stream: it has no Media Source Extensions. ${where}`;
    }
    if (!caps.spellings.length) {
      return `This browser cannot play the stream: it does not play Opus audio in MP4. ${where}`;
    }
    return null;
  }

  /**
   * The MPD as a player in this browser should see it: the Opus codecs parameter
   * in the spelling this MSE accepts, and, when `directTime` is set, the UTCTiming
   * sources replaced by the page's measured time of this moment
   * (urn:mpeg:dash:utc:direct:2014, ISO/IEC 23009-1 5.8.5.7: the value is the time
   * itself), so that the player's clock offset is the page's from the first instant.
   */
  function rewriteManifest(text, codec, directTime) {
    const doc = new DOMParser().parseFromString(text, 'application/xml');
    const mpd = doc.documentElement;
    if (!mpd || mpd.localName !== 'MPD' || doc.getElementsByTagName('parsererror').length) return text;
    if (codec) {
      for (const el of Array.from(doc.getElementsByTagName('*'))) {
        const c = el.getAttribute('codecs');
        if (c !== null && c.trim().toLowerCase() === 'opus' && c !== codec) el.setAttribute('codecs', codec);
      }
    }
    if (directTime) {
      for (const el of Array.from(mpd.children)) {
        if (el.localName === 'UTCTiming') mpd.removeChild(el);
      }
      const timing = doc.createElementNS(mpd.namespaceURI, 'UTCTiming');
      timing.setAttribute('schemeIdUri', 'urn:mpeg:dash:utc:direct:2014');
      timing.setAttribute('value', new Date(stationNowMs()).toISOString());
      mpd.appendChild(timing);
    }
    return new XMLSerializer().serializeToString(doc);
  }

  // ---------------------------------------------------------------- HLS

  /** The UTC day "YYYY-MM-DD" holding programme time t (s since the epoch). */
  function dayOfProgramme(station, tS) {
    return utcDay(station.epochMs + tS * 1000);
  }

  /**
   * The programme time (s since the epoch) where a day's HLS playlists start:
   * their first segment, read from the head of the first media playlist
   * (#EXT-X-MEDIA-SEQUENCE is the segment number). A Range request keeps it to
   * a kilobyte where the host honours it.
   */
  async function hlsDayStart(station, day) {
    const multivariant = new URL(`hls/${day}.m3u8`, document.baseURI);
    const res = await fetch(multivariant, { cache: 'no-cache' });
    if (!res.ok) throw new PageError(res.status === 404
      ? `The HLS playlist for ${day} is not published (yet); try again shortly, or use a browser with Media Source Extensions.`
      : `The HLS playlist for ${day} could not be loaded (HTTP ${res.status}).`);
    const uri = (await res.text()).split(/\r?\n/).find((l) => l && !l.startsWith('#'));
    if (!uri) throw new PageError(`The HLS playlist for ${day} lists no stream.`);
    const media = new URL(uri.trim(), multivariant);
    const head = await fetch(media, { cache: 'no-cache', headers: { Range: 'bytes=0-1023' } });
    const m = /#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(await head.text());
    if (!head.ok || !m) throw new PageError(`The HLS playlist ${media.pathname} could not be read.`);
    return { url: multivariant.href, startS: Number(m[1]) * station.segmentS };
  }

  /**
   * HLS engines (hls.js over MSE, or the browser's own HLS, as in Safari): the
   * day's playlist is a VOD list, so the page does what a live player would:
   * it starts at the live point (now - target) of the day's timeline, holds the
   * latency itself (holdHlsLatency) and moves to the next day's playlist when the
   * programme crosses UTC midnight.
   */
  /** How often a missing next day's HLS playlist is asked for again. */
  const DAY_RETRY_MS = 5000;

  function createHlsEngine(station, kind, Hls) {
    let hls = null;
    let day = null;
    let switching = false;
    let retryDayAt = 0;
    const engine = {
      name: kind === 'hlsjs' ? 'hls.js' : 'native HLS',
      player: null,
      version: kind === 'hlsjs' && Hls ? Hls.version : null,
      /** Programme seconds at media time 0 (the day's first segment). */
      mediaOffsetS: 0,
      /** The day's playlist ends here (programme s), once known. */
      dayEndS: Infinity,
      ownsLatency: true,
      async attach() {
        await loadDay(dayOfProgramme(station, livePositionS()));
        const p = audio.play();
        if (p && typeof p.catch === 'function') p.catch(onPlayRejected);
      },
      /** Near the end of the day's playlist: load the next day's. */
      async followDay() {
        if (switching || !day || livePositionS() < engine.dayEndS - 0.05) return;
        // A next day not there yet is asked for again every few seconds, not
        // at every tick of the latency controller.
        if (Date.now() < retryDayAt) return;
        retryDayAt = Date.now() + DAY_RETRY_MS;
        switching = true;
        try {
          const next = utcDay(Date.parse(day + 'T00:00:00Z') + DAY_MS);
          noteEvent({ at: Date.now(), what: 'day', from: day, to: next });
          await loadDay(next);
          const p = audio.play();
          if (p && typeof p.catch === 'function') p.catch(onPlayRejected);
        } finally {
          switching = false;
        }
      },
      setClockOffset() {},
      clockOffsetMs() {
        return deviceOffsetMs();
      },
    };
    async function loadDay(d) {
      const { url, startS } = await hlsDayStart(station, d);
      day = d;
      engine.mediaOffsetS = startS;
      engine.dayEndS = (Date.parse(d + 'T00:00:00Z') + DAY_MS - station.epochMs) / 1000;
      const startAt = Math.max(0, livePositionS() - startS);
      state.settlePending = true;
      if (kind === 'native') {
        // The element is preload="none" (nothing is fetched before play is
        // pressed); the page needs the playlist's metadata before it can seek.
        audio.preload = 'auto';
        audio.src = url;
        await new Promise((ok) => audio.addEventListener('loadedmetadata', ok, { once: true }));
        // Where the day's first segment sits on the element's timeline: 0 in
        // some engines, its decode time in others; the seekable range says.
        const first = audio.seekable && audio.seekable.length ? audio.seekable.start(0) : 0;
        engine.mediaOffsetS = startS - first;
        audio.currentTime = Math.max(first, livePositionS() - engine.mediaOffsetS);
        return;
      }
      if (hls) hls.destroy();
      hls = new Hls({ startPosition: startAt, maxBufferLength: 12, backBufferLength: 10, enableWorker: true });
      engine.player = hls;
      hls.on(Hls.Events.ERROR, (e, data) => {
        const network = data && data.type === Hls.ErrorTypes.NETWORK_ERROR;
        if (data && data.fatal) {
          reportError('hls.js', data.details, data.details, network
            ? 'Part of the stream could not be downloaded.' : undefined, false);
        } else if (network && data.frag) {
          noteFailedSegment(data.frag.url, data.response ? data.response.code : null, data.details);
        }
      });
      await new Promise((ok, fail) => {
        hls.once(Hls.Events.MANIFEST_PARSED, ok);
        hls.once(Hls.Events.ERROR, (e, data) => { if (data && data.fatal) fail(new PageError(`The HLS stream could not be loaded (${data.details}).`)); });
        hls.loadSource(url);
        hls.attachMedia(audio);
      });
    }
    return engine;
  }

  /**
   * Holds the latency where the player does not: for the HLS engines (a VOD list
   * has no live catch-up) and for dash.js where it takes the browser for Safari
   * (it then changes the rate only by 0.25 or more, for a WebKit bug). The rate
   * follows the error (catchUpRate). An error beyond SETTLE_S (WebKitGTK
   * comes back from a seek a few hundred ms late) is removed with another seek,
   * at most every RESETTLE_MS, aimed past the live point by what the engine was
   * seen to lose (learnSeekLead); beyond the latency band, at once.
   */
  function holdLatency() {
    const engine = state.engine;
    if (!engine || !state.attached) return;
    if (engine.followDay) engine.followDay().catch((e) => reportError(engine.name, undefined, String(e.message || e)));
    settleLate();
    if (!isAudible() || audio.seeking || state.settlePending) {
      state.errWindow.length = 0;
      return;
    }
    const st = state.station;
    // The median of the last second of readings: some engines (WebKitGTK) report
    // the position with tens of ms of jitter, which a controller must not chase.
    state.errWindow.push({ errS: audio.currentTime + mediaOffsetS() - livePositionS(), atMs: performance.now(), pos: audio.currentTime });
    if (state.errWindow.length > ERR_WINDOW) state.errWindow.shift();
    const sorted = state.errWindow.map((r) => r.errS).sort((a, b) => a - b);
    const errS = sorted[sorted.length >> 1];
    // Nothing is learned or corrected until the position moves with the clock:
    // WebKitGTK reports a playing element whose position stands still for up to
    // seconds after a seek under load, and a seek then (the error grows by a
    // second a second) only starts that wait again: a seek every few seconds,
    // nothing heard in between. (So what follows has a full window of readings.)
    if (!flowing()) return;
    if (state.learnPending && Date.now() - state.lastJumpAt >= LEARN_AFTER_MS) {
      state.learnPending = false;
      // A start that needed no seek teaches the lead only if it lost time.
      const learn = !state.judgingStart || Math.abs(errS) > SETTLE_S;
      state.judgingStart = false;
      if (learn) learnSeekLead(errS);
      if (!engine.ownsLatency) {
        // A player that holds the latency itself (dash.js's catch-up) would take
        // what the seek lost at its gentle rate: 1.5 s at 1.04x is 40 s (Firefox
        // lost that much on an audio output slow to wake). Seek again, now with
        // the learned lead; a few times at most, as the lead converges.
        if (Math.abs(errS) > SETTLE_S && state.reseeks < MAX_RESEEKS) {
          state.reseeks += 1;
          jumpToLive(SETTLE_S, 'reseek');
        } else {
          state.reseeks = 0;
        }
        return;
      }
    }
    if (!engine.ownsLatency) return;
    const bandS = Math.max(0.5, (st.latency.maxMs - st.latency.targetMs) / 1000);
    const now = Date.now();
    if (Math.abs(errS) > bandS
        || (Math.abs(errS) > resettleS(bandS) && now - state.lastSettleAt > RESETTLE_MS)) {
      state.lastSettleAt = now;
      state.errWindow.length = 0;
      if (audio.playbackRate !== 1) audio.playbackRate = 1;
      jumpToLive(0, Math.abs(errS) > bandS ? 'drift' : 'resettle');
      return;
    }
    const seldom = !!(state.caps && state.caps.dashjsCannotCatchUp);
    const rate = catchUpRate(errS, audio.playbackRate, st.playbackRate, seldom);
    if (rate !== audio.playbackRate) audio.playbackRate = rate;
  }

  /**
   * The playback rate with which holdLatency removes a latency error of errS (s,
   * > 0: ahead) while playing at `rate`: 1 within the tolerance, or, once
   * correcting, within a third of it. Beyond it, proportional to the error, so
   * that it decays with a time constant of CATCHUP_TAU_S, in steps of RATE_STEP
   * within the station's bounds: the full rate until the error is gone (dash.js's
   * step mode) overshoots where the error is seen late (the window's median lags
   * by half a second), and Chromium's hls.js listener swung 20-30 ms either side
   * of the target every few seconds. On WebKit (`seldom`, see
   * WEBKIT_TOLERANCE_S) the fewest changes: the full rate until within a third
   * of its own band.
   */
  function catchUpRate(errS, rate, bounds, seldom) {
    const tol = seldom ? WEBKIT_TOLERANCE_S : SYNC_TOLERANCE_S;
    const correcting = rate !== 1;
    if (Math.abs(errS) < (correcting ? tol / 3 : tol)) return 1;
    if (seldom) {
      if (!correcting) return errS > 0 ? bounds.min : bounds.max;
      return (errS > 0) === (rate > 1) ? 1 : rate;
    }
    const steps = Math.round(-errS / CATCHUP_TAU_S / RATE_STEP) || Math.sign(-errS);
    return Math.min(bounds.max, Math.max(bounds.min, Math.round((1 + steps * RATE_STEP) * 1e4) / 1e4));
  }

  /**
   * Loads the chosen player's library and creates its engine. Shaka Player is
   * used where it can play (see capabilities().shakaAsksOpus); where it cannot,
   * dash.js plays instead and the page says why.
   */
  async function createEngine(station, caps) {
    let wanted = chosenEngine();
    if (wanted === 'native' || (!caps.spellings.length && caps.nativeHls && station.hls)) {
      return createHlsEngine(station, 'native', null);
    }
    if (wanted === 'hlsjs') {
      const { lib, source } = await loadLibrary('hls.js', station.libs.hlsjs,
        () => (window.Hls && window.Hls.isSupported ? window.Hls : null));
      const engine = createHlsEngine(station, 'hlsjs', lib);
      engine.source = source;
      return engine;
    }
    if (wanted === 'shaka' && caps.shakaAsksOpus && !caps.spellings.includes('Opus')) {
      wanted = 'dashjs';
      state.notes.push('Shaka Player cannot play this stream in this browser (it asks for the codec as "Opus", which this browser refuses), so dash.js plays it.');
    }
    if (wanted === 'shaka') {
      const { lib, source } = await loadLibrary('Shaka Player', station.libs.shaka,
        () => (window.shaka && window.shaka.Player ? window.shaka : null));
      const engine = await createShaka(lib, station, caps.shakaAsksOpus ? 'Opus' : caps.spellings[0]);
      engine.source = source;
      return engine;
    }
    const { lib, source } = await loadLibrary('dash.js', station.libs.dashjs,
      () => (window.dashjs && window.dashjs.MediaPlayer ? window.dashjs : null));
    const engine = createDashjs(lib, station, caps.spellings[0]);
    engine.source = source;
    if (caps.dashjsCannotCatchUp) {
      engine.player.updateSettings({ streaming: { liveCatchup: { enabled: false } } });
      engine.ownsLatency = true;
    }
    return engine;
  }

  /**
   * Records a player or media error and shows it. `retrying` marks a problem the
   * player is still working on (a segment download): it does not replace a message
   * about what the page already did (a skip) shown in the last few seconds.
   */
  function reportError(source, code, message, text, retrying) {
    state.errors.push({ source, code: code === undefined ? null : code, message, at: Date.now() });
    if (retrying && state.skipShownAt && Date.now() - state.skipShownAt < 10000) return;
    setStatus(retrying ? 'warn' : 'error', text || explainError(source, code, message));
    state.problemShownAt = Date.now();
  }

  /**
   * A player's or the browser's error in words: what did not work and what to try,
   * with the code only as a detail in parentheses for whoever helps the listener.
   */
  function explainError(source, code, message) {
    const elsewhere = 'Try reloading the page, or a current Chrome, Edge, Firefox or Safari.';
    const tag = code !== undefined && code !== null ? ` (${source} ${code})` : '';
    const unsupported = `This browser could not play the stream's audio (Opus in MP4). ${elsewhere}${tag}`;
    const manifest = `The stream's description (${state.station ? state.station.mpd : 'the MPD'}) could not be read. ${elsewhere}${tag}`;
    const decode = `The browser stopped playing the stream. Press play to start again; if it happens again, ${elsewhere.charAt(0).toLowerCase()}${elsewhere.slice(1)}${tag}`;
    const network = `Part of the stream could not be downloaded; retrying.${tag}`;
    if (source === 'shaka') {
      if (code >= 1000 && code < 2000) return network;
      if (code === 4032 || code === 4012 || code === 3014 || code === 3015) return unsupported;
      if (code >= 4000 && code < 5000) return manifest;
      if (code >= 3000 && code < 4000) return decode;
    } else if (source === 'dash.js') {
      if (code === 23 || code === 35) return unsupported;
      if (code === 10 || code === 11 || code === 25 || code === 31 || code === 32) return manifest;
      if (code === 17 || code === 27 || code === 28) return network;
      if (code === 20 || code === 22) return decode;
    } else if (source === 'audio') {
      if (code === 4) return unsupported;
      if (code === 3) return decode;
      if (code === 2) return network;
    }
    const detail = message ? ` (${message})` : tag;
    return `The player stopped with an error it did not explain. ${elsewhere}${detail}`;
  }

  /** Remembers a media segment that would not load (from its URL, `<rendition>/<N>.m4s`). */
  function noteFailedSegment(url, status, message) {
    const m = /\/(\d+)\.m4s(?:[?#].*)?$/.exec(String(url || ''));
    if (!m || !state.station) return;
    const n = Number(m[1]);
    const segS = state.station.segmentS;
    if (state.failedSegments.some((f) => f.number === n)) return;
    state.failedSegments.push({ number: n, start: n * segS, end: (n + 1) * segS, status: status || null, url, message });
    if (state.failedSegments.length > 50) state.failedSegments.shift();
  }

  // ---------------------------------------------------------------- playing

  /**
   * Where the media element's timeline starts, in programme seconds since the
   * epoch: 0 for DASH (media time is time since the epoch), the first segment of
   * the day's playlist for HLS (its media time starts at that segment).
   */
  function mediaOffsetS() {
    return state.engine && state.engine.mediaOffsetS ? state.engine.mediaOffsetS : 0;
  }

  /** Absolute UTC ms of the sample being heard, or null before the stream has a position. */
  function programmeTimeMs() {
    if (!state.station || !state.engine || !(audio.currentTime > 0)) return null;
    return state.station.epochMs + (heardPositionS() + mediaOffsetS()) * 1000;
  }

  /**
   * The media position being heard at this instant. Firefox moves currentTime
   * in 40 ms steps and fires timeupdate right after one, so a read at a random
   * moment is on average 20 ms old (the sync line said "±30 ms" for a listener
   * 3 ms off): the position at the last timeupdate, advanced since at the
   * playback rate, is not. Where currentTime moves every few ms (Chromium,
   * WebKit) the two agree; never less than currentTime, and only between two
   * updates.
   */
  function heardPositionS() {
    const t = audio.currentTime;
    const u = state.lastUpdate;
    if (!u || audio.paused || audio.seeking || audio.readyState < 3) return t;
    const sinceS = (performance.now() - u.atMs) / 1000;
    const est = u.pos + sinceS * audio.playbackRate;
    return sinceS < HEARD_EXTRAPOLATE_S && est > t && est - t < HEARD_STEP_MAX_S ? est : t;
  }

  /** Station clock minus the heard position, in ms (null before there is a position). */
  function latencyMs() {
    const heard = programmeTimeMs();
    return heard === null ? null : stationNowMs() - heard;
  }

  function isAudible() {
    return !audio.paused && !audio.ended && audio.readyState >= 3 && audio.currentTime > 0;
  }

  /** The programme time (s since the epoch) every listener should be hearing now: now - target. */
  function livePositionS() {
    const st = state.station;
    return (stationNowMs() - st.epochMs - st.latency.targetMs) / 1000;
  }

  /** The programme position that "now playing" describes. */
  function listeningPositionMs() {
    const heard = isAudible() ? programmeTimeMs() : null;
    if (heard !== null) return heard;
    // Not playing: what play would bring, which is the station clock minus the target.
    return stationNowMs() - (state.station ? state.station.latency.targetMs : 0);
  }

  /**
   * Puts the playhead on the live point (now - target) if it is further than
   * thresholdS from it. A seek of the media element works the same with both
   * players; inside the buffer it takes a few tens of ms, outside it one segment
   * download. Returns whether it seeked.
   */
  function jumpToLive(thresholdS, why) {
    if (!state.engine || !state.attached || !(audio.currentTime > 0)) return false;
    const target = livePositionS() - mediaOffsetS(); // in media time
    const error = audio.currentTime - target; // > 0: ahead (early), < 0: behind (late)
    if (!(Math.abs(error) > thresholdS)) return false;
    noteEvent({ at: Date.now(), what: 'jump', why, fromS: audio.currentTime, toS: target, errorMs: Math.round(error * 1000), leadMs: Math.round(state.seekLeadS * 1000) });
    state.settlePending = true;
    state.learnPending = true;
    state.judgingStart = false;
    state.lastJumpAt = Date.now();
    state.errWindow.length = 0;
    audio.currentTime = target + state.seekLeadS;
    return true;
  }

  /** Whether the position advanced at about the clock's pace over the last error window. */
  function flowing() {
    const w = state.errWindow;
    if (w.length < ERR_WINDOW) return false;
    const first = w[0];
    const last = w[w.length - 1];
    const wallS = (last.atMs - first.atMs) / 1000;
    const pace = wallS > 0 ? (last.pos - first.pos) / wallS : 0;
    return pace > 0.8 && pace < 1.2;
  }

  /**
   * The least error holdLatency removes with a seek rather than the rate: SETTLE_S
   * where seeks land where they aim (Chromium), but the typical miss of this
   * engine's recent seeks where they land a few hundred ms either side of it
   * (WebKitGTK): a seek there would trade a small error for a random one, again
   * and again. Never more than the latency band, beyond which a seek always runs.
   */
  function resettleS(bandS) {
    const misses = state.seekMisses.slice().sort((a, b) => a - b);
    const typical = misses.length ? misses[misses.length >> 1] : 0;
    return Math.min(bandS, Math.max(SETTLE_S, typical));
  }

  /**
   * Some engines lose time after every seek (WebKitGTK and Firefox open a new
   * audio stream, which starts tens of ms late on a running sound card and
   * seconds late on an output slow to wake; Chromium loses nothing): the page
   * learns how much from the error it finds once a second of audio has flowed
   * after a seek, and seeks that much further next time: the first outcome
   * taken whole, later ones half (the loss varies from seek to seek).
   */
  function learnSeekLead(errorAfterSeek) {
    state.seekMisses.push(Math.abs(errorAfterSeek));
    if (state.seekMisses.length > SEEK_MISSES) state.seekMisses.shift();
    const lead = state.seekLeadS - errorAfterSeek;
    const gain = state.seeksLearned === 0 ? 1 : 0.5;
    state.seeksLearned += 1;
    state.seekLeadS = Math.min(SEEK_LEAD_MAX_S, Math.max(0, state.seekLeadS + gain * (lead - state.seekLeadS)));
  }

  function onPlayRejected(err) {
    if (err && err.name === 'AbortError') {
      // Interrupted by a pause (fine) or by the element being (re)loaded: then
      // try again once it can play.
      if (state.wantPlaying) state.retryPlay = true;
      return;
    }
    state.wantPlaying = false;
    setButton('paused');
    setStatus('error', `The browser would not start playback: ${err && err.message ? err.message : err}`);
  }

  function startListening() {
    state.wantPlaying = true;
    setButton('loading');
    if (!state.attached) {
      // First press: attach the stream now, so that the player starts at the live
      // point of this moment and plays as soon as it has buffered. The press is the
      // user activation that lets it play with sound.
      state.attached = true;
      state.settlePending = true;
      if (state.engine.name === 'native HLS') {
        // Safari's own player (older iPhones) lets a media element play only if
        // play() was first called inside a tap; the real play() below comes
        // after the clock wait and the playlist fetch, outside it. Calling it
        // now, before the element has a source, allows the element; the promise
        // settles (or is aborted by the source being set) on its own.
        const unlock = audio.play();
        if (unlock && typeof unlock.catch === 'function') unlock.catch(() => {});
      }
      // The start point comes from the station clock: give its first measurement
      // (about a second after the page loaded, usually long done) a moment.
      stationClock.ready(50, CLOCK_WAIT_MS).then(() => attachEngine()).catch((e) => {
        state.attached = false;
        state.wantPlaying = false;
        setButton('paused');
        // A Shaka load() rejects with its Error (a code and a category), dash.js and
        // the browser with an Error whose message is words.
        const code = e && typeof e.code === 'number' ? e.code : undefined;
        const source = code !== undefined && state.engine.name === 'shaka' ? 'shaka' : state.engine.name;
        reportError(source, code, e && e.message ? e.message : String(e),
          code !== undefined ? undefined : `The stream could not be started: ${e && e.message ? e.message : e}`);
      });
      return;
    }
    // Back from a pause: be at the live point before any sound comes out.
    jumpToLive(SETTLE_S, 'resume');
    const p = audio.play();
    if (p && typeof p.catch === 'function') p.catch(onPlayRejected);
  }

  function stopListening() {
    state.wantPlaying = false;
    audio.pause();
    setButton('paused');
  }

  function onPlayClick() {
    if (!state.engine) return;
    // While tuning in the button already shows "pause": a press stops.
    if (state.wantPlaying) stopListening();
    else startListening();
  }

  /**
   * Audio flows again (start-up, resume, after a seek): the time that took is
   * removed with one seek, rather than left to the rate, which needs seconds.
   * After a seek of the page's own, the playhead is meant to be ahead by the
   * learned lead for now; holdLatency judges the outcome once audio has flowed
   * a second. Called on 'playing', shortly after 'seeked', and by holdLatency
   * when neither came (settleLate).
   */
  function settle() {
    if (!state.settlePending) return;
    state.settlePending = false;
    state.unsettledSince = null;
    if (state.learnPending || jumpToLive(SETTLE_S, 'settle')) return;
    // At the live point already: the outcome is judged all the same, as after a
    // seek (Firefox may start its audio output and then stall it, waiting for the device).
    state.learnPending = true;
    state.judgingStart = true;
    state.lastJumpAt = Date.now();
    state.errWindow.length = 0;
  }

  /**
   * The events that settle a start or a seek ('playing'; 'seeked' with the
   * audio flowing 300 ms later) may not come: an engine starved of CPU can be
   * still filling its buffer 300 ms after a seek and send no 'playing' after
   * it. Until settled, holdLatency corrects nothing; a Firefox listener among
   * six on two cores stayed 180 ms behind for a whole run, its line saying
   * "catching up", with nothing after its start-up seek. Audio that has
   * flowed SETTLE_LATE_MS unsettled is settled here.
   */
  function settleLate() {
    if (!state.settlePending || !isAudible() || audio.seeking) {
      state.unsettledSince = null;
      return;
    }
    const now = Date.now();
    if (state.unsettledSince === null) state.unsettledSince = now;
    if (now - state.unsettledSince < SETTLE_LATE_MS) return;
    noteEvent({ at: now, what: 'late-settle', ms: now - state.unsettledSince });
    settle();
  }

  function bindAudio() {
    audio.addEventListener('play', () => {
      if (!state.wantPlaying && !state.everPlayed) {
        // The player's autoplay after the listener pressed stop while tuning in.
        audio.pause();
        return;
      }
      // Also when play comes from the OS (media keys, lock screen).
      state.wantPlaying = true;
      state.settlePending = true;
      // Before the first sound the player is still choosing its start point itself.
      if (state.everPlayed) jumpToLive(SETTLE_S, 'resume');
    });
    audio.addEventListener('playing', () => {
      state.everPlayed = true;
      setButton('playing');
      settle();
    });
    // WebKit fires no 'playing' after a seek inside the buffer while playing: the
    // audio flows again once the seek is done, a moment later.
    audio.addEventListener('seeked', () => {
      setTimeout(() => {
        if (state.settlePending && isAudible() && !audio.seeking) settle();
      }, SEEKED_SETTLE_MS);
    });
    audio.addEventListener('timeupdate', () => {
      state.lastUpdate = audio.seeking ? null : { pos: audio.currentTime, atMs: performance.now() };
    });
    audio.addEventListener('seeking', () => { state.lastUpdate = null; });
    audio.addEventListener('canplay', () => {
      if (state.retryPlay && state.wantPlaying && audio.paused) {
        state.retryPlay = false;
        startListening();
      }
    });
    audio.addEventListener('waiting', () => {
      if (state.wantPlaying) setButton('loading');
    });
    audio.addEventListener('pause', () => {
      state.wantPlaying = false;
      setButton('paused');
    });
    audio.addEventListener('error', () => {
      const e = audio.error;
      if (!e) return;
      reportError('audio', e.code, e.message || '');
    });
  }

  function setupVolume() {
    const saved = parseFloat(readPref('volume'));
    const v = Number.isFinite(saved) && saved >= 0 && saved <= 1 ? saved : 0.8;
    ui.volume.value = String(v);
    applyVolume(v);
    ui.volume.addEventListener('input', () => {
      const value = parseFloat(ui.volume.value);
      applyVolume(value);
      writePref('volume', value);
    });
  }

  function applyVolume(v) {
    audio.volume = v;
    audio.muted = v === 0;
    ui.volume.style.setProperty('--fill', `${Math.round(v * 100)}%`);
    ui.volume.setAttribute('aria-valuetext', `${Math.round(v * 100)} %`);
  }

  // ---------------------------------------------------------------- schedule

  function normaliseItem(raw, station) {
    if (!raw || typeof raw !== 'object') return null;
    let startMs = parseInstantMs(raw.start);
    let endMs = parseInstantMs(raw.end);
    if (!Number.isFinite(startMs) && Number.isFinite(raw.start_sample)) {
      startMs = station.epochMs + (raw.start_sample * 1000) / station.sampleRate;
    }
    if (!Number.isFinite(endMs) && Number.isFinite(raw.end_sample)) {
      endMs = station.epochMs + (raw.end_sample * 1000) / station.sampleRate;
    }
    if (!Number.isFinite(startMs)) return null;
    return {
      title: typeof raw.title === 'string' ? raw.title : String(raw.title == null ? '' : raw.title),
      artist: typeof raw.artist === 'string' ? raw.artist : String(raw.artist == null ? '' : raw.artist),
      start: typeof raw.start === 'string' ? raw.start : new Date(startMs).toISOString(),
      end: typeof raw.end === 'string' ? raw.end : (Number.isFinite(endMs) ? new Date(endMs).toISOString() : null),
      startMs,
      endMs: Number.isFinite(endMs) ? endMs : NaN,
    };
  }

  function rebuildItems() {
    const seen = new Set();
    const all = [];
    for (const entry of state.days.values()) {
      if (entry.status !== 'ok' && !(entry.items && entry.items.length)) continue;
      for (const item of entry.items || []) {
        const key = `${item.startMs}\u0000${item.title}\u0000${item.artist}`;
        if (seen.has(key)) continue;
        seen.add(key);
        all.push(item);
      }
    }
    all.sort((a, b) => a.startMs - b.startMs);
    state.items = all;
  }

  async function fetchDay(day) {
    const prev = state.days.get(day);
    const entry = { status: 'loading', items: prev ? prev.items : [], fetchedAt: Date.now() };
    state.days.set(day, entry);
    try {
      const res = await fetch(`${SCHEDULE_DIR}${day}.json`, { cache: 'no-cache' });
      if (res.status === 404) {
        entry.status = 'missing';
      } else if (!res.ok) {
        entry.status = 'error';
      } else {
        const doc = await res.json();
        const raw = doc && Array.isArray(doc.items) ? doc.items : [];
        entry.items = raw.map((it) => normaliseItem(it, state.station)).filter(Boolean);
        entry.status = 'ok';
      }
    } catch (e) {
      entry.status = 'error';
    }
    entry.fetchedAt = Date.now();
    rebuildItems();
    state.shownKey = null; // repaint
  }

  function wantDay(day) {
    const entry = state.days.get(day);
    if (entry && entry.status === 'loading') return;
    if (entry && Date.now() - entry.fetchedAt < SCHEDULE_TTL_MS[entry.status]) return;
    fetchDay(day);
  }

  /** Loads the schedule days around programme time t, as they become relevant. */
  function ensureSchedule(t) {
    const st = state.station;
    if (!st) return;
    const dayStart = Math.floor(t / DAY_MS) * DAY_MS;
    const epochDayStart = Math.floor(st.epochMs / DAY_MS) * DAY_MS;
    wantDay(utcDay(dayStart));
    if (t - dayStart < PREV_DAY_WINDOW_MS && dayStart - DAY_MS >= epochDayStart) {
      wantDay(utcDay(dayStart - DAY_MS));
    }
    const { next } = itemsAt(t);
    const today = state.days.get(utcDay(dayStart));
    const todayDone = today && today.status !== 'loading';
    if (dayStart + DAY_MS - t < NEXT_DAY_WINDOW_MS || (todayDone && !next && today.status === 'ok')) {
      wantDay(utcDay(dayStart + DAY_MS));
    }
  }

  /** The item playing at t (start <= t < next start; the newer wins in a crossfade) and the next one. */
  function itemsAt(t) {
    const items = state.items;
    let lo = 0;
    let hi = items.length; // first index with start > t
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (items[mid].startMs <= t) lo = mid + 1;
      else hi = mid;
    }
    let current = lo > 0 ? items[lo - 1] : null;
    // After the last known item's audio has ended, nothing is known to be playing.
    if (current && lo === items.length && Number.isFinite(current.endMs) && t >= current.endMs) current = null;
    return { current, next: lo < items.length ? items[lo] : null };
  }

  function publicItem(item) {
    return item ? { title: item.title, artist: item.artist, start: item.start, end: item.end } : null;
  }

  /** What the listener hears now (or would hear on pressing play), with the next item. */
  function nowPlaying() {
    if (!state.station) return null;
    const { current, next } = itemsAt(listeningPositionMs());
    if (!current) return null;
    return Object.assign(publicItem(current), { next: publicItem(next) });
  }

  function scheduleNote(t) {
    const entry = state.days.get(utcDay(t));
    if (!entry || entry.status === 'loading') return { title: '…', artist: '' };
    if (entry.status === 'missing') return { title: 'No schedule published for today yet', artist: '' };
    if (entry.status === 'error') return { title: 'The schedule could not be loaded', artist: 'retrying shortly' };
    return { title: 'Nothing scheduled right now', artist: '' };
  }

  /**
   * What plays and how far into it. The title, the artist and the Media Session
   * (the lock screen) change with the item, also while the page is hidden; the
   * clock figures and the bar are painted once a second (they show whole
   * seconds), and not at all while hidden: on a device without a GPU each paint
   * is CPU taken from the audio, and a phone in a pocket shows nothing.
   */
  function paintNowPlaying(t) {
    const { current, next } = itemsAt(t);
    const key = current ? `${current.startMs}|${current.title}|${current.artist}` : `none|${(state.days.get(utcDay(t)) || {}).status}`;
    const nextKey = next ? `${next.startMs}|${next.title}` : 'none';
    const itemChanged = key + '#' + nextKey !== state.shownKey;
    if (itemChanged) {
      state.shownKey = key + '#' + nextKey;
      ui.title.classList.toggle('placeholder', !current);
      if (current) {
        setText(ui.title, current.title || 'Untitled');
        setText(ui.artist, current.artist || '');
      } else {
        const note = scheduleNote(t);
        setText(ui.title, note.title);
        setText(ui.artist, note.artist);
      }
      setText(ui.nextTitle, next ? next.title || 'Untitled' : '—');
      setText(ui.nextArtist, next ? next.artist || '' : '');
      updateMediaSession(current);
    }
    if (document.hidden) {
      state.shownSecond = null; // painted in full when shown again
      return;
    }
    const second = current ? Math.floor((t - current.startMs) / 1000) : null;
    if (!itemChanged && second === state.shownSecond) return;
    state.shownSecond = second;
    if (current && Number.isFinite(current.endMs) && current.endMs > current.startMs) {
      const total = current.endMs - current.startMs;
      const done = Math.min(Math.max(t - current.startMs, 0), total);
      const pct = (done / total) * 100;
      setBar(pct);
      setText(ui.elapsed, formatDuration(done));
      setText(ui.duration, formatDuration(total));
    } else {
      setBar(0);
      setText(ui.elapsed, current ? formatDuration(t - current.startMs) : '');
      setText(ui.duration, '');
    }
    setText(ui.nextAt, next ? `in ${formatDuration(next.startMs - t)}` : '');
  }

  /**
   * The lock screen, the notification shade and media keys (Media Session): what
   * plays now (title, artist), the station as album, its artwork. Live radio has
   * no position or duration, so no setPositionState (with an infinite duration it
   * throws in Chrome and on iOS) and no seek actions.
   */
  function updateMediaSession(current) {
    if (!('mediaSession' in navigator) || typeof window.MediaMetadata !== 'function') return;
    const st = state.station;
    try {
      navigator.mediaSession.metadata = new window.MediaMetadata({
        title: current ? current.title || 'Untitled' : (st ? st.name : 'lofiever'),
        artist: current ? current.artist : '',
        album: st ? st.name : '',
        artwork: st ? st.artwork : [],
      });
    } catch (e) {
      /* not supported here */
    }
  }

  /** Media Session actions: play rejoins the live moment, pause and stop stop. */
  function setupMediaSession() {
    if (!('mediaSession' in navigator)) return;
    const ms = navigator.mediaSession;
    const handlers = {
      play: () => state.engine && startListening(),
      pause: () => stopListening(),
      stop: () => stopListening(),
      // A radio cannot seek: say so, so the system shows no seek controls.
      seekbackward: null,
      seekforward: null,
      seekto: null,
      previoustrack: null,
      nexttrack: null,
    };
    for (const [action, fn] of Object.entries(handlers)) {
      try {
        ms.setActionHandler(action, fn);
      } catch (e) {
        /* this action is unknown here */
      }
    }
    const playbackState = () => {
      try {
        ms.playbackState = state.wantPlaying ? 'playing' : 'paused';
      } catch (e) {
        /* read-only here */
      }
    };
    audio.addEventListener('play', playbackState);
    audio.addEventListener('pause', playbackState);
  }

  // ---------------------------------------------------------------- sync line

  /** "0.7 s" or "40 ms". */
  function amount(ms) {
    const abs = Math.abs(ms);
    return abs >= 1000 ? `${(abs / 1000).toFixed(1)}\u00a0s` : `${Math.round(abs)}\u00a0ms`;
  }

  /**
   * What the page knows of its clock, in words: the correction it applied to the
   * device clock and how sure it is, or why it could not measure the host's clock.
   */
  function clockWords(c) {
    if (!c || c.state === 'measuring') return { known: false, text: 'checking the clock\u2026' };
    if (c.state === 'unknown') {
      return { known: false, text: `clock not checked: ${c.problemText || 'no answer from the host'}; playing by this device\u2019s clock` };
    }
    const off = c.offsetMs; // station - device: > 0 means the device clock is slow
    const device = Math.abs(off) < 1
      ? 'device clock on time'
      : `device clock ${amount(off)} ${off > 0 ? 'slow' : 'fast'}, corrected`;
    const sure = `\u00b1${amount(c.errorMs)}`;
    if (c.state === 'unsure') {
      return { known: false, text: `${device} to ${sure}: ${c.problemText || 'the host\u2019s clock is unsteady'}` };
    }
    return { known: true, errorMs: c.errorMs, text: `${device} (${sure})` };
  }

  /**
   * The sync line. It shows the position error against the station clock (the
   * host's, as measured), what was done to the device clock and how sure the page is.
   * It says "in sync" only when the error plus the clock's own uncertainty is within
   * IN_SYNC_MS: never while the host's clock is unknown or unsteady.
   */
  function paintSync(force) {
    const now = Date.now();
    if (document.hidden || (!force && now - state.lastSyncPaint < SYNC_REFRESH_MS)) return;
    state.lastSyncPaint = now;
    const st = state.station;
    const clockState = clockWords(stationClock ? stationClock.status() : null);
    const lat = isAudible() ? latencyMs() : null;
    if (!st || lat === null) {
      setState(ui.sync, 'idle');
      setText(ui.sync, (state.wantPlaying ? 'tuning in\u2026' : 'not playing') + (st ? ` \u00b7 ${clockState.text}` : ''));
      return;
    }
    // > 0: ahead of the station's target position; < 0: behind it.
    const offsetMs = Math.round(st.latency.targetMs - lat);
    const abs = Math.abs(offsetMs);
    const parts = [];
    if (!clockState.known) {
      setState(ui.sync, 'unsure');
      parts.push(`sync unknown (${amount(abs)} ${offsetMs < 0 ? 'behind' : 'ahead'} by this clock)`);
    } else if (abs + clockState.errorMs <= IN_SYNC_MS) {
      setState(ui.sync, 'ok');
      parts.push(`in sync \u00b1${abs}\u00a0ms`);
    } else if (abs <= IN_SYNC_MS) {
      setState(ui.sync, 'unsure');
      parts.push(`within \u00b1${amount(abs + clockState.errorMs)}`);
    } else {
      setState(ui.sync, 'drift');
      parts.push(`${amount(abs)} ${offsetMs < 0 ? 'behind' : 'ahead'}, catching up`);
    }
    // Non-breaking spaces keep each part on one line on a phone.
    parts.push(`delay\u00a0${(lat / 1000).toFixed(1)}\u00a0s`);
    parts.push(clockState.text);
    setText(ui.sync, parts.join(' \u00b7 '));
  }

  // ---------------------------------------------------------------- main

  /** Keeps what the page did (state.events), the last MAX_EVENTS of it. */
  function noteEvent(event) {
    state.events.push(event);
    if (state.events.length > MAX_EVENTS) state.events.shift();
  }

  /** Clears a problem from the status line once music has flowed again for a while. */
  function clearRecoveredProblem() {
    if (state.problemShownAt && isAudible() && Date.now() - state.problemShownAt > 15000) {
      state.problemShownAt = 0;
      setStatus(null, '');
    }
  }

  /** End (media s) of the buffered range holding t, or t if none does. */
  function bufferedEndAt(t) {
    const b = audio.buffered;
    for (let i = 0; i < b.length; i++) {
      if (b.start(i) <= t + 0.05 && t <= b.end(i) + 0.05) return b.end(i);
    }
    return t;
  }

  /**
   * Missing audio: when the playhead is stuck at the end of what could be buffered,
   * the player keeps retrying the next segment. Once the live point has passed that
   * segment (or after STALL_RESYNC_MS whatever the cause), jump to the live point:
   * the listener hears a gap exactly as long as the missing audio, and stays in sync.
   *
   * A stuck element: stuck with audio buffered ahead (ELEMENT_STUCK_MS), or stuck
   * again before it played a second past where the last jump put it. A seek does not
   * mend that; the stream is given to the element anew (a new MediaSource or
   * source), which starts at the live point (at most every REATTACH_MIN_MS; a jump
   * in between).
   */
  function stallWatchdog() {
    const now = Date.now();
    if (!state.wantPlaying || audio.paused || audio.seeking || audio.currentTime !== state.lastHead) {
      // Moving again after standing still a second or more, by itself: kept for
      // support and tests (how long engines stand still, and after what).
      const stoodMs = now - state.lastHeadMovedAt;
      if (state.headStill && state.wantPlaying && !audio.paused && !audio.seeking && stoodMs >= STOOD_NOTE_MS) {
        noteEvent({ at: now, what: 'stood', ms: stoodMs, sinceJumpMs: now - state.lastJumpAt });
      }
      state.headStill = false;
      state.lastHead = audio.currentTime;
      state.lastHeadMovedAt = now;
      return;
    }
    state.headStill = true;
    const stuckMs = now - state.lastHeadMovedAt;
    if (stuckMs < STUCK_MS || !state.attached || !(audio.currentTime > 0)) return;
    const st = state.station;
    // Where what could be buffered ends, in programme time.
    const bufferedEnd = bufferedEndAt(audio.currentTime);
    const end = bufferedEnd + mediaOffsetS();
    const n = Math.floor((end + 0.05) / st.segmentS);
    const resumeS = (n + 1) * st.segmentS;
    const aheadS = bufferedEnd - audio.currentTime;
    const elementStuck = aheadS > STUCK_AHEAD_S && stuckMs >= ELEMENT_STUCK_MS;
    if (livePositionS() < resumeS && stuckMs < STALL_RESYNC_MS && !elementStuck) return;
    const posS = audio.currentTime + mediaOffsetS();
    const jumpDidNotHelp = state.stallJumpToS !== null && posS < state.stallJumpToS + 1;
    if ((elementStuck || jumpDidNotHelp) && now - state.reattachedAt >= REATTACH_MIN_MS) {
      reattach(stuckMs, aheadS, jumpDidNotHelp);
      return;
    }
    const failed = state.failedSegments.find((f) => f.number === n);
    const event = { at: now, what: 'skip', segment: n, status: failed ? failed.status : null };
    noteEvent(event);
    if (jumpToLive(0, 'stall')) {
      state.stallJumpToS = audio.currentTime + mediaOffsetS();
      const at = new Date(st.epochMs + n * st.segmentS * 1000).toISOString().slice(11, 19);
      const piece = `${+st.segmentS.toFixed(2)} s of the stream (${at} UTC)`;
      const say = (why) => {
        console.warn(`lofiever: ${why}; jumped to the live point.`);
        setStatus('warn', `${why}, so it was skipped and you are back at the live moment.`);
        state.problemShownAt = state.skipShownAt = Date.now();
      };
      if (!failed) {
        say('The stream stalled');
      } else if (failed.status) {
        say(failed.status === 404 ? `${piece} is missing on the server` : `${piece} could not be downloaded (HTTP ${failed.status})`);
      } else {
        // The player did not tell the HTTP status: ask the host.
        say(`${piece} could not be downloaded`);
        fetch(failed.url, { method: 'HEAD', cache: 'no-store' }).then((res) => {
          event.status = res.status;
          if (res.status === 404) say(`${piece} is missing on the server`);
        }, () => {});
      }
    }
    state.lastHeadMovedAt = now; // give the jump time before judging again
  }

  /** The stallWatchdog's remedy for an element that stands still: the stream anew. */
  function reattach(stuckMs, aheadS, afterJump) {
    const now = Date.now();
    state.reattachedAt = now;
    state.stallJumpToS = null;
    state.lastHeadMovedAt = now;
    noteEvent({ at: now, what: 'reattach', stuckMs, aheadMs: Math.round(aheadS * 1000), afterJump });
    // The new start is settled with a seek of its own; the stuck seek's outcome
    // (if one was pending) is not this start's lag, and teaches nothing.
    state.settlePending = true;
    state.learnPending = false;
    state.judgingStart = false;
    state.errWindow.length = 0;
    console.warn(`lofiever: the audio stood still for ${(stuckMs / 1000).toFixed(1)} s${afterJump ? ' after a jump' : ` with ${aheadS.toFixed(1)} s buffered`}; giving the player the stream anew.`);
    setStatus('warn', 'The audio stood still, so the stream was started again at the live moment.');
    state.problemShownAt = now;
    attachAgain();
  }

  /**
   * Keeps the player on the station clock: its offset is given again whenever the
   * measurement moved or the device clock was stepped (both change deviceOffsetMs).
   */
  function applyClock() {
    if (!state.engine || !state.attached) return;
    const offsetMs = deviceOffsetMs();
    if (!state.everPlayed && state.attachedOffsetMs !== null && state.retunes < MAX_RETUNES
        && Math.abs(offsetMs - state.attachedOffsetMs) > RETUNE_MS) {
      state.retunes += 1;
      noteEvent({ at: Date.now(), what: 'retune', fromMs: Math.round(state.attachedOffsetMs), toMs: Math.round(offsetMs) });
      console.warn(`lofiever: the station clock moved by ${Math.round(offsetMs - state.attachedOffsetMs)} ms before the first sound; starting the stream again from the corrected clock.`);
      attachAgain();
      return;
    }
    state.engine.setClockOffset(offsetMs);
  }

  /**
   * Gives the engine the stream, starting from the station clock as now measured
   * (again, after a large correction: see applyClock).
   */
  async function attachEngine() {
    state.attachedOffsetMs = null;
    const offsetMs = deviceOffsetMs();
    await state.engine.attach();
    state.attachedOffsetMs = offsetMs;
  }

  /** attachEngine while playing (applyClock, reattach): a failure is reported. */
  function attachAgain() {
    attachEngine().catch((e) => reportError(state.engine.name, undefined, String(e && e.message ? e.message : e)));
  }

  function tick() {
    if (!state.station) return;
    clearRecoveredProblem();
    applyClock();
    stallWatchdog();
    const t = listeningPositionMs();
    ensureSchedule(t);
    paintNowPlaying(t);
    paintSync(false);
  }

  window.lofiever = {
    get player() {
      return state.engine ? state.engine.player : null;
    },
    get engine() {
      return state.engine ? state.engine.name : chosenEngine();
    },
    /** Programme seconds at media time 0 (0 for DASH; the day's first segment for HLS). */
    get mediaOffsetS() {
      return mediaOffsetS();
    },
    /** What this browser offers (codecs spellings, MSE or ManagedMediaSource). */
    get capabilities() {
      return state.caps;
    },
    notes: state.notes,
    audio,
    get station() {
      return state.station;
    },
    get libSource() {
      return state.engine ? state.engine.source : null;
    },
    get libVersion() {
      return state.engine ? state.engine.version : null;
    },
    /** The station clock's state (clock.js status()), or null before station.json. */
    get clock() {
      return stationClock ? stationClock.status() : null;
    },
    /** (station - Date.now()) as the player works with it, in ms, or null. */
    get playerClockOffsetMs() {
      return state.engine ? state.engine.clockOffsetMs() : null;
    },
    errors: state.errors,
    events: state.events,
    failedSegments: state.failedSegments,
    programmeTimeMs,
    latencyMs,
    nowPlaying,
  };

  async function main() {
    setButton('paused');
    setupVolume();
    bindAudio();
    ui.play.addEventListener('click', onPlayClick);
    setupMediaSession();
    setInterval(tick, TICK_MS);
    setInterval(holdLatency, 100);
    audio.addEventListener('playing', () => paintSync(true));
    // Shown again (a phone taken out of the pocket): painted at once, not at
    // the next whole second.
    document.addEventListener('visibilitychange', () => {
      if (document.hidden || !state.station) return;
      paintNowPlaying(listeningPositionMs());
      paintSync(true);
    });

    try {
      const station = await loadStation();
      state.station = station;
      startClock(station);
      ui.name.textContent = station.name;
      document.title = station.name;
      showChannels(station);
      tick(); // starts loading the schedule while the player library loads
      const caps = capabilities();
      state.caps = caps;
      const unsupported = unsupportedReason(station, caps);
      if (unsupported) throw new PageError(unsupported);
      const [engine] = await Promise.all([createEngine(station, caps), checkManifest(station)]);
      state.engine = engine;
      ui.play.disabled = false;
      if (state.notes.length) setStatus('note', state.notes.join(' '));
    } catch (e) {
      ui.play.disabled = true;
      if (!(e instanceof PageError)) console.error(e);
      setStatus('error', e instanceof PageError ? e.message : `Something went wrong: ${e && e.message ? e.message : e}`);
      ui.sync.textContent = 'off air';
    }
  }

  main();
})();
