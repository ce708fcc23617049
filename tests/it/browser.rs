//! The listening page and the stream in real players: Debian's Chromium, driven
//! by playwright-core (tests/browser/*.mjs), with dash.js and Shaka Player
//! served from the local npm packages.
//!
//! - one listener plays the page for a few seconds (tests/browser/play.mjs);
//! - several listeners, dash.js and Shaka, joined seconds apart, hear the same
//!   moment: inter-listener skew p95 within 30 ms over a minute, no stalls, no
//!   media errors; one pauses for 30 s and is back in sync within 10 s; what
//!   each page shows as "now playing" is the schedule's item at the programme
//!   time it plays; screenshots at phone and desktop size are kept under
//!   `target/lofiever-screenshots/` (tests/browser/listeners.mjs);
//! - a segment deleted ahead of the listeners is skipped: they play on and are
//!   back in sync.
//!
//! The stations use an epoch of 2025-01-01, over a year before any run, so
//! media time is far past 2^32 ms. Browser tests run one at a time (a lock):
//! they measure timing, and two Chromiums on two cores would disturb each other.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use chrono::Utc;
use lofiever::job::{self, Window};
use lofiever::preview::Preview;
use lofiever::progress::Silent;
use lofiever::time::SampleCount;

use crate::util::{rendered, short_specs, tool, xmllint_mpd, TempStation};

/// The inter-listener skew the stream must hold (p95), and the tolerance used
/// to say a listener is "back in sync".
const SKEW_P95_MS: f64 = 30.0;

/// A station for the sync tests: two renditions, fast encoder settings,
/// rendered 4 minutes ahead of its first use (the tests need about 2.5).
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
fn exclusive() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn sync_station() -> &'static TempStation {
    static CELL: OnceLock<TempStation> = OnceLock::new();
    CELL.get_or_init(|| {
        let station = TempStation::new(SYNC_STATION_TOML);
        station.add_tracks(&short_specs(4));
        let window = Window {
            now: Utc::now(),
            ahead: SampleCount::from_secs(4 * 60).expect("small"),
            force: false,
        };
        job::run(&station.station(), &window, &Silent).expect("render the sync station");
        station
    })
}

/// Serves `out` on a free port with both player libraries; returns the server
/// and the page URL.
fn serve(out: &Path) -> (Arc<Preview>, String) {
    serve_at(out, None)
}

/// [`serve`], with the preview's clock set to `at` ([`Preview::at`]).
fn serve_at(out: &Path, at: Option<chrono::DateTime<Utc>>) -> (Arc<Preview>, String) {
    let modules = browser_dir().join("node_modules");
    let dashjs = modules.join("dashjs/dist/modern/umd");
    let shaka = modules.join("shaka-player/dist");
    assert!(
        dashjs.join("dash.all.min.js").is_file()
            && shaka.join("shaka-player.compiled.js").is_file(),
        "dash.js / Shaka Player are not installed; run `bash ci/setup.sh` first"
    );
    let mut preview = Preview::bind("127.0.0.1:0", out, Some(&dashjs))
        .expect("bind")
        .with_vendor("shaka", &shaka);
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
    let r = rendered();
    let (server, url) = serve(&r.station.root().join("out"));
    let mut all = vec!["--url".to_string(), format!("{url}{query}")];
    all.extend(args.iter().map(|a| a.to_string()));
    let report = node("play.mjs", &all);
    server.stop();
    report
}

/// Runs a node script from tests/browser and parses the JSON line it prints.
///
/// The script (and the Chromium it starts) runs at raised priority, `nice -n
/// -10`, when allowed (as root; otherwise nice says so and runs it as is): the
/// sync figures are about the players, and on a small machine shared with
/// compilers and other tests an audio renderer starved of CPU stalls whatever
/// the players do. Everything else about the run is unchanged.
fn node(script: &str, args: &[String]) -> serde_json::Value {
    tool("chromium");
    let out = Command::new(tool("nice"))
        .args(["-n", "-10", "node"])
        .arg(browser_dir().join(script))
        .args(args)
        .output()
        .expect("run node (install Node.js and run `bash ci/setup.sh`)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The script's progress log (shown with --nocapture, and on failure).
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    let line = stdout.lines().last().unwrap_or("");
    serde_json::from_str(line).unwrap_or_else(|e| {
        panic!(
            "{script} printed no JSON ({e}): stdout {stdout} stderr {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Checks that a page showed the schedule's item at the programme time it was
/// playing (away from a track change, where either title may be shown).
fn assert_now_playing_matches_schedule(station: &TempStation, title: &str, programme_time_ms: i64) {
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

fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

#[test]
fn chromium_plays_the_page_for_five_seconds_without_media_errors() {
    let _one = exclusive();
    let r = rendered();
    let report = play_rendered("", &["--seconds", "5", "--timeout", "90"]);
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
    assert_now_playing_matches_schedule(&r.station, title, ms);
    eprintln!(
        "browser: {}",
        serde_json::to_string(&report).unwrap_or_default()
    );
}

/// Plays the rendered station with `engine` ("shaka" or "dash.js") and checks
/// that the titles the player itself reads from the segments' `emsg` ID3
/// events are the schedule's at their moments.
fn player_reads_the_titles_from_the_segments(engine: &str) {
    let _one = exclusive();
    let r = rendered();
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
    let schedule = r.station.schedule();
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
    let report = play_rendered("", &["--seconds", "1", "--timeout", "60", "--no-mse"]);
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

#[test]
fn the_page_follows_the_programme_across_utc_midnight() {
    let _one = exclusive();
    // A station rendered around the coming UTC midnight (schedule files for
    // both days), heard through a preview whose clock is set to just before
    // the first item of the new day: the page must load the new day's file
    // and show that item once it is heard.
    let station = TempStation::new(SYNC_STATION_TOML);
    station.add_tracks(&short_specs(4));
    let s = station.station();
    let midnight = (Utc::now() + chrono::Duration::days(1))
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc();
    let window = Window {
        now: midnight - chrono::Duration::seconds(60),
        ahead: SampleCount::from_secs(4 * 60).expect("small"),
        force: false,
    };
    job::run(&s, &window, &Silent).expect("render around midnight");
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
    assert_now_playing_matches_schedule(&station, title, ms);
    let shown_start = report["now_playing"]["start"].as_str().unwrap_or("");
    assert!(
        shown_start.starts_with(&midnight.format("%Y-%m-%d").to_string()),
        "the item shown should be one of the new day: {report:#}"
    );
}

/// The acceptance test of issue 8: five listeners (three dash.js, two Shaka)
/// joined 3 s apart, sampled every 500 ms for 60 s after a 10 s warm-up.
#[test]
fn listeners_with_dashjs_and_shaka_hear_the_same_moment() {
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
            "dashjs,shaka,dashjs,shaka,dashjs",
            "--stagger",
            "3",
            "--warmup",
            "10",
            "--seconds",
            "62",
            "--pause",
            "4:5:30",
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
    assert!(f(&report["measured_s"]) >= 60.0, "{report:#}");
    assert_eq!(report["codecs"], "Opus", "{report:#}");
    assert_eq!(report["codecs_supported"], true, "{report:#}");
    let skew = &report["skew_ms"];
    eprintln!(
        "skew ms (p50/p95/max): all {}/{}/{}, dash.js {}/{}/{}, Shaka {}/{}/{}",
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
        f(&skew["all"]["p95"]) <= SKEW_P95_MS,
        "inter-listener skew too large: {skew:#}"
    );
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
        assert_eq!(l["stalls_measured"], 0, "a listener stalled: {l:#}");
        assert_eq!(l["clock_trusted"], true, "{l:#}");
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
