/*
 * lofiever listening page: plays the station's wall-clock-anchored MPEG-DASH live
 * stream with dash.js and shows what is playing.
 *
 * Data it reads, next to index.html (written by `lofiever render`):
 *   station.json               name, MPD path, epoch, latency and playback-rate bounds,
 *                              where to load dash.js from
 *   <mpd>                      static MPD, type="dynamic", availabilityStartTime = epoch
 *   schedule/YYYY-MM-DD.json   the items of one UTC day, sorted by start
 *
 * The time model: media time t in the MPD is seconds since the station epoch, so
 * the sample a listener hears is at UTC `epoch + audio.currentTime`. Every listener
 * is held at the same latency (latency.target_ms) behind the station clock, so all
 * of them hear the same sample at the same wall-clock moment. "Now playing" follows
 * that heard position, not the raw wall clock.
 *
 * Everything that comes from data is written with textContent, never as HTML.
 * For tests, `window.lofiever` exposes { player, audio, programmeTimeMs(),
 * nowPlaying(), station, errors, dashjsSource }.
 */
(function () {
  'use strict';

  const STATION_URL = 'station.json';
  const SCHEDULE_DIR = 'schedule/';
  /** How long the CDN copy of dash.js may take before the local fallback is tried. */
  const DASHJS_CDN_TIMEOUT_MS = 8000;
  const DASHJS_FALLBACK_TIMEOUT_MS = 30000;
  const TICK_MS = 250;
  /** The sync line is rewritten this often; faster only makes the digits flicker. */
  const SYNC_REFRESH_MS = 1000;
  /** |offset| below this counts as "in sync". */
  const IN_SYNC_MS = 250;
  /** On play, a latency further than this from the target jumps back to the live point. */
  const RESYNC_ON_PLAY_S = 0.2;
  /**
   * Once audio first flows after play, a start-up lag beyond this (the time the first
   * segments took to arrive) is removed with one seek inside the buffer, rather than
   * left to the playback rate, which would take tens of seconds.
   */
  const SETTLE_S = 0.5;
  /**
   * Playing but stuck this long (a segment that will not load, a network outage):
   * jump to the live point. dash.js's own catch-up only acts while media flows.
   */
  const STALL_RESYNC_MS = 5000;
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
    player: null,
    dashjsSource: null,
    /** The listener pressed play and has not pressed pause since. */
    wantPlaying: false,
    /** The next 'playing' event is the first since play was pressed. */
    settlePending: false,
    /** A play() was aborted by a reload of the element; play again on canplay. */
    retryPlay: false,
    /** dash.js has been given the stream (at the first press of play). */
    attached: false,
    /** Audio has flowed at least once. */
    everPlayed: false,
    /** When the status line last showed a playback error (0: it does not). */
    playbackErrorAt: 0,
    /** Last seen playhead and when it last moved, for the stall watchdog. */
    lastHead: 0,
    lastHeadMovedAt: 0,
    /** dash.js ERROR events and media element errors, oldest first. */
    errors: [],
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
   * (server - device) and dash.js runs its own UTC synchronisation.
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
  function normaliseStation(raw) {
    if (!raw || typeof raw !== 'object') throw new PageError(`${STATION_URL} is not a JSON object.`);
    const epochMs = parseInstantMs(raw.epoch);
    if (!Number.isFinite(epochMs)) throw new PageError(`${STATION_URL} has no valid "epoch".`);
    const mpd = typeof raw.mpd === 'string' && raw.mpd ? raw.mpd : 'stream.mpd';
    const lat = raw.latency || {};
    const targetMs = finite(lat.target_ms, 6000);
    const minMs = Math.min(finite(lat.min_ms, targetMs - 2000), targetMs);
    const maxMs = Math.max(finite(lat.max_ms, targetMs + 4000), targetMs);
    const rate = raw.playback_rate || {};
    return {
      name: typeof raw.name === 'string' && raw.name.trim() ? raw.name.trim() : 'lofiever',
      mpd,
      mpdUrl: new URL(mpd, document.baseURI).href,
      epoch: raw.epoch,
      epochMs,
      sampleRate: finite(raw.sample_rate, 48000),
      segmentSamples: finite(raw.segment_samples, 96000),
      dashjsUrl: typeof raw.dashjs_url === 'string' ? raw.dashjs_url : '',
      dashjsFallbackUrl: typeof raw.dashjs_fallback_url === 'string' ? raw.dashjs_fallback_url : '',
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
  async function loadDashjs(station) {
    if (window.dashjs && window.dashjs.MediaPlayer) {
      state.dashjsSource = 'preloaded';
      return window.dashjs;
    }
    const sources = [
      { url: station.dashjsUrl, label: 'cdn', timeout: DASHJS_CDN_TIMEOUT_MS },
      { url: station.dashjsFallbackUrl, label: 'fallback', timeout: DASHJS_FALLBACK_TIMEOUT_MS },
    ];
    const failures = [];
    for (const src of sources) {
      if (!src.url) continue;
      try {
        await loadScript(src.url, src.timeout);
        if (window.dashjs && window.dashjs.MediaPlayer) {
          state.dashjsSource = src.label;
          return window.dashjs;
        }
        failures.push(`${src.url}: loaded but defined no dashjs`);
      } catch (e) {
        failures.push(`${src.url}: ${e.message}`);
        console.warn(`lofiever: dash.js from ${src.url} ${e.message}; trying the next source.`);
      }
    }
    throw new PageError(`The player library (dash.js) could not be loaded (${failures.join('; ') || 'no source in station.json'}).`);
  }

  /**
   * Checks that the MPD is there and agrees with station.json before dash.js is
   * given it, so a missing stream is reported in words rather than as a dash.js code.
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

  /**
   * dash.js v5 settings. Names and meanings are those of dash.js v5's Settings
   * (streaming.delay, streaming.liveCatchup, streaming.utcSynchronization, ...).
   * Values the MPD's ServiceDescription also carries are set here too, so no
   * default of dash.js wins by accident: explicit settings take precedence over
   * the ServiceDescription in dash.js.
   */
  function dashSettings(station) {
    const lat = station.latency;
    const targetS = lat.targetMs / 1000;
    // dash.js takes catch-up rates as deltas from 1.0 (min in [-0.5, 0], max in [0, 1]),
    // unlike the absolute rates of the MPD's PlaybackRate and station.json.
    const rateMin = Math.round((station.playbackRate.min - 1) * 1000) / 1000;
    const rateMax = Math.round((station.playbackRate.max - 1) * 1000) / 1000;
    // Seek back to the target when the latency has drifted further than the tighter of
    // the two bounds; smaller drifts are corrected smoothly by the playback rate.
    const maxDriftS = Math.max(0.5, Math.min(targetS - lat.minMs / 1000, lat.maxMs / 1000 - targetS));
    return {
      debug: {
        // Warnings and errors reach the console (and the browser tests); no chatter.
        logLevel: window.dashjs.Debug.LOG_LEVEL_WARNING,
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
          // The default mode steers the rate by the latency error alone (a sigmoid),
          // which is what we want for a fixed target; LoL+ and step modes trade
          // latency for buffer, a concern of sub-second low-latency streams.
          mode: 'liveCatchupModeDefault',
          // Gentle rates (0.96 to 1.04 in the demo station) keep the music natural
          // and still correct up to 2.4 s of drift a minute.
          playbackRate: { min: rateMin, max: rateMax },
          // Beyond this the gap is closed with a seek instead of waiting minutes for
          // the rate to do it (after a long stall, a sleeping tab, a slow network).
          maxDrift: maxDriftS,
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
          // Ask this host (HEAD of the MPD, Date header) rather than dash.js's
          // default public time service: no third party, works on a closed network.
          defaultTimingSource: {
            scheme: 'urn:mpeg:dash:utc:http-head:2014',
            value: station.mpdUrl,
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
   * Creates and configures the dash.js player. The stream itself is attached only
   * at the first press of play (see startListening): dash.js picks its start point
   * when it attaches, and a start point chosen at page load is as old as the page.
   */
  function createPlayer(dashjs, station) {
    const player = dashjs.MediaPlayer().create();
    player.updateSettings(dashSettings(station));
    player.on(dashjs.MediaPlayer.events.ERROR, onDashError);
    player.on(dashjs.MediaPlayer.events.PLAYBACK_NOT_ALLOWED, () => {
      state.wantPlaying = false;
      setButton('paused');
      setStatus('warn', 'The browser blocked playback; press play again.');
    });
    return player;
  }

  function onDashError(e) {
    const err = (e && e.error) || {};
    const code = typeof err === 'object' ? err.code : undefined;
    const message = typeof err === 'object' ? String(err.message || 'unknown error') : String(err);
    state.errors.push({ source: 'dash.js', code: code === undefined ? null : code, message });
    let text;
    if (code === 25 || code === 10 || code === 11) {
      text = `The stream manifest ${state.station ? state.station.mpd : ''} could not be loaded: ${message}`;
    } else if (code === 27 || code === 28) {
      text = `Part of the stream could not be downloaded: ${message}`;
    } else {
      text = `Playback problem: ${message}${code !== undefined ? ` (dash.js ${code})` : ''}`;
    }
    setStatus('error', text);
    state.playbackErrorAt = Date.now();
  }

  // ---------------------------------------------------------------- playing

  /** Absolute UTC ms of the sample being heard, or null before the stream has a position. */
  function programmeTimeMs() {
    if (!state.station || !state.player || !(audio.currentTime > 0)) return null;
    return state.station.epochMs + audio.currentTime * 1000;
  }

  function isAudible() {
    return !audio.paused && !audio.ended && audio.readyState >= 3 && audio.currentTime > 0;
  }

  /** The programme position that "now playing" describes. */
  function listeningPositionMs() {
    const heard = isAudible() ? programmeTimeMs() : null;
    if (heard !== null) return heard;
    // Not playing: what play would bring, which is the station clock minus the target.
    return stationNowMs() - (state.station ? state.station.latency.targetMs : 0);
  }

  /**
   * Puts the playhead back on the station's live point (now - target) when it is
   * further than thresholdS from it, e.g. after a pause. Returns whether it seeked.
   */
  function resyncToLive(thresholdS) {
    const player = state.player;
    if (!player) return false;
    try {
      if (!player.isDynamic()) return false;
      const dvr = player.getDvrWindow();
      if (!dvr || !Number.isFinite(dvr.end) || dvr.end <= 0) return false; // not ready yet
      const latency = player.getCurrentLiveLatency();
      const target = state.station.latency.targetMs / 1000;
      // No position yet: let dash.js's own start point stand.
      if (!(audio.currentTime > 0) || !Number.isFinite(latency) || latency <= 0) return false;
      if (Math.abs(latency - target) > thresholdS) {
        // seekToOriginalLive also restores dash.js's target delay; MediaPlayer.play()
        // would instead make the current (late) latency the new target.
        player.seekToOriginalLive();
        return true;
      }
    } catch (e) {
      /* playback not initialised yet: dash.js starts at the live point itself */
    }
    return false;
  }

  function startListening() {
    state.wantPlaying = true;
    setButton('loading');
    if (!state.attached) {
      // First press: attach the stream now, with autoPlay, so that dash.js starts at
      // the live point of this moment and plays as soon as it has buffered. The
      // press is the user activation that lets it play with sound.
      state.attached = true;
      state.settlePending = true;
      state.player.initialize(audio, state.station.mpdUrl, true);
      return;
    }
    resyncToLive(RESYNC_ON_PLAY_S);
    // audio.play(), not player.play(): see resyncToLive.
    const p = audio.play();
    if (p && typeof p.catch === 'function') {
      p.catch((err) => {
        if (err && err.name === 'AbortError') {
          // Interrupted by a pause (fine) or by the element being (re)loaded: then
          // try again once it can play.
          if (state.wantPlaying) state.retryPlay = true;
          return;
        }
        state.wantPlaying = false;
        setButton('paused');
        setStatus('error', `The browser would not start playback: ${err && err.message ? err.message : err}`);
      });
    }
  }

  function stopListening() {
    state.wantPlaying = false;
    audio.pause();
    setButton('paused');
  }

  function onPlayClick() {
    if (!state.player) return;
    // While tuning in the button already shows "pause": a press stops.
    if (state.wantPlaying) stopListening();
    else startListening();
  }

  function bindAudio() {
    audio.addEventListener('play', () => {
      if (!state.wantPlaying && !state.everPlayed) {
        // dash.js's autoplay after the listener pressed stop while tuning in.
        audio.pause();
        return;
      }
      // Also when play comes from the OS (media keys, lock screen).
      state.wantPlaying = true;
      state.settlePending = true;
      resyncToLive(RESYNC_ON_PLAY_S);
    });
    audio.addEventListener('playing', () => {
      state.everPlayed = true;
      setButton('playing');
      if (state.settlePending) {
        state.settlePending = false;
        resyncToLive(SETTLE_S);
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
      state.errors.push({ source: 'audio', code: e.code, message });
      setStatus('error', `The browser could not play the stream: ${message}`);
      state.playbackErrorAt = Date.now();
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
    const heard = isAudible() ? programmeTimeMs() : null;
    if (!st || heard === null) {
      ui.sync.dataset.state = 'idle';
      ui.sync.textContent = state.wantPlaying ? 'tuning in…' : 'not playing';
      return;
    }
    const latencyMs = stationNowMs() - heard;
    // > 0: ahead of the station's target position; < 0: behind it.
    const offsetMs = Math.round(st.latency.targetMs - latencyMs);
    const abs = Math.abs(offsetMs);
    const parts = [];
    if (abs <= IN_SYNC_MS) {
      ui.sync.dataset.state = 'ok';
      parts.push(`in sync ±${abs} ms`);
    } else {
      ui.sync.dataset.state = 'drift';
      const amount = abs >= 1000 ? `${(abs / 1000).toFixed(1)} s` : `${abs} ms`;
      parts.push(`${amount} ${offsetMs < 0 ? 'behind' : 'ahead'}`);
    }
    parts.push(`latency ${(latencyMs / 1000).toFixed(2)} s`);
    if (Math.abs(audio.playbackRate - 1) > 0.0005) parts.push(`${audio.playbackRate.toFixed(3)}×`);
    if (!clock.trusted) parts.push('server clock');
    ui.sync.textContent = parts.join(' · ');
  }

  // ---------------------------------------------------------------- main

  /** Clears a playback error from the status line once music has flowed again for a while. */
  function clearRecoveredError() {
    if (state.playbackErrorAt && isAudible() && Date.now() - state.playbackErrorAt > 15000) {
      state.playbackErrorAt = 0;
      setStatus(null, '');
    }
  }

  /** Jumps to the live point when playback has been stuck for STALL_RESYNC_MS. */
  function stallWatchdog() {
    const now = Date.now();
    if (!state.wantPlaying || audio.paused || audio.seeking || audio.currentTime !== state.lastHead) {
      state.lastHead = audio.currentTime;
      state.lastHeadMovedAt = now;
      return;
    }
    if (now - state.lastHeadMovedAt > STALL_RESYNC_MS) {
      state.lastHeadMovedAt = now; // give the jump time before trying again
      console.warn('lofiever: playback stalled; jumping to the live point.');
      resyncToLive(0);
    }
  }

  function tick() {
    if (!state.station) return;
    clearRecoveredError();
    stallWatchdog();
    const t = listeningPositionMs();
    ensureSchedule(t);
    paintNowPlaying(t);
    paintSync(false);
  }

  window.lofiever = {
    get player() {
      return state.player;
    },
    audio,
    get station() {
      return state.station;
    },
    get dashjsSource() {
      return state.dashjsSource;
    },
    errors: state.errors,
    programmeTimeMs,
    nowPlaying,
  };

  async function main() {
    setButton('paused');
    setupVolume();
    bindAudio();
    ui.play.addEventListener('click', onPlayClick);
    if ('mediaSession' in navigator) {
      try {
        navigator.mediaSession.setActionHandler('play', () => state.player && startListening());
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
      tick(); // starts loading the schedule while dash.js loads
      const [dashjs] = await Promise.all([loadDashjs(station), checkManifest(station)]);
      state.player = createPlayer(dashjs, station);
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
