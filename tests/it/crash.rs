//! Crash safety and locks, end to end with the real binary.
//!
//! - A render is SIGKILLed at random moments (a seeded RNG picks them) during
//!   analysis, rendering and upload to a folder target, and re-run after
//!   each kill; a final run then completes, and the output folder and the
//!   target are byte-identical to an uninterrupted render of the same
//!   station into other folders, with no temporary file or lock left.
//! - Two renders of one station started at once: one proceeds, the other
//!   stops with "locked by pid … on host … since …", and the output is
//!   exactly what one render gives.
//!
//! Every run is pinned to one instant with `LOFIEVER_NOW` so that all runs
//! (killed, final, reference) cover the same window.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use chrono::{Duration as Span, Timelike, Utc};

use crate::util::{files, short_specs, TempStation};

/// The station: two renditions, 20 s chunks, published to the folder
/// `site/` (so a run has an upload phase after the render).
const CRASH_STATION_TOML: &str = r#"
[station]
name = "Crash FM"
epoch = "2025-01-01T00:00:00Z"
seed = 5

[stream]
segment_ms = 2000
chunk_segments = 10
bitrates_kbps = [64, 96]
opus_complexity = 3

[audio]
crossfade_ms = 3000

[publish]
target = "site"
"#;

/// A fixed "now" well in the past and far from a UTC midnight, so that the
/// window lies in one schedule day: 06:00 UTC of the day 8 hours ago.
fn pinned_now() -> String {
    let t = Utc::now() - Span::hours(8);
    let t = t
        .with_hour(6)
        .and_then(|t| t.with_minute(0))
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .expect("a valid time of day");
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn command(st: &TempStation, now: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lofiever"));
    cmd.args(args)
        .current_dir(st.root())
        .env_remove("LOFIEVER_TARGET")
        .env("LOFIEVER_NOW", now)
        .env("RUST_LOG", "warn");
    cmd
}

fn spawn(st: &TempStation, now: &str, args: &[&str]) -> Child {
    command(st, now, args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start lofiever")
}

fn run(st: &TempStation, now: &str, args: &[&str]) -> Output {
    command(st, now, args).output().expect("run lofiever")
}

fn must_succeed(o: &Output, what: &str) {
    assert!(
        o.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Files under `dir` other than dot-names (the lock, temporary files).
fn count_files(dir: &Path) -> usize {
    files(dir).keys().filter(|k| !is_dot(k)).count()
}

fn is_dot(key: &str) -> bool {
    key.rsplit('/').next().is_some_and(|n| n.starts_with('.'))
}

fn segments_in(dir: &Path) -> usize {
    files(dir).keys().filter(|k| k.ends_with(".m4s")).count()
}

/// Asserts two folders hold the same files with the same bytes, and no
/// dot-file (temporary file, lock) at all.
fn assert_identical(got: &Path, want: &Path, what: &str) {
    let (g, w) = (files(got), files(want));
    let dots: Vec<&String> = g.keys().filter(|k| is_dot(k)).collect();
    assert!(dots.is_empty(), "{what}: files left behind: {dots:?}");
    let missing: Vec<&String> = w.keys().filter(|k| !g.contains_key(*k)).collect();
    let extra: Vec<&String> = g.keys().filter(|k| !w.contains_key(*k)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: missing {missing:?}, extra {extra:?}"
    );
    let differ: Vec<&String> = w
        .iter()
        .filter(|(k, p)| std::fs::read(p).ok() != std::fs::read(&g[*k]).ok())
        .map(|(k, _)| k)
        .collect();
    assert!(differ.is_empty(), "{what}: different bytes in {differ:?}");
    let segments = w.keys().filter(|k| k.ends_with(".m4s")).count();
    assert!(segments > 100, "{what}: only {segments} segments");
    for k in ["stream.mpd", "64k/init.mp4", "index.html", "station.json"] {
        assert!(w.contains_key(k), "{what}: no {k}");
    }
    assert!(
        w.keys().any(|k| k.starts_with("schedule/")),
        "{what}: no schedule"
    );
}

/// `lofiever verify` on the station, if the binary has it.
fn verify_if_available(st: &TempStation, now: &str) -> Option<Output> {
    let help = run(st, now, &["verify", "--help"]);
    // The window from the pinned "now" to the rendered horizon.
    help.status
        .success()
        .then(|| run(st, now, &["verify", "--from", now]))
}

/// Files in the folder `dir` (not below it), dot-names (the lock,
/// temporary files) excepted: cheap enough to poll every millisecond.
fn entries(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |e| {
        e.flatten()
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .count()
    })
}

/// Where a run was when it was killed, told from the files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Analysis,
    Render,
    Upload,
}

/// Phase boundaries of an uninterrupted run, seconds from its start.
#[derive(Debug)]
struct Timing {
    analysed: f64,
    rendered: f64,
    total: f64,
}

/// Runs the reference render to completion, watching its files to time its
/// phases: analysis ends when `features.csv` appears, rendering when the
/// MPD does (it is written after every segment), upload at exit.
fn timed_reference(st: &TempStation, now: &str, args: &[&str]) -> Timing {
    let start = Instant::now();
    let mut child = spawn(st, now, args);
    let (mut analysed, mut rendered) = (None, None);
    let features = st.root().join("catalog/features.csv");
    let mpd = st.root().join("out/stream.mpd");
    loop {
        let t = start.elapsed().as_secs_f64();
        if analysed.is_none() && features.exists() {
            analysed = Some(t);
        }
        if rendered.is_none() && mpd.exists() {
            rendered = Some(t);
        }
        if child.try_wait().expect("poll").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output().expect("reference output");
    must_succeed(&out, "the uninterrupted reference render");
    let total = start.elapsed().as_secs_f64();
    Timing {
        analysed: analysed.expect("features.csv written"),
        rendered: rendered.expect("stream.mpd written"),
        total,
    }
}

/// Waits (polling) until `ready` holds or the child exits; `false` if it
/// exited first.
fn wait_for(child: &mut Child, mut ready: impl FnMut() -> bool) -> bool {
    loop {
        if ready() {
            return true;
        }
        if child.try_wait().expect("poll").is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn renders_killed_at_random_moments_finish_byte_identical_to_an_uninterrupted_one() {
    let now = pinned_now();
    let args = ["render", "--minutes", "30"];
    // Tracks of about two minutes, so that analysis lasts long enough to
    // be killed at several moments.
    let mut specs = short_specs(6);
    for s in &mut specs {
        s.bars = 40;
    }
    let reference = TempStation::new(CRASH_STATION_TOML);
    reference.add_tracks(&specs);
    let crashed = TempStation::new(CRASH_STATION_TOML);
    crashed.add_tracks(&specs);

    let began = Instant::now();
    let timing = timed_reference(&reference, &now, &args);
    let total_segments = segments_in(&reference.root().join("out")) as f64;
    eprintln!("uninterrupted run: {timing:?}, {total_segments} segment files");
    let render_time = timing.rendered - timing.analysed;
    let upload_time = timing.total - timing.rendered;

    // The plan: kills in analysis, then while rendering, then while
    // uploading; the moment within each phase is random.
    let plan = [
        [Phase::Analysis; 3].as_slice(),
        [Phase::Render; 5].as_slice(),
        [Phase::Upload; 4].as_slice(),
    ]
    .concat();
    // Seeded, so the kill moments repeat.
    let mut rng = lofiever::demo::synth::SplitMix64::new(0x10F1_E7E5);
    let out = crashed.root().join("out");
    let site = crashed.root().join("site");
    let features = crashed.root().join("catalog/features.csv");
    let mut kills: Vec<(Phase, f64)> = Vec::new();
    let mut finished_early = 0;
    let mut temps_seen = 0;
    for want in plan {
        let start = Instant::now();
        let site_64k_before = entries(&site.join("64k"));
        let site_before = count_files(&site);
        let segs_before = segments_in(&out);
        let mut child = spawn(&crashed, &now, &args);
        let entered = match want {
            Phase::Analysis => {
                // Early in analysis: how long it takes varies with the
                // machine's load (in the full suite the reference may run
                // while other tests load the cores and this run on an idle
                // machine, several times faster), so within its first fifth.
                let d = timing.analysed * (0.02 + 0.18 * rng.unit());
                wait_for(&mut child, || start.elapsed().as_secs_f64() >= d)
            }
            Phase::Render => {
                // Once this run has written a segment, within the first
                // quarter of what is left to render (a margin for load, as
                // above).
                let left = 1.0 - segs_before as f64 / total_segments;
                let d = render_time * left * 0.25 * rng.unit();
                wait_for(&mut child, || segments_in(&out) > segs_before) && {
                    let t = Instant::now();
                    wait_for(&mut child, || t.elapsed().as_secs_f64() >= d)
                }
            }
            Phase::Upload => {
                // Once this run has copied a file into the target (to the
                // first rendition's folder), within the first tenth of
                // what is left to copy: the copy is quick.
                let left =
                    1.0 - site_before as f64 / count_files(&reference.root().join("site")) as f64;
                let d = upload_time * left * 0.1 * rng.unit();
                wait_for(&mut child, || entries(&site.join("64k")) > site_64k_before) && {
                    let t = Instant::now();
                    wait_for(&mut child, || t.elapsed().as_secs_f64() >= d)
                }
            }
        };
        // What the files say the run was doing at this moment.
        let seen = if !features.exists() {
            Phase::Analysis
        } else if entries(&site.join("64k")) > site_64k_before {
            Phase::Upload
        } else {
            Phase::Render
        };
        if !entered || child.try_wait().expect("poll").is_some() {
            finished_early += 1;
            let o = child.wait_with_output().expect("output");
            must_succeed(&o, "a run that was not killed");
            continue;
        }
        child.kill().expect("SIGKILL"); // Child::kill is SIGKILL on Unix
        let status = child.wait().expect("reap");
        assert!(!status.success(), "killed run reported success");
        kills.push((seen, start.elapsed().as_secs_f64()));
        // A killed run leaves its lock, for the next run to take over.
        assert!(
            out.join(".lofiever.lock").exists(),
            "kill {}: no lock left",
            kills.len()
        );
        temps_seen += files(&out).keys().filter(|k| k.contains(".tmp-")).count()
            + files(&site).keys().filter(|k| k.contains(".tmp-")).count();
    }
    eprintln!("kills (phase, seconds into the run): {kills:?}; {finished_early} runs ended first");
    let count = |p: Phase| kills.iter().filter(|(k, _)| *k == p).count();
    assert!(kills.len() >= 10, "only {} kills: {kills:?}", kills.len());
    assert!(count(Phase::Analysis) >= 2, "{kills:?}");
    assert!(count(Phase::Render) >= 3, "{kills:?}");
    assert!(count(Phase::Upload) >= 2, "{kills:?}");

    eprintln!("temporary files found after the kills (summed): {temps_seen}");
    let final_run = run(&crashed, &now, &args);
    must_succeed(&final_run, "the run after the last kill");
    assert_identical(&site, &reference.root().join("site"), "target");
    assert_identical(&out, &reference.root().join("out"), "output folder");

    match verify_if_available(&crashed, &now) {
        Some(v) => {
            must_succeed(&v, "lofiever verify after the crashes");
            eprintln!("verify: {}", String::from_utf8_lossy(&v.stdout).trim());
        }
        None => eprintln!("TODO(crash): `lofiever verify` is not in this binary yet; not run"),
    }
    eprintln!("crash test took {:.0} s", began.elapsed().as_secs_f64());
}

#[test]
fn two_renders_at_once_one_proceeds_and_the_other_is_locked_out() {
    let now = pinned_now();
    let args = ["render", "--minutes", "6"];
    let specs = short_specs(4);
    let reference = TempStation::new(CRASH_STATION_TOML);
    reference.add_tracks(&specs);
    must_succeed(&run(&reference, &now, &args), "reference render");

    let st = TempStation::new(CRASH_STATION_TOML);
    st.add_tracks(&specs);
    let a = spawn(&st, &now, &args);
    let b = spawn(&st, &now, &args);
    let (a, b) = (
        a.wait_with_output().expect("first"),
        b.wait_with_output().expect("second"),
    );
    let (ok, locked) = match (a.status.success(), b.status.success()) {
        (true, false) => (a, b),
        (false, true) => (b, a),
        _ => panic!(
            "exactly one must succeed:\nA: {}\nB: {}",
            String::from_utf8_lossy(&a.stderr),
            String::from_utf8_lossy(&b.stderr)
        ),
    };
    must_succeed(&ok, "the render that got the lock");
    let err = String::from_utf8_lossy(&locked.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {err}");
    let line = lines[0];
    assert!(line.starts_with("error: "), "{line}");
    assert!(line.contains(".lofiever.lock: locked by pid "), "{line}");
    let host = lofiever::publish::lock::host_name();
    assert!(line.contains(&format!("on host {host} since ")), "{line}");
    assert!(line.contains("`lofiever render`"), "{line}");
    assert!(line.contains("delete "), "says how to recover: {line}");

    assert_identical(
        &st.root().join("site"),
        &reference.root().join("site"),
        "target",
    );
    assert_identical(
        &st.root().join("out"),
        &reference.root().join("out"),
        "output folder",
    );

    // The lock is gone with its run: the next render goes ahead (and has
    // nothing to do).
    let again = run(&st, &now, &args);
    must_succeed(&again, "a render after both ended");
    let text = String::from_utf8_lossy(&again.stdout);
    assert!(text.contains("render: 0 segments rendered"), "{text}");
}

#[test]
fn a_lock_left_by_a_killed_run_is_taken_over_and_one_from_another_host_is_respected() {
    let now = pinned_now();
    let st = TempStation::new(CRASH_STATION_TOML);
    st.add_tracks(&short_specs(3));
    let lock = st.root().join("out/.lofiever.lock");
    std::fs::create_dir_all(st.root().join("out")).expect("mkdir");

    // Another machine's live lock: respected, with the way out.
    let expires = Utc::now() + Span::minutes(5);
    let foreign = serde_json::json!({
        "command": "render", "pid": 4242, "host": "ci-runner-7",
        "started": Utc::now().to_rfc3339(), "expires": expires.to_rfc3339(),
        "token": "0123456789abcdef0123456789abcdef"
    });
    std::fs::write(&lock, foreign.to_string()).expect("write lock");
    for cmd in [
        &["render", "--minutes", "1"][..],
        &["schedule", "--minutes", "1"],
        &["publish"],
    ] {
        let o = run(&st, &now, cmd);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{cmd:?} must stop");
        assert!(
            err.contains("locked by pid 4242 on host ci-runner-7 since"),
            "{cmd:?}: {err}"
        );
    }
    // `publish --dry-run` writes nothing and needs no lock.
    must_succeed(&run(&st, &now, &["publish", "--dry-run"]), "dry run");

    // A lock of a process that died on this machine (a SIGKILLed render):
    // taken over, with a warning, and released at the end.
    std::fs::remove_file(&lock).expect("remove the foreign lock");
    let mut child = spawn(&st, &now, &["render", "--minutes", "2"]);
    assert!(
        wait_for(&mut child, || lock.exists()),
        "the render took the lock"
    );
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    assert!(lock.exists(), "a killed run leaves its lock");
    let o = run(&st, &now, &["render", "--minutes", "2"]);
    must_succeed(&o, "render after a killed one");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("taking over the stale lock"), "{err}");
    assert!(err.contains("is gone"), "{err}");
    assert!(!lock.exists(), "released at the end");
    assert!(!st.root().join("site/.lofiever.lock").exists());
}

/// Asserts every segment at `site` is what its published schedule renders:
/// the schedule is copied to a fresh station and rendered from scratch at
/// `now` with `args` and `--force`.
fn assert_segments_match_the_published_schedule(site: &Path, now: &str, args: &[&str]) {
    let reference = TempStation::new(CRASH_STATION_TOML);
    reference.add_tracks(&short_specs(4));
    let dst = reference.root().join("site/schedule");
    std::fs::create_dir_all(&dst).expect("mkdir");
    for e in std::fs::read_dir(site.join("schedule")).expect("published schedule") {
        let e = e.expect("entry");
        std::fs::copy(e.path(), dst.join(e.file_name())).expect("copy");
    }
    let mut forced = args.to_vec();
    forced.push("--force");
    must_succeed(
        &run(&reference, now, &forced),
        "reference render of the published schedule",
    );
    let want = files(&reference.root().join("site"));
    let got = files(site);
    let mut compared = 0;
    let mut differ = Vec::new();
    for (k, p) in &want {
        if k.ends_with(".m4s") {
            compared += 1;
            if std::fs::read(p).ok() != got.get(k).and_then(|g| std::fs::read(g).ok()) {
                differ.push(k.clone());
            }
        }
    }
    assert!(compared > 300, "only {compared} segments compared");
    assert!(
        differ.is_empty(),
        "{} of {compared} segments do not match the published schedule, e.g. {:?}",
        differ.len(),
        &differ[..differ.len().min(3)]
    );
}

/// Regression: a first run killed after its audio reached the target but
/// before its schedule did left segments of a plan nobody knew any more; a
/// later run (at another "now", so with another plan) kept them, and the
/// stream switched between two plans mid-song (409 of 619 segments did not
/// match the published schedule). Now the plan is journalled in the output
/// folder before rendering (`out/.lofiever-plan.json`) and continued, and
/// segments found with no plan at all are rendered again.
#[test]
fn a_first_run_killed_before_its_schedule_was_published_is_finished_consistently_later() {
    let args = ["render", "--minutes", "10"];
    let (first, later) = ("2026-11-20T06:00:00Z", "2026-11-20T06:07:00Z");

    // Killed while rendering; the next run comes 7 minutes later.
    let st = TempStation::new(CRASH_STATION_TOML);
    st.add_tracks(&short_specs(4));
    let out = st.root().join("out");
    let mut child = spawn(&st, first, &args);
    assert!(
        wait_for(&mut child, || segments_in(&out) > 200),
        "the first run rendered"
    );
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    assert!(
        out.join(".lofiever-plan.json").exists(),
        "the plan is journalled"
    );
    must_succeed(&run(&st, later, &args), "the next run");
    assert!(
        !out.join(".lofiever-plan.json").exists(),
        "removed once published"
    );
    assert_segments_match_the_published_schedule(&st.root().join("site"), later, &args);

    // The audio reached the target, the plan did not, and the output folder
    // (its journal) is gone too, as on a fresh machine: the orphans are
    // rendered again.
    let st = TempStation::new(CRASH_STATION_TOML);
    st.add_tracks(&short_specs(4));
    must_succeed(&run(&st, first, &args), "first run");
    let site = st.root().join("site");
    std::fs::remove_dir_all(site.join("schedule")).expect("rm schedule");
    for f in [
        "stream.mpd",
        "index.html",
        "player.js",
        "style.css",
        "station.json",
    ] {
        std::fs::remove_file(site.join(f)).expect("rm");
    }
    std::fs::remove_dir_all(st.root().join("out")).expect("rm out");
    assert!(segments_in(&site) > 300);
    must_succeed(&run(&st, later, &args), "the next run");
    assert_segments_match_the_published_schedule(&site, later, &args);
}
