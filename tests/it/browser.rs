//! The listening page in a real browser: Debian's Chromium, driven by
//! playwright-core (tests/browser/play.mjs), plays the rendered station with
//! dash.js served from the local npm package.

use std::path::{Path, PathBuf};
use std::process::Command;

use lofiever::preview::Preview;

use crate::util::{rendered, tool};

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// Serves the shared rendered station on a free port; returns the server
/// (stopped on drop of the returned closure's owner) and the page URL.
fn serve() -> (std::sync::Arc<Preview>, String) {
    let r = rendered();
    let dashjs = browser_dir().join("node_modules/dashjs/dist/modern/umd");
    assert!(
        dashjs.join("dash.all.min.js").is_file(),
        "dash.js is not installed; run `bash ci/setup.sh` first"
    );
    let server = std::sync::Arc::new(
        Preview::bind("127.0.0.1:0", &r.station.root().join("out"), Some(&dashjs)).expect("bind"),
    );
    let addr = server.addr().expect("ip address");
    let s = std::sync::Arc::clone(&server);
    std::thread::spawn(move || s.serve());
    (server, format!("http://{addr}/index.html"))
}

fn play(url: &str, extra: &[&str]) -> serde_json::Value {
    tool("chromium");
    let out = Command::new("node")
        .arg(browser_dir().join("play.mjs"))
        .args(["--url", url])
        .args(extra)
        .output()
        .expect("run node (install Node.js and run `bash ci/setup.sh`)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or("");
    serde_json::from_str(line).unwrap_or_else(|e| {
        panic!(
            "play.mjs printed no JSON ({e}): stdout {stdout} stderr {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn chromium_plays_the_page_for_five_seconds_without_media_errors() {
    let (server, url) = serve();
    let report = play(&url, &["--seconds", "5", "--timeout", "90"]);
    server.stop();
    assert_eq!(report["ok"], true, "playback failed: {report:#}");
    let advanced = report["advanced_s"].as_f64().expect("advanced_s");
    assert!(
        advanced >= 5.0,
        "currentTime advanced only {advanced} s: {report:#}"
    );
    assert_eq!(
        report["errors"].as_array().map(Vec::len),
        Some(0),
        "{report:#}"
    );
    // The page shows what the schedule says is playing.
    let title = report["now_playing"]["title"].as_str().unwrap_or("");
    assert!(!title.is_empty(), "no now-playing title: {report:#}");
    // ... and it is the schedule's item at the programme time being heard.
    let station = rendered().station.station();
    let ms = report["programme_time_ms"]
        .as_f64()
        .expect("programme_time_ms") as i64;
    let heard = chrono::DateTime::from_timestamp_millis(ms).expect("valid instant");
    let sample = station.epoch.sample_at(heard).expect("after epoch");
    let schedule =
        lofiever::job::load_schedule(lofiever::publish::open(&station).expect("target").as_ref())
            .expect("schedule");
    let item = schedule
        .playing_at(sample)
        .expect("something is scheduled now");
    // Within a crossfade either title may be shown; away from one it must match.
    let near_change = schedule
        .items
        .iter()
        .any(|it| it.start_sample.abs_diff(sample.0) < 5 * 48_000);
    assert!(
        near_change || title == item.title,
        "page shows {title:?}, schedule says {:?}",
        item.title
    );
    eprintln!(
        "browser: {}",
        serde_json::to_string(&report).unwrap_or_default()
    );
}
