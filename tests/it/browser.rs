//! The listening page and the stream in real players: Debian's Chromium, driven
//! by playwright-core (tests/browser/*.mjs), with dash.js and Shaka Player
//! served from the local npm packages.
//!
//! - one listener plays the page for a few seconds (tests/browser/play.mjs),
//!   and while the page is hidden it paints nothing of the clock;
//! - several listeners, dash.js and Shaka, joined seconds apart, each with its
//!   own wrong device clock (off by up to 2.5 s), hear the same moment: the page
//!   measures the host's clock, the players run on it, no stalls, no media
//!   errors, and every page says how its clock was corrected; one pauses and is
//!   back in sync within 10 s; what each page shows as "now playing" is the
//!   schedule's item at the programme time it plays; screenshots at phone and
//!   desktop size are kept under `target/lofiever-screenshots/`
//!   (tests/browser/listeners.mjs);
//! - the same through a proxy that makes round trips 50-250 ms long and uneven;
//! - a host whose `Date` comes from a cache is not trusted, and the page says so;
//! - the page's clock, against simulated networks in virtual time, never claims
//!   less error than it has (tests/browser/clock-sim.mjs, no browser);
//! - a segment deleted ahead of the listeners is skipped: they play on and are
//!   back in sync.
//! - a track taken out with `lofiever remove` just ahead of the listeners:
//!   one plays across the cut without a stall or a skip, keeping pace with
//!   the clock, and hears the next track, never the removed one.
//!
//! The sync figures these tests hold are generous bounds (a loaded 2-core CI
//! machine must not make them flaky); the figures themselves, measured the long
//! way against the targets, come from `bash ci/bench-sync.sh`.
//!
//! The stations use an epoch of 2025-01-01, over a year before any run, so
//! media time is far past 2^32 ms. Browser tests run one at a time (a lock):
//! they measure timing, and two Chromiums on two cores would disturb each other.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use chrono::Utc;
use lofiever::job::{self, Window};
use lofiever::preview::Preview;
use lofiever::progress::Silent;
use lofiever::time::SampleCount;

use crate::util::{short_specs, tool, xmllint_mpd, TempStation, TEST_STATION_TOML};

/// The inter-listener skew (p95) that fails the suite. The targets are far
/// tighter (30 ms with wrong device clocks, 40 ms through a slow network, 25 ms
/// with right ones; `ci/bench-sync.sh` measures them); this bound only catches a
/// real regression (a listener a segment off, a clock not corrected) without
/// failing on a loaded machine.
const SKEW_P95_BOUND_MS: f64 = 100.0;
/// Each listener's |true latency - target| (p95) that fails the suite.
const LATENCY_P95_BOUND_MS: f64 = 60.0;
/// Device clocks of the listeners in the sync tests (ms, + = fast).
const WRONG_CLOCKS: &str = "0,-700,400,2500,-300,300";

/// A station for the sync tests: two renditions, fast encoder settings,
/// kept 8 minutes ahead of the wall clock ([`sync_station`]).
const SYNC_STATION_TOML: &str = r#"
[station]
name = "Sync FM"
epoch = "2025-01-01T00:00:00Z"
seed = 11

[stream]
segment_ms = 2000
chunk_segments = 10
bitrates_kbps = [64, 96]
opus_complexity = 0

[audio]
crossfade_ms = 3000

[player]
dashjs_url = "vendor/dashjs/dash.all.min.js"
shaka_url = "vendor/shaka/shaka-player.compiled.js"
target_latency_ms = 6000
"#;

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// One browser test at a time.
pub(crate) fn exclusive() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The station the sync and engine tests play, kept `SYNC_AHEAD` ahead of
/// the wall clock: rendered on first use and topped up on every later one
/// (as the nightly job keeps the runway), because the browser tests run for
/// many minutes one after another. The caller holds [`exclusive`].
pub(crate) fn sync_station() -> &'static TempStation {
    static CELL: OnceLock<TempStation> = OnceLock::new();
    let station = CELL.get_or_init(|| {
        let station = TempStation::new(SYNC_STATION_TOML);
        station.add_tracks(&short_specs(4));
        station
    });
    top_up(station, 8);
    station
}

/// The station the single-page tests play (not the shared `rendered()` one,
/// which other modules read while these run), topped up like
/// [`sync_station`]. The caller holds [`exclusive`].
fn page_station() -> &'static TempStation {
    static CELL: OnceLock<TempStation> = OnceLock::new();
    let station = CELL.get_or_init(|| {
        let station = TempStation::new(TEST_STATION_TOML);
        station.add_tracks(&short_specs(4));
        station
    });
    top_up(station, 4);
    station
}

/// Renders what is missing of `station` from the seek-back window to
/// `minutes` ahead of the wall clock.
fn top_up(station: &TempStation, minutes: u64) {
    let window = Window {
        now: Utc::now(),
        ahead: SampleCount::from_secs(minutes * 60).expect("small"),
        force: false,
    };
    job::run(&station.station(), &window, &Silent).expect("render the test station");
}

/// Serves `out` on a free port with the player libraries; returns the server
/// and the page URL.
pub(crate) fn serve(out: &Path) -> (Arc<Preview>, String) {
    serve_at(out, None)
}

/// [`serve`], with the preview's clock set to `at` ([`Preview::at`]).
pub(crate) fn serve_at(out: &Path, at: Option<chrono::DateTime<Utc>>) -> (Arc<Preview>, String) {
    let modules = browser_dir().join("node_modules");
    let dashjs = modules.join("dashjs/dist/modern/umd");
    let shaka = modules.join("shaka-player/dist");
    let hlsjs = modules.join("hls.js/dist");
    assert!(
        dashjs.join("dash.all.min.js").is_file()
            && shaka.join("shaka-player.compiled.js").is_file()
            && hlsjs.join("hls.min.js").is_file(),
        "dash.js / Shaka Player / hls.js are not installed; run `bash ci/setup.sh` first"
    );
    let mut preview = Preview::bind("127.0.0.1:0", out, Some(&dashjs))
        .expect("bind")
        .with_vendor("shaka", &shaka)
        .with_vendor("hlsjs", &hlsjs);
    if let Some(at) = at {
        preview = preview.at(at);
    }
    let server = Arc::new(preview);
    let addr = server.addr().expect("ip address");
    let s = Arc::clone(&server);
    std::thread::spawn(move || s.serve());
    (server, format!("http://{addr}/index.html"))
}

/// Plays the shared test station's page with play.mjs: `query` is added to
/// the page URL, `args` follow `--url`. The caller holds [`exclusive`].
fn play_rendered(query: &str, args: &[&str]) -> serde_json::Value {
    serve_and_run(page_station(), "play.mjs", query, args)
}

/// Serves `station`'s output and runs the node `script` on its page URL
/// (with `query` added), `args` following `--url`.
fn serve_and_run(
    station: &TempStation,
    script: &str,
    query: &str,
    args: &[&str],
) -> serde_json::Value {
    serve_and_run_at(station, None, script, query, args)
}

/// [`serve_and_run`], with the preview's clock set to `at` ([`serve_at`]).
pub(crate) fn serve_and_run_at(
    station: &TempStation,
    at: Option<chrono::DateTime<Utc>>,
    script: &str,
    query: &str,
    args: &[&str],
) -> serde_json::Value {
    let (server, url) = serve_at(&station.root().join("out"), at);
    let mut all = vec!["--url".to_string(), format!("{url}{query}")];
    all.extend(args.iter().map(|a| a.to_string()));
    let report = node(script, &all);
    server.stop();
    report
}

/// The first of the page's events (play.mjs's `page_events`) that is `what`.
pub(crate) fn page_event<'a>(
    report: &'a serde_json::Value,
    what: &str,
) -> Option<&'a serde_json::Value> {
    report["page_events"]
        .as_array()?
        .iter()
        .find(|e| e["what"] == what)
}

/// Runs a node script from tests/browser and parses the JSON line it prints.
///
/// The script (and the Chromium it starts) runs at raised priority, `nice -n
/// -10`, when allowed (as root; otherwise nice says so and runs it as is): the
/// sync figures are about the players, and on a small machine shared with
/// compilers and other tests an audio renderer starved of CPU stalls whatever
/// the players do. Everything else about the run is unchanged.
///
/// A browser or its driver that stops answering must fail the test, never
/// hang the suite (a CI run that never ends reports nothing at all): the
/// script gets [`node_limit`] to finish, then SIGTERM (it stops the browsers,
/// drivers and servers it started) and, 15 s later, SIGKILL.
pub(crate) fn node(script: &str, args: &[String]) -> serde_json::Value {
    tool("chromium");
    let limit = node_limit(args);
    let mut child = Command::new(tool("nice"))
        .args(["-n", "-10", "node"])
        .arg(browser_dir().join(script))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run node (install Node.js and run `bash ci/setup.sh`)");
    let stdout = read_all(child.stdout.take());
    let stderr = read_all(child.stderr.take());
    let killed = !exited_within(&mut child, limit);
    if killed {
        stop_child(&mut child);
    }
    // A pipe still held by something the script left behind is not waited for.
    let collect = |rx: std::sync::mpsc::Receiver<Vec<u8>>| {
        String::from_utf8_lossy(&rx.recv_timeout(Duration::from_secs(10)).unwrap_or_default())
            .into_owned()
    };
    let (stdout, stderr) = (collect(stdout), collect(stderr));
    // The script's progress log (shown with --nocapture, and on failure).
    eprint!("{stderr}");
    assert!(
        !killed,
        "{script} gave no result within {} s and was stopped (a browser or its \
         driver stopped answering); its log is above, stdout: {stdout}",
        limit.as_secs()
    );
    let line = stdout.lines().last().unwrap_or("");
    serde_json::from_str(line).unwrap_or_else(|e| {
        panic!("{script} printed no JSON ({e}): stdout {stdout} stderr {stderr}")
    })
}

/// How long a node script may run: twice its own `--timeout` (the browser's
/// start, the page's load and the play each have that long; the scripts'
/// defaults are at most 240 s) and two minutes for starting and closing
/// browsers.
fn node_limit(args: &[String]) -> Duration {
    let own = args
        .windows(2)
        .find(|w| w[0] == "--timeout")
        .and_then(|w| w[1].parse::<u64>().ok())
        .unwrap_or(240);
    Duration::from_secs(2 * own + 120)
}

/// Reads a child's pipe to its end on a thread of its own.
fn read_all<R: std::io::Read + Send + 'static>(
    pipe: Option<R>,
) -> std::sync::mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        let _ = tx.send(buf);
    });
    rx
}

/// Whether `child` exits within `limit` (polled every 100 ms).
fn exited_within(child: &mut std::process::Child, limit: Duration) -> bool {
    let start = Instant::now();
    while child.try_wait().expect("wait for node").is_none() {
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    true
}

/// SIGTERM (a node script then stops what it started), SIGKILL after 15 s.
fn stop_child(child: &mut std::process::Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    if !exited_within(child, Duration::from_secs(15)) {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Checks that a page showed the schedule's item at the programme time it was
/// playing (away from a track change, where either title may be shown).
pub(crate) fn assert_now_playing_matches_schedule(
    station: &TempStation,
    title: &str,
    programme_time_ms: i64,
) {
    let s = station.station();
    let heard = chrono::DateTime::from_timestamp_millis(programme_time_ms).expect("valid instant");
    let sample = s.epoch.sample_at(heard).expect("after epoch");
    let schedule = station.schedule();
    let item = schedule
        .playing_at(sample)
        .expect("something is scheduled at the programme time");
    let near_change = schedule
        .items
        .iter()
        .any(|it| it.start_sample.abs_diff(sample.0) < 5 * 48_000);
    assert!(
        near_change || title == item.title,
        "page shows {title:?} at {heard}, schedule says {:?}",
        item.title
    );
}

/// While the music plays, the page runs no CSS animation or transition: each
/// repaints at the display's rate, and one that never ends (a breathing halo, a
/// progress bar's transition restarted by every update) cost a small device most
/// of a core, starving its audio of the time it keeps.
pub(crate) fn assert_no_animation_while_playing(report: &serde_json::Value) {
    assert_eq!(
        report["animations_while_playing"],
        serde_json::json!([]),
        "animations run while playing: {report:#}"
    );
}

pub(crate) fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

#[test]
fn chromium_plays_the_page_without_media_errors_and_rests_while_hidden() {
    let _one = exclusive();
    let report = play_rendered(
        "",
        &[
            "--seconds",
            "8",
            "--timeout",
            "90",
            "--media-keys",
            "--lose-settle-events",
            "--hide-at",
            "4",
            "--hide-for",
            "3",
        ],
    );
    let station = page_station();
    assert_eq!(report["ok"], true, "playback failed: {report:#}");
    let advanced = f(&report["advanced_s"]);
    assert!(
        advanced >= 5.0,
        "currentTime advanced only {advanced} s: {report:#}"
    );
    assert_eq!(
        report["errors"].as_array().map(Vec::len),
        Some(0),
        "{report:#}"
    );
    // The page shows what the schedule says is playing at the programme time heard.
    let title = report["now_playing"]["title"].as_str().unwrap_or("");
    assert!(!title.is_empty(), "no now-playing title: {report:#}");
    let ms = report["programme_time_ms"]
        .as_i64()
        .expect("programme_time_ms");
    assert_now_playing_matches_schedule(station, title, ms);
    eprintln!(
        "browser: {}",
        serde_json::to_string(&report).unwrap_or_default()
    );
    // A station without channels shows no channel list (not an empty one).
    assert_eq!(report["channels_shown"], false, "{report:#}");
    assert_no_animation_while_playing(&report);
    assert_lock_screen(&report, station);
    assert_quiet_while_hidden(&report);
    // The media keys were pressed with the element's 'playing' and 'seeked'
    // events lost (as a Firefox starved of CPU sent none after a seek): the
    // seek to the live moment after play is settled all the same, or the
    // page would correct nothing for the rest of the session.
    let late = page_event(&report, "late-settle")
        .unwrap_or_else(|| panic!("the resume's seek was never settled: {report:#}"));
    assert!(f(&late["ms"]) >= 1000.0, "{late:#}");
}

/// A page the listener cannot see (a phone's screen off, another tab in
/// front; play.mjs `--hide-at`) paints nothing of the clock: no bar, no
/// elapsed time, no sync line (only a new item's title and the lock screen
/// would change). Shown again, it paints at once. While shown it paints the
/// bar and the elapsed time once a second, the resolution they show: each
/// paint, on a device without a GPU, is CPU the audio needs.
fn assert_quiet_while_hidden(report: &serde_json::Value) {
    let h = &report["hidden"];
    assert!(f(&h["hidden_ms"]) >= 2500.0, "not hidden long: {h:#}");
    let clockwork = ["progress-fill", "elapsed", "duration", "next-at", "sync"];
    let changed: Vec<&str> = h["changed_while_hidden"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
        .unwrap_or_default();
    assert!(
        changed.iter().all(|id| !clockwork.contains(id)),
        "painted while hidden: {changed:?}: {h:#}"
    );
    assert!(
        f(&h["painted_after_shown_ms"]) <= 100.0,
        "shown again, the page should paint at once: {h:#}"
    );
    let shown_s = f(&h["shown_s"]);
    assert!(shown_s >= 3.0, "too short a look: {h:#}");
    for id in ["elapsed", "progress-fill"] {
        // Once a second, and at each new item (the page station's tracks are
        // short) and the first paint: four a second before.
        let changes = f(&h["changes_per_s_shown"][id]) * shown_s;
        assert!(
            changes >= shown_s - 2.0 && changes <= shown_s + 3.0,
            "#{id} changed {changes:.0} times in {shown_s} s shown (once a second is what it shows): {h:#}"
        );
    }
}

/// The lock screen and media keys (Media Session), pressed by play.mjs
/// `--media-keys`: the station's artwork and name are shown, pause stops the
/// audio, play rejoins the live moment (not 4 s late), stop stops.
fn assert_lock_screen(report: &serde_json::Value, station: &TempStation) {
    let last = report["media_session"]
        .as_array()
        .and_then(|m| m.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(last["album"], station.station().name.as_str(), "{report:#}");
    let art = &last["artwork"][0];
    let src = art["src"].as_str().unwrap_or("");
    assert!(src.ends_with("/artwork.png"), "artwork: {last:#}");
    assert_eq!(art["type"], "image/png", "{last:#}");
    assert_eq!(art["sizes"], "512x512", "{last:#}");
    let png = std::fs::read(station.root().join("out/artwork.png")).expect("out/artwork.png");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "artwork.png is not a PNG"
    );

    let keys = &report["media_keys"];
    let actions: Vec<&str> = keys["actions"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
        .unwrap_or_default();
    for a in ["pause", "play", "stop"] {
        assert!(actions.contains(&a), "no {a} handler: {keys:#}");
    }
    for a in ["seekto", "seekforward", "seekbackward"] {
        assert!(!actions.contains(&a), "a radio cannot {a}: {keys:#}");
    }
    assert_eq!(keys["after_pause"]["paused"], true, "pause: {keys:#}");
    assert_eq!(keys["after_play"]["paused"], false, "play: {keys:#}");
    let target = station.station().target_latency_ms as f64;
    let latency = f(&keys["after_play"]["latency_ms"]);
    assert!(
        (latency - target).abs() <= 500.0,
        "after 4 s paused, play should rejoin the live moment ({target} ms behind), \
         not go on late: {latency} ms behind: {keys:#}"
    );
    assert_eq!(keys["after_stop"]["paused"], true, "stop: {keys:#}");
}

/// Plays the rendered station with `engine` ("shaka" or "dash.js") and checks
/// that the titles the player itself reads from the segments' `emsg` ID3
/// events are the schedule's at their moments.
fn player_reads_the_titles_from_the_segments(engine: &str) {
    let _one = exclusive();
    let report = play_rendered(
        if engine == "shaka" {
            "?player=shaka"
        } else {
            ""
        },
        &["--seconds", "6", "--timeout", "90", "--metadata"],
    );
    assert_eq!(report["ok"], true, "playback failed: {report:#}");
    assert_eq!(report["player"]["engine"], engine, "{report:#}");
    let schedule = page_station().schedule();
    let titles: Vec<(f64, String)> = report["metadata"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|m| m["key"] == "TIT2")
                .map(|m| {
                    (
                        f(&m["start_s"]),
                        m["data"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert!(
        !titles.is_empty(),
        "{engine} reported no ID3 title from the segments: {report:#}"
    );
    for (start_s, title) in &titles {
        // Media time is seconds since the epoch; the event's title is the
        // schedule's item at that moment.
        let at = lofiever::time::SampleIndex((start_s * 48_000.0).round() as u64);
        let item = schedule.playing_at(at).expect("scheduled");
        assert_eq!(title, &item.title, "at {start_s} s: {report:#}");
    }
    eprintln!(
        "{engine} metadata: {} titles, last {:?}",
        titles.len(),
        titles.last()
    );
}

#[test]
fn shaka_reads_the_titles_from_the_segments_as_they_play() {
    player_reads_the_titles_from_the_segments("shaka");
}

#[test]
fn dashjs_reads_the_titles_from_the_segments_as_they_play() {
    player_reads_the_titles_from_the_segments("dash.js");
}

#[test]
fn a_browser_without_media_source_extensions_is_told_what_to_do() {
    let _one = exclusive();
    let report = play_rendered(
        "",
        &[
            "--seconds",
            "1",
            "--timeout",
            "60",
            "--no-mse",
            "--no-native-hls",
        ],
    );
    assert_eq!(report["ok"], false, "played without MSE? {report:#}");
    let status = report["page_status"].as_str().unwrap_or("");
    assert!(
        status.contains("cannot play the stream")
            && status.contains("Media Source Extensions")
            && status.contains("stream.mpd"),
        "no plain message for a browser without MSE: {report:#}"
    );
    assert_eq!(report["page_sync"], "off air", "{report:#}");
}

/// A station rendered around a coming UTC midnight (a minute before it to
/// three after, with the ten-minute seek-back before that): schedule files
/// for both days, and the HLS playlists of the day that ends.
///
/// The midnight is at least two hours away, whenever the suite runs: the
/// tests set the host's clock near it and rely on this machine's own clock
/// being far from it (a device clock hours off whose moment is not
/// rendered). Run shortly before a real midnight, the next one was minutes
/// away, inside the rendered window.
pub(crate) fn midnight_station() -> &'static (TempStation, chrono::DateTime<Utc>) {
    static CELL: OnceLock<(TempStation, chrono::DateTime<Utc>)> = OnceLock::new();
    CELL.get_or_init(|| {
        let station = TempStation::new(SYNC_STATION_TOML);
        station.add_tracks(&short_specs(4));
        let s = station.station();
        let midnight = ((Utc::now() + chrono::Duration::hours(2)).date_naive()
            + chrono::Days::new(1))
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc();
        let window = Window {
            now: midnight - chrono::Duration::seconds(60),
            ahead: SampleCount::from_secs(4 * 60).expect("small"),
            force: false,
        };
        job::run(&s, &window, &Silent).expect("render around midnight");
        (station, midnight)
    })
}

#[test]
fn the_page_follows_the_programme_across_utc_midnight() {
    let _one = exclusive();
    // Heard through a preview whose clock is set to just before the first
    // item of the new day: the page must load the new day's file and show
    // that item once it is heard.
    let (station, midnight) = midnight_station();
    let (station, midnight) = (station, *midnight);
    let s = station.station();
    let day_file = |d: chrono::DateTime<Utc>| {
        station
            .root()
            .join(format!("out/schedule/{}.json", d.format("%Y-%m-%d")))
    };
    let before = midnight - chrono::Duration::seconds(1);
    assert!(day_file(before).is_file() && day_file(midnight).is_file());
    let schedule = station.schedule();
    let m = s.epoch.sample_at(midnight).expect("after epoch");
    let first = schedule
        .items
        .iter()
        .find(|it| it.start_sample >= m.0)
        .expect("an item starts after midnight");
    let start = s
        .epoch
        .instant_of(lofiever::time::SampleIndex(first.start_sample))
        .expect("instant");

    // The page needs a few seconds to start, then hears the clock − 6 s:
    // 14 s of playback carry it from before the item's start to well into it.
    let (server, url) = serve_at(
        &station.root().join("out"),
        Some(start - chrono::Duration::seconds(1)),
    );
    let report = node(
        "play.mjs",
        &["--url", &url, "--seconds", "14", "--timeout", "90"].map(String::from),
    );
    server.stop();
    assert_eq!(report["ok"], true, "playback failed: {report:#}");
    let ms = report["programme_time_ms"]
        .as_i64()
        .expect("programme_time_ms");
    let heard = chrono::DateTime::from_timestamp_millis(ms).expect("valid instant");
    assert!(
        heard >= start + chrono::Duration::seconds(5),
        "the page did not play into the new day's first item ({start}), heard {heard}: {report:#}"
    );
    let title = report["now_playing"]["title"].as_str().unwrap_or("");
    eprintln!(
        "midnight: the new day's first item starts {start}; heard {heard}, page shows {title:?}"
    );
    assert_now_playing_matches_schedule(station, title, ms);
    // The lock screen (Media Session) shows what the page shows, and it
    // changed when the new item began.
    let sessions = report["media_session"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let last = sessions.last().cloned().unwrap_or_default();
    assert_eq!(last["title"], title, "Media Session: {sessions:?}");
    assert_eq!(
        last["artist"], report["now_playing"]["artist"],
        "{sessions:?}"
    );
    assert_eq!(last["album"], s.name.as_str(), "{sessions:?}");
    let titles: std::collections::BTreeSet<&str> = sessions
        .iter()
        .filter_map(|m| m["title"].as_str())
        .collect();
    assert!(
        titles.len() >= 2,
        "the Media Session metadata did not change at the next item: {sessions:?}"
    );
    let shown_start = report["now_playing"]["start"].as_str().unwrap_or("");
    assert!(
        shown_start.starts_with(&midnight.format("%Y-%m-%d").to_string()),
        "the item shown should be one of the new day: {report:#}"
    );
}

/// A device clock hours off (the midnight station's host runs ahead of this
/// machine) and a first clock answer that comes only after start-up stopped
/// waiting for it: the page starts the player on the device clock, where no
/// segment exists, and once the measurement is in it starts the stream again
/// from the corrected clock, and plays at the station's moment.
#[test]
fn a_late_clock_measurement_restarts_the_stream_at_the_stations_moment() {
    let _one = exclusive();
    let (station, midnight) = midnight_station();
    // The host's clock runs `ahead` of this machine's from here on.
    let ahead = *midnight + chrono::Duration::seconds(30) - Utc::now();
    let (server, url) = serve_at(&station.root().join("out"), Some(Utc::now() + ahead));
    let report = node(
        "play.mjs",
        &[
            "--url",
            &url,
            "--seconds",
            "4",
            "--timeout",
            "60",
            "--hold-clock-ms",
            "2500",
        ]
        .map(String::from),
    );
    server.stop();
    assert!(f(&report["advanced_s"]) >= 4.0, "did not play: {report:#}");
    // Started on the device clock, the player asked for segments of a time
    // the station has not rendered (404s, as on a device that far off with a
    // slow network); nothing else may have gone wrong.
    let errors = report["errors"].as_array().cloned().unwrap_or_default();
    assert!(
        errors.iter().all(|e| {
            let e = e.as_str().unwrap_or("");
            e.starts_with("HTTP 404 ") && e.contains(".m4s")
        }),
        "errors other than the device clock's missing segments: {report:#}"
    );
    let retune = page_event(&report, "retune").unwrap_or_else(|| {
        panic!("the page never started again on the measured clock: {report:#}")
    });
    let moved_ms = f(&retune["toMs"]) - f(&retune["fromMs"]);
    assert!(
        moved_ms.abs() > 60_000.0,
        "the clock correction should be the host's hours, not {moved_ms} ms: {report:#}"
    );
    // play.mjs measures the latency against this machine's clock; the
    // station's moment is the host's.
    let target = station.station().target_latency_ms as f64;
    let latency = f(&report["latency_ms"]) + ahead.num_milliseconds() as f64;
    assert!(
        (latency - target).abs() <= 500.0,
        "plays {latency} ms behind the host's clock, the target is {target} ms: {report:#}"
    );
}

/// HLS over the same segments: hls.js (over Media Source) plays the day's
/// playlists at the station's moment and shows what the schedule says.
/// (The browser's own HLS, which Safari uses without Media Source, cannot be
/// tried here: Chromium 156 answers "maybe" for HLS but never loads the
/// day's fMP4/Opus playlist; see README "HLS".)
#[test]
fn hls_engines_play_the_days_playlists_at_the_stations_moment() {
    let _one = exclusive();
    let (station, midnight) = midnight_station();
    let midnight = *midnight;
    let day = (midnight - chrono::Duration::seconds(1)).format("%Y-%m-%d");
    assert!(
        station.root().join(format!("out/hls/{day}.m3u8")).is_file(),
        "no HLS playlist for the day that ends"
    );
    // Forty seconds before midnight: the page plays 6 s behind, inside the day.
    let clock = midnight - chrono::Duration::seconds(40);
    let engine = "hls.js";
    let report = serve_and_run_at(
        station,
        Some(clock),
        "play.mjs",
        "?player=hlsjs",
        &["--seconds", "6", "--timeout", "90"],
    );
    assert_eq!(report["ok"], true, "{engine} did not play: {report:#}");
    assert_eq!(report["player"]["engine"], engine, "{report:#}");
    assert_heard_before_midnight(&report, station, engine, clock, midnight);
}

/// An HLS `engine` started at the preview's `clock`, shortly before
/// `midnight`, played the station's moment of the day that ends (the
/// preview's clock ran on while the page started, so within 8 s of `clock`),
/// and the page showed the schedule's item at that moment.
pub(crate) fn assert_heard_before_midnight(
    report: &serde_json::Value,
    station: &TempStation,
    engine: &str,
    clock: chrono::DateTime<Utc>,
    midnight: chrono::DateTime<Utc>,
) {
    let ms = report["programme_time_ms"]
        .as_i64()
        .expect("programme_time_ms");
    let heard = chrono::DateTime::from_timestamp_millis(ms).expect("valid instant");
    let latency = heard.signed_duration_since(clock).num_milliseconds();
    eprintln!("{engine}: heard {heard}, {latency} ms from the preview's start clock");
    assert!(
        heard < midnight && heard > clock - chrono::Duration::seconds(8),
        "{engine} plays {heard}, not the station's moment near {clock}: {report:#}"
    );
    let title = report["now_playing"]["title"].as_str().unwrap_or("");
    assert_now_playing_matches_schedule(station, title, ms);
}

/// Issue 12: six listeners (three dash.js, three Shaka) joined 2 s apart,
/// whose device clocks are wrong by 0, -0.7, +0.4, +2.5, -0.3 and +0.3 s, sampled
/// every 100 ms for 25 s after a 10 s warm-up; one pauses for 8 s. Before the
/// page measured the host's clock, listeners like these were 0.6-1.2 s apart
/// while their pages said "in sync".
#[test]
fn listeners_with_wrong_device_clocks_hear_the_same_moment() {
    let _one = exclusive();
    let station = sync_station();
    let out = station.root().join("out");
    // What the players get validates against the official schema.
    xmllint_mpd(&out.join("stream.mpd")).unwrap_or_else(|e| panic!("stream.mpd: {e}"));
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/lofiever-screenshots");
    let (server, url) = serve(&out);
    let report = node(
        "listeners.mjs",
        &[
            "--url",
            &url,
            "--players",
            "dashjs,shaka,dashjs,shaka,dashjs,shaka",
            "--clock-offsets",
            WRONG_CLOCKS,
            "--stagger",
            "2",
            "--warmup",
            "10",
            "--seconds",
            "25",
            "--sample-ms",
            "100",
            "--pause",
            "4:3:8",
            "--screenshots",
            &shots.display().to_string(),
            "--trace",
            &trace_file("listeners").display().to_string(),
        ]
        .map(String::from),
    );
    server.stop();
    eprintln!(
        "listeners: {}",
        serde_json::to_string(&report).unwrap_or_default()
    );
    assert_eq!(report["ok"], true, "{report:#}");
    assert!(f(&report["measured_s"]) >= 24.0, "{report:#}");
    assert_eq!(report["codecs"], "Opus", "{report:#}");
    assert_eq!(report["codecs_supported"], true, "{report:#}");
    assert_listeners_in_sync(&report, "wrong device clocks");
    for l in report["listeners"].as_array().expect("listeners") {
        assert_clock_corrected(l);
    }
    let back = f(&report["pause"]["back_in_sync_after_s"]);
    assert!(
        back <= 10.0,
        "the paused listener was not back in sync within 10 s: {:#}",
        report["pause"]
    );
    let mut checked = 0;
    for np in report["now_playing"].as_array().expect("now_playing") {
        if np["audible"] != true {
            continue;
        }
        if let (Some(title), Some(ms)) = (np["title"].as_str(), np["programme_time_ms"].as_f64()) {
            assert_now_playing_matches_schedule(station, title, ms as i64);
            checked += 1;
        }
    }
    assert!(checked >= 20, "too few now-playing samples: {checked}");
    for shot in ["desktop.png", "phone.png"] {
        assert!(shots.join(shot).is_file(), "no screenshot {shot}");
    }
}

/// Issue 12: four listeners with wrong device clocks reach the host through a
/// proxy that delays every piece of data by 25-125 ms each way (round trips of
/// 50-250 ms with jitter).
#[test]
fn listeners_behind_a_slow_uneven_network_hear_the_same_moment() {
    let _one = exclusive();
    let station = sync_station();
    let report = serve_and_run(
        station,
        "listeners.mjs",
        "",
        &[
            "--players",
            "dashjs,shaka,dashjs,shaka",
            "--clock-offsets",
            WRONG_CLOCKS,
            "--delay-ms",
            "25:125",
            "--stagger",
            "2",
            "--warmup",
            "10",
            "--seconds",
            "15",
            "--sample-ms",
            "100",
            "--trace",
            &trace_file("slow-network").display().to_string(),
        ],
    );
    eprintln!(
        "slow network: {}",
        serde_json::to_string(&report).unwrap_or_default()
    );
    assert_eq!(report["ok"], true, "{report:#}");
    assert_listeners_in_sync(&report, "a slow, uneven network");
    for l in report["listeners"].as_array().expect("listeners") {
        assert_clock_corrected(l);
        // Round trips of at least 50 ms: the page cannot know its clock to
        // better than about 25 ms, and must not claim to.
        assert!(
            f(&l["clock"]["errorMs"]) >= 20.0,
            "the page claims a precision the network does not allow: {l:#}"
        );
    }
}

/// Issue 12: a host whose every answer comes from a cache (an `Age` header and
/// the Date it was cached, 30 s old). The page must not take that Date for the
/// time: it says the clock could not be checked, plays by the device's clock
/// (right here), and never says "in sync".
#[test]
fn a_date_from_a_cache_is_not_trusted() {
    let _one = exclusive();
    let station = sync_station();
    let report = serve_and_run(
        station,
        "listeners.mjs",
        "",
        &[
            "--players",
            "dashjs",
            "--cached-age",
            "30",
            "--warmup",
            "3",
            "--seconds",
            "4",
        ],
    );
    eprintln!(
        "cached Date: {}",
        serde_json::to_string(&report).unwrap_or_default()
    );
    assert_eq!(report["ok"], true, "{report:#}");
    let l = &report["listeners"][0];
    assert_eq!(l["clock"]["state"], "unknown", "{l:#}");
    assert_eq!(l["clock"]["problem"], "cached", "{l:#}");
    let sync = l["sync"].as_str().unwrap_or("");
    assert!(
        sync.contains("clock not checked") && sync.contains("cache") && !sync.contains("in sync"),
        "the page should say its clock is unchecked because of a cache: {sync:?}"
    );
    // Playing by the (right) device clock, not by the 30 s old Date.
    let err = f(&l["abs_latency_error_ms"]["p95"]);
    assert!(err < LATENCY_P95_BOUND_MS, "{l:#}");
}

/// The page's clock (src/page/clock.js) against simulated hosts and networks,
/// in virtual time (tests/browser/clock-sim.mjs): the claim the page rests on
/// is that the true offset always lies within the error it states, and that
/// on an ordinary network it knows the offset to well under 10 ms within
/// seconds. Seed 3 (the design was tuned on seed 1).
#[test]
fn the_page_clock_never_claims_less_error_than_it_has() {
    let out = Command::new(tool("node"))
        .arg(browser_dir().join("clock-sim.mjs"))
        .args(["--runs", "100", "--seed", "3"])
        .output()
        .expect("run node clock-sim.mjs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("clock-sim.mjs printed no JSON ({e}): {stdout}"));
    for (name, s) in report["scenarios"].as_object().into_iter().flatten() {
        eprintln!(
            "clock simulation, {name}: |error| p95 at 5 s {} ms, at 30 s {} ms",
            s["at"]["5s"]["err_p95"], s["at"]["30s"]["err_p95"]
        );
    }
    assert_eq!(report["ok"], true, "{report:#}");
    let sc = &report["scenarios"];
    for (name, s) in sc.as_object().expect("scenarios") {
        for (at, a) in s["at"].as_object().expect("checkpoints") {
            assert_eq!(
                a["not_contained"], 0,
                "{name} at {at}: the true offset was outside the stated error: {a:#}"
            );
        }
    }
    // A local host: to a millisecond within 5 s; a nearby CDN edge: well under 10 ms.
    assert!(
        f(&sc["lan"]["at"]["5s"]["err_p95"]) <= 2.0,
        "{:#}",
        sc["lan"]
    );
    assert!(
        f(&sc["internet"]["at"]["5s"]["err_p95"]) <= 10.0,
        "{:#}",
        sc["internet"]
    );
    // Round trips of 50-250 ms: still a few tens of ms after half a minute.
    assert!(
        f(&sc["proxy"]["at"]["30s"]["err_p95"]) <= 25.0,
        "{:#}",
        sc["proxy"]
    );
    // Start-up waits for the clock about a second at most.
    assert!(f(&sc["lan"]["ready_ms_p95"]) <= 1300.0, "{:#}", sc["lan"]);
    // Nothing usable: no estimate, and the reason named.
    for (name, problem) in [("cached", "cached"), ("hidden", "no-date")] {
        let a = &sc[name]["at"]["10s"];
        assert_eq!(a["ok_share"], 0.0, "{name}: {a:#}");
        assert_eq!(a["problems"][0], problem, "{name}: {a:#}");
    }
    // Two servers whose clocks disagree: never "ok", and said.
    let j = &sc["jumping"]["at"]["10s"];
    assert_eq!(j["ok_share"], 0.0, "{j:#}");
    assert_eq!(j["problems"][0], "jumps", "{j:#}");
}

/// The sync checks shared by the listener tests: skew, each listener's true
/// latency, no stalls, no errors.
pub(crate) fn assert_listeners_in_sync(report: &serde_json::Value, what: &str) {
    let skew = &report["skew_ms"];
    eprintln!(
        "{what}: skew ms (p50/p95/max): all {}/{}/{}, dash.js {}/{}/{}, Shaka {}/{}/{}",
        skew["all"]["p50"],
        skew["all"]["p95"],
        skew["all"]["max"],
        skew["dashjs"]["p50"],
        skew["dashjs"]["p95"],
        skew["dashjs"]["max"],
        skew["shaka"]["p50"],
        skew["shaka"]["p95"],
        skew["shaka"]["max"],
    );
    assert!(
        f(&skew["all"]["p95"]) < SKEW_P95_BOUND_MS,
        "{what}: inter-listener skew too large: {skew:#}"
    );
    for l in report["listeners"].as_array().expect("listeners") {
        assert!(
            f(&l["abs_latency_error_ms"]["p95"]) < LATENCY_P95_BOUND_MS,
            "{what}: a listener is off the target latency: {l:#}"
        );
        assert_eq!(
            l["unexpected_errors"].as_array().map(Vec::len),
            Some(0),
            "{l:#}"
        );
        assert_eq!(
            l["unexpected_http"].as_array().map(Vec::len),
            Some(0),
            "{l:#}"
        );
        assert_eq!(l["stalls_measured"], 0, "a listener stalled: {l:#}");
    }
}

/// A listener's page measured how wrong its device clock is (to 50 ms: the
/// suite's bound, the bench measures the real figure), handed that to its
/// player, and says so in words.
fn assert_clock_corrected(l: &serde_json::Value) {
    let wrong = f(&l["clock_wrong_by_ms"]);
    let clock = &l["clock"];
    assert!(
        clock["state"] == "ok",
        "the page did not measure the host's clock: {l:#}"
    );
    // offsetMs = station - device = -(how fast the device clock is).
    let measured = f(&clock["offsetMs"]);
    assert!(
        (measured + wrong).abs() < 50.0,
        "device clock {wrong} ms off, measured {measured}: {l:#}"
    );
    let player = f(&l["player_clock_offset_ms"]);
    assert!(
        (player - measured).abs() < 10.0,
        "the player does not run on the page's clock: {l:#}"
    );
    let sync = l["sync"].as_str().unwrap_or("");
    let named = if wrong.abs() < 50.0 {
        sync.contains("device clock")
    } else {
        let amount = if wrong.abs() >= 1000.0 {
            format!("{:.1}\u{a0}s", wrong.abs() / 1000.0)
        } else {
            String::new()
        };
        let direction = if wrong > 0.0 { "fast" } else { "slow" };
        sync.contains(&format!("{direction}, corrected")) && sync.contains(&amount)
    };
    assert!(
        named,
        "the sync line does not name the correction: {sync:?} ({l:#})"
    );
}

/// A segment deleted at the host just before it becomes available: the page
/// waits while the player retries, then skips to the live moment when the
/// hole has passed; every listener plays on and is back in sync.
#[test]
fn a_missing_segment_is_skipped_and_listeners_stay_in_sync() {
    let _one = exclusive();
    let station = sync_station();
    // A private copy: the deletion must not disturb other tests.
    let copy = tempfile::tempdir().expect("temp dir");
    copy_dir(&station.root().join("out"), copy.path());
    let (server, url) = serve(copy.path());
    let report = node(
        "listeners.mjs",
        &[
            "--url",
            &url,
            "--players",
            "dashjs,shaka,dashjs",
            "--stagger",
            "1",
            "--warmup",
            "4",
            "--seconds",
            "28",
            "--delete-dir",
            &copy.path().display().to_string(),
            "--delete-at",
            "1",
            "--trace",
            &trace_file("missing-segment").display().to_string(),
            "--screenshots",
            &trace_file("").with_file_name("").display().to_string(),
        ]
        .map(String::from),
    );
    server.stop();
    eprintln!(
        "missing segment: {}",
        serde_json::to_string(&report).unwrap_or_default()
    );
    assert_eq!(report["ok"], true, "{report:#}");
    let gap = &report["gap"];
    assert!(
        gap["files"].as_array().is_some_and(|f| f.len() == 2),
        "{gap:#}"
    );
    for (i, l) in gap["listeners"]
        .as_array()
        .expect("gap listeners")
        .iter()
        .enumerate()
    {
        assert_eq!(l["played_past_hole"], true, "listener {i}: {gap:#}");
        let back = f(&l["back_in_sync_after_s"]);
        assert!(
            back <= 10.0,
            "listener {i} not back in sync within 10 s: {gap:#}"
        );
    }
    for l in report["listeners"].as_array().expect("listeners") {
        assert_eq!(
            l["unexpected_errors"].as_array().map(Vec::len),
            Some(0),
            "{l:#}"
        );
        assert_eq!(
            l["unexpected_http"].as_array().map(Vec::len),
            Some(0),
            "{l:#}"
        );
        assert!(
            l["events"]
                .as_array()
                .is_some_and(|e| e.iter().any(|e| e["what"] == "skip")),
            "the page did not skip the hole: {l:#}"
        );
    }
}

/// Where a test leaves its per-round latency trace (for a look afterwards).
fn trace_file(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/lofiever-screenshots");
    std::fs::create_dir_all(&dir).expect("mkdir");
    dir.join(format!("{name}.trace.txt"))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let dest = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).expect("copy");
        }
    }
}

/// A takedown ahead of the listeners (issue 16's acceptance): `remove`
/// with a cut a few seconds before a track, `render` again, and a listener
/// whose clock reaches the cut hears the programme go on across it: no
/// stall, no skipped segment, the heard time keeping pace with the clock,
/// and after the cut the next track of the old plan, never the removed one.
#[test]
fn chromium_plays_across_a_remove_cut_without_a_stall() {
    use chrono::{Duration, SecondsFormat};
    let _one = exclusive();
    let station = TempStation::new(TEST_STATION_TOML);
    station.add_tracks(&short_specs(6));
    let s = station.station();
    let now = Utc::now();
    let render = || {
        let window = Window {
            now,
            ahead: SampleCount::from_secs(12 * 60).expect("small"),
            force: false,
        };
        job::run(&s, &window, &Silent).expect("render the station");
    };
    render();
    let before = station.schedule();
    // The victim: the first item starting 15 s after the earliest possible
    // cut whose recording is not playing then; the cut 10 s before it.
    let earliest = job::earliest_takedown(&s, now);
    let sample = |t: chrono::DateTime<Utc>| s.epoch.sample_at(t).expect("after the epoch");
    let instant = |i: lofiever::time::SampleIndex| s.epoch.instant_of(i).expect("an instant");
    let from = sample(earliest + Duration::seconds(15));
    let across = before.playing_at(from).map(|it| it.hash.clone());
    let victim = before
        .items
        .iter()
        .find(|it| it.start() >= from && Some(&it.hash) != across.as_ref())
        .expect("an item after the earliest cut")
        .clone();
    let cut_from = instant(victim.start()) - Duration::seconds(10);
    let from_text = cut_from.to_rfc3339_opts(SecondsFormat::Millis, true);
    let o = station.run_at(now, &["remove", &victim.track, "--from", &from_text]);
    assert!(
        o.status.success(),
        "remove: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    render();
    let after = station.schedule();
    let cut = s.grid.segment_of(sample(cut_from));
    let cut_at = s.grid.segment_start(cut).expect("in range");
    let cut_at = if cut_at < sample(cut_from) {
        s.grid
            .segment_start(lofiever::time::SegmentNumber(cut.0 + 1))
            .expect("in range")
    } else {
        cut_at
    };
    let changes = victim.start();
    let next = after
        .playing_at(lofiever::time::SampleIndex(changes.0 + 5 * 48_000))
        .expect("something plays after the cut")
        .clone();
    assert_ne!(next.hash, victim.hash, "the victim still plays");

    // Listeners hear the clock − 6 s and need a few seconds to start: a
    // clock at the cut has them start just before it, and 24 s of playback
    // carry them past the change (10 s after the cut) well into the next
    // track.
    let clock = instant(cut_at);
    let (server, url) = serve_at(&station.root().join("out"), Some(clock));
    let served = Utc::now();
    let report = node(
        "play.mjs",
        &["--url", &url, "--seconds", "24", "--timeout", "90"].map(String::from),
    );
    server.stop();
    eprintln!(
        "remove cut: {}",
        serde_json::to_string(&report).unwrap_or_default()
    );
    assert_eq!(report["ok"], true, "playback failed: {report:#}");
    let events = report["page_events"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        !events.iter().any(|e| e["what"] == "skip"
            || e["what"] == "reattach"
            || (e["what"] == "jump" && e["why"] == "stall")),
        "the page stalled or skipped: {events:#?}"
    );
    let ms = report["programme_time_ms"]
        .as_i64()
        .expect("programme_time_ms");
    let heard = chrono::DateTime::from_timestamp_millis(ms).expect("valid instant");
    // The heard time kept pace with the (preview's) clock: at the end it
    // is still the clock − the 6 s latency, give or take 1.5 s.
    let wall = report["wall_clock_ms"].as_i64().expect("wall_clock_ms");
    let clock_then =
        clock + (chrono::DateTime::from_timestamp_millis(wall).expect("valid") - served);
    let lag = (clock_then - heard).num_milliseconds();
    assert!(
        (lag - 6000).abs() < 1500,
        "heard {heard}, clock {clock_then}: {lag} ms behind, want 6000 ± 1500"
    );
    assert!(
        heard >= instant(changes) + Duration::seconds(5),
        "the page did not play past the change at {} (heard {heard}): {report:#}",
        instant(changes)
    );
    let title = report["now_playing"]["title"].as_str().unwrap_or("");
    assert_now_playing_matches_schedule(&station, title, ms);
    let playing = after
        .playing_at(sample(heard))
        .expect("an item at the heard time");
    assert_ne!(playing.hash, victim.hash, "the removed track plays");
    assert_ne!(title, victim.title, "the page shows the removed track");
    let shown: Vec<&str> = report["media_session"]
        .as_array()
        .map(|m| m.iter().filter_map(|x| x["title"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        !shown.contains(&victim.title.as_str()),
        "the lock screen showed the removed track: {shown:?}"
    );
    eprintln!(
        "remove cut at {}; the victim {:?} was to start {}; heard {heard} ({lag} ms behind the \
         clock), page shows {title:?}, lock screen {shown:?}",
        instant(cut_at),
        victim.title,
        instant(changes)
    );
}
