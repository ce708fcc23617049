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
 * Clock: the device clock is used when it agrees with the host's Date header (to that
 * header's one-second resolution); NTP-synced devices agree to tens of milliseconds.
 * Otherwise the players' UTC synchronisation (the MPD's UTCTiming) is used.
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
  /** Start-up, resume, a jump: a latency error beyond this is removed with one seek. */
  const SETTLE_S = 0.1;
  /** The playhead has not moved for this long while it should: it is stuck. */
  const STUCK_MS = 400;
  /**
   * Stuck for this long with the live point still inside the stuck segment
   * (a network outage rather than one missing segment): jump anyway.
   */
  const STALL_RESYNC_MS = 8000;
  /** Slack when deciding whether the device clock agrees with the server's Date header. */
  const CLOCK_SLACK_MS = 250;
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
    /** Player errors and media element errors, oldest first. */
    errors: [],
    /** What the page did about problems (jumps, skips), oldest first, for tests and support. */
    events: [],
    /** Media segments that failed to load: { start, end, status, url } in media seconds. */
    failedSegments: [],
    /** UTC day "YYYY-MM-DD" -> { status: 'loading'|'ok'|'missing'|'error', items, fetchedAt } */
    days: new Map(),
    /** Items of all loaded days, merged, de-duplicated and sorted by start. */
    items: [],
    shownKey: null,
    lastSyncPaint: 0,
  };

  /**
   * The station clock as this page knows it. When the device clock agrees with the
   * host's Date header (to that header's one-second resolution) the device clock is
   * used as is: NTP-synced devices agree to tens of milliseconds, far better than a
   * Date header could make them. Otherwise offsetMs is the best estimate of
   * (server - device), first from the Date header, then from the player's own UTC
   * synchronisation against the MPD's UTCTiming.
   */
  const clock = { offsetMs: 0, trusted: true };

  function stationNowMs() {
    return Date.now() + clock.offsetMs;
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
    const t0 = Date.now();
    let res;
    try {
      // no-store: the Date header must be fresh for the clock check below.
      res = await fetch(STATION_URL, { cache: 'no-store' });
    } catch (e) {
      throw new PageError(`Could not reach ${STATION_URL} (${e.message}).`);
    }
    const t1 = Date.now();
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
    checkClock(res.headers, t0, t1);
    return normaliseStation(raw);
  }

  /** Validates station.json and fills defaults; unknown fields are ignored. */

  /** Validates station.json and fills defaults; unknown fields are ignored. */
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
      epoch: raw.epoch,
      epochMs,
      sampleRate,
      segmentSamples,
      segmentS: segmentSamples / sampleRate,
      libs: {
        dashjs: [str(raw.dashjs_url), str(raw.dashjs_fallback_url)],
        shaka: [str(raw.shaka_url), str(raw.shaka_fallback_url)],
      },
      utcTiming: {
        scheme: str((raw.utc_timing || {}).scheme) || 'urn:mpeg:dash:utc:http-head:2014',
        url: str((raw.utc_timing || {}).url) || mpd,
      },
      latency: { targetMs, minMs, maxMs },
      playbackRate: {
        min: Math.min(finite(rate.min, 0.96), 1),
        max: Math.max(finite(rate.max, 1.04), 1),
      },
    };
  }

  /**
   * Compares the device clock with the Date (+ Age) header of a fresh response.
   * The header has one-second resolution, so the server's clock was somewhere in
   * [date, date + 1 s) while the device read between t0 and t1.
   */
  function checkClock(headers, t0, t1) {
    const date = Date.parse(headers.get('Date') || '');
    if (!Number.isFinite(date)) return; // no header (or not exposed): trust the device
    const age = Math.max(0, parseInt(headers.get('Age') || '0', 10) || 0);
    const server = date + age * 1000;
    const lo = server - t1; // smallest possible (server - device)
    const hi = server + 1000 + (age > 0 ? 1000 : 0) - t0; // largest possible
    if (lo - CLOCK_SLACK_MS <= 0 && 0 <= hi + CLOCK_SLACK_MS) {
      clock.trusted = true;
      clock.offsetMs = 0;
    } else {
      clock.trusted = false;
      clock.offsetMs = Math.round((lo + hi) / 2);
      console.warn(`lofiever: device clock differs from the server by about ${clock.offsetMs} ms; using the server's time.`);
    }
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
    return p === 'shaka' ? 'shaka' : 'dashjs';
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
          // Only needed when the device clock disagrees with the server's (see
          // checkClock): then dash.js derives its offset from the MPD's UTCTiming,
          // else from the time source below, else from the MPD's Date header.
          // With a good device clock, dash.js's own sync could only make it worse:
          // a static host's Date header is rounded to whole seconds.
          enabled: !clock.trusted,
          useManifestDateHeaderTimeSource: true,
          // The station's own UTCTiming (the same as in the MPD), never dash.js's
          // default public time service: no third party unless the station says so.
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
  function createDashjs(dashjs, station) {
    const player = dashjs.MediaPlayer().create();
    player.updateSettings(dashSettings(dashjs, station));
    const ev = dashjs.MediaPlayer.events;
    player.on(ev.ERROR, (e) => {
      const err = (e && e.error) || {};
      const code = typeof err === 'object' ? err.code : undefined;
      const message = typeof err === 'object' ? String(err.message || 'unknown error') : String(err);
      let text;
      if (code === 25 || code === 10 || code === 11) {
        text = `The stream manifest ${station.mpd} could not be loaded: ${message}`;
      } else if (code === 27 || code === 28) {
        text = 'Part of the stream could not be downloaded; retrying.';
      }
      reportError('dash.js', code, message, text, code === 27 || code === 28);
    });
    player.on(ev.FRAGMENT_LOADING_COMPLETED, (e) => {
      const req = e && e.request;
      if (e && e.error && req && req.type === 'MediaSegment') {
        const status = e.error.data && e.error.data.request ? e.error.data.request.status : null;
        noteFailedSegment(req.url, status, e.error.message);
      }
    });
    player.on(ev.PLAYBACK_NOT_ALLOWED, () => {
      state.wantPlaying = false;
      setButton('paused');
      setStatus('warn', 'The browser blocked playback; press play again.');
    });
    return {
      name: 'dash.js',
      player,
      version: player.getVersion(),
      attach() {
        player.initialize(audio, station.mpdUrl, true);
      },
      /** (server - device) in ms as dash.js sees it, once it is playing. */
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

  /** Shaka Player engine. */
  async function createShaka(shaka, station) {
    shaka.polyfill.installAll();
    if (!shaka.Player.isBrowserSupported()) {
      throw new PageError('This browser cannot play the stream with Shaka Player (no Media Source Extensions).');
    }
    const l = station.latency.targetMs / 1000;
    const player = new shaka.Player();
    await player.attach(audio);
    player.configure(shakaConfig(station, 1));
    player.addEventListener('error', (ev) => {
      const err = ev.detail || {};
      const data = Array.isArray(err.data) ? err.data : [];
      if (err.code === 1001 && typeof data[0] === 'string') noteFailedSegment(data[0], data[1], `HTTP ${data[1]}`);
      const network = err.code === 1001 || err.code === 1002 || err.code === 1003;
      reportError('shaka', err.code, `Shaka error ${err.code} (category ${err.category}, severity ${err.severity})${data[0] ? ': ' + data[0] : ''}`,
        network ? 'Part of the stream could not be downloaded; retrying.' : undefined, network);
    });
    return {
      name: 'shaka',
      player,
      version: shaka.Player.version,
      async attach() {
        // Start exactly at the live point (an absolute media time), whatever clock
        // offset Shaka derived from UTCTiming.
        await player.load(station.mpdUrl, (stationNowMs() - station.epochMs) / 1000 - l);
        const timeline = player.getManifest().presentationTimeline;
        // The page's clock policy wins over the whole-second Date header (see clock).
        timeline.setClockOffset(clock.offsetMs);
        const edgeLag = timeline.getMaxSegmentDuration() + timeline.getDelay();
        player.configure(shakaConfig(station, Math.max(SYNC_TOLERANCE_S, l - edgeLag)));
        const p = audio.play();
        if (p && typeof p.catch === 'function') p.catch(onPlayRejected);
      },
      clockOffsetMs() {
        return clock.offsetMs;
      },
    };
  }

  /**
   * Why this browser cannot play the stream, or null when it can: both players
   * feed Opus-in-MP4 segments to Media Source Extensions (ManagedMediaSource on
   * iOS/iPadOS Safari 17.1+), so a browser without MSE, or whose MSE refuses the
   * codec, gets a plain message instead of a player error it cannot act on.
   */
  function unsupportedReason(station) {
    const ms = window.MediaSource || window.ManagedMediaSource || window.WebKitMediaSource;
    const where = `Try a current Chrome, Edge, Firefox or Safari, or open ${station.mpdUrl} in a DASH player such as VLC.`;
    if (!ms || typeof ms.isTypeSupported !== 'function') {
      return `This browser cannot play the stream: it has no Media Source Extensions. ${where}`;
    }
    const codecs = ['Opus', 'opus'];
    if (!codecs.some((c) => ms.isTypeSupported(`audio/mp4; codecs="${c}"`))) {
      return `This browser cannot play the stream: it does not play Opus audio in MP4. ${where}`;
    }
    return null;
  }

  /** Loads the chosen player's library and creates its engine. */
  async function createEngine(station) {
    if (chosenEngine() === 'shaka') {
      const { lib, source } = await loadLibrary('Shaka Player', station.libs.shaka,
        () => (window.shaka && window.shaka.Player ? window.shaka : null));
      const engine = await createShaka(lib, station);
      engine.source = source;
      return engine;
    }
    const { lib, source } = await loadLibrary('dash.js', station.libs.dashjs,
      () => (window.dashjs && window.dashjs.MediaPlayer ? window.dashjs : null));
    const engine = createDashjs(lib, station);
    engine.source = source;
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
    setStatus(retrying ? 'warn' : 'error', text || `Playback problem: ${message}${code !== undefined ? ` (${source} ${code})` : ''}`);
    state.problemShownAt = Date.now();
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

  /** Absolute UTC ms of the sample being heard, or null before the stream has a position. */
  function programmeTimeMs() {
    if (!state.station || !state.engine || !(audio.currentTime > 0)) return null;
    return state.station.epochMs + audio.currentTime * 1000;
  }

  /** Station clock minus the heard position, in ms (null before there is a position). */
  function latencyMs() {
    const heard = programmeTimeMs();
    return heard === null ? null : stationNowMs() - heard;
  }

  function isAudible() {
    return !audio.paused && !audio.ended && audio.readyState >= 3 && audio.currentTime > 0;
  }

  /** The media time (s) every listener should be hearing now: now - target. */
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
    const target = livePositionS();
    const error = audio.currentTime - target; // > 0: ahead (early), < 0: behind (late)
    if (!(Math.abs(error) > thresholdS)) return false;
    state.events.push({ at: Date.now(), what: 'jump', why, fromS: audio.currentTime, toS: target, errorMs: Math.round(error * 1000) });
    if (state.events.length > 200) state.events.shift();
    state.settlePending = true;
    audio.currentTime = target;
    return true;
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
      Promise.resolve(state.engine.attach()).catch((e) => {
        state.attached = false;
        state.wantPlaying = false;
        setButton('paused');
        reportError(state.engine.name, undefined, e && e.message ? e.message : String(e),
          `The stream could not be started: ${e && e.message ? e.message : e}`);
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
      if (state.settlePending) {
        // Audio flows again (start-up, resume, after a jump): the time that took is
        // removed with one seek, rather than left to the rate, which needs seconds.
        state.settlePending = false;
        jumpToLive(SETTLE_S, 'settle');
      }
    });
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
      const message = e.message || `media error ${e.code}`;
      reportError('audio', e.code, message, `The browser could not play the stream: ${message}`);
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

  function paintNowPlaying(t) {
    const { current, next } = itemsAt(t);
    const key = current ? `${current.startMs}|${current.title}|${current.artist}` : `none|${(state.days.get(utcDay(t)) || {}).status}`;
    const nextKey = next ? `${next.startMs}|${next.title}` : 'none';
    if (key + '#' + nextKey !== state.shownKey) {
      state.shownKey = key + '#' + nextKey;
      ui.title.classList.toggle('placeholder', !current);
      if (current) {
        ui.title.textContent = current.title || 'Untitled';
        ui.artist.textContent = current.artist || '';
      } else {
        const note = scheduleNote(t);
        ui.title.textContent = note.title;
        ui.artist.textContent = note.artist;
      }
      ui.nextTitle.textContent = next ? next.title || 'Untitled' : '—';
      ui.nextArtist.textContent = next ? next.artist || '' : '';
      updateMediaSession(current);
    }
    if (current && Number.isFinite(current.endMs) && current.endMs > current.startMs) {
      const total = current.endMs - current.startMs;
      const done = Math.min(Math.max(t - current.startMs, 0), total);
      const pct = (done / total) * 100;
      ui.fill.style.width = `${pct.toFixed(2)}%`;
      ui.progress.setAttribute('aria-valuenow', String(Math.round(pct)));
      ui.elapsed.textContent = formatDuration(done);
      ui.duration.textContent = formatDuration(total);
    } else {
      ui.fill.style.width = '0%';
      ui.progress.setAttribute('aria-valuenow', '0');
      ui.elapsed.textContent = current ? formatDuration(t - current.startMs) : '';
      ui.duration.textContent = '';
    }
    ui.nextAt.textContent = next ? `in ${formatDuration(next.startMs - t)}` : '';
  }

  function updateMediaSession(current) {
    if (!('mediaSession' in navigator) || typeof window.MediaMetadata !== 'function') return;
    try {
      navigator.mediaSession.metadata = new window.MediaMetadata({
        title: current ? current.title : (state.station ? state.station.name : 'lofiever'),
        artist: current ? current.artist : '',
        album: state.station ? state.station.name : '',
      });
    } catch (e) {
      /* not supported here */
    }
  }

  // ---------------------------------------------------------------- sync line

  function paintSync(force) {
    const now = Date.now();
    if (!force && now - state.lastSyncPaint < SYNC_REFRESH_MS) return;
    state.lastSyncPaint = now;
    const st = state.station;
    const lat = isAudible() ? latencyMs() : null;
    if (!st || lat === null) {
      ui.sync.dataset.state = 'idle';
      ui.sync.textContent = state.wantPlaying ? 'tuning in…' : 'not playing';
      return;
    }
    // > 0: ahead of the station's target position; < 0: behind it.
    const offsetMs = Math.round(st.latency.targetMs - lat);
    const abs = Math.abs(offsetMs);
    const parts = [];
    if (abs <= IN_SYNC_MS) {
      ui.sync.dataset.state = 'ok';
      parts.push(`in sync ±${abs}\u00a0ms`);
    } else {
      ui.sync.dataset.state = 'drift';
      const amount = abs >= 1000 ? `${(abs / 1000).toFixed(1)}\u00a0s` : `${abs}\u00a0ms`;
      parts.push(`${amount} ${offsetMs < 0 ? 'behind' : 'ahead'}, catching up`);
    }
    // Non-breaking spaces keep each part on one line on a phone.
    parts.push(`delay\u00a0${(lat / 1000).toFixed(1)}\u00a0s`);
    if (!clock.trusted) parts.push('server\u00a0time');
    ui.sync.textContent = parts.join(' · ');
  }

  // ---------------------------------------------------------------- main

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
   */
  function stallWatchdog() {
    const now = Date.now();
    if (!state.wantPlaying || audio.paused || audio.seeking || audio.currentTime !== state.lastHead) {
      state.lastHead = audio.currentTime;
      state.lastHeadMovedAt = now;
      return;
    }
    const stuckMs = now - state.lastHeadMovedAt;
    if (stuckMs < STUCK_MS || !state.attached || !(audio.currentTime > 0)) return;
    const st = state.station;
    const end = bufferedEndAt(audio.currentTime);
    const n = Math.floor((end + 0.05) / st.segmentS);
    const resumeS = (n + 1) * st.segmentS;
    if (livePositionS() < resumeS && stuckMs < STALL_RESYNC_MS) return;
    const failed = state.failedSegments.find((f) => f.number === n);
    const event = { at: now, what: 'skip', segment: n, status: failed ? failed.status : null };
    state.events.push(event);
    if (jumpToLive(0, 'stall')) {
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

  /** With an untrusted device clock, follow the player's own UTC synchronisation. */
  function followEngineClock() {
    if (clock.trusted || !state.engine || !isAudible()) return;
    const off = state.engine.clockOffsetMs();
    if (off !== null && Number.isFinite(off)) clock.offsetMs = Math.round(off);
  }

  function tick() {
    if (!state.station) return;
    clearRecoveredProblem();
    followEngineClock();
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
    get clockTrusted() {
      return clock.trusted;
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
    if ('mediaSession' in navigator) {
      try {
        navigator.mediaSession.setActionHandler('play', () => state.engine && startListening());
        navigator.mediaSession.setActionHandler('pause', () => stopListening());
      } catch (e) {
        /* action not supported */
      }
    }
    setInterval(tick, TICK_MS);
    audio.addEventListener('playing', () => paintSync(true));

    try {
      const station = await loadStation();
      state.station = station;
      ui.name.textContent = station.name;
      document.title = station.name;
      tick(); // starts loading the schedule while the player library loads
      const unsupported = unsupportedReason(station);
      if (unsupported) throw new PageError(unsupported);
      const [engine] = await Promise.all([createEngine(station), checkManifest(station)]);
      state.engine = engine;
      ui.play.disabled = false;
    } catch (e) {
      ui.play.disabled = true;
      if (!(e instanceof PageError)) console.error(e);
      setStatus('error', e instanceof PageError ? e.message : `Something went wrong: ${e && e.message ? e.message : e}`);
      ui.sync.textContent = 'off air';
    }
  }

  main();
})();
