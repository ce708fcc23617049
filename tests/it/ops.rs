//! `lofiever status` and `lofiever verify` as an operator (or a nightly
//! job) runs them: on a healthy render, with a segment missing, with
//! segments cut short, with a broken schedule and MPD, with a short runway —
//! and `ci/nightly.sh` end to end against a real S3 server (SeaweedFS).
//!
//! Each test works on its own copy of the shared 4-minute render, and
//! anchors "now" to the render's own clock (`status --at`, `verify --from`),
//! so a slow test run cannot age the runway out from under it.

use std::path::Path;
use std::process::{Command, Output};

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use lofiever::station::layout;
use lofiever::time::SegmentNumber;
use serde_json::Value;

use crate::publish::{s3_station_toml, shared_weed, Probe, KEY, SECRET};
use crate::util::{rendered, short_specs, TempStation, TEST_STATION_TOML};

/// Where status looks from: 5 s after the render.
const AT_SECS: i64 = 5;

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn render_now() -> DateTime<Utc> {
    rendered().now
}

fn at() -> String {
    rfc3339(render_now() + Duration::seconds(AT_SECS))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let e = e.expect("entry");
        let dst = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).expect("copy");
        }
    }
}

/// A private copy of the shared render: config, output folder and the
/// analysis files (not the audio, which status and verify never read).
fn healthy_copy() -> TempStation {
    let r = rendered();
    let st = TempStation::new(TEST_STATION_TOML);
    copy_dir(&r.station.root().join("out"), &st.root().join("out"));
    for f in ["features.csv", "analyze-errors.csv"] {
        let src = r.station.root().join("catalog").join(f);
        if src.exists() {
            std::fs::copy(&src, st.root().join("catalog").join(f)).expect("copy");
        }
    }
    st
}

/// The segment listeners hear at `at()` (players run 6 s behind).
fn live_segment(st: &TempStation) -> u64 {
    let s = st.station();
    let heard = render_now() + Duration::seconds(AT_SECS) - Duration::milliseconds(6000);
    s.grid
        .segment_of(s.epoch.sample_at(heard).expect("after the epoch"))
        .0
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn status_json(st: &TempStation, extra: &[&str]) -> (Value, Output) {
    let at = at();
    let mut args = vec!["status", "--json", "--at", at.as_str()];
    args.extend_from_slice(extra);
    let o = st.run(&args);
    let v: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("status --json is not JSON ({e}):\n{}\n{}", out(&o), err(&o)));
    (v, o)
}

fn verify(st: &TempStation, extra: &[&str]) -> Output {
    let from = rfc3339(render_now());
    let mut args = vec!["verify", "--from", from.as_str()];
    args.extend_from_slice(extra);
    st.run(&args)
}

fn seg_path(st: &TempStation, rendition: &str, n: u64) -> std::path::PathBuf {
    st.root()
        .join("out")
        .join(layout::segment(rendition, SegmentNumber(n)))
}

fn truncate(path: &Path, len: usize) {
    let bytes = std::fs::read(path).expect("read segment");
    assert!(bytes.len() > len, "{} is already short", path.display());
    std::fs::write(path, &bytes[..len]).expect("truncate");
}

#[test]
fn status_and_verify_pass_on_a_healthy_render() {
    let st = healthy_copy();
    let (v, o) = status_json(&st, &["--min-runway", "3m"]);
    assert!(o.status.success(), "{}\n{}", out(&o), err(&o));
    // 4 minutes were rendered ahead of the render's "now"; we look 5 s later.
    let runway = v["runway_seconds"].as_u64().expect("runway_seconds");
    assert!((225..=250).contains(&runway), "runway {runway} s");
    assert_eq!(v["ok"], true);
    assert_eq!(v["target"], Value::Null, "the target is the output folder");
    assert_eq!(v["live_segment"].as_u64(), Some(live_segment(&st)));
    let place = &v["output"];
    assert_eq!(place["mpd"], true);
    let renditions = place["renditions"].as_array().expect("renditions");
    let ids: Vec<&str> = renditions.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(ids, ["64k", "96k"]);
    for r in renditions {
        assert_eq!(r["init"], true, "{r}");
        assert_eq!(r["gaps"], Value::Array(vec![]), "{r}");
        assert_eq!(r["undersized"], Value::Array(vec![]), "{r}");
        assert!(r["segments"].as_u64().expect("count") > 120, "{r}");
    }
    let sched = &place["schedule"];
    assert!(sched["now_playing"]["title"].is_string(), "{sched}");
    assert!(sched["last"]["end"].is_string(), "{sched}");
    assert_eq!(sched["error"], Value::Null);
    assert_eq!(v["catalog"]["tracks"], 4);
    assert_eq!(v["catalog"]["failed"], 0);

    // The human report says the same.
    let o = st.run(&["status", "--at", &at()]);
    let text = out(&o);
    assert!(o.status.success(), "{text}{}", err(&o));
    for want in [
        "(also the publish target)",
        "runway    3 min",
        "no gaps",
        "init      all present",
        "MPD       present",
        "now playing \"",
        "catalog: 4 tracks analysed, 0 failed",
    ] {
        assert!(text.contains(want), "{want:?} missing in:\n{text}");
    }

    // verify: every segment read, 20 per rendition decoded, no problem.
    let o = verify(&st, &[]);
    let text = out(&o);
    assert!(o.status.success(), "{text}\n{}", err(&o));
    assert!(text.starts_with("verify: OK — "), "{text}");
    assert_eq!(text.lines().count(), 1, "{text}");
    let o = verify(&st, &["--json"]);
    assert!(o.status.success(), "{}", err(&o));
    let r: Value = serde_json::from_slice(&o.stdout).expect("verify --json");
    let segments = r["segments"].as_u64().expect("segments");
    assert!(segments >= 115, "{r}");
    assert_eq!(r["checked"].as_u64(), Some(2 * segments));
    assert_eq!(r["decoded"], 40);
    assert_eq!(r["problems"], Value::Array(vec![]));
    assert!(r["schedule_items"].as_u64().expect("items") >= 4, "{r}");
}

#[test]
fn a_missing_segment_is_a_gap_that_ends_the_runway_and_a_named_problem() {
    let st = healthy_copy();
    let live = live_segment(&st);
    let n = live + 10;
    std::fs::remove_file(seg_path(&st, "96k", n)).expect("delete a segment");

    let (v, o) = status_json(&st, &[]);
    assert!(o.status.success(), "a gap alone does not fail status");
    let r96 = &v["output"]["renditions"][1];
    assert_eq!(r96["id"], "96k");
    let gaps = r96["gaps"].as_array().expect("gaps");
    assert_eq!(gaps.len(), 1, "{r96}");
    assert_eq!(
        (gaps[0]["first"].as_u64(), gaps[0]["last"].as_u64()),
        (Some(n), Some(n))
    );
    // The runway stops at the hole: 10 segments after the live one, minus
    // the 5 s since the render and the 6 s latency.
    let runway = v["runway_seconds"].as_u64().expect("runway");
    assert!((8..=20).contains(&runway), "runway {runway} s");
    assert!(v["output"]["renditions"][0]["runway_seconds"].as_u64() > Some(200));
    let o = st.run(&["status", "--at", &at(), "--min-runway", "1m"]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(out(&o).contains("1 gap (1 segment missing)"), "{}", out(&o));

    let o = verify(&st, &[]);
    assert_eq!(o.status.code(), Some(1));
    let text = out(&o);
    assert!(text.contains(&format!("96k/{n}.m4s: missing (")), "{text}");
    assert!(text.starts_with("verify: 1 problem at "), "{text}");
    assert!(
        err(&o).contains("verify: FAILED with 1 problem"),
        "{}",
        err(&o)
    );
}

#[test]
fn truncated_segments_are_found() {
    let st = healthy_copy();
    let live = live_segment(&st);
    let (cut, stub, longer) = (live + 20, live + 30, live + 40);
    let half = std::fs::metadata(seg_path(&st, "64k", cut))
        .expect("segment")
        .len()
        / 2;
    truncate(&seg_path(&st, "64k", cut), half as usize);
    // A stub smaller than any whole segment (headers alone are ~500 bytes).
    truncate(&seg_path(&st, "96k", stub), 200);
    let mut extra = std::fs::read(seg_path(&st, "64k", longer)).expect("read");
    extra.extend_from_slice(b"junk");
    std::fs::write(seg_path(&st, "64k", longer), &extra).expect("write");

    // status reads no segment: it sees the stub (too small to be whole) but
    // not the half segment; verify reads them all.
    let (v, _) = status_json(&st, &[]);
    let r64 = &v["output"]["renditions"][0];
    let r96 = &v["output"]["renditions"][1];
    assert_eq!(r64["undersized"], Value::Array(vec![]), "{r64}");
    assert_eq!(r96["undersized"][0], format!("96k/{stub}.m4s"), "{r96}");
    assert_eq!(r96["gaps"][0]["first"].as_u64(), Some(stub), "{r96}");
    let runway = r96["runway_seconds"].as_u64().expect("runway");
    assert!((45..=62).contains(&runway), "96k runway {runway} s");

    let o = verify(&st, &[]);
    assert_eq!(o.status.code(), Some(1));
    let text = out(&o);
    for want in [
        format!("64k/{cut}.m4s: truncated: {half} bytes, but its headers declare"),
        format!("96k/{stub}.m4s: truncated or not a media segment"),
        format!("64k/{longer}.m4s: 4 bytes after the end its headers declare"),
    ] {
        assert!(text.contains(&want), "{want:?} missing in:\n{text}");
    }
    assert!(text.starts_with("verify: 3 problems"), "{text}");
}

#[test]
fn a_broken_schedule_and_a_wrong_mpd_are_named() {
    let st = healthy_copy();
    // Move the second item of the first day file 1 s later: a gap before
    // it, an overlap after it, and its start text no longer matches.
    let dir = st.root().join("out/schedule");
    let mut days: Vec<_> = std::fs::read_dir(&dir)
        .expect("schedule dir")
        .map(|e| e.expect("entry").path())
        .collect();
    days.sort();
    let mut doc: Value =
        serde_json::from_slice(&std::fs::read(&days[0]).expect("read")).expect("json");
    let items = doc["items"].as_array_mut().expect("items");
    assert!(items.len() >= 3, "the render plans several items");
    let s = items[1]["start_sample"].as_u64().expect("start_sample");
    items[1]["start_sample"] = Value::from(s + 48_000);
    std::fs::write(&days[0], serde_json::to_vec_pretty(&doc).expect("json")).expect("write");
    // An MPD anchored to the wrong epoch.
    let mpd = st.root().join("out/stream.mpd");
    let text = std::fs::read_to_string(&mpd).expect("mpd");
    let wrong = text.replace(
        "availabilityStartTime=\"2025-01-01T00:00:00Z\"",
        "availabilityStartTime=\"2025-01-01T00:00:01Z\"",
    );
    assert_ne!(wrong, text);
    std::fs::write(&mpd, wrong).expect("write");

    let o = verify(&st, &[]);
    assert_eq!(o.status.code(), Some(1));
    let text = out(&o);
    let day = days[0]
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    for want in [
        format!("schedule/{day}: gap: "),
        format!("schedule/{day}: overlap: "),
        format!("schedule/{day}: item 1 ("),
        "stream.mpd: does not match the station configuration: availabilityStartTime is \
         2025-01-01T00:00:01+00:00"
            .to_string(),
    ] {
        assert!(text.contains(&want), "{want:?} missing in:\n{text}");
    }
}

#[test]
fn a_short_runway_fails_status_with_exit_code_2() {
    let st = healthy_copy();
    let o = st.run(&["status", "--at", &at(), "--min-runway", "1h"]);
    assert_eq!(o.status.code(), Some(2), "{}\n{}", out(&o), err(&o));
    let e = err(&o);
    assert_eq!(e.lines().count(), 1, "one line: {e}");
    assert!(
        e.starts_with("status: runway 3 min at ") && e.contains("is below --min-runway 1.0 h"),
        "{e}"
    );
    assert!(
        out(&o).contains("runway    3 min"),
        "the report is printed too"
    );

    // Ten minutes later everything rendered has played: no runway at all.
    let later = rfc3339(render_now() + Duration::minutes(10));
    let o = st.run(&["status", "--json", "--at", &later, "--min-runway", "1m"]);
    assert_eq!(o.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["runway_seconds"], 0);
    assert_eq!(v["ok"], false);
    assert_eq!(v["min_runway_seconds"], 60);
    assert_eq!(v["output"]["runway_until"], Value::Null);
    assert!(
        err(&o).contains("audio runs out at the live point"),
        "{}",
        err(&o)
    );

    // verify over a window past the horizon names the missing stretch.
    let o = verify(&st, &["--until", &later]);
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("segments, "), "{}", out(&o));
    assert!(out(&o).contains(": missing ("), "{}", out(&o));

    // A duration without a unit is refused with an example.
    let o = st.run(&["status", "--min-runway", "24"]);
    assert!(!o.status.success());
    assert!(err(&o).contains("e.g. 24h"), "{}", err(&o));
}

/// Runs `ci/nightly.sh` with the binary under test, against `bucket` on the
/// shared SeaweedFS, with only the given AWS credentials.
fn nightly(st: &TempStation, target: &str, envs: &[(&str, &str)]) -> Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("ci/nightly.sh");
    let mut cmd = Command::new("bash");
    cmd.arg(&script);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("AWS_") || k.starts_with("LOFIEVER_") {
            cmd.env_remove(k);
        }
    }
    let none = Path::new("/dev/null");
    cmd.env("LOFIEVER_BIN", env!("CARGO_BIN_EXE_lofiever"))
        .env("LOFIEVER_STATION", st.config())
        .env("LOFIEVER_TARGET", target)
        .env("AWS_ACCESS_KEY_ID", KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_CONFIG_FILE", none)
        .env("AWS_SHARED_CREDENTIALS_FILE", none)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("RUST_LOG", "warn");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("run ci/nightly.sh")
}

#[test]
fn the_nightly_script_renders_publishes_and_checks_an_s3_target() {
    let weed = shared_weed();
    let probe = Probe::new(&weed.endpoint(), KEY, SECRET);
    let bucket = "ops-nightly";
    probe.create_bucket(bucket);
    // The config names another bucket: LOFIEVER_TARGET (a CI secret) wins.
    let st = TempStation::new(&s3_station_toml(&weed.endpoint(), "not-this-one", ""));
    st.add_tracks(&short_specs(4));
    let target = format!("s3://{bucket}/live");
    let short = [
        ("LOFIEVER_NIGHTLY_ARGS", "--minutes 3"),
        ("LOFIEVER_MIN_RUNWAY", "1m"),
        ("LOFIEVER_VERIFY_UNTIL", "now+1m"),
    ];
    let o = nightly(&st, &target, &short);
    let text = out(&o);
    assert!(o.status.success(), "nightly failed:\n{text}\n{}", err(&o));
    for want in [
        "] target: s3://ops-nightly/live (from LOFIEVER_TARGET)",
        "] render --minutes 3",
        "publish: ",
        "runway OK (at least 1m)",
        "verify: OK — ",
        "] nightly job OK in ",
    ] {
        assert!(text.contains(want), "{want:?} missing in:\n{text}");
    }
    for leak in [KEY, SECRET] {
        assert!(
            !text.contains(leak) && !err(&o).contains(leak),
            "credentials printed"
        );
    }

    // A second night with a higher bar: nothing to render, and the job
    // fails with status's exit code and a clear last line.
    let o = nightly(
        &st,
        &target,
        &[
            ("LOFIEVER_NIGHTLY_ARGS", "--minutes 3"),
            ("LOFIEVER_MIN_RUNWAY", "1h"),
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}\n{}", out(&o), err(&o));
    let text = out(&o);
    assert!(text.contains("render: "), "{text}");
    assert!(
        text.trim_end()
            .ends_with("FAILED: the runway is below 1h (see the status line above)"),
        "{text}"
    );

    // status and verify read the bucket; a segment cut short at the target
    // is named by verify.
    let run = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_lofiever"));
        cmd.args(args)
            .current_dir(st.root())
            .env("RUST_LOG", "warn");
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy().into_owned();
            if k.starts_with("AWS_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("LOFIEVER_TARGET", &target)
            .env("AWS_ACCESS_KEY_ID", KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET)
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .expect("run lofiever")
    };
    let o = run(&["status", "--json"]);
    assert!(o.status.success(), "{}", err(&o));
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["target"]["location"], "s3://ops-nightly/live");
    assert_eq!(v["target"]["error"], Value::Null);
    assert!(v["runway_seconds"].as_u64() > Some(30), "{v}");
    let n = v["live_segment"].as_u64().expect("live") + 5;
    let key = format!("live/64k/{n}.m4s");
    let bytes = probe.get(bucket, &key);
    probe.put(bucket, &key, &bytes[..bytes.len() - 100]);
    let o = run(&["verify", "--until", "now+1m"]);
    assert_eq!(o.status.code(), Some(1), "{}\n{}", out(&o), err(&o));
    assert!(
        out(&o).contains(&format!(
            "64k/{n}.m4s: truncated: {} bytes",
            bytes.len() - 100
        )),
        "{}",
        out(&o)
    );
}
